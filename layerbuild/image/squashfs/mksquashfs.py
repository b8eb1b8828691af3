"""The mksquashfs backend: the manifest as a tar stream, piped to ``mksquashfs -tar``.

For sites that want the reference tool, and as an oracle for the native writer in tests. The tar
stream is produced while mksquashfs reads it, so nothing is staged on disk and no root is needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import IO

from layerbuild.image.squashfs.compressors import LEVELS
from layerbuild.image.squashfs.writer import ImageInfo, SquashfsOptions, _check_manifest, check_output
from layerbuild.util import proc
from layerbuild.util.errors import LayerbuildError, SquashfsError
from layerbuild.util.fstree import Entry, EntryType, Manifest
from layerbuild.util.fsutil import atomic_output
from layerbuild.util.tarzst import write_manifest_tar


def mksquashfs_argv(output: Path, options: SquashfsOptions, root: Entry, mkfs_time: int) -> list[str]:
    """The command line that makes mksquashfs write what the native writer would."""
    options.check()
    comp = options.compression
    if comp not in LEVELS:
        raise SquashfsError(f"unknown compressor '{comp}'")
    argv = ["mksquashfs", "-", str(output), "-tar", "-noappend", "-quiet", "-no-progress",
            "-b", str(options.block_size), "-mkfs-time", str(mkfs_time),
            "-root-mode", f"{root.mode:o}", "-root-uid", str(root.uid), "-root-gid", str(root.gid),
            "-root-time", str(root.mtime)]
    if comp == "none":
        argv += ["-noI", "-noD", "-noF", "-noX", "-noId"]
    else:
        argv += ["-comp", comp]
        if options.level is not None and options.level != LEVELS[comp][0]:
            if comp == "xz":
                raise SquashfsError("mksquashfs has no level setting for xz; use the python backend")
            argv += ["-Xcompression-level", str(options.level)]
    if options.processors:
        argv += ["-processors", str(options.processors)]
    argv.append("-exports" if options.exportable else "-no-exports")
    if options.tail_ends:
        argv.append("-tailends")
    return argv


def write_with_mksquashfs(manifest: Manifest, output: str | os.PathLike[str],
                          options: SquashfsOptions | None = None) -> ImageInfo:
    """Write ``manifest`` with the host's mksquashfs (squashfs-tools 4.5.1 or later).

    Tar cannot carry sockets, and mksquashfs takes no extended attributes for the root directory
    from a tar stream: both are reported as errors. squashfs-tools 4.5.1 ignores ``-root-time``,
    ``-root-uid`` and ``-root-gid`` when reading tar, so with that version the root directory gets the
    build time and the caller's ownership.
    """
    options = options or SquashfsOptions()
    _check_manifest(manifest)
    root = manifest.entries[0]
    for entry in manifest:
        if entry.type is EntryType.SOCKET:
            raise SquashfsError(f"{entry.path}: the mksquashfs backend cannot store sockets (tar has none)")
    if root.xattrs:
        raise SquashfsError("the mksquashfs backend cannot store extended attributes on the root directory")
    if shutil.which("mksquashfs") is None:
        raise SquashfsError("mksquashfs not found; install squashfs-tools or use the python backend")
    mkfs_time = options.mkfs_time if options.mkfs_time is not None else manifest.newest_mtime()
    out_path = check_output(output)
    # mksquashfs would take SOURCE_DATE_EPOCH over every timestamp in the manifest.
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    with atomic_output(out_path) as tmp:
        argv = mksquashfs_argv(tmp, options, root, mkfs_time)
        try:
            proc.run(argv, input=lambda pipe: write_tar(manifest, pipe), env=env, stdout=subprocess.DEVNULL)
        except proc.CommandError as exc:
            raise SquashfsError(exc.message, notes=exc.notes) from exc
        size = tmp.stat().st_size
    inodes = len({manifest.resolve(e).path for e in manifest})
    files = sum(1 for e in manifest if e.type is EntryType.FILE)
    return ImageInfo(out_path, size, size, inodes, files, 0, 0)


def write_tar(manifest: Manifest, stream: IO[bytes]) -> None:
    """Write the manifest (without its root) as the PAX tar stream ``mksquashfs -tar`` reads."""
    try:
        write_manifest_tar(manifest, stream, with_root=False)
    except LayerbuildError as exc:
        raise SquashfsError(exc.message, exc.location, exc.hint, exc.notes) from exc
