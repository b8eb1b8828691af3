"""The file-system tree model: every entry with its type, owner, mode, time and content (a manifest).

Rootfs and packaging code produce manifests; image writers (squashfs, tar) consume them. A manifest
says everything the image will hold, so writing it needs no root, no fakeroot and no host tool, and
the same manifest gives the same image anywhere.

Paths are relative POSIX paths without a leading ``/`` (``usr/bin/env``); the root directory is
``""``. Names that are not valid UTF-8 are carried with ``surrogateescape``, as :func:`os.fsdecode`
does. Entries are kept in image order: by path, compared component by component as bytes.
"""

from __future__ import annotations

import enum
import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from layerbuild.util.errors import LayerbuildError
from layerbuild.util.fsutil import clamp_mtime

#: Extended-attribute namespaces an image can carry. ``system.*`` (ACLs, capabilities of other
#: kinds) cannot be stored in squashfs; :func:`from_directory` leaves them out.
XATTR_NAMESPACES = ("user.", "trusted.", "security.")

MAX_MTIME = 2**32 - 1

logger = logging.getLogger("layerbuild.fstree")


class ManifestError(LayerbuildError):
    """A manifest that cannot describe a file system (duplicate path, missing parent, bad field)."""


class EntryType(enum.Enum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    CHARDEV = "chardev"
    BLOCKDEV = "blockdev"
    FIFO = "fifo"
    SOCKET = "socket"


@dataclass(frozen=True, slots=True)
class Entry:
    """One file-system object.

    ``mode`` holds the permission bits only (``0o7777``); the type is ``type``. ``source`` is the
    content of a FILE: a path read when the image is written, or the bytes themselves. ``target`` is
    the link text of a SYMLINK, or for a HARDLINK the manifest path of the entry it shares an inode
    with (whose mode, owner and times it takes). ``major``/``minor`` are the device numbers of
    CHARDEV and BLOCKDEV entries. ``xattrs`` are (full name, value) pairs, sorted by name.
    """

    path: str
    type: EntryType
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: int = 0
    xattrs: tuple[tuple[str, bytes], ...] = ()
    source: Path | bytes | None = None
    target: str | None = None
    major: int = 0
    minor: int = 0

    @property
    def name(self) -> str:
        return self.path.rpartition("/")[2]

    @property
    def parent(self) -> str:
        return self.path.rpartition("/")[0]


def sort_key(path: str) -> tuple[bytes, ...]:
    """Image order: component by component, as bytes (``a/b`` before ``a-b``, unlike plain strings)."""
    return tuple(os.fsencode(part) for part in path.split("/")) if path else ()


@dataclass(frozen=True)
class Manifest:
    """A validated, sorted set of entries, including the root directory ``""``.

    Construction sorts the entries, adds a root directory (mode 0755, owned by root) when none is
    given, and checks that paths are unique and well formed, that every parent is a directory in the
    manifest, and that hard links point at a non-directory entry.
    """

    entries: tuple[Entry, ...]
    _index: dict[str, Entry] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        entries = sorted(self.entries, key=lambda e: sort_key(e.path))
        index: dict[str, Entry] = {}
        for entry in entries:
            _check_entry(entry)
            if entry.path in index:
                raise ManifestError(f"{_show(entry.path)}: path appears twice in the manifest")
            index[entry.path] = entry
        if "" not in index:
            root = Entry("", EntryType.DIR, 0o755)
            entries.insert(0, root)
            index[""] = root
        elif index[""].type is not EntryType.DIR:
            raise ManifestError("the root entry must be a directory")
        for entry in entries:
            if entry.path:
                parent = index.get(entry.parent)
                if parent is None:
                    raise ManifestError(f"{entry.path}: parent directory {_show(entry.parent)} is not in the manifest")
                if parent.type is not EntryType.DIR:
                    raise ManifestError(f"{entry.path}: parent {_show(entry.parent)} is not a directory")
            if entry.type is EntryType.HARDLINK:
                self._resolve(entry, index)
        object.__setattr__(self, "entries", tuple(entries))
        object.__setattr__(self, "_index", index)

    @staticmethod
    def _resolve(entry: Entry, index: dict[str, Entry]) -> Entry:
        seen = {entry.path}
        current = entry
        while current.type is EntryType.HARDLINK:
            assert current.target is not None
            target = index.get(current.target.strip("/"))
            if target is None:
                raise ManifestError(f"{entry.path}: hard link target {current.target} is not in the manifest")
            if target.path in seen:
                raise ManifestError(f"{entry.path}: hard links form a loop")
            seen.add(target.path)
            current = target
        if current.type is EntryType.DIR:
            raise ManifestError(f"{entry.path}: hard link to a directory ({current.path})")
        return current

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def get(self, path: str) -> Entry | None:
        return self._index.get(path)

    def resolve(self, entry: Entry) -> Entry:
        """The entry that owns the inode: ``entry`` itself unless it is a hard link."""
        return self._resolve(entry, self._index) if entry.type is EntryType.HARDLINK else entry

    def newest_mtime(self) -> int:
        return max((e.mtime for e in self.entries), default=0)


def _show(path: str) -> str:
    return path if path else "/"


def _check_entry(entry: Entry) -> None:
    path = entry.path
    if path and any(part in ("", ".", "..") for part in path.split("/")):
        raise ManifestError(f"{path}: not a normalised relative path")
    if "\0" in path:
        raise ManifestError(f"{path!r}: NUL byte in path")
    if entry.mode & ~0o7777:
        raise ManifestError(f"{_show(path)}: mode {entry.mode:#o} has bits beyond 0o7777 (the type goes in 'type')")
    for what, value in (("uid", entry.uid), ("gid", entry.gid)):
        if not 0 <= value <= 2**32 - 1:
            raise ManifestError(f"{_show(path)}: {what} {value} out of range")
    kind = entry.type
    if kind is EntryType.FILE and entry.source is None:
        raise ManifestError(f"{path}: regular file without a content source")
    if kind in (EntryType.SYMLINK, EntryType.HARDLINK) and not entry.target:
        raise ManifestError(f"{path}: {kind.value} without a target")
    if kind in (EntryType.CHARDEV, EntryType.BLOCKDEV) and not (
            0 <= entry.major < 2**12 and 0 <= entry.minor < 2**20):
        raise ManifestError(f"{path}: device number {entry.major}:{entry.minor} out of range")
    for xname, xvalue in entry.xattrs:
        if not isinstance(xvalue, bytes):
            raise ManifestError(f"{_show(path)}: xattr {xname} value must be bytes")


def file(path: str, source: Path | bytes, mode: int = 0o644, **kw: object) -> Entry:
    return Entry(path, EntryType.FILE, mode, source=source, **kw)  # type: ignore[arg-type]


def directory(path: str, mode: int = 0o755, **kw: object) -> Entry:
    return Entry(path, EntryType.DIR, mode, **kw)  # type: ignore[arg-type]


def symlink(path: str, target: str, **kw: object) -> Entry:
    return Entry(path, EntryType.SYMLINK, 0o777, target=target, **kw)  # type: ignore[arg-type]


def hardlink(path: str, target: str) -> Entry:
    return Entry(path, EntryType.HARDLINK, 0, target=target)


def from_directory(root: str | os.PathLike[str], *, all_root: bool = False,
                   source_date_epoch: int | None = None, xattrs: bool = True) -> Manifest:
    """Describe the tree under ``root`` as it is on disk.

    File contents are referenced by path and read when the image is written. Files with several links
    inside the tree become one FILE and HARDLINKs to it (the first path in image order owns the inode).
    ``all_root`` records uid and gid 0; ``source_date_epoch`` clamps every mtime to it; mtimes outside
    what squashfs can store (before 1970, after 2106) are clamped to the nearest end, with a warning
    that names the file.
    Extended attributes outside :data:`XATTR_NAMESPACES` are left out.
    """
    top = Path(root)
    try:
        st = os.lstat(top)
    except OSError as exc:
        raise ManifestError(f"{top}: {exc.strerror}") from exc
    if not stat.S_ISDIR(st.st_mode):
        raise ManifestError(f"{top}: not a directory")
    entries: list[Entry] = []
    links: dict[str, tuple[int, int]] = {}
    inodes: dict[tuple[int, int], str] = {}
    pending = [""]
    while pending:
        rel = pending.pop()
        full = top / rel if rel else top
        try:
            st = os.lstat(full)
            names = sorted(os.listdir(full), key=os.fsencode) if stat.S_ISDIR(st.st_mode) else []
        except FileNotFoundError as exc:
            raise ManifestError(f"{full}: vanished while reading the tree") from exc
        except OSError as exc:
            raise ManifestError(f"{full}: {exc.strerror}") from exc
        entries.append(_entry_from_stat(full, rel, st, all_root, source_date_epoch, xattrs))
        if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
            links[rel] = (st.st_dev, st.st_ino)
        # Reverse so that the stack pops children in order; sorting in Manifest does the rest.
        pending.extend(f"{rel}/{n}" if rel else n for n in reversed(names))
    # Hard links are decided after sorting, so the same tree gives the same owner path however it was made.
    entries.sort(key=lambda e: sort_key(e.path))
    result: list[Entry] = []
    for entry in entries:
        key = links.get(entry.path)
        if key is not None:
            owner = inodes.get(key)
            if owner is not None:
                result.append(hardlink(entry.path, owner))
                continue
            inodes[key] = entry.path
        result.append(entry)
    return Manifest(tuple(result))


def _entry_from_stat(full: Path, rel: str, st: os.stat_result, all_root: bool,
                     source_date_epoch: int | None, want_xattrs: bool) -> Entry:
    mtime = clamp_mtime(st.st_mtime, source_date_epoch)
    if not 0 <= mtime <= MAX_MTIME:
        stored = min(max(mtime, 0), MAX_MTIME)
        logger.warning("%s: mtime %d is outside what an image can store (0 to %d); stored as %d",
                       full, mtime, MAX_MTIME, stored)
        mtime = stored
    uid, gid = (0, 0) if all_root else (st.st_uid, st.st_gid)
    mode = stat.S_IMODE(st.st_mode)
    attrs = _read_xattrs(full) if want_xattrs else ()
    common = {"uid": uid, "gid": gid, "mtime": mtime, "xattrs": attrs}
    fmt = stat.S_IFMT(st.st_mode)
    if fmt == stat.S_IFREG:
        return Entry(rel, EntryType.FILE, mode, source=full, **common)  # type: ignore[arg-type]
    if fmt == stat.S_IFDIR:
        return Entry(rel, EntryType.DIR, mode, **common)  # type: ignore[arg-type]
    if fmt == stat.S_IFLNK:
        try:
            target = os.readlink(full)
        except OSError as exc:
            raise ManifestError(f"{full}: {exc.strerror}") from exc
        return Entry(rel, EntryType.SYMLINK, mode, target=target, **common)  # type: ignore[arg-type]
    kinds = {stat.S_IFCHR: EntryType.CHARDEV, stat.S_IFBLK: EntryType.BLOCKDEV,
             stat.S_IFIFO: EntryType.FIFO, stat.S_IFSOCK: EntryType.SOCKET}
    if fmt not in kinds:
        raise ManifestError(f"{full}: unsupported file type {fmt:#o}")
    major, minor = (os.major(st.st_rdev), os.minor(st.st_rdev)) if fmt in (stat.S_IFCHR, stat.S_IFBLK) else (0, 0)
    return Entry(rel, kinds[fmt], mode, major=major, minor=minor, **common)  # type: ignore[arg-type]


def _read_xattrs(path: Path) -> tuple[tuple[str, bytes], ...]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return ()  # file systems without xattr support simply have none
    pairs = []
    for name in names:
        if name.startswith(XATTR_NAMESPACES):
            try:
                pairs.append((name, os.getxattr(path, name, follow_symlinks=False)))
            except OSError:
                continue  # removed between list and get
    return tuple(sorted(pairs))
