"""Deterministic tar archives streamed through zstandard, and safe extraction.

Entries are written in sorted order with numeric owners; with ``clamp`` set, mtimes later than it are
clamped (SOURCE_DATE_EPOCH) and owners become root, so the same tree gives the same bytes.
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Callable, Iterable

import zstandard

from .errors import LayerbuildError
from .fstree import EntryType, Manifest

_TAR_TYPES = {
    EntryType.DIR: tarfile.DIRTYPE, EntryType.SYMLINK: tarfile.SYMTYPE, EntryType.CHARDEV: tarfile.CHRTYPE,
    EntryType.BLOCKDEV: tarfile.BLKTYPE, EntryType.FIFO: tarfile.FIFOTYPE, EntryType.HARDLINK: tarfile.LNKTYPE,
    EntryType.FILE: tarfile.REGTYPE,
}


def _entries(root: str) -> Iterable[str]:
    yield ""
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        rel = os.path.relpath(dirpath, root)
        for name in sorted(dirs + files):
            yield name if rel == "." else os.path.join(rel, name)


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
            for rel in _entries(source):
                full = os.path.join(source, rel) if rel else source
                arcname = os.path.join(prefix, rel) if rel else (prefix or ".")
                info = tar.gettarinfo(full, arcname)
                st = os.lstat(full)
                if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                    key = (st.st_dev, st.st_ino)
                    if key in hardlinks:
                        info.type = tarfile.LNKTYPE
                        info.linkname = hardlinks[key]
                        info.size = 0
                    else:
                        hardlinks[key] = arcname
                if clamp is not None and info.mtime > clamp:
                    info.mtime = clamp
                info.uname = info.gname = ""
                if root_owner:
                    info.uid = info.gid = 0
                info.pax_headers = {}
                if info.isreg():
                    with open(full, "rb") as fh:
                        tar.addfile(info, fh)
                else:
                    tar.addfile(info)


def write_manifest_tar_zst(manifest: Manifest, output: str | os.PathLike[str], *, level: int = 3) -> None:
    """Write ``manifest`` as a tar.zst at ``output`` (written in place): the root as ``.``, then every
    entry in image order with the manifest's owners, modes and times, and no user or group names.

    Sockets cannot be stored in tar and are an error.
    """
    cctx = zstandard.ZstdCompressor(level=level, write_checksum=True, threads=0)
    with open(output, "wb") as raw, cctx.stream_writer(raw, closefd=False) as zw, \
            tarfile.open(fileobj=zw, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
        for entry in manifest:
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
                except OSError as exc:
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

    ``check`` sees every member before it is extracted and raises to refuse it.
    """
    dctx = zstandard.ZstdDecompressor()
    names = []
    os.makedirs(dest, exist_ok=True)
    with open(archive, "rb") as raw, dctx.stream_reader(raw) as zr, \
            tarfile.open(fileobj=zr, mode="r|") as tar:  # type: ignore[call-overload]
        for member in tar:
            if check is not None:
                check(member)
            try:
                tar.extract(member, dest, filter="tar", set_attrs=True)  # type: ignore[call-arg]
            except tarfile.FilterError as exc:
                raise LayerbuildError(f"{archive}: refusing to extract {member.name}: {exc}") from exc
            names.append(member.name)
    return names
