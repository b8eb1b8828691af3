"""EROFS images through the host's ``mkfs.erofs`` (erofs-utils 1.5 or later), made reproducible.

erofs-utils 1.5 (Debian 12) has what a reproducible image needs, if asked for each piece:
- ``-U`` a fixed file-system UUID (otherwise a random one is generated on every run);
- ``-T`` the build time in the superblock;
- ``SOURCE_DATE_EPOCH`` in the environment switches mtimes to clamping: a file newer than the epoch
  gets the epoch, an older one keeps its own time (this also forces extended inodes, which carry
  per-file times and 32-bit owners);
- it sorts every directory itself (and visits subdirectories in that order), so the readdir order
  of the source tree does not leak into the image.
Owners come from the tree on disk (``--all-root`` makes them 0); the only compressors that build
supports are lz4 and lz4hc.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from layerbuild.util import proc
from layerbuild.util.errors import LayerbuildError

#: The UUID of every image unless the caller chooses one: a random UUID per run would make two
#: builds of the same tree differ.
DEFAULT_UUID = "6c617965-7262-7569-6c64-65726f667321"

#: Compressor -> the level always passed (so a change of erofs-utils' default cannot change images).
COMPRESSORS: dict[str, int | None] = {"none": None, "lz4": None, "lz4hc": 12}


class ErofsError(LayerbuildError):
    """An EROFS image could not be written."""


@dataclass(frozen=True)
class ErofsOptions:
    source_date_epoch: int
    compression: str = "none"
    all_root: bool = False
    uuid: str = DEFAULT_UUID
    log: Path | None = None


def mkfs_erofs_argv(root_dir: str | os.PathLike[str], output: str | os.PathLike[str],
                    options: ErofsOptions) -> list[str]:
    """The mkfs.erofs command line for ``options`` (``SOURCE_DATE_EPOCH`` goes in the environment)."""
    if options.compression not in COMPRESSORS:
        raise ErofsError(f"unknown EROFS compressor '{options.compression}' "
                         f"(choose from {', '.join(COMPRESSORS)})")
    if options.source_date_epoch < 0:
        raise ErofsError(f"SOURCE_DATE_EPOCH {options.source_date_epoch} is negative")
    argv = ["mkfs.erofs", "--quiet", "-U", options.uuid, "-T", str(options.source_date_epoch)]
    if options.compression != "none":
        level = COMPRESSORS[options.compression]
        argv.append(f"-z{options.compression}" + (f",{level}" if level is not None else ""))
    if options.all_root:
        argv.append("--all-root")
    argv += [os.fspath(output), os.fspath(root_dir)]
    return argv


def write_erofs(root_dir: str | os.PathLike[str], output: str | os.PathLike[str], options: ErofsOptions) -> None:
    """Write the tree under ``root_dir`` as an EROFS image at ``output`` (written in place)."""
    root = Path(root_dir)
    try:
        if not stat.S_ISDIR(os.lstat(root).st_mode):
            raise ErofsError(f"{root}: not a directory")
    except FileNotFoundError as exc:
        raise ErofsError(f"{root}: no such directory") from exc
    if shutil.which("mkfs.erofs") is None:
        raise ErofsError("mkfs.erofs not found", hint="install erofs-utils (apt-get install erofs-utils)")
    argv = mkfs_erofs_argv(root, output, options)
    env = dict(os.environ)
    env["SOURCE_DATE_EPOCH"] = str(options.source_date_epoch)
    try:
        proc.run(argv, env=env, log=options.log, stdout=subprocess.DEVNULL, merged=options.log is None)
    except proc.CommandError as exc:
        raise ErofsError(exc.message, notes=exc.notes) from exc
