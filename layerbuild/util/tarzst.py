"""Deterministic tar archives streamed through zstandard, and safe extraction.

Entries are written in sorted order with numeric owners; with ``clamp`` set, mtimes later than it are
clamped (SOURCE_DATE_EPOCH) and owners become root, so the same tree gives the same bytes.
"""

from __future__ import annotations

import io
import os
import posixpath
import stat
import tarfile
from collections.abc import Callable, Iterable, Iterator
from typing import IO

import zstandard

from layerbuild.util.errors import LayerbuildError
from layerbuild.util.fstree import EntryType, Manifest
from layerbuild.util.fsutil import relative_paths
from layerbuild.util.rootdir import RootDir, RootPathError

#: A member to write: its header and, for a regular file, the path to read or the content itself.
Member = tuple[tarfile.TarInfo, "str | bytes | None"]

_TAR_TYPES = {
    EntryType.DIR: tarfile.DIRTYPE, EntryType.SYMLINK: tarfile.SYMTYPE, EntryType.CHARDEV: tarfile.CHRTYPE,
    EntryType.BLOCKDEV: tarfile.BLKTYPE, EntryType.FIFO: tarfile.FIFOTYPE, EntryType.HARDLINK: tarfile.LNKTYPE,
    EntryType.FILE: tarfile.REGTYPE,
}


def _entries(root: str) -> Iterable[str]:
    yield ""
    yield from relative_paths(root)


def tree_members(source: str, prefix: str = "", *, clamp: int | None = None, paths: Iterable[str] | None = None,
                 hardlinks: dict[tuple[int, int], str] | None = None) -> Iterator[tuple[tarfile.TarInfo, str | None]]:
    """The members of a tree archive: ``source`` itself (named ``prefix``, or ``.``), then ``paths``
    below it (default: all, in :func:`~layerbuild.util.fsutil.relative_paths` order) named ``prefix/path``.

    Owners are numeric with no user or group names; mtimes later than ``clamp`` become ``clamp``; a
    regular file seen before under another name (``hardlinks``, shared between trees when given)
    becomes a link to that name. Sockets cannot be stored and are left out. The second item is the
    file to read for a regular file, else None.
    """
    links = {} if hardlinks is None else hardlinks
    for rel in ("", *(relative_paths(source) if paths is None else paths)):
        full = os.path.join(source, rel) if rel else source
        st = os.lstat(full)
        mode = st.st_mode
        info = tarfile.TarInfo(os.path.join(prefix, rel) if rel else (prefix or "."))
        info.mode = stat.S_IMODE(mode)
        info.uid, info.gid = st.st_uid, st.st_gid
        info.mtime = clamp if clamp is not None and st.st_mtime > clamp else st.st_mtime
        data = None
        if stat.S_ISREG(mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in links:
                info.type, info.linkname = tarfile.LNKTYPE, links[key]
            else:
                if st.st_nlink > 1:
                    links[key] = info.name
                info.size, data = st.st_size, full
        elif stat.S_ISDIR(mode):
            info.type = tarfile.DIRTYPE
        elif stat.S_ISLNK(mode):
            info.type, info.linkname = tarfile.SYMTYPE, os.readlink(full)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif stat.S_ISFIFO(mode):
            info.type = tarfile.FIFOTYPE
        else:
            continue
        yield info, data


def add_members(tar: tarfile.TarFile, members: Iterable[Member]) -> None:
    """Write ``members`` to ``tar``, reading each regular file's content from its path or bytes."""
    for info, data in members:
        if isinstance(data, bytes):
            tar.addfile(info, io.BytesIO(data))
        elif data is not None:
            with open(data, "rb") as fh:
                tar.addfile(info, fh)
        else:
            tar.addfile(info)


def tar_bytes(members: Iterable[Member], *, format: int = tarfile.GNU_FORMAT) -> bytes:
    """An uncompressed tar archive of ``members``, in memory (the members of a .deb)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=format) as tar:
        add_members(tar, members)
    return buf.getvalue()


def write_tar_zst(output: str, trees: list[tuple[str, str]], *, clamp: int | None = None, level: int = 3,
                  root_owner: bool = False) -> None:
    """Write ``(source_dir, prefix_in_archive)`` trees into ``output`` (a path, written in place).

    Callers publish the result atomically; this writes to the path it is given.
    """
    cctx = zstandard.ZstdCompressor(level=level, write_checksum=True, threads=0)
    with open(output, "wb") as raw, cctx.stream_writer(raw, closefd=False) as zw, \
            tarfile.open(fileobj=zw, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
        hardlinks: dict[tuple[int, int], str] = {}
        for source, prefix in trees:
            if not os.path.isdir(source):
                continue
            members = tree_members(source, prefix, clamp=clamp, hardlinks=hardlinks)
            if root_owner:
                members = _root_owned(members)
            add_members(tar, members)


def _root_owned(members: Iterable[tuple[tarfile.TarInfo, str | None]]) -> Iterator[tuple[tarfile.TarInfo, str | None]]:
    for info, data in members:
        info.uid = info.gid = 0
        yield info, data


def write_manifest_tar_zst(manifest: Manifest, output: str | os.PathLike[str], *, level: int = 3) -> None:
    """Write ``manifest`` as a tar.zst at ``output`` (written in place): the root as ``.``, then every
    entry in image order with the manifest's owners, modes and times, and no user or group names.

    Sockets cannot be stored in tar and are an error.
    """
    cctx = zstandard.ZstdCompressor(level=level, write_checksum=True, threads=0)
    with open(output, "wb") as raw, cctx.stream_writer(raw, closefd=False) as zw:
        write_manifest_tar(manifest, zw)


def write_manifest_tar(manifest: Manifest, stream: IO[bytes], *, with_root: bool = True) -> None:
    """Write ``manifest`` as an uncompressed PAX tar stream (``with_root=False`` leaves out ``.``, as
    ``mksquashfs -tar`` wants it)."""
    with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
        for entry in manifest:
            if not entry.path and not with_root:
                continue
            if entry.type is EntryType.SOCKET:
                raise LayerbuildError(f"{entry.path}: a socket cannot be stored in a tar archive")
            info = tarfile.TarInfo(entry.path or ".")
            info.type = _TAR_TYPES[entry.type]
            inode = manifest.resolve(entry)  # a hard link shows its file's mode, owner and time
            info.mode = inode.mode
            info.uid, info.gid, info.mtime = inode.uid, inode.gid, inode.mtime
            info.uname = info.gname = ""
            if entry.xattrs:
                info.pax_headers = {f"SCHILY.xattr.{name}": value.decode("utf-8", "surrogateescape")
                                    for name, value in entry.xattrs}
            if entry.type is EntryType.HARDLINK:
                info.linkname = inode.path
            elif entry.type is EntryType.SYMLINK:
                assert entry.target is not None
                info.linkname = entry.target
            elif entry.type in (EntryType.CHARDEV, EntryType.BLOCKDEV):
                info.devmajor, info.devminor = entry.major, entry.minor
            if entry.type is not EntryType.FILE:
                tar.addfile(info)
            elif isinstance(entry.source, bytes):
                info.size = len(entry.source)
                tar.addfile(info, _BytesReader(entry.source))
            else:
                assert entry.source is not None
                try:
                    with open(entry.source, "rb") as fh:
                        info.size = os.fstat(fh.fileno()).st_size
                        tar.addfile(info, fh)
                except FileNotFoundError as exc:
                    raise LayerbuildError(f"{entry.source}: file vanished before it could be read") from exc
                except OSError as exc:
                    if exc.errno is None or isinstance(exc, BrokenPipeError):
                        raise  # the reader went away; its exit status says why
                    raise LayerbuildError(f"{entry.source}: {exc.strerror}") from exc


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._view = memoryview(data)
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size < 0 else self._pos + size
        chunk = self._view[self._pos:end].tobytes()
        self._pos += len(chunk)
        return chunk


def extract_tar_zst(archive: str, dest: str, *,
                    check: Callable[[tarfile.TarInfo], None] | None = None) -> list[str]:
    """Extract ``archive`` into ``dest``, refusing entries that would land outside it; returns the paths.

    ``check`` sees every member before it is extracted and raises to refuse it. A hard link's target is
    normalised (``..`` resolved) and resolved inside ``dest`` without following links
    (:class:`~layerbuild.util.rootdir.RootDir`); it must be a regular file extracted before, never a file of
    the host that a ``..`` or a link would reach.
    """
    dctx = zstandard.ZstdDecompressor()
    names = []
    os.makedirs(dest, exist_ok=True)
    with RootDir(dest) as top, open(archive, "rb") as raw, dctx.stream_reader(raw) as zr, \
            tarfile.open(fileobj=zr, mode="r|") as tar:  # type: ignore[call-overload]
        for member in tar:
            if check is not None:
                check(member)
            if member.islnk():
                member.linkname = _hard_link_target(top, member, archive)
            try:
                tar.extract(member, dest, filter="tar", set_attrs=True)  # type: ignore[call-arg]
            except tarfile.FilterError as exc:
                raise LayerbuildError(f"{archive}: refusing to extract {member.name}: {exc}") from exc
            names.append(member.name)
    return names


def _hard_link_target(top: RootDir, member: tarfile.TarInfo, archive: str) -> str:
    """The physical name (link-free, inside ``top``) of the regular file ``member`` links to."""
    target = posixpath.normpath(member.linkname)
    if member.linkname.startswith("/") or target == ".." or target.startswith("../"):
        raise LayerbuildError(f"{archive}: refusing {member.name}: hard link to {member.linkname}, which leaves "
                              "the directory it is extracted into")
    top.forget()  # tarfile created what came before behind the resolver's back
    try:
        parent, _, base = target.rpartition("/")
        physical = f"{top.resolve_dir(parent)}/{base}".lstrip("/")
        regular = stat.S_ISREG(top.lstat(physical).st_mode)
    except (FileNotFoundError, NotADirectoryError, RootPathError):
        regular = False
    if not regular:
        raise LayerbuildError(f"{archive}: refusing {member.name}: hard link to {member.linkname}, which is not "
                              "an earlier file of the archive")
    return physical
