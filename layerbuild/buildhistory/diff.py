"""``layerbuild-buildhistory-diff [REV [REV2]]``: what changed between two builds, in plain words.

REV defaults to ``HEAD^`` and REV2 to ``HEAD``, as OE's ``buildhistory-diff``. For each image:
packages added and removed, versions changed with the change in size, the image's size, and files
added and removed::

    images/genericx86_64/glibc/some-core-image:
      greet: 1.0-r0 -> 1.1-r0, size +2.1 KiB
      libfoo added (1.0-r0, 3.0 KiB)
      /usr/bin/bar removed
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import TextIO

from layerbuild.buildhistory import repo

INFO = "installed-package-info.txt"
FILES = "files-in-image.txt"


@dataclass(frozen=True)
class Installed:
    version: str
    size: int


def _packages(text: str | None) -> dict[str, Installed]:
    out = {}
    for line in (text or "").splitlines():
        words = line.split()
        if len(words) == 4:
            out[words[0]] = Installed(words[2], int(words[3]))
    return out


def _files(text: str | None) -> dict[str, int]:
    out = {}
    for line in (text or "").splitlines():
        words = line.split(" ", 4)
        if len(words) == 5:
            path = words[4].split(" -> ", 1)[0]
            out[path.removeprefix(".") or "/"] = int(words[3])
    return out


def kib(size: int, signed: bool = False) -> str:
    text = f"{abs(size) / 1024:.1f} KiB"
    return (("+" if size >= 0 else "-") + text) if signed else text


def image_changes(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """What changed in one image's record, a line each (none when nothing did)."""
    lines = []
    before, after = _packages(old.get(INFO)), _packages(new.get(INFO))
    for name in sorted(set(before) | set(after)):
        a, b = before.get(name), after.get(name)
        if a is None and b is not None:
            lines.append(f"{name} added ({b.version}, {kib(b.size)})")
        elif b is None and a is not None:
            lines.append(f"{name} removed (was {a.version}, {kib(a.size)})")
        elif a is not None and b is not None and a != b:
            change = f"{a.version} -> {b.version}" if a.version != b.version else f"{a.version}"
            if a.size != b.size:
                change += f", size {kib(b.size - a.size, signed=True)}"
            lines.append(f"{name}: {change}")
    files_before, files_after = _files(old.get(FILES)), _files(new.get(FILES))
    total = sum(files_after.values()) - sum(files_before.values())
    if total:
        lines.append(f"image size {kib(total, signed=True)}")
    lines.extend(f"{path} added" for path in sorted(set(files_after) - set(files_before)))
    lines.extend(f"{path} removed" for path in sorted(set(files_before) - set(files_after)))
    return lines


def _images(tree: dict[str, str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for path, text in tree.items():
        if path.startswith("images/"):
            directory, name = posixpath.split(path)
            out.setdefault(directory, {})[name] = text
    return out


def changes(directory: str, rev: str, rev2: str) -> dict[str, list[str]]:
    """Each image directory whose record differs between ``rev`` and ``rev2``, with its lines."""
    old = _images(repo.files(directory, repo.resolve(directory, rev)))
    new = _images(repo.files(directory, repo.resolve(directory, rev2)))
    out = {}
    for image in sorted(set(old) | set(new)):
        if image not in old:
            out[image] = ["new image"]
        elif image not in new:
            out[image] = ["image no longer recorded"]
        else:
            lines = image_changes(old[image], new[image])
            if lines:
                out[image] = lines
    return out


def buildhistory_diff(directory: str, rev: str, rev2: str, out: TextIO) -> int:
    found = changes(directory, rev, rev2)
    if not found:
        out.write(f"No changes between {rev} and {rev2}.\n")
    for image, lines in found.items():
        out.write(f"{image}:\n")
        out.writelines(f"  {line}\n" for line in lines)
    return 0
