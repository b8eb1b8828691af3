"""The ABI closure of an extension: every ELF file must find each library it needs.

An extension is merged onto a base it does not contain, so a missing library only shows when a
tool fails to start on the device. This check makes that a build failure instead. A ``DT_NEEDED``
name is found when the extension has a file of that name in a library directory the dynamic
loader searches for that binary (the standard ones plus its RUNPATH/RPATH, ``$ORIGIN`` expanded),
or when the base provides it: by SONAME (from the base's pkgdata) or as a file of that name in a
standard library directory of the base's file lists.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from layerbuild.packaging import elf
from layerbuild.util.errors import LayerbuildError
from layerbuild.util.fsutil import sorted_walk

#: Directories the dynamic loader searches without being told (relative to /); multiarch
#: subdirectories (``usr/lib/x86_64-linux-gnu``) count too.
LIBRARY_DIRS = ("lib", "lib32", "lib64", "libx32", "usr/lib", "usr/lib32", "usr/lib64", "usr/libx32")
_SKIPPED = ("usr/lib/debug/",)  # separate debug files carry no usable dynamic section
_MAX_NOTES = 50


class AbiError(LayerbuildError):
    """ELF files in an extension need libraries that neither the extension nor its base provides."""


@dataclass(frozen=True, slots=True)
class Miss:
    binary: str  # the path in the image, "/usr/bin/greet"
    library: str


@dataclass(frozen=True)
class AbiReport:
    """What was checked: ``found`` maps (binary, library) to ``extension`` or ``base:PACKAGE``."""

    binaries: int
    found: Mapping[tuple[str, str], str]


def is_library_dir(rel_dir: str) -> bool:
    rel_dir = rel_dir.strip("/")
    if rel_dir in LIBRARY_DIRS:
        return True
    parent, _, name = rel_dir.rpartition("/")
    return parent in LIBRARY_DIRS and "-linux-" in name


def _search_dirs(binary: str, info: elf.ElfInfo) -> set[str]:
    dirs = set(LIBRARY_DIRS)
    origin = os.path.dirname(binary)
    for entry in info.runpath:
        expanded = entry.replace("${ORIGIN}", "/" + origin).replace("$ORIGIN", "/" + origin)
        for lib in ("lib", "lib64"):
            dirs.add(os.path.normpath(expanded.replace("${LIB}", lib).replace("$LIB", lib)).strip("/"))
    return dirs


def check_closure(payload_root: str | os.PathLike[str], base_sonames: Mapping[str, str] | None = None,
                  base_paths: Iterable[str] = (), *, what: str = "extension") -> AbiReport:
    """Check every ELF file under ``payload_root``; raise :class:`AbiError` listing every miss.

    ``base_sonames`` maps a SONAME the base provides to its package; ``base_paths`` are paths of
    the base's files (relative or absolute; only those in library directories count).
    """
    root = Path(payload_root)
    sonames = dict(base_sonames or {})
    base_files: dict[str, str] = {}  # file name in a library directory -> its path
    base_all: set[str] = set()
    for path in base_paths:
        rel = path.strip("/")
        base_all.add(rel)
        directory, _, name = rel.rpartition("/")
        if is_library_dir(directory):
            base_files.setdefault(name, rel)
    present: dict[str, set[str]] = {}  # file name -> directories of the payload holding it
    elves: list[tuple[str, elf.ElfInfo]] = []
    for dirpath, dirs, files in sorted_walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir
        for name in files + [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]:
            present.setdefault(name, set()).add(rel_dir)
            rel = f"{rel_dir}/{name}" if rel_dir else name
            full = os.path.join(dirpath, name)
            if rel.startswith(_SKIPPED) or not stat.S_ISREG(os.lstat(full).st_mode):
                continue
            if not elf.is_elf(full):
                continue
            info = elf.inspect(full)
            if info is not None and info.kind in ("exec", "dyn") and info.needed:
                elves.append((rel, info))
    misses: list[Miss] = []
    found: dict[tuple[str, str], str] = {}
    for rel, info in elves:
        search = _search_dirs(rel, info)
        for needed in info.needed:
            where = None
            if "/" in needed:
                target = needed.strip("/")
                if os.path.lexists(root / target):
                    where = "extension"
                elif target in base_all:
                    where = "base"
            elif any(d in search or is_library_dir(d) for d in present.get(needed, ())):
                where = "extension"
            elif needed in sonames:
                where = f"base:{sonames[needed]}"
            elif needed in base_files:
                where = "base"
            if where is None:
                misses.append(Miss("/" + rel, needed))
            else:
                found[("/" + rel, needed)] = where
    if misses:
        first = misses[0]
        notes = [f"also {m.binary} needs {m.library}" for m in misses[1:_MAX_NOTES + 1]]
        if len(misses) > _MAX_NOTES + 1:
            notes.append(f"... and {len(misses) - _MAX_NOTES - 1} more")
        raise AbiError(f"{what}: {first.binary} needs {first.library}, which neither the {what} nor its base "
                       "provides", notes=tuple(notes),
                       hint="add the package that provides the library to the extension (or to the base image)")
    return AbiReport(len(elves), found)
