"""Reading Debian binary packages: the ar container, the control archive and a stream of the data archive.

Any ``.deb`` that dpkg accepts in the ``2.0`` format is read: ``control.tar`` and ``data.tar``
uncompressed or compressed with zstd, xz or gzip. :func:`open_deb` reads the control members at once
(they are small); :meth:`DebArchive.data` streams the data archive so a large package is never held
whole in memory.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import lzma
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, cast

import zstandard

from ..errors import LayerbuildError


class DebError(LayerbuildError):
    """A file that is not a readable binary package."""


@dataclass(frozen=True, slots=True)
class ControlMember:
    """One file of the control archive (``control``, ``md5sums``, ``conffiles``, ``postinst``, ...)."""

    name: str
    data: bytes
    mode: int
    mtime: int


@dataclass(frozen=True)
class DebArchive:
    """A package file: its control members by name and where its data archive lies in the file."""

    path: str
    members: dict[str, ControlMember]
    data_name: str
    data_offset: int
    data_size: int

    @property
    def control(self) -> str:
        member = self.members.get("control")
        if member is None:
            raise DebError(f"{self.path}: the control archive has no control file")
        return member.data.decode("utf-8", "surrogateescape")

    def text(self, name: str) -> str | None:
        member = self.members.get(name)
        return None if member is None else member.data.decode("utf-8", "surrogateescape")

    @contextlib.contextmanager
    def data(self) -> Iterator[tarfile.TarFile]:
        """The data archive as a streaming tar reader (members in archive order)."""
        with open(self.path, "rb") as fh:
            fh.seek(self.data_offset)
            raw = io.BufferedReader(_Window(fh, self.data_size), 1 << 16)
            with _decompressor(self.data_name, raw, self.path) as stream, \
                    tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
                yield tar


class _Window(io.RawIOBase):
    """``size`` bytes of an open file from its current position, as a readable stream."""

    def __init__(self, fh: IO[bytes], size: int) -> None:
        self._fh = fh
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._left <= 0:
            return 0
        want = min(len(buffer), self._left)
        data = self._fh.read(want)
        buffer[:len(data)] = data
        self._left -= len(data)
        return len(data)


@contextlib.contextmanager
def _decompressor(name: str, raw: IO[bytes], path: str) -> Iterator[IO[bytes]]:
    if name.endswith(".zst"):
        with zstandard.ZstdDecompressor().stream_reader(raw, closefd=False) as zr:
            yield zr  # type: ignore[misc]
    elif name.endswith(".xz"):
        with lzma.open(raw) as xr:
            yield xr
    elif name.endswith(".gz"):
        with gzip.open(raw) as gr:
            yield cast(IO[bytes], gr)
    elif name == "data.tar" or name == "control.tar":
        yield raw
    else:
        raise DebError(f"{path}: unsupported archive member {name}")


def _ar_members(fh: IO[bytes], path: str) -> Iterator[tuple[str, int, int]]:
    """``(name, offset, size)`` of each member; reads headers only, seeking past member data."""
    if fh.read(8) != b"!<arch>\n":
        raise DebError(f"{path} is not a Debian binary package (no ar header)")
    pos = 8
    while True:
        fh.seek(pos)
        header = fh.read(60)
        if len(header) < 60:
            return
        if header[58:60] != b"`\n":
            raise DebError(f"{path}: corrupt ar member header at offset {pos}")
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        try:
            size = int(header[48:58].decode().strip())
        except ValueError as exc:
            raise DebError(f"{path}: corrupt ar member size at offset {pos}") from exc
        yield name, pos + 60, size
        pos += 60 + size + (size % 2)


def open_deb(path: str) -> DebArchive:
    """Read the control archive of ``path`` and locate its data archive (whose bytes are not read)."""
    members: dict[str, ControlMember] = {}
    data: tuple[str, int, int] | None = None
    seen_version = False
    with open(path, "rb") as fh:
        for name, offset, size in _ar_members(fh, path):
            if name == "debian-binary":
                fh.seek(offset)
                version = fh.read(size).decode("ascii", "replace").strip()
                if not version.startswith("2."):
                    raise DebError(f"{path}: unsupported package format version {version}")
                seen_version = True
            elif name.startswith("control.tar"):
                fh.seek(offset)
                members = _control_members(name, fh.read(size), path)
            elif name.startswith("data.tar"):
                data = (name, offset, size)
    if not seen_version:
        raise DebError(f"{path}: no debian-binary member")
    if data is None:
        raise DebError(f"{path}: no data archive")
    if "control" not in members:
        raise DebError(f"{path}: the control archive has no control file")
    return DebArchive(path, members, data[0], data[1], data[2])


def _control_members(name: str, blob: bytes, path: str) -> dict[str, ControlMember]:
    members: dict[str, ControlMember] = {}
    try:
        with _decompressor(name, io.BytesIO(blob), path) as stream, \
                tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
            for info in tar:
                member_name = info.name.removeprefix("./")
                if not info.isfile() or "/" in member_name:
                    continue
                extracted = tar.extractfile(info)
                assert extracted is not None
                members[member_name] = ControlMember(member_name, extracted.read(), info.mode & 0o7777,
                                                     int(info.mtime))
    except (tarfile.TarError, OSError, EOFError, zstandard.ZstdError, lzma.LZMAError) as exc:
        raise DebError(f"{path}: cannot read {name}: {exc}") from exc
    return members
