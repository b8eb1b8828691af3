"""Block compressors with the settings the kernel and squashfs-tools expect.

Each compressor is safe to call from several threads at once (zstd contexts are per thread) and is a
pure function of its input, so images do not depend on how many threads compressed them.
"""

from __future__ import annotations

import lzma
import struct
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import zstandard

from layerbuild.util.errors import SquashfsError

GZIP_ID = 1
XZ_ID = 4
ZSTD_ID = 6

#: Compressor name -> (default level, lowest, highest). ``none`` has no level.
LEVELS: dict[str, tuple[int, int, int]] = {
    "zstd": (15, 1, 22),
    "xz": (6, 0, 9),
    "gzip": (9, 1, 9),
    "none": (0, 0, 0),
}
NAMES = tuple(LEVELS)


@dataclass(frozen=True)
class Compressor:
    """A configured compressor: ``compress`` returns the compressed bytes (possibly not smaller)."""

    name: str
    level: int
    block_size: int
    id: int
    compress: Callable[[bytes], bytes] | None
    #: Payload of the compressor-options metadata block, or None when the defaults were used,
    #: as mksquashfs does (readers then assume the defaults).
    options: bytes | None


def make_compressor(name: str, level: int | None, block_size: int) -> Compressor:
    if name not in LEVELS:
        raise SquashfsError(f"unknown compressor '{name}' (choose from {', '.join(NAMES)})")
    default, low, high = LEVELS[name]
    if level is None:
        level = default
    elif name == "none":
        raise SquashfsError("compressor 'none' takes no level")
    elif not low <= level <= high:
        raise SquashfsError(f"{name} level {level} out of range ({low} to {high})")
    if name == "zstd":
        local = threading.local()

        def zstd_compress(data: bytes) -> bytes:
            cctx = getattr(local, "cctx", None)
            if cctx is None:
                cctx = local.cctx = zstandard.ZstdCompressor(level=level)
            return cctx.compress(data)

        options = struct.pack("<I", level) if level != default else None
        return Compressor(name, level, block_size, ZSTD_ID, zstd_compress, options)
    if name == "xz":
        # The kernel's xz decoder wants the .xz container with CRC32 and a dictionary no larger than
        # it allocates (the block size); mksquashfs uses the same settings.
        filters = [{"id": lzma.FILTER_LZMA2, "preset": level, "dict_size": block_size}]

        def xz_compress(data: bytes) -> bytes:
            return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32, filters=filters)

        # The preset is not part of the on-disk options (readers need only the dictionary size).
        return Compressor(name, level, block_size, XZ_ID, xz_compress, None)
    if name == "gzip":
        def gzip_compress(data: bytes) -> bytes:
            return zlib.compress(data, level)

        options = struct.pack("<IHH", level, 15, 0) if level != default else None
        return Compressor(name, level, block_size, GZIP_ID, gzip_compress, options)
    # Uncompressed images still name a compressor in the superblock; gzip is what mksquashfs records.
    return Compressor(name, 0, block_size, GZIP_ID, None, None)
