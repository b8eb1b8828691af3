"""The one table of builtin task functions that classes name with ``run_builtin("NAME", d)``.

Each entry is a plain function over a :class:`layerbuild.taskapi.TaskContext`. A class defines the
task as an ordinary python function that calls its builtin, so a recipe can override or append to it
as in BitBake. The session hands this table (and the lazily imported ``bb.fetch2``) to the
configuration; the engine never imports this module. The artifact modules are imported when a task
first runs, so parsing never pays for them.
"""

from __future__ import annotations

import importlib
from types import MappingProxyType, ModuleType

from .taskapi import Builtin, Hooks, TaskContext


def _fetch(ctx: TaskContext) -> None:
    from .fetch.tasks import fetch
    fetch(ctx)


def _unpack(ctx: TaskContext) -> None:
    from .fetch.tasks import unpack
    unpack(ctx)


def _patch(ctx: TaskContext) -> None:
    from .fetch.tasks import patch
    patch(ctx)


def _populate_sysroot(ctx: TaskContext) -> None:
    from .packaging.staging import populate_sysroot
    populate_sysroot(ctx)


def _prepare_recipe_sysroot(ctx: TaskContext) -> None:
    from .packaging.staging import prepare_recipe_sysroot
    prepare_recipe_sysroot(ctx)


def _package(ctx: TaskContext) -> None:
    from .packaging.split import package_recipe
    package_recipe(ctx)


def _package_write_deb(ctx: TaskContext) -> None:
    from .packaging.write import write_debs
    write_debs(ctx)


def _package_index(ctx: TaskContext) -> None:
    from .packaging.index import package_index
    package_index(ctx)


def _rootfs(ctx: TaskContext) -> None:
    from .rootfs.task import rootfs
    rootfs(ctx)


def _read_only_rootfs(ctx: TaskContext) -> None:
    from .rootfs.task import read_only_rootfs
    read_only_rootfs(ctx)


def _empty_root_password(ctx: TaskContext) -> None:
    from .rootfs.task import empty_root_password
    empty_root_password(ctx)


def _image(ctx: TaskContext) -> None:
    from .image.tasks import image
    image(ctx)


def _pkgdbfs(ctx: TaskContext) -> None:
    from .image.tasks import pkgdbfs
    pkgdbfs(ctx)


def _image_complete(ctx: TaskContext) -> None:
    from .image.tasks import image_complete
    image_complete(ctx)


def _extension_rootfs(ctx: TaskContext) -> None:
    from .image.extension_tasks import extension_rootfs
    extension_rootfs(ctx)


def _extension_check(ctx: TaskContext) -> None:
    from .image.extension_tasks import extension_check
    extension_check(ctx)


def _portable_rootfs(ctx: TaskContext) -> None:
    from .image.portable import portable_rootfs
    portable_rootfs(ctx)


def _testimage(ctx: TaskContext) -> None:
    from .testimage.task import testimage
    testimage(ctx)


def _table(*entries: Builtin) -> MappingProxyType[str, Builtin]:
    return MappingProxyType({entry.name: entry for entry in entries})


BUILTINS = _table(
    Builtin("fetch", _fetch, doc="download SRC_URI into DL_DIR, checking checksums"),
    Builtin("unpack", _unpack, doc="unpack SRC_URI into UNPACKDIR"),
    Builtin("patch", _patch, doc="apply the patches of SRC_URI to S"),
    Builtin("populate_sysroot", _populate_sysroot, doc="publish SYSROOT_DIRS of D for dependents"),
    Builtin("prepare_recipe_sysroot", _prepare_recipe_sysroot,
            doc="assemble RECIPE_SYSROOT from the components of DEPENDS"),
    Builtin("package", _package, doc="strip, split D into PACKAGES, shlib dependencies, pkgdata"),
    Builtin("package_write_deb", _package_write_deb, doc="one .deb per non-empty package"),
    Builtin("package_index", _package_index, doc="the Packages index of DEPLOY_DIR_DEB"),
    Builtin("rootfs", _rootfs, doc="install PACKAGE_INSTALL from the feed into IMAGE_ROOTFS with a dpkg database"),
    Builtin("read_only_rootfs", _read_only_rootfs, doc="IMAGE_FEATURES read-only-rootfs: no first-boot postinsts"),
    Builtin("empty_root_password", _empty_root_password, doc="IMAGE_FEATURES empty-root-password"),
    Builtin("image", _image, doc="write IMAGE_ROOTFS as the task's [imagetype] (one do_image_<type> each)"),
    Builtin("pkgdbfs", _pkgdbfs, doc="the package-database snapshot of IMAGE_GEN_PKGDBFS"),
    Builtin("image_complete", _image_complete, doc="IMAGE_LINK_NAME links, before the deploy"),
    Builtin("extension_rootfs", _extension_rootfs,
            doc="install an extension's packages against the base's snapshot (IMAGE_BASE_PKGDB)"),
    Builtin("extension_check", _extension_check,
            doc="an extension's payload: hierarchies, extension-release, shadowing, ABI closure"),
    Builtin("testimage", _testimage, doc="boot the image in a subhost and run TEST_SUITES"),
    Builtin("portable_rootfs", _portable_rootfs,
            doc="a portable service image's tree, checked against systemd's PORTABLE_SERVICES requirements"),
)


def _fetch2() -> ModuleType:
    return importlib.import_module("layerbuild.fetch")


HOOKS = Hooks(builtins=BUILTINS, modules=MappingProxyType({"bb.fetch2": _fetch2}))
