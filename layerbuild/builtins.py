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


def _os_release(ctx: TaskContext) -> None:
    from .packaging.os_release import write_os_release
    write_os_release(ctx)


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


#: what fetch tasks read: where a download comes from (mirrors, network policy) does not change what it
#: is, since checksums pin the content (the SRC_URI checksum flags are FETCHER_CHECKSUMS in vardeps)
_FETCH = ("SRC_URI", "SRCREV", "PN", "FILESPATH", "FILESEXTRAPATHS", "FILESOVERRIDES", "OVERRIDES")
_FETCH_UNHASHED = ("BB_NO_NETWORK", "BB_FETCH_TIMEOUT", "PREMIRRORS", "MIRRORS", "SRC_URI[]", "DL_DIR", "FILE")
_ROOTFS = ("PACKAGE_INSTALL", "IMAGE_INSTALL", "FEATURE_INSTALL", "PACKAGE_EXCLUDE", "NO_RECOMMENDATIONS",
           "BAD_RECOMMENDATIONS", "SYSEXT_ALLOW_UPGRADE", "DPKG_ARCH", "TARGET_ARCH", "SOURCE_DATE_EPOCH",
           "IMAGE_ROOTFS", "IMAGE_MANIFEST")
_EXTENSION = ("EXTENSION_KIND", "EXTENSION_NAME", "EXTENSION_ALL_ROOT", "EXTENSION_RELOAD_MANAGER", "IMAGE_BASE_PKGDB",
              "IMAGE_BASE_PKGDB_FILE", "IMAGE_ROOTFS", "IMAGE_FSTYPES", "DPKG_ARCH", "SYSTEMD_ARCHITECTURE",
              "DISTRO_ID", "DISTRO_VERSION", "DISTRO_SYSEXT_LEVEL", "DISTRO_CONFEXT_LEVEL", "SYSEXT_ID",
              "SYSEXT_VERSION_ID", "SYSEXT_LEVEL", "SYSEXT_SCOPE", "SYSEXT_SHADOW", "SYSEXT_ETC_TO_USR_SHARE",
              "SYSEXT_ALLOW_EMPTY", "CONFEXT_ID", "CONFEXT_VERSION_ID", "CONFEXT_LEVEL", "CONFEXT_SCOPE",
              "CONFEXT_SHADOW", "CONFEXT_ALLOW_EMPTY")
#: words of messages only
_MESSAGES = ("MACHINE", "IMAGE_RAW_KIND")

BUILTINS = _table(
    Builtin("fetch", _fetch, _FETCH, _FETCH_UNHASHED, doc="download SRC_URI into DL_DIR, checking checksums"),
    Builtin("unpack", _unpack, (*_FETCH, "UNPACKDIR"), _FETCH_UNHASHED, doc="unpack SRC_URI into UNPACKDIR"),
    Builtin("patch", _patch, (*_FETCH, "UNPACKDIR", "S"), _FETCH_UNHASHED, doc="apply the patches of SRC_URI to S"),
    Builtin("populate_sysroot", _populate_sysroot, ("SYSROOT_DIRS", "PROVIDES", "DEPENDS"),
            doc="publish SYSROOT_DIRS of D for dependents"),
    Builtin("prepare_recipe_sysroot", _prepare_recipe_sysroot, ("COMPONENTS_DIR", "DEPENDS"),
            doc="assemble RECIPE_SYSROOT from the components of DEPENDS"),
    Builtin("package", _package,
            ("PN", "PACKAGES", "FILES:{pkg}", "INSANE_SKIP", "INHIBIT_PACKAGE_STRIP", "SHLIB_ALLOWLIST", "PE", "PKGV",
             "PKGR", "PACKAGE_ARCH", "ALLOW_EMPTY", "ALLOW_EMPTY:{pkg}", "RDEPENDS:{pkg}", "RRECOMMENDS:{pkg}",
             "RSUGGESTS:{pkg}", "RPROVIDES:{pkg}", "RCONFLICTS:{pkg}", "RREPLACES:{pkg}"),
            doc="strip, split D into PACKAGES, shlib dependencies, pkgdata"),
    Builtin("package_write_deb", _package_write_deb,
            ("PACKAGES", "PACKAGE_ARCH", "DPKG_ARCH", "SOURCE_DATE_EPOCH", "MAINTAINER", "HOMEPAGE", "SECTION",
             "SECTION:{pkg}", "PRIORITY:{pkg}", "SUMMARY", "SUMMARY:{pkg}", "DESCRIPTION", "DESCRIPTION:{pkg}",
             "CONFFILES:{pkg}", "pkg_preinst:{pkg}", "pkg_postinst:{pkg}", "pkg_prerm:{pkg}", "pkg_postrm:{pkg}"),
            doc="one .deb per non-empty package"),
    Builtin("os_release", _os_release, ("OS_RELEASE_FIELDS", "OS_RELEASE_{OS_RELEASE_FIELDS}"),
            doc="${D}/usr/lib/os-release from OS_RELEASE_FIELDS (base-files)"),
    Builtin("package_index", _package_index, doc="the Packages index of DEPLOY_DIR_DEB"),
    Builtin("rootfs", _rootfs, _ROOTFS,
            doc="install PACKAGE_INSTALL from the feed into IMAGE_ROOTFS with a dpkg database"),
    Builtin("read_only_rootfs", _read_only_rootfs, ("IMAGE_ROOTFS",),
            doc="IMAGE_FEATURES read-only-rootfs: no first-boot postinsts"),
    Builtin("empty_root_password", _empty_root_password, ("IMAGE_ROOTFS",), doc="IMAGE_FEATURES empty-root-password"),
    # the thread count does not change the bytes (tested); the task's own [imagetype] names the task
    Builtin("image", _image,
            ("IMAGE_FSTYPES", "IMAGE_NAME", "IMAGE_NAME_SUFFIX", "IMAGE_RAW_FILE", "IMAGE_ROOTFS",
             "IMAGE_SQUASHFS_BLOCK_SIZE", "IMGDEPLOYDIR", "SOURCE_DATE_EPOCH", "EXTENSION_ALL_ROOT"),
            ("BB_NUMBER_THREADS", "{task}[imagetype]", *_MESSAGES),
            doc="write IMAGE_ROOTFS as the task's [imagetype] (one do_image_<type> each)"),
    Builtin("pkgdbfs", _pkgdbfs, ("IMAGE_NAME", "IMAGE_LINK_NAME", "IMAGE_ROOTFS", "PKGDBFS_DEPLOYDIR",
                                  "SOURCE_DATE_EPOCH"),
            doc="the package-database snapshot of IMAGE_GEN_PKGDBFS"),
    Builtin("image_complete", _image_complete, ("IMAGE_NAME", "IMAGE_LINK_NAME", "IMGDEPLOYDIR"),
            doc="IMAGE_LINK_NAME links, before the deploy"),
    Builtin("extension_rootfs", _extension_rootfs, (*_ROOTFS, *_EXTENSION), _MESSAGES,
            doc="install an extension's packages against the base's snapshot (IMAGE_BASE_PKGDB)"),
    Builtin("extension_check", _extension_check, (*_ROOTFS, *_EXTENSION), _MESSAGES,
            doc="an extension's payload: hierarchies, extension-release, shadowing, ABI closure"),
    Builtin("testimage", _testimage,
            ("TEST_SUITES", "TEST_START_SERVICES", "TESTIMAGE_KIND", "TESTIMAGE_RAM_SIZE", "TESTIMAGE_CABLE",
             "TESTIMAGE_ENVIRONMENT", "TESTIMAGE_REPORT", "IMAGE_MANIFEST", "IMAGE_LINK_NAME", "IMAGE_NAME_SUFFIX",
             "IMAGE_RAW_FILE", "IMAGE_BASE_PKGDB", "IMAGE_FEATURES", "PORTABLE_UNITS", "BBPATH", "MACHINE", "PN",
             "PV", "DISTRO_ID", "DISTRO_VERSION"),
            ("TESTIMAGE_ENVIRONMENT[]",),
            doc="boot the image in a subhost and run TEST_SUITES"),
    Builtin("portable_rootfs", _portable_rootfs,
            (*_ROOTFS, "PORTABLE_NAME", "PORTABLE_UNITS", "PORTABLE_SYMLINKS", "PORTABLE_OS_ID", "SUMMARY",
             "HOMEPAGE", "PV", "DISTRO_VERSION", "DISTRO_FEATURES", "FILESPATH", "FILESEXTRAPATHS", "FILESOVERRIDES",
             "OVERRIDES"),
            doc="a portable service image's tree, checked against systemd's PORTABLE_SERVICES requirements"),
)


def _fetch2() -> ModuleType:
    return importlib.import_module("layerbuild.fetch")


HOOKS = Hooks(builtins=BUILTINS, modules=MappingProxyType({"bb.fetch2": _fetch2}))
