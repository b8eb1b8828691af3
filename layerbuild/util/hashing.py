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


def _entry_type(mode: int) -> str:
    for test, letter in ((stat.S_ISDIR, "d"), (stat.S_ISCHR, "c"), (stat.S_ISBLK, "b"), (stat.S_ISSOCK, "s"),
                         (stat.S_ISLNK, "l"), (stat.S_ISFIFO, "p")):
        if test(mode):
            return letter
    return "-"


def _permissions(mode: int, owners: bool) -> str:
    """``ls -l``'s permission letters: the owner's always; the group's and others' only with ``owners``."""
    def bit(mask: int, on: str, off: str = "-") -> str:
        return on if mode & mask else off
    text = bit(stat.S_IRUSR, "r") + bit(stat.S_IWUSR, "w") + \
        (bit(stat.S_IXUSR, "s", "S") if mode & stat.S_ISUID else bit(stat.S_IXUSR, "x"))
    if owners:
        text += bit(stat.S_IRGRP, "r") + bit(stat.S_IWGRP, "w") + \
            (bit(stat.S_IXGRP, "s", "S") if mode & stat.S_ISGID else bit(stat.S_IXGRP, "x"))
        text += bit(stat.S_IROTH, "r") + bit(stat.S_IWOTH, "w") + \
            ("t" if mode & stat.S_ISVTX else bit(stat.S_IXOTH, "x"))
    return text


def output_hash(trees: list[str], header: str, owners: bool) -> str:
    """A task's output hash, as OE's ``OEOuthashBasic`` computes it: ``header`` (what names the output: the
    recipe, version and task), then one line per entry of each tree (``dirN`` for the tree's place in
    ``trees``, the tree itself included): its type and permission letters, with ``owners`` the group's and
    others' letters and the numeric owner and group, the device numbers of a device, the size and sha256
    of a regular file, the relative path and a link's target. Modification times and the trees' own
    locations are no part of it, so the same output gives the same hash in any build directory, at any
    time. A tree that does not exist adds nothing."""
    h = hashlib.sha256(header.encode("utf-8", "surrogateescape"))
    for index, top in enumerate(trees):
        if not os.path.isdir(top):
            continue
        for rel in ["", *relative_paths(top)]:
            full = os.path.join(top, rel) if rel else top
            st = os.lstat(full)
            mode = st.st_mode
            line = _entry_type(mode) + _permissions(mode, owners)
            if owners:
                line += f" {st.st_uid:>10} {st.st_gid:>10}"
            device = f"{os.major(st.st_rdev)}.{os.minor(st.st_rdev)}" \
                if stat.S_ISBLK(mode) or stat.S_ISCHR(mode) else ""
            regular = stat.S_ISREG(mode)
            line += f" {device:>9} {st.st_size if regular else '':>10} {sha256_file(full) if regular else ' ' * 64}"
            line += f" dir{index}/{rel}" if rel else f" dir{index}"
            if stat.S_ISLNK(mode):
                line += f" -> {os.readlink(full)}"
            h.update((line + "\n").encode("utf-8", "surrogateescape"))
    return h.hexdigest()
