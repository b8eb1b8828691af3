"""The one table of builtin task functions that classes name with ``run_builtin("NAME", d)``.

Each entry is a plain function over a :class:`layerbuild.taskapi.TaskContext`. A class defines the
task as an ordinary python function that calls its builtin, so a recipe can override or append to it
as in BitBake. The session hands this table (and the lazily imported ``bb.fetch2``) to the
configuration; the engine never imports this module. The artifact modules are imported when a task
first runs, so parsing never pays for them.

What a builtin reads is declared in the variable table (layerbuild/util/variables.py): each row names the
builtins that read the variable (``tasks``), and those reads become the builtin's signature
dependencies. Here each builtin lists only the reads that deliberately do not change its output.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from types import MappingProxyType, ModuleType

from layerbuild.taskapi import Builtin, Hooks, TaskContext
from layerbuild.util.variables import task_reads


def _fetch(ctx: TaskContext) -> None:
    from layerbuild.fetch.tasks import fetch
    fetch(ctx)


def _unpack(ctx: TaskContext) -> None:
    from layerbuild.fetch.tasks import unpack
    unpack(ctx)


def _patch(ctx: TaskContext) -> None:
    from layerbuild.fetch.tasks import patch
    patch(ctx)


def _populate_lic(ctx: TaskContext) -> None:
    from layerbuild.license.populate import populate_lic
    populate_lic(ctx)


def _create_spdx(ctx: TaskContext) -> None:
    from layerbuild.sbom.recipe import create_spdx
    create_spdx(ctx)


def _image_sbom(ctx: TaskContext) -> None:
    from layerbuild.sbom.image import image_sbom
    image_sbom(ctx)


def _buildhistory_image(ctx: TaskContext) -> None:
    from layerbuild.buildhistory.record import buildhistory_image
    buildhistory_image(ctx)


def _populate_sysroot(ctx: TaskContext) -> None:
    from layerbuild.packaging.staging import populate_sysroot
    populate_sysroot(ctx)


def _prepare_recipe_sysroot(ctx: TaskContext) -> None:
    from layerbuild.packaging.staging import prepare_recipe_sysroot
    prepare_recipe_sysroot(ctx)


def _package(ctx: TaskContext) -> None:
    from layerbuild.packaging.split import package_recipe
    package_recipe(ctx)


def _package_write_deb(ctx: TaskContext) -> None:
    from layerbuild.packaging.write import write_debs
    write_debs(ctx)


def _os_release(ctx: TaskContext) -> None:
    from layerbuild.packaging.os_release import write_os_release
    write_os_release(ctx)


def _package_index(ctx: TaskContext) -> None:
    from layerbuild.packaging.index import package_index
    package_index(ctx)


def _rootfs(ctx: TaskContext) -> None:
    from layerbuild.rootfs.task import rootfs
    rootfs(ctx)


def _systemd_preset_all(ctx: TaskContext) -> None:
    from layerbuild.rootfs.task import systemd_preset_all
    systemd_preset_all(ctx)


def _read_only_rootfs(ctx: TaskContext) -> None:
    from layerbuild.rootfs.task import read_only_rootfs
    read_only_rootfs(ctx)


def _empty_root_password(ctx: TaskContext) -> None:
    from layerbuild.rootfs.task import empty_root_password
    empty_root_password(ctx)


def _image(ctx: TaskContext) -> None:
    from layerbuild.image.tasks import image
    image(ctx)


def _pkgdbfs(ctx: TaskContext) -> None:
    from layerbuild.image.tasks import pkgdbfs
    pkgdbfs(ctx)


def _image_complete(ctx: TaskContext) -> None:
    from layerbuild.image.tasks import image_complete
    image_complete(ctx)


def _extension_rootfs(ctx: TaskContext) -> None:
    from layerbuild.image.extension_tasks import extension_rootfs
    extension_rootfs(ctx)


def _extension_check(ctx: TaskContext) -> None:
    from layerbuild.image.extension_tasks import extension_check
    extension_check(ctx)


def _portable_rootfs(ctx: TaskContext) -> None:
    from layerbuild.image.portable import portable_rootfs
    portable_rootfs(ctx)


def _testimage(ctx: TaskContext) -> None:
    from layerbuild.testimage.task import testimage
    testimage(ctx)


#: what each builtin reads: the rows of the variable table that name it
_READS = task_reads()


def _builtin(name: str, func: Callable[[TaskContext], None], unhashed: tuple[str, ...] = (), *,
             doc: str) -> Builtin:
    return Builtin(name, func, _READS.get(name, ()), unhashed, doc)


#: where a download comes from (mirrors, network policy) does not change what it is, since checksums pin
#: the content (the SRC_URI checksum flags are FETCHER_CHECKSUMS in vardeps)
_FETCH_UNHASHED = ("BB_NO_NETWORK", "BB_FETCH_TIMEOUT", "PREMIRRORS", "MIRRORS", "SRC_URI[]", "DL_DIR", "FILE",
                   "DL_UPLOAD")
#: words of messages only
_MESSAGES = ("MACHINE", "IMAGE_RAW_KIND")

BUILTINS: Mapping[str, Builtin] = MappingProxyType({entry.name: entry for entry in (
    _builtin("fetch", _fetch, _FETCH_UNHASHED, doc="download SRC_URI into DL_DIR, checking checksums"),
    _builtin("unpack", _unpack, _FETCH_UNHASHED, doc="unpack SRC_URI into UNPACKDIR"),
    _builtin("patch", _patch, _FETCH_UNHASHED, doc="apply the patches of SRC_URI to S"),
    # where the generic licence texts are kept does not change them
    _builtin("populate_lic", _populate_lic, ("COMMON_LICENSE_DIR", "LICENSE_PATH"),
             doc="check LIC_FILES_CHKSUM and gather the recipe's licence texts for LICENSE_DIRECTORY"),
    # the record names where each source comes from as written and hashes what was fetched: how it was
    # fetched (mirrors, network policy, the expected checksums) does not change it
    _builtin("create_spdx", _create_spdx, _FETCH_UNHASHED,
             doc="record the recipe's sources, licence and CVE names for image SBOMs"),
    _builtin("image_sbom", _image_sbom, doc="the image's SPDX 3.0.1 SBOM, ${IMAGE_NAME}.spdx.json"),
    # the record is beside the image, no part of it: nothing it reads changes the image
    _builtin("buildhistory_image", _buildhistory_image,
             ("BUILDHISTORY_DIR", "BUILDHISTORY_DIR_IMAGE", "IMGDEPLOYDIR", "IMAGE_NAME", "IMAGE_ROOTFS",
              "DISTRO", "DISTRO_VERSION", "IMAGE_CLASSES", "IMAGE_FEATURES", "IMAGE_LINGUAS", "IMAGE_INSTALL",
              "BAD_RECOMMENDATIONS", "NO_RECOMMENDATIONS", "PACKAGE_EXCLUDE", "ROOTFS_POSTPROCESS_COMMAND",
              "IMAGE_PREPROCESS_COMMAND"),
             doc="buildhistory: the image's installed packages, sizes, files and dependency graph"),
    # the task's own sstate input directory is where its record goes, not what it holds
    _builtin("populate_sysroot", _populate_sysroot, ("{task}[sstate-inputdirs]",),
             doc="publish SYSROOT_DIRS of D for dependents"),
    # which provider of a name the build chose is in the signature already: the task depends on that
    # provider's do_populate_sysroot
    _builtin("prepare_recipe_sysroot", _prepare_recipe_sysroot, ("PREFERRED_PROVIDER_<name>",),
             doc="assemble RECIPE_SYSROOT and RECIPE_SYSROOT_NATIVE from the components of DEPENDS"),
    _builtin("package", _package, doc="strip, split D into PACKAGES, shlib dependencies, pkgdata"),
    _builtin("package_write_deb", _package_write_deb, doc="one .deb per non-empty package"),
    _builtin("os_release", _os_release, doc="${D}/usr/lib/os-release from OS_RELEASE_FIELDS (base-files)"),
    _builtin("package_index", _package_index, doc="the Packages index of DEPLOY_DIR_DEB"),
    _builtin("rootfs", _rootfs, doc="install PACKAGE_INSTALL from the feed into IMAGE_ROOTFS with a dpkg database"),
    _builtin("systemd_preset_all", _systemd_preset_all,
             doc="enable the units the packages' presets enable, offline (ROOTFS_POSTPROCESS_COMMAND)"),
    _builtin("read_only_rootfs", _read_only_rootfs, doc="IMAGE_FEATURES read-only-rootfs: no first-boot postinsts"),
    _builtin("empty_root_password", _empty_root_password, doc="IMAGE_FEATURES empty-root-password"),
    # the thread count does not change the bytes (tested); the task's own [imagetype] names the task
    _builtin("image", _image, ("BB_NUMBER_THREADS", "{task}[imagetype]", *_MESSAGES),
             doc="write IMAGE_ROOTFS as the task's [imagetype] (one do_image_<type> each)"),
    _builtin("pkgdbfs", _pkgdbfs, doc="the package-database snapshot of IMAGE_GEN_PKGDBFS"),
    _builtin("image_complete", _image_complete, doc="IMAGE_LINK_NAME links, before the deploy"),
    _builtin("extension_rootfs", _extension_rootfs, _MESSAGES,
             doc="install an extension's packages against the base's snapshot (IMAGE_BASE_PKGDB)"),
    _builtin("extension_check", _extension_check, _MESSAGES,
             doc="an extension's payload: hierarchies, extension-release, shadowing, ABI closure"),
    # do_testimage runs every time (nostamp), so the flags (Environment= drop-ins) need no signature
    _builtin("testimage", _testimage, ("TESTIMAGE_ENVIRONMENT[]",), doc="boot the image in a subhost and run TEST_SUITES"),
    _builtin("portable_rootfs", _portable_rootfs,
             doc="a portable service image's tree, checked against systemd's PORTABLE_SERVICES requirements"),
)})


def _fetch2() -> ModuleType:
    return importlib.import_module("layerbuild.fetch")


HOOKS = Hooks(builtins=BUILTINS, modules=MappingProxyType({"bb.fetch2": _fetch2}))
