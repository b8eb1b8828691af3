"""``bb.compress.zstd.open``: a zstd-compressed file, read or written like ``open()``'s.

BitBake pipes through the ``zstd`` program; the zstandard library gives the same stream format.
"""

from __future__ import annotations

import os
from typing import Any, BinaryIO


def open(filename: str | os.PathLike[str] | BinaryIO, mode: str = "rb", encoding: str | None = None,  # noqa: A001
         errors: str | None = None, newline: str | None = None, num_threads: int = 1,
         compresslevel: int = 3) -> Any:
    """``mode`` is ``r``, ``w``, ``x`` or ``a``, binary unless it has a ``t`` (as ``gzip.open``'s); text
    mode decodes with ``encoding``."""
    import zstandard  # (imported on first use: most parses never read a compressed file)

    threads = num_threads if num_threads > 1 else 0
    cctx = zstandard.ZstdCompressor(level=compresslevel, threads=threads) if any(c in mode for c in "wxa") else None
    if "t" not in mode and "b" not in mode:
        mode += "b"
    return zstandard.open(filename, mode, cctx=cctx, encoding=encoding, errors=errors, newline=newline)
