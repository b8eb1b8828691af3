"""Squashfs images: the native writer and the mksquashfs backend behind one call."""

from __future__ import annotations

import os
from collections.abc import Callable

from layerbuild.image.squashfs.writer import ImageInfo, SquashfsOptions, write_squashfs
from layerbuild.util.errors import SquashfsError
from layerbuild.util.fstree import Manifest


def _mksquashfs(manifest: Manifest, output: str | os.PathLike[str], options: SquashfsOptions) -> ImageInfo:
    from layerbuild.image.squashfs.mksquashfs import write_with_mksquashfs

    return write_with_mksquashfs(manifest, output, options)


#: Backend name -> writer. ``python`` needs no host tool; ``mksquashfs`` pipes a tar stream to the
#: reference tool (squashfs-tools 4.5.1 or later, for ``-tar``).
BACKENDS: dict[str, Callable[[Manifest, str | os.PathLike[str], SquashfsOptions], ImageInfo]] = {
    "python": write_squashfs,
    "mksquashfs": _mksquashfs,
}


def write_image(manifest: Manifest, output: str | os.PathLike[str], options: SquashfsOptions | None = None,
                backend: str = "python") -> ImageInfo:
    """Write ``manifest`` to ``output`` with the chosen backend."""
    options = options or SquashfsOptions()
    writer = BACKENDS.get(backend)
    if writer is None:
        raise SquashfsError(f"unknown squashfs backend '{backend}' (choose from {', '.join(BACKENDS)})")
    return writer(manifest, output, options)


__all__ = ["BACKENDS", "ImageInfo", "SquashfsOptions", "write_image", "write_squashfs"]
