"""The image tasks after ``do_rootfs``: ``do_image_<type>``, ``do_pkgdbfs`` and ``do_image_complete``.

Every file is written under a temporary name in the image's deploy staging directory
(``IMGDEPLOYDIR``) and renamed into place; ``do_image_complete`` adds the ``${IMAGE_LINK_NAME}``
links, and the shared state publishes the directory into ``DEPLOY_DIR_IMAGE``, so a fresh build
directory restores images without writing them again.

A build may be killed between these tasks: the next one runs the rest under another ``DATETIME``,
so the image files take the name the rootfs's manifest has (``do_rootfs`` empties the directory and
writes it first), and whatever temporary file a killed writer left is removed before anything is
deployed.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from layerbuild.image.pkgdb import write_snapshot
from layerbuild.image.types import ImageOptions, ImageType, UnknownImageTypeError, image_type
from layerbuild.taskapi import TaskContext
from layerbuild.util.fsutil import atomic_output, atomic_symlink

#: the types an extension or portable ``.raw`` may be written as (what systemd can dissect)
RAW_TYPES = ("squashfs", "squashfs-zst", "squashfs-xz", "squashfs-gz", "erofs", "erofs-lz4", "erofs-lz4hc")
PKGDB_SUFFIX = "-pkgdb.rootfs.tar.zst"


def fstype(ctx: TaskContext, name: str) -> ImageType:
    """The image type ``name`` of IMAGE_FSTYPES, or an error where IMAGE_FSTYPES was set."""
    try:
        return image_type(name)
    except UnknownImageTypeError as exc:
        raise ctx.fatal(f"IMAGE_FSTYPES: {exc.message}", var="IMAGE_FSTYPES", hint=exc.hint) from None


def raw_fstype(ctx: TaskContext) -> ImageType:
    """The one image type of an extension or portable image (it is a single ``.raw`` file)."""
    names = ctx.vars.words("IMAGE_FSTYPES")
    raw = [name for name in names if name in RAW_TYPES]
    if len(names) != 1 or len(raw) != 1:
        for name in names:
            fstype(ctx, name)  # an unknown name is the clearer error
        raise ctx.fatal(f"IMAGE_FSTYPES = \"{' '.join(names)}\": a {ctx.vars.get('IMAGE_RAW_KIND', 'raw')} image is "
                        "one .raw file, so IMAGE_FSTYPES names exactly one of " + ", ".join(RAW_TYPES),
                        var="IMAGE_FSTYPES")
    return fstype(ctx, raw[0])


def image(ctx: TaskContext) -> None:
    """``do_image_<type>``: write IMAGE_ROOTFS as the type named in the task's ``[imagetype]`` flag."""
    name = ctx.vars.flag(ctx.task, "imagetype")
    raw_file = ctx.vars.get("IMAGE_RAW_FILE")
    itype = raw_fstype(ctx) if raw_file else fstype(ctx, name)
    deploy = ctx.vars.get("IMGDEPLOYDIR")
    if raw_file:
        output = os.path.join(deploy, raw_file)
    else:
        name = rootfs_image_name(deploy, ctx.vars.get("IMAGE_NAME"))
        output = os.path.join(deploy, f"{name}{ctx.vars.get('IMAGE_NAME_SUFFIX')}.{itype.suffix}")
    _remove_temporaries(deploy, f"{os.path.basename(output)}.")
    options = ImageOptions(source_date_epoch=ctx.vars.epoch("SOURCE_DATE_EPOCH"),
                           all_root=bool(raw_file) and ctx.vars.bool("EXTENSION_ALL_ROOT", True),
                           processors=ctx.vars.int("BB_NUMBER_THREADS"),
                           block_size=ctx.vars.int("IMAGE_SQUASHFS_BLOCK_SIZE"), log=ctx.log)
    with atomic_output(output) as tmp:
        itype.write(Path(ctx.vars.get("IMAGE_ROOTFS")), tmp, options)
    ctx.note(f"wrote {output}")


def pkgdbfs(ctx: TaskContext) -> None:
    """``do_pkgdbfs``: the package-database snapshot extension images are built against."""
    deploy = ctx.vars.get("PKGDBFS_DEPLOYDIR")
    name = ctx.vars.get("IMAGE_NAME") + PKGDB_SUFFIX
    with atomic_output(os.path.join(deploy, name)) as tmp:
        write_snapshot(ctx.vars.get("IMAGE_ROOTFS"), tmp, ctx.vars.epoch("SOURCE_DATE_EPOCH"))
    _link(deploy, name, ctx.vars.get("IMAGE_LINK_NAME") + PKGDB_SUFFIX)


def _link(directory: str, target: str, name: str) -> None:
    if name != target:
        atomic_symlink(target, os.path.join(directory, name))


def rootfs_image_name(deploy: str, image_name: str) -> str:
    """IMAGE_NAME as the ``do_rootfs`` that filled ``deploy`` spelled it in its manifest's name.

    That is ``image_name`` unless the rootfs was made by an earlier build (one later killed): then the
    names differ in the digits of ``DATETIME`` only. Without such a manifest, ``image_name``.
    """
    try:
        entries = os.listdir(deploy)
    except FileNotFoundError:
        return image_name
    found = [entry[:-len(".manifest")] for entry in entries
             if entry.endswith(".manifest") and _differs_in_digits(entry[:-len(".manifest")], image_name)
             and os.path.isfile(os.path.join(deploy, entry)) and not os.path.islink(os.path.join(deploy, entry))]
    return found[0] if len(found) == 1 else image_name


def _differs_in_digits(a: str, b: str) -> bool:
    return len(a) == len(b) and all(x == y or (x.isdigit() and y.isdigit()) for x, y in zip(a, b, strict=True))


def _remove_temporaries(directory: str, name: str = "") -> None:
    """What atomic writes of a killed task left in ``directory``: ``.NAME.XXXX.tmp``, and the writer's own
    ``..NAME.XXXX.tmp.YYYY.tmp`` inside that; only those of ``NAME`` when it is given."""
    with contextlib.suppress(FileNotFoundError):
        for entry in os.listdir(directory):
            if entry.startswith(".") and entry.endswith(".tmp") and entry.lstrip(".").startswith(name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(directory, entry))


def image_complete(ctx: TaskContext) -> None:
    """``do_image_complete``: ``${IMAGE_LINK_NAME}`` links to this rootfs's files, ready to deploy."""
    deploy = ctx.vars.get("IMGDEPLOYDIR")
    # every writer of this image is done: a temporary file here is a killed one's, never to be deployed
    _remove_temporaries(deploy)
    image_name = rootfs_image_name(deploy, ctx.vars.get("IMAGE_NAME"))
    link_name = ctx.vars.get("IMAGE_LINK_NAME")
    if not link_name:
        return
    for entry in sorted(os.listdir(deploy)):
        if entry.startswith(image_name) and not os.path.islink(os.path.join(deploy, entry)) \
                and not entry.endswith(".tmp"):
            _link(deploy, entry, link_name + entry[len(image_name):])
