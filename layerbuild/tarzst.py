"""Deterministic tar archives streamed through zstandard, and safe extraction.

Entries are written in sorted order with numeric owners; with ``clamp`` set, mtimes later than it are
clamped (SOURCE_DATE_EPOCH) and owners become root, so the same tree gives the same bytes.
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Iterable

import zstandard

from .errors import LayerbuildError


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


def extract_tar_zst(archive: str, dest: str) -> list[str]:
    """Extract ``archive`` into ``dest``, refusing entries that would land outside it; returns the paths."""
    dctx = zstandard.ZstdDecompressor()
    names = []
    os.makedirs(dest, exist_ok=True)
    with open(archive, "rb") as raw, dctx.stream_reader(raw) as zr, \
            tarfile.open(fileobj=zr, mode="r|") as tar:  # type: ignore[call-overload]
        for member in tar:
            try:
                tar.extract(member, dest, filter="tar", set_attrs=True)  # type: ignore[call-arg]
            except tarfile.FilterError as exc:
                raise LayerbuildError(f"{archive}: refusing to extract {member.name}: {exc}") from exc
            names.append(member.name)
    return names
