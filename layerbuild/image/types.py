"""The image types ``IMAGE_FSTYPES`` can name: one table, one writer each.

Every writer takes the tree on disk, the output path and :class:`ImageOptions`, and writes the image
to that path (the caller publishes it atomically). Trees become images through a manifest
(:func:`layerbuild.util.fstree.from_directory`), so no root and no fakeroot are needed; owners are the
ones found on disk unless ``all_root`` (extensions) makes them 0, and every mtime later than
``source_date_epoch`` is clamped to it. The same tree gives the same bytes wherever and whenever it
was made.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from layerbuild.image.erofs import DEFAULT_UUID, ErofsOptions, write_erofs
from layerbuild.image.squashfs import SquashfsOptions, write_image
from layerbuild.util.errors import LayerbuildError, Location
from layerbuild.util.fstree import Manifest, from_directory
from layerbuild.util.tarzst import write_manifest_tar_zst


class UnknownImageTypeError(LayerbuildError):
    """An image type that is not in :data:`IMAGE_TYPES` (the caller adds where it was named)."""


@dataclass(frozen=True)
class ImageOptions:
    """How to write any image type.

    ``processors`` bounds the squashfs compression threads (None: one per CPU); ``block_size`` is the
    squashfs data block size (None: the writer's 128 KiB); ``uuid`` is the EROFS file-system UUID;
    ``log`` receives the output of host tools.
    """

    source_date_epoch: int
    all_root: bool = False
    processors: int | None = None
    block_size: int | None = None
    uuid: str = DEFAULT_UUID
    log: Path | None = None


Writer = Callable[[Path, Path, ImageOptions], None]


@dataclass(frozen=True)
class ImageType:
    """``name`` as IMAGE_FSTYPES spells it; ``suffix`` ends the file name (``${IMAGE_NAME}.<suffix>``)."""

    name: str
    suffix: str
    write: Writer
    doc: str


def manifest_of(root_dir: str | os.PathLike[str], options: ImageOptions) -> Manifest:
    """The tree under ``root_dir`` as every manifest-based writer sees it."""
    return from_directory(root_dir, all_root=options.all_root, source_date_epoch=options.source_date_epoch)


def _tar_zst(root_dir: Path, output: Path, options: ImageOptions) -> None:
    write_manifest_tar_zst(manifest_of(root_dir, options), output)


def _squashfs(compression: str) -> Writer:
    def write(root_dir: Path, output: Path, options: ImageOptions) -> None:
        squashfs = SquashfsOptions(compression=compression, mkfs_time=options.source_date_epoch,
                                   processors=options.processors)
        if options.block_size is not None:
            squashfs = dataclasses.replace(squashfs, block_size=options.block_size)
        write_image(manifest_of(root_dir, options), output, squashfs)
    return write


def _erofs(compression: str) -> Writer:
    def write(root_dir: Path, output: Path, options: ImageOptions) -> None:
        write_erofs(root_dir, output, ErofsOptions(source_date_epoch=options.source_date_epoch,
                                                   compression=compression, all_root=options.all_root,
                                                   uuid=options.uuid, log=options.log))
    return write


def _table(*types: ImageType) -> dict[str, ImageType]:
    return {t.name: t for t in types}


#: Every image type, by the name IMAGE_FSTYPES uses (OE's names where OE has the type).
IMAGE_TYPES: dict[str, ImageType] = _table(
    ImageType("tar.zst", "tar.zst", _tar_zst, "tar archive compressed with zstd (level 3)"),
    ImageType("squashfs", "squashfs", _squashfs("zstd"), "squashfs, zstd (level 15)"),
    ImageType("squashfs-zst", "squashfs-zst", _squashfs("zstd"), "squashfs, zstd (level 15)"),
    ImageType("squashfs-xz", "squashfs-xz", _squashfs("xz"), "squashfs, xz"),
    ImageType("squashfs-gz", "squashfs-gz", _squashfs("gzip"), "squashfs, gzip (level 9)"),
    ImageType("erofs", "erofs", _erofs("none"), "EROFS, uncompressed (host mkfs.erofs)"),
    ImageType("erofs-lz4", "erofs-lz4", _erofs("lz4"), "EROFS, lz4 (host mkfs.erofs)"),
    ImageType("erofs-lz4hc", "erofs-lz4hc", _erofs("lz4hc"), "EROFS, lz4hc level 12 (host mkfs.erofs)"),
)


def image_type(name: str, location: Location | None = None) -> ImageType:
    """The type called ``name``, or :class:`UnknownImageTypeError` (at ``location``, where the name was
    set) listing the known ones."""
    found = IMAGE_TYPES.get(name)
    if found is None:
        raise UnknownImageTypeError(f"unknown image type '{name}'", location,
                                    hint=f"known image types: {', '.join(sorted(IMAGE_TYPES))}")
    return found


def write(name: str, root_dir: str | os.PathLike[str], output: str | os.PathLike[str],
          options: ImageOptions) -> None:
    """Write the tree under ``root_dir`` as an image of type ``name`` at ``output``."""
    image_type(name).write(Path(root_dir), Path(output), options)
