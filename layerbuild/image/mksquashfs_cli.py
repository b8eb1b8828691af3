"""``layerbuild-mksquashfs SOURCE_DIR OUTPUT``: the squashfs writer on its own.

The command line and the command; :mod:`layerbuild.cli` turns its errors into exit statuses.
OUTPUT is only ever a regular file, created or replaced in one rename when the image is complete:
a device, directory or other node there is refused, so is a missing parent directory, and a
SIGTERM, SIGHUP or SIGINT removes the partial image before the command ends.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from layerbuild.image.squashfs import BACKENDS, SquashfsOptions, write_image
from layerbuild.image.squashfs.compressors import NAMES
from layerbuild.image.squashfs.writer import check_output
from layerbuild.util.errors import LayerbuildError, UsageError
from layerbuild.util.fstree import from_directory
from layerbuild.util.values import Environment


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="layerbuild-mksquashfs",
                description="Write a reproducible squashfs image of SOURCE_DIR without root or host tools.")
    p.add_argument("source", metavar="SOURCE_DIR")
    p.add_argument("output", metavar="OUTPUT")
    p.add_argument("--comp", choices=NAMES, default="zstd", help="compressor (default: zstd)")
    p.add_argument("--level", type=int, help="compression level (default: zstd 15, xz 6, gzip 9)")
    p.add_argument("--block-size", type=_size, default=128 * 1024, metavar="BYTES",
                   help="data block size, a power of two from 4K to 1M (default: 128K)")
    p.add_argument("--all-root", action="store_true", help="make every file owned by uid and gid 0")
    p.add_argument("--mkfs-time", type=int, metavar="T",
                   help="image creation time (default: $SOURCE_DATE_EPOCH, else the newest file's mtime)")
    p.add_argument("--processors", type=int, metavar="N", help="compression threads (default: CPU count)")
    p.add_argument("--no-tailends", action="store_true",
                   help="store the tail of files larger than a block as a short block, not in a fragment")
    p.add_argument("--no-exports", action="store_true", help="leave out the NFS export table")
    p.add_argument("--no-xattrs", action="store_true", help="leave out extended attributes")
    p.add_argument("--backend", choices=tuple(BACKENDS), default="python",
                   help="python (native writer, default) or mksquashfs (host tool fed a tar stream)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def _size(text: str) -> int:
    units = {"k": 1024, "m": 1024 * 1024}
    suffix = text[-1:].lower()
    try:
        return int(text[:-1]) * units[suffix] if suffix in units else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}") from None


def mksquashfs(args: argparse.Namespace) -> int:
    epoch = Environment(os.environ).epoch("SOURCE_DATE_EPOCH", None)
    _check_parent(args.output)
    check_output(args.output)
    options = SquashfsOptions(compression=args.comp, level=args.level, block_size=args.block_size,
                              mkfs_time=args.mkfs_time if args.mkfs_time is not None else epoch,
                              processors=args.processors, exportable=not args.no_exports,
                              tail_ends=not args.no_tailends)
    options.check()
    with _signals_interrupt():
        manifest = from_directory(args.source, all_root=args.all_root, source_date_epoch=epoch,
                                  xattrs=not args.no_xattrs)
        write_image(manifest, args.output, options, backend=args.backend)
    return 0


def _check_parent(output: str) -> None:
    parent = Path(os.path.realpath(output)).parent
    if not parent.is_dir():
        raise LayerbuildError(f"{output}: directory {parent} does not exist",
                              hint="create it first; layerbuild-mksquashfs does not make directories")


class _Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: it unwinds as Ctrl-C does (the temporary image is removed on the way),
    and the command exits with 128 + ``signum``."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)  # one is enough: the image is being removed
        raise _Terminated(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
