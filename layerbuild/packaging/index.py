"""The ``Packages`` index of a directory of ``.deb`` files, as apt and dpkg-scanpackages write it."""

from __future__ import annotations

import hashlib
import os

from layerbuild.packaging.deb import read_control
from layerbuild.taskapi import TaskContext
from layerbuild.util.fsutil import atomic_write, sorted_walk


def write_index(directory: str, relative_to: str | None = None) -> str:
    """Write ``directory/Packages`` for every .deb below it; ``Filename`` is relative to ``relative_to``."""
    base = relative_to or directory
    stanzas = []
    for root, _dirs, files in sorted_walk(directory):
        for name in files:
            if not name.endswith(".deb"):
                continue
            path = os.path.join(root, name)
            with open(path, "rb") as fh:
                blob = fh.read()
            control = read_control(path).rstrip("\n")
            lines = control.split("\n")
            desc = next((i for i, line in enumerate(lines) if line.startswith("Description:")), len(lines))
            extra = [f"Filename: {os.path.relpath(path, base)}", f"Size: {len(blob)}",
                     f"MD5sum: {hashlib.md5(blob).hexdigest()}",  # noqa: S324 - the index format
                     f"SHA256: {hashlib.sha256(blob).hexdigest()}"]
            stanzas.append("\n".join(lines[:desc] + extra + lines[desc:]))
    out = os.path.join(directory, "Packages")
    atomic_write(out, "\n\n".join(stanzas) + ("\n" if stanzas else ""))
    return out


def package_index(ctx: TaskContext) -> None:
    """The whole of ``do_package_index``: index everything in ``DEPLOY_DIR_DEB``."""
    os.makedirs(ctx.deploy_dir_deb, exist_ok=True)
    ctx.note(f"wrote {write_index(ctx.deploy_dir_deb)}")
