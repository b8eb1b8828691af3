"""Content hashes of files and directory trees: the one definition the parse cache and signatures share."""

from __future__ import annotations

import hashlib
import os
import stat

from layerbuild.util.fsutil import relative_paths, sha256_file


def sha256_tree(path: str | os.PathLike[str]) -> str:
    """A directory's identity: the relative name and content of every regular file below it, and the
    relative name and target text of every symlink (never what the link points to, so a link out of
    the tree or a dangling one hashes the same everywhere). Directories and special files add nothing.
    """
    top = os.fspath(path)
    h = hashlib.sha256()
    for rel in relative_paths(top):
        full = os.path.join(top, rel)
        mode = os.lstat(full).st_mode
        if stat.S_ISLNK(mode):
            h.update(f"L {rel} {os.readlink(full)}\n".encode("utf-8", "surrogateescape"))
        elif stat.S_ISREG(mode):
            h.update(f"F {rel} {sha256_file(full)}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def sha256_path(path: str | os.PathLike[str]) -> str | None:
    """The sha256 of a file (a symlink named directly is followed), :func:`sha256_tree` of a directory,
    or None when ``path`` names neither."""
    if os.path.isfile(path):
        return sha256_file(path)
    if os.path.isdir(path):
        return sha256_tree(path)
    return None
