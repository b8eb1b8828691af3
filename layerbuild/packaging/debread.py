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
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, cast

import zstandard

from layerbuild.util.errors import LayerbuildError


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
    def data(self) -> Iterator[Iterator[TarEntry]]:
        """The data archive's entries in archive order; a regular file's content is read from its entry."""
        with open(self.path, "rb") as fh:
            fh.seek(self.data_offset)
            raw = io.BufferedReader(_Window(fh, self.data_size), 1 << 16)
            with _decompressor(self.data_name, raw, self.path) as stream:
                yield _entries(stream, self.path)


#: tar type flags
REGULAR, HARDLINK, SYMLINK, CHARDEV, BLOCKDEV, DIRECTORY, FIFO = "0", "1", "2", "3", "4", "5", "6"
_REGULAR_TYPES = ("0", "\0", "7")


class TarEntry:
    """One member of a data archive. ``kind`` is the tar type flag (:data:`REGULAR`, ...)."""

    __slots__ = ("name", "kind", "mode", "uid", "gid", "size", "mtime", "linkname", "devmajor", "devminor",
                 "_stream", "_left")

    def __init__(self, name: str, kind: str, mode: int, uid: int, gid: int, size: int, mtime: int,
                 linkname: str, devmajor: int, devminor: int, stream: IO[bytes]) -> None:
        self.name = name
        self.kind = REGULAR if kind in _REGULAR_TYPES else kind
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.size = size
        self.mtime = mtime
        self.linkname = linkname
        self.devmajor = devmajor
        self.devminor = devminor
        self._stream = stream
        self._left = size if self.kind == REGULAR else 0

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes of a regular file's content."""
        if self._left <= 0:
            return b""
        data = self._stream.read(min(n, self._left))
        self._left -= len(data)
        return data


def _number(field: bytes) -> int:
    try:
        return int(field.rstrip(b"\0 ") or b"0", 8)
    except ValueError:
        pass
    if field and field[0] & 0x80:  # GNU base-256
        value = int.from_bytes(field[1:], "big")
        return value - (1 << (8 * len(field) - 8)) if field[0] & 0x40 else value
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _read_exact(stream: IO[bytes] | TarEntry, size: int, path: str) -> bytes:
    chunks = []
    while size > 0:
        data = stream.read(size)
        if not data:
            raise DebError(f"{path}: the data archive is truncated")
        chunks.append(data)
        size -= len(data)
    return b"".join(chunks)


def _pax(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.index(b" ", pos)
        length = int(data[pos:space])
        record = data[space + 1:pos + length - 1]
        key, _, value = record.partition(b"=")
        out[key.decode()] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


def _entries(stream: IO[bytes], path: str) -> Iterator[TarEntry]:
    """Parse ustar, GNU (long names) and pax tar headers; content is read through each entry."""
    long_name: str | None = None
    long_link: str | None = None
    pax: dict[str, str] = {}
    global_pax: dict[str, str] = {}
    while True:
        header = stream.read(512)
        if len(header) < 512:
            header += _read_exact(stream, 512 - len(header), path) if header else b""
        if not header or header == b"\0" * 512:
            return
        stored = _number(header[148:156])
        if sum(header[:148]) + 256 + sum(header[156:]) != stored:
            raise DebError(f"{path}: bad tar header checksum in the data archive")
        kind = chr(header[156])
        size = _number(header[124:136])
        padded = (size + 511) & ~511
        if kind in ("L", "K", "x", "g"):
            data = _read_exact(stream, padded, path)[:size]
            if kind == "L":
                long_name = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            elif kind == "K":
                long_link = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            elif kind == "x":
                pax = _pax(data)
            else:
                global_pax.update(_pax(data))
            continue
        name = _text(header[0:100])
        if header[257:263] == b"ustar\0" and header[345] != 0:
            name = _text(header[345:500]) + "/" + name
        fields = {**global_pax, **pax}
        name = fields.get("path", long_name if long_name is not None else name)
        linkname = fields.get("linkpath", long_link if long_link is not None else _text(header[157:257]))
        if "size" in fields:
            size = int(fields["size"])
            padded = (size + 511) & ~511
        entry = TarEntry(name, kind, _number(header[100:108]) & 0o7777,
                         int(fields["uid"]) if "uid" in fields else _number(header[108:116]),
                         int(fields["gid"]) if "gid" in fields else _number(header[116:124]), size,
                         int(float(fields["mtime"])) if "mtime" in fields else _number(header[136:148]),
                         linkname, _number(header[329:337]), _number(header[337:345]), stream)
        long_name = long_link = None
        pax = {}
        yield entry
        # skip what the consumer left of the content, and the padding
        rest = (padded - size) + (entry._left if entry.kind == REGULAR else size)
        while rest > 0:
            skipped = stream.read(min(rest, 1 << 20))
            if not skipped:
                raise DebError(f"{path}: the data archive is truncated")
            rest -= len(skipped)


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
        with _decompressor(name, io.BytesIO(blob), path) as stream:
            for entry in _entries(stream, path):
                member_name = entry.name.removeprefix("./")
                if entry.kind != REGULAR or "/" in member_name:
                    continue
                members[member_name] = ControlMember(member_name, _read_exact(entry, entry.size, path),
                                                     entry.mode, entry.mtime)
    except (OSError, EOFError, ValueError, zstandard.ZstdError, lzma.LZMAError) as exc:
        raise DebError(f"{path}: cannot read {name}: {exc}") from exc
    return members
