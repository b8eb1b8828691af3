"""The engine-known variables: one row per variable, with type, default and doc.

Every variable the engine or a builtin task reads, and every variable the core configuration defines,
has a row here, and the Python side reads through it: the row's type (:mod:`layerbuild.util.vartypes`)
chooses the parser of the typed reads (``ctx.vars.int()``, ``.bool()``, ``.list()``, ``.path()``,
``.epoch()``, :mod:`layerbuild.util.values`) and of the configuration check, which reads every typed value
the configuration sets. A row's ``tasks`` are the builtin task functions that read the variable: the
signatures of those tasks depend on it, and a test runs every builtin to check that it reads nothing
else (besides the reads its builtin entry declares as unhashed). Classes keep BitBake's ``d.getVar``.

The rows of the classes for real software (systemd, useradd, autotools, cmake, meson ...) are kept in
:mod:`layerbuild.util.classvariables` and take their place in this table; a row is a
:class:`layerbuild.util.variable.Variable`.

``docs/variables.md`` is generated from the table (``python -m layerbuild.util.variables > docs/variables.md``);
a test keeps the two equal and checks that every variable the core configuration sets is listed.

A name ending in ``_<collection>``, ``_<pn>`` or ``:<package>`` stands for a family of variables.
``default`` is the value as written in ``conf/layerbuild.conf`` (or ``conf/layer.conf``), before
expansion; ``None`` when the core configuration does not set the variable (a value a core class sets is
named in the doc).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from layerbuild.util.classvariables import (
    BUILD_CLASS_VARIABLES,
    BUILDHISTORY_VARIABLES,
    NATIVE_VARIABLES,
    SBOM_VARIABLES,
    UNIT_AND_USER_VARIABLES,
)
from layerbuild.util.toolchainvariables import MACHINE_VARIABLES, TOOLCHAIN_VARIABLES
from layerbuild.util.variable import Variable
from layerbuild.util.vartypes import TYPES

_IGNORE_VARS = (
    "TMPDIR FILE PATH PWD BB_TASKHASH BB_UNIHASH BB_HASHSERVE BBPATH BBSERVER DL_DIR THISDIR FILESEXTRAPATHS FILE_DIRNAME HOME "
    "LOGNAME SHELL USER USERNAME TERM DATE TIME DATETIME SSTATE_DIR SSTATE_MIRRORS TOPDIR BB_NUMBER_THREADS "
    "BB_NUMBER_PARSE_THREADS PARALLEL_MAKE CACHE STAMPS_DIR BASE_WORKDIR DEPLOY_DIR LOG_DIR PKGDATA_DIR "
    "STAGING_DIR BB_CURRENT_MC FILE_LAYERNAME LAYERDIR BBFILES BBLAYERS BBFILE_COLLECTIONS BB_ENV_PASSTHROUGH "
    "BB_TASKDEPDATA BUILD_ARCH BUILD_OS __BBAPPEND __BB_RECIPE_FILE FILESPATH BB_ORIGENV"
)

_OVERRIDES = ("${TARGET_OS}:${TRANSLATED_TARGET_ARCH}:pn-${PN}:${MACHINEOVERRIDES}:${DISTROOVERRIDES}:"
              "${CLASSOVERRIDE}:forcevariable")


#: the rows are written _v(...) to keep the table narrow
_v = Variable

__all__ = ["VARIABLES", "UnknownVariable", "Variable", "by_name", "lookup", "markdown", "task_reads"]


# The builtins that read the same variables, named once.
#: what reads SRC_URI through the fetcher (do_create_spdx records where each source comes from)
_FETCHING = ("fetch", "unpack", "patch", "create_spdx")
_EXTENSION = ("extension_rootfs", "extension_check")
_ROOTFS = ("rootfs", *_EXTENSION, "portable_rootfs")
#: the builtins that install an image's packages, and so apply its licence policy
_LICENSED = ("rootfs", "extension_rootfs", "portable_rootfs")
_THREADS_HINT = 'for example {name} = "4", or "${{@os.cpu_count()}}" for one per CPU'

VARIABLES: tuple[Variable, ...] = (
    # -- layers and the build directory -------------------------------------------------------------
    _v("TOPDIR", "path", None,
       "The build directory (the one holding conf/bblayers.conf). Set by layerbuild before any file is read."),
    _v("BBLAYERS", "list", None,
       "The layer directories of the build, in order; set in conf/bblayers.conf."),
    _v("BBPATH", "pathlist", None,
       "Directories searched for conf/layerbuild.conf, classes and include files. Each layer.conf "
       "adds its own directory: BBPATH .= \":${LAYERDIR}\".", tasks=("testimage",)),
    _v("BBFILES", "list", None,
       "Glob patterns of the recipe (.bb) and append (.bbappend) files; each layer.conf adds its own."),
    _v("BBFILES_DYNAMIC", "list", None,
       "Entries collection:pattern (or !collection:pattern) whose pattern is added to BBFILES only when "
       "the collection is present (or absent)."),
    _v("BBCLASSEXTEND", "list", None,
       "The recipe's variants, as BitBake makes them: each entry X is another recipe from the same file, "
       "PN ${PN}-X, that inherits X.bbclass (native, nativesdk...); an entry X:ARG (multilib:lib32) inherits "
       "X.bbclass with BBEXTENDCURR = X and BBEXTENDVARIANT = ARG. Variants are parsed and shown (-e, -g, "
       "show-recipes --show-variants); native variants are built (native.bbclass), a build that needs "
       "another is an error."),
    _v("BBEXTENDCURR", "string", None,
       "In the variant of a BBCLASSEXTEND entry X:ARG, X (the class it inherits); set by the engine."),
    _v("BBEXTENDVARIANT", "string", None,
       "In the variant of a BBCLASSEXTEND entry X:ARG, ARG (multilib:lib32 gives lib32); set by the engine."),
    _v("BBMASK", "list", None,
       "Regular expressions; recipe and append files whose path matches any of them are ignored."),
    _v("BBFILE_COLLECTIONS", "list", None,
       "The collection names the layers define; each layer.conf adds its own name."),
    _v("BBFILE_PATTERN_<collection>", "regex", None,
       "Matches the paths of the recipe files that belong to the collection, usually \"^${LAYERDIR}/\"."),
    _v("BBFILE_PRIORITY_<collection>", "integer", None,
       "The collection's priority: when several files provide the same recipe, the highest priority wins "
       "unless PREFERRED_VERSION says otherwise.", hint="layer priorities are whole numbers; a higher one wins"),
    _v("LAYERDEPENDS_<collection>", "list", None,
       "Collections this one needs, each optionally followed by a version requirement such as "
       "\"core (>= 1)\"; a missing collection or version is an error."),
    _v("LAYERVERSION_<collection>", "string", None,
       "The collection's version, compared against the version requirements in LAYERDEPENDS."),
    _v("LAYERSERIES_COMPAT_<collection>", "list", None,
       "The core release series the collection works with; it must share a name with "
       "LAYERSERIES_CORENAMES."),
    _v("LAYERSERIES_CORENAMES", "list", None,
       "The release series the core layer belongs to (\"alder\" for this core layer)."),
    _v("LAYERDIR", "path", None,
       "The directory of the layer whose conf/layer.conf is being read; references to it are replaced "
       "by the literal path afterwards, and it is unset once all layers are read."),
    _v("LAYERDIR_RE", "regex", None, "LAYERDIR escaped for use in a regular expression."),
    _v("BB_DANGLINGAPPENDS_WARNONLY", "boolean", None,
       "When \"1\", \"yes\" or \"true\", a .bbappend that matches no recipe is ignored instead of stopping the parse."),
    _v("INHERIT", "list", None,
       "Classes inherited by every recipe (through the configuration); looked up in classes-global/ "
       "and classes/."),
    _v("BB_DEFER_BBCLASSES", "list", None,
       "Classes whose plain inherit is treated as inherit_defer."),
    _v("BB_CURRENT_MC", "string", None,
       "The multiconfig a datastore belongs to: empty for the default configuration, else a name of "
       "BBMULTICONFIG (conf/multiconfig/${BB_CURRENT_MC}.conf is read after local.conf)."),
    _v("BBMULTICONFIG", "list", None,
       "Further configurations of the build directory, each the base configuration plus "
       "conf/multiconfig/NAME.conf (found through BBPATH): their recipes are targets as mc:NAME:recipe "
       "and [mcdepends] names their tasks as mc:FROM:TO:recipe:task."),
    _v("CACHE", "path", "${TMPDIR}/cache",
       "Where the parse cache (recipe summaries) is kept."),
    _v("BB_NUMBER_PARSE_THREADS", "integer", "${@os.cpu_count()}",
       "How many processes parse recipes at once.", hint=_THREADS_HINT, minimum=1),
    _v("BB_NUMBER_THREADS", "integer", "${@os.cpu_count()}",
       "How many tasks run at once (the default of -j).", hint=_THREADS_HINT, minimum=1),
    _v("PARALLEL_MAKE", "string", "-j ${@os.cpu_count()}", "Options passed to make for parallel builds."),

    # -- the recipe file ----------------------------------------------------------------------------
    _v("FILE", "path", None, "The file being read; in a recipe's final datastore, the recipe file."),
    _v("FILE_LAYERNAME", "string", None, "The collection name of the layer the recipe file belongs to."),
    _v("FILE_DIRNAME", "path", "${@os.path.dirname(d.getVar('FILE', False))}",
       "The directory of the recipe file."),
    _v("THISDIR", "path", "${@os.path.dirname(d.getVar('FILE'))}",
       "The directory of the file being read; use it with := in a .bbappend to name the append's own directory."),
    _v("PN", "string", "${@bb.parse.vars_from_file(d.getVar('FILE', False),d)[0] or 'defaultpkgname'}",
       "The recipe name, from the file name PN_PV_PR.bb.", tasks=(*_FETCHING, "package", "testimage")),
    _v("PV", "string", "${@bb.parse.vars_from_file(d.getVar('FILE', False),d)[1] or '1.0'}",
       "The recipe version, from the file name (1.0 when the name has none).",
       tasks=("testimage", "portable_rootfs", "populate_lic", "create_spdx")),
    _v("PR", "string", "${@bb.parse.vars_from_file(d.getVar('FILE', False),d)[2] or 'r0'}",
       "The recipe revision (r0 when the file name has none).", tasks=("populate_lic", "create_spdx")),
    _v("PE", "integer", "", "The epoch; compared before PV when versions are compared.", tasks=("package",)),
    _v("EXTENDPE", "string", "${@['','${PE}:'][int(d.getVar('PE') or 0) > 0]}",
       "\"${PE}:\" when PE is above 0, else empty."),
    _v("PKGV", "string", "${PV}", "The version of the packages the recipe writes.", tasks=("package",)),
    _v("PKGR", "string", "${PR}", "The revision of the packages the recipe writes.", tasks=("package",)),
    _v("PF", "string", "${PN}-${PV}-${PR}", "Name, version and revision of the recipe."),
    _v("P", "string", "${PN}-${PV}", "Name and version of the recipe."),
    _v("BPN", "string", "${@oe.utils.prune_suffix(d.getVar('PN'), d.getVar('SPECIAL_PKGSUFFIX').split(), d)}",
       "The base recipe name: PN without a suffix of SPECIAL_PKGSUFFIX (zlib-native: zlib), as OE's."),
    _v("SPECIAL_PKGSUFFIX", "list", "-native", "The suffixes of PN that BPN leaves out (OE's bitbake.conf)."),
    _v("BP", "string", "${BPN}-${PV}", "Base name and version."),
    _v("PROVIDES", "list", "",
       "Extra names the recipe provides besides PN (for example virtual/ names).", tasks=("populate_sysroot",)),
    _v("DEPENDS", "list", "", "Build-time dependencies: names other recipes provide.",
       tasks=("populate_sysroot", "prepare_recipe_sysroot")),
    _v("PACKAGES", "list", None, "The packages the recipe splits its output into.",
       tasks=("package", "package_write_deb")),
    _v("RDEPENDS:<package>", "list", None, "Run-time dependencies of a package.", tasks=("package", "package_write_deb")),
    _v("RRECOMMENDS:<package>", "list", None, "Recommended (weak) run-time dependencies of a package.",
       tasks=("package", "package_write_deb")),
    _v("RSUGGESTS:<package>", "list", None,
       "Packages that may be useful with a package (Suggests); never installed because of it.", tasks=("package", "package_write_deb")),
    _v("RPROVIDES:<package>", "list", None, "Extra run-time names a package provides.", tasks=("package", "package_write_deb")),
    _v("RCONFLICTS:<package>", "list", None,
       "Packages a package cannot be installed with (Conflicts), in OE syntax such as \"foo (< 2)\".",
       tasks=("package", "package_write_deb")),
    _v("RREPLACES:<package>", "list", None, "Packages whose files a package may overwrite (Replaces).",
       tasks=("package", "package_write_deb")),
    _v("BASEDEPENDS", "list", None,
       "The dependencies every recipe gets (base.bbclass: virtual/libc unless INHIBIT_DEFAULT_DEPS is 1); "
       "prepended to DEPENDS."),
    _v("PREFERRED_VERSION_<pn>", "string", None,
       "The version of <pn> to use, as [PE:]PV[_PR]; a trailing % matches any rest of PV."),
    _v("PREFERRED_PROVIDER_<name>", "string", None,
       "The recipe (PN) to use when several recipes provide <name>."),
    _v("PREFERRED_RPROVIDER_<name>", "string", None,
       "The recipe (PN) to use when several recipes provide the run-time name <name>."),
    _v("PACKAGES_DYNAMIC", "list", None,
       "Regular expressions of the package names a recipe makes while it packages: a run-time name no "
       "recipe's PACKAGES or RPROVIDES holds goes to a recipe whose PACKAGES_DYNAMIC matches it."),
    _v("ASSUME_PROVIDED", "list", None,
       "Names the build host provides: no recipe is needed for them (a word starting with ^ or ending with "
       "$ is a regular expression)."),
    _v("DEFAULT_PREFERENCE", "integer", None,
       "A recipe's weight against other recipes of the same name in layers of the same priority: the "
       "highest wins before the highest version does (a development version sets \"-1\")."),
    _v("BB_RECIPE_VIRTUAL_PROVIDERS", "list", None,
       "Names a recipe resolves by its own PREFERRED_PROVIDER_<name> when its DEPENDS or a task's [depends] "
       "holds them (OE's cross compilers); with the variable set, DEPENDS is finalised to its expanded words."),
    _v("SUMMARY", "string", "${PN} version ${PV}-${PR}", "A one-line description of the recipe.",
       tasks=("package_write_deb", "portable_rootfs", "create_spdx")),
    _v("SUMMARY:<package>", "string", None, "The one-line description of one package (default SUMMARY).", tasks=("package_write_deb",)),
    _v("DESCRIPTION", "string", "${SUMMARY}.", "A longer description of the recipe.", tasks=("package_write_deb",)),
    _v("DESCRIPTION:<package>", "string", None, "The description of one package (default DESCRIPTION).", tasks=("package_write_deb",)),
    _v("SECTION", "string", "base", "The package section.", tasks=("package_write_deb",)),
    _v("SECTION:<package>", "string", None, "The section of one package (default SECTION).", tasks=("package_write_deb",)),
    _v("LICENSE", "string", "INVALID",
       "The licence of the recipe's sources (weak default): licence names joined by & (all apply) and | (a "
       "choice), with parentheses; & binds tighter, and names side by side mean &. CLOSED: no licence text. "
       "do_populate_lic and do_package refuse a malformed one at its line.", tasks=("populate_lic", "package", "create_spdx")),
    _v("LICENSE:<package>", "string", None,
       "The licence of one package, when it differs from the recipe's LICENSE; recorded in pkgdata for images.",
       tasks=("package",)),
    _v("LIC_FILES_CHKSUM", "list", None,
       "The licence texts of the sources, file://PATH;md5=SUM[;beginline=N][;endline=M] (PATH relative to S, lines "
       "1-based and inclusive): do_populate_lic refuses a text whose md5 differs, at this line, with both sums, "
       "and deploys the texts. A recipe that fetches remote sources must have it unless LICENSE is CLOSED.",
       tasks=("populate_lic",)),
    _v("LICENSE_DIRECTORY", "path", None,
       "Where each recipe's licence texts are deployed, as ${LICENSE_DIRECTORY}/${PN}/ (license.bbclass: "
       "${DEPLOY_DIR}/licenses)."),
    _v("LICSSTATEDIR", "path", None,
       "Where do_populate_lic gathers the texts before the shared state publishes them (license.bbclass: "
       "${WORKDIR}/license-destdir).", tasks=("populate_lic",)),
    _v("COMMON_LICENSE_DIR", "path", None,
       "The generic licence texts (SPDX names) deployed as generic_<LICENCE> for the licences of LICENSE "
       "(the core layer's files/common-licenses).", tasks=("populate_lic",)),
    _v("LICENSE_PATH", "list", None, "More directories of generic licence texts, searched after COMMON_LICENSE_DIR.",
       tasks=("populate_lic",)),
    _v("INCOMPATIBLE_LICENSE", "list", None,
       "Licences images must not ship (SPDX names; the wildcards GPL-3.0*, LGPL-3.0* and AGPL-3.0*): a recipe all "
       "of whose packages have such a licence is skipped, and an image that would install a package with one "
       "(whichever side of each | is taken) is an error naming it.", tasks=_LICENSED),
    _v("INCOMPATIBLE_LICENSE_EXCEPTIONS", "list", None,
       "PACKAGE:LICENCE pairs: the package may ship although INCOMPATIBLE_LICENSE refuses the licence.",
       tasks=_LICENSED),
    _v("HOMEPAGE", "string", "", "The upstream project's web page.", tasks=("package_write_deb", "portable_rootfs", "create_spdx")),
    _v("MAINTAINER", "string", None,
       "The Maintainer field of every package; \"Unknown <unknown@example.invalid>\" when unset.",
       tasks=("package_write_deb",)),
    _v("PRIORITY:<package>", "string", None, "The Priority field of a package (optional when unset).",
       tasks=("package_write_deb",)),
    _v("CONFFILES:<package>", "list", None,
       "The package's configuration files (absolute paths) that dpkg keeps on upgrade; when unset, every "
       "regular file the package ships below /etc.", tasks=("package_write_deb",)),
    _v("pkg_preinst:<package>", "string", None, "Shell code dpkg runs before it unpacks the package (preinst).", tasks=("package_write_deb",)),
    _v("pkg_postinst:<package>", "string", None, "Shell code dpkg runs after it unpacked the package (postinst).", tasks=("package_write_deb",)),
    _v("pkg_prerm:<package>", "string", None, "Shell code dpkg runs before it removes the package (prerm).", tasks=("package_write_deb",)),
    _v("pkg_postrm:<package>", "string", None, "Shell code dpkg runs after it removed the package (postrm).", tasks=("package_write_deb",)),

    # -- packaging: splitting D into PACKAGES -------------------------------------------------------
    _v("FILES:<package>", "list", None,
       "Patterns (shell globs, absolute paths below ${D}) of the files a package takes; each file goes to "
       "the first package in PACKAGES whose patterns match it, a directory takes everything below it. "
       "package.bbclass sets them for ${PN}, ${PN}-dev, -staticdev, -doc, -locale and -dbg.", tasks=("package",)),
    # -- packaging: the systemd and useradd classes -------------------------------------------------
    *UNIT_AND_USER_VARIABLES,
    _v("SOLIBS", "string", None, "The suffix pattern of versioned shared libraries (package.bbclass: .so.*)."),
    _v("SOLIBSDEV", "string", None, "The suffix of development shared-library links (package.bbclass: .so)."),
    _v("FILES_SOLIBSDEV", "list", None,
       "The unversioned shared-library links that go to ${PN}-dev (package.bbclass: "
       "${base_libdir}/lib*${SOLIBSDEV} ${libdir}/lib*${SOLIBSDEV}, weak)."),
    _v("EXTENDPKGV", "string", None,
       "The full package version ${EXTENDPE}${PKGV}-${PKGR} (package.bbclass), for exact dependencies such "
       "as RDEPENDS:${PN}-dev = \"${PN} (= ${EXTENDPKGV})\"."),
    _v("ALLOW_EMPTY", "switch", None,
       "1: write the recipe's packages even when they have no files; ALLOW_EMPTY:<package> does it for one "
       "package. Without it an empty package is not written.", tasks=("package",)),
    _v("ALLOW_EMPTY:<package>", "switch", None, "ALLOW_EMPTY for one package.", tasks=("package",)),
    _v("INSANE_SKIP", "list", None,
       "Packaging checks to skip (INSANE_SKIP:<package> for one package); installed-vs-shipped lets files that "
       "no FILES:<package> takes be dropped instead of failing the build; arch lets a package hold ELF files "
       "of another architecture (firmware for another processor).", tasks=("package",)),
    _v("INSANE_SKIP:<package>", "list", None, "INSANE_SKIP for one package.", tasks=("package",)),
    _v("SYSROOT_DIRS", "list", None,
       "The directories of ${D} that do_populate_sysroot stages for recipes that depend on this one "
       "(staging.bbclass: ${includedir} ${libdir} ${base_libdir} ${nonarch_base_libdir} ${datadir}/pkgconfig).",
       tasks=("populate_sysroot",)),
    _v("COMPONENTS_DIR", "path", None,
       "Where each recipe's staged sysroot component goes, as ${COMPONENTS_DIR}/${PN} (staging.bbclass: "
       "${STAGING_DIR}); do_prepare_recipe_sysroot assembles RECIPE_SYSROOT from the components of DEPENDS.",
       tasks=("prepare_recipe_sysroot",)),

    # -- machine, distro and architecture -----------------------------------------------------------
    _v("MACHINE", "string", None,
       "The machine to build for; conf/machine/${MACHINE}.conf is required when it is set.", tasks=("testimage", "image_sbom")),
    _v("DISTRO", "string", "nodistro",
       "The distribution policy, read from conf/distro/${DISTRO}.conf; without one (or when no layer has "
       "the file, which gets a warning) the nodistro defaults of DISTRO_NAME, DISTRO_VERSION and DISTRO_ID apply.", tasks=("image_sbom",)),
    _v("DISTRO_FEATURES", "list", None,
       "Features of the distribution; \"usrmerge\" puts /bin, /sbin and /lib under /usr.", tasks=("portable_rootfs",)),
    _v("BUILD_ARCH", "string", "${@os.uname()[4]}", "The architecture of the build host: native recipes' PACKAGE_ARCH, "
       "and the directory of their sysroot components (${COMPONENTS_DIR}/${BUILD_ARCH}/PN).",
       tasks=("prepare_recipe_sysroot",)),
    _v("BUILD_OS", "string", "${@os.uname()[0].lower()}", "The operating system of the build host."),
    _v("TARGET_ARCH", "string", "${BUILD_ARCH}",
       "The architecture the recipes are built for (the machine sets it). CC must build for it: a build "
       "checks that before any task runs, and do_package refuses an ELF file of another architecture.",
       tasks=(*_ROOTFS, "package")),
    _v("TARGET_OS", "string", "linux", "The operating system the recipes are built for."),
    _v("TRANSLATED_TARGET_ARCH", "string", "${@d.getVar('TARGET_ARCH').replace('_', '-')}",
       "TARGET_ARCH with '_' replaced by '-', usable as an override."),
    _v("TUNE_PKGARCH", "string", "${TARGET_ARCH}", "The package architecture of tuned packages (weak default)."),
    _v("PACKAGE_ARCH", "string", "${TUNE_PKGARCH}", "The architecture the recipe's packages are written for.",
       tasks=("package", "package_write_deb")),
    _v("MACHINE_ARCH", "string", "${@d.getVar('MACHINE').replace('-', '_')}",
       "The package architecture of machine-specific packages."),
    _v("DPKG_ARCH", "string", "${TARGET_ARCH}", "The architecture name written into .deb packages.",
       tasks=(*_ROOTFS, "package_write_deb", "image_sbom")),
    _v("SYSTEMD_ARCHITECTURE", "string", "${TRANSLATED_TARGET_ARCH}",
       "systemd's name for the architecture, written into extension-release files; testimage boots an image of "
       "another architecture than the host's with qemu-user.", tasks=(*_EXTENSION, "testimage")),
    _v("BUILD_VENDOR", "string", "", "The vendor part of BUILD_SYS."),
    _v("BUILD_SYS", "string", "${BUILD_ARCH}${BUILD_VENDOR}-${BUILD_OS}", "The build host's GNU name (autotools: --build)."),
    _v("TARGET_VENDOR", "string", "-oe", "The vendor part of TARGET_SYS and HOST_SYS (weak default, as OE's)."),
    _v("TARGET_SYS", "string", "${TARGET_ARCH}${TARGET_VENDOR}-${TARGET_OS}", "The target's GNU name (--target)."),
    _v("HOST_ARCH", "string", "${TARGET_ARCH}", "The architecture the recipe's programs run on."),
    _v("HOST_VENDOR", "string", "${TARGET_VENDOR}", "The vendor part of HOST_SYS."),
    _v("HOST_OS", "string", "${TARGET_OS}", "The operating system the recipe's programs run on."),
    _v("HOST_SYS", "string", "${HOST_ARCH}${HOST_VENDOR}-${HOST_OS}", "The GNU name of where they run (--host)."),
    *MACHINE_VARIABLES,
    _v("OVERRIDES", "string", _OVERRIDES,
       "Colon-separated list of the active overrides; the right-most has the highest priority.",
       tasks=(*_FETCHING, "portable_rootfs")),
    _v("CLASSOVERRIDE", "string", "class-target",
       "The override naming the kind of recipe: class-target for a recipe itself; the class of a "
       "BBCLASSEXTEND variant sets its own (class-native...)."),
    _v("DISTROOVERRIDES", "string", "${DISTRO}", "Overrides contributed by the distro."),
    _v("MACHINEOVERRIDES", "string", "${MACHINE}", "Overrides contributed by the machine."),

    # -- directories --------------------------------------------------------------------------------
    _v("TMPDIR", "path", "${TOPDIR}/tmp", "Where all build output goes."),
    _v("SRC_URI", "list", None,
       "The recipe's sources: file://, http(s)://, git:// (and archives they name) entries with ;name=value "
       "parameters; checksums are the varflags [sha256sum] or [NAME.sha256sum]. do_fetch downloads them into "
       "DL_DIR, do_unpack unpacks them into UNPACKDIR, do_patch applies the .patch/.diff entries to S.",
       tasks=(*_FETCHING, "populate_lic")),
    _v("SRCREV", "string", None, "The commit a git:// SRC_URI entry checks out (a full commit id).", tasks=_FETCHING),
    _v("PREMIRRORS", "list", None,
       "REGEX URL pairs tried before a source's own URL; the URL may name an http(s)://, file:// or s3:// place."),
    _v("MIRRORS", "list", None, "REGEX URL pairs tried after a source's own URL failed."),
    _v("DEBIAN_MIRROR", "string", None,
       "The pool of a Debian mirror, as OE's recipes use it: ${DEBIAN_MIRROR}/main/z/zlib/zlib_VERSION.orig.tar.gz. "
       "Unless a configuration file sets it, the pool of the first Debian mirror of the build host's apt sources "
       "(/etc/apt/sources.list, sources.list.d/*.list and *.sources), read at run time; -e shows the line it came "
       "from. Not part of do_fetch's signature (SRC_URI[vardepsexclude], as in OE): the checksums pin what is fetched. When it is unset, a download that "
       "needs it must already be in DL_DIR."),
    _v("BB_NO_NETWORK", "boolean", None, "1: refuse network access while fetching (file:// mirrors still work)."),
    _v("BB_FETCH_TIMEOUT", "number", None, "Seconds an http(s) download may stall before it fails."),
    _v("DL_UPLOAD", "string", None,
       "A store URL (file://, http(s):// with WebDAV, s3://) every verified download is published to under its "
       "file name, unless it is there; PREMIRRORS can then name it for other build machines."),
    _v("FILESOVERRIDES", "list", None,
       "Subdirectory names searched in each FILESPATH directory for file:// sources (default: OVERRIDES).",
       tasks=(*_FETCHING, "portable_rootfs")),
    _v("FETCHER_CHECKSUMS", "string", None, "The SRC_URI checksum flags, so do_fetch's signature covers them."),
    _v("TOOLCHAIN_OPTIONS", "string", " --sysroot=${STAGING_DIR_TARGET}",
       "Options of the compiler and linker: the recipe sysroot as their root, so a build finds only what DEPENDS "
       "staged (glibc-external, which reads the compiler's own files, sets it empty)."),
    _v("TOOLCHAIN_SPECS", "path", "${libdir}/sysroot.specs",
       "gcc specs virtual/libc stages in the sysroot: they keep the host gcc's own library directories (the build "
       "host's) out of its library and start-file search."),
    _v("TOOLCHAIN_CC_OPTIONS", "string",
       "${@(lambda specs: ' -specs=' + specs if os.path.exists(specs) else '')(d.expand('${STAGING_DIR_TARGET}${TOOLCHAIN_SPECS}'))}",
       "Options of the compiler only (CC, CXX, CPP): -specs= the sysroot's specs, when virtual/libc staged them."),
    *TOOLCHAIN_VARIABLES,
    _v("MAKE", "string", "make", "make, used by oe_runmake."),
    _v("PATH", "pathlist", None,
       "The environment's PATH (passed through, and exported to shell tasks): where the host tools are found."),
    _v("HOSTTOOLS", "list", "as gcc install ld ln make objcopy readlink strip",
       "Tools a build runs from the host's PATH (OE's name). A build checks them once before any task runs "
       "(-p, -e, -g and -n do not); a missing one is an error naming the Debian package that provides it."),
    _v("STAGING_INCDIR", "path", "${STAGING_DIR_HOST}${includedir}", "Headers of the recipe sysroot."),
    _v("STAGING_LIBDIR", "path", "${STAGING_DIR_HOST}${libdir}", "Libraries of the recipe sysroot."),
    _v("DEBUG_PREFIX_MAP", "string", "-ffile-prefix-map=${WORKDIR}=/usr/src/debug/${PN}/${PV}",
       "Compiler flags that keep build paths out of binaries and debug information."),
    _v("TARGET_CFLAGS", "string", "-O2 -pipe -g ${DEBUG_PREFIX_MAP}", "Optimisation and debug flags for C."),
    _v("CFLAGS", "string", "${TARGET_CFLAGS} -I${STAGING_INCDIR}", "C compiler flags, exported to shell tasks."),
    _v("CXXFLAGS", "string", "${CFLAGS}", "C++ compiler flags, exported to shell tasks."),
    _v("CPPFLAGS", "string", "", "Preprocessor flags, exported to shell tasks."),
    _v("TARGET_LDFLAGS", "string", "-Wl,-O1 -Wl,--hash-style=gnu -Wl,--build-id=sha1", "Linker flags."),
    _v("LDFLAGS", "string", "${TARGET_LDFLAGS} -L${STAGING_LIBDIR} -Wl,-rpath-link,${STAGING_LIBDIR}",
       "Linker flags, exported to shell tasks."),
    _v("EXTRA_OEMAKE", "string", "", "Extra arguments oe_runmake passes to make."),
    # -- the build classes (docs/classes.md) ----------------------------------------------------------
    *BUILD_CLASS_VARIABLES,
    *SBOM_VARIABLES,
    *BUILDHISTORY_VARIABLES,
    *NATIVE_VARIABLES,
    _v("FILESPATH", "pathlist", "${FILE_DIRNAME}/${BP}:${FILE_DIRNAME}/${BPN}:${FILE_DIRNAME}/files",
       "Directories searched for file:// sources.", tasks=(*_FETCHING, "portable_rootfs")),
    _v("FILESEXTRAPATHS", "pathlist", "", "Directories searched before FILESPATH (set in .bbappend files).",
       tasks=(*_FETCHING, "portable_rootfs")),

    # -- installation paths -------------------------------------------------------------------------
    _v("base_prefix", "path", "", "The prefix of the root file system directories."),
    _v("prefix", "path", "/usr", "The installation prefix."),
    _v("exec_prefix", "path", "${prefix}", "The prefix of architecture-dependent files."),
    _v("root_prefix", "path",
       "${@bb.utils.contains('DISTRO_FEATURES', 'usrmerge', '${exec_prefix}', '${base_prefix}', d)}",
       "The prefix of /bin, /sbin and /lib: /usr with usrmerge, else empty."),
    _v("baselib", "string", "lib", "The name of the library directory."),
    _v("base_bindir", "path", "${root_prefix}/bin", "Essential programs."),
    _v("base_sbindir", "path", "${root_prefix}/sbin", "Essential system programs."),
    _v("base_libdir", "path", "${root_prefix}/${baselib}", "Essential libraries."),
    _v("nonarch_base_libdir", "path", "${root_prefix}/lib", "Essential architecture-independent lib directory."),
    _v("sysconfdir", "path", "${base_prefix}/etc", "Configuration files.", tasks=("package",)),
    _v("servicedir", "path", "${base_prefix}/srv", "Data served by the system."),
    _v("sharedstatedir", "path", "${base_prefix}/com", "Shared state data."),
    _v("localstatedir", "path", "${base_prefix}/var", "Variable state data."),
    _v("bindir", "path", "${exec_prefix}/bin", "User programs."),
    _v("sbindir", "path", "${exec_prefix}/sbin", "System programs."),
    _v("libdir", "path", "${exec_prefix}/${baselib}", "Libraries."),
    _v("nonarch_libdir", "path", "${exec_prefix}/lib", "Architecture-independent lib directory.", tasks=("package",)),
    _v("libexecdir", "path", "${exec_prefix}/libexec", "Programs run by other programs."),
    _v("includedir", "path", "${exec_prefix}/include", "C headers."),
    _v("oldincludedir", "path", "${exec_prefix}/include", "C headers (old location)."),
    _v("datadir", "path", "${prefix}/share", "Architecture-independent data."),
    _v("mandir", "path", "${datadir}/man", "Manual pages."),
    _v("docdir", "path", "${datadir}/doc", "Documentation."),
    _v("infodir", "path", "${datadir}/info", "Info pages."),
    _v("localedir", "path", "${libdir}/locale", "Locale data."),
    _v("systemd_unitdir", "path", "${nonarch_base_libdir}/systemd", "systemd's library directory.", tasks=("package",)),
    _v("systemd_system_unitdir", "path", "${systemd_unitdir}/system", "systemd system units.", tasks=("package",)),
    _v("systemd_user_unitdir", "path", "${nonarch_libdir}/systemd/user", "systemd user units."),

    # -- tasks --------------------------------------------------------------------------------------
    _v("BB_DEFAULT_TASK", "string", "build", "The task run for a target when neither -c nor recipe:do_task names one."),
    _v("BB_CURRENT_TASK", "string", None,
       "The task being run, without do_ (fetch, compile, ...); set by layerbuild in each task's datastore."),
    _v("BB_ENV_PASSTHROUGH_ADDITIONS", "list", None,
       "Read from the environment: names of further environment variables a build sees besides "
       "BitBake's preserved list (HOME, PATH, PWD, SHELL, USER, LOGNAME, LC_ALL, BBPATH, ...) and "
       "layerbuild's (SOURCE_DATE_EPOCH, DL_DIR, SSTATE_DIR, TMPDIR, proxies, SSH_AUTH_SOCK)."),
    _v("BB_ENV_PASSTHROUGH", "list", None,
       "Read from the environment: when set, the environment variables a build sees instead of the "
       "default list (BB_ENV_PASSTHROUGH_ADDITIONS still adds to it), as in BitBake."),
    _v("BB_PRESERVE_ENV", "string", None,
       "Read from the environment: when set, a build sees every environment variable, as in BitBake."),
    _v("SSTATE_MANIFESTS", "path", "${TMPDIR}/sstate-control", "Where the shared-state manifests are kept."),
    _v("SSTATE_MIRRORS", "list", None,
       "REGEX URL pairs (OE syntax: file://.* s3://bucket/sstate/PATH) naming shared-state mirrors read after "
       "SSTATE_DIR: file://, http(s):// and s3:// stores; PATH stands for the object's path."),
    _v("SSTATE_UPLOAD", "string", None,
       "A store URL (file://, http(s):// with WebDAV, s3://) that receives every shared-state object a task "
       "creates, with its .sig and .siginfo; never an object that is there already."),
    _v("BB_MIRROR_TIMEOUT", "number", "10",
       "Seconds one request to a shared-state mirror may take; a mirror that fails three times in a row is "
       "left alone for the rest of the build, with one warning."),
    _v("SSTATE_VERIFY_SIG", "switch", None,
       "1: install an object fetched from SSTATE_MIRRORS only when its .sig verifies under a key of "
       "SSTATE_VALID_SIGS."),
    _v("SSTATE_SIG_KEY", "path", None,
       "An Ed25519 private key (PEM, PKCS#8) that signs each shared-state object a task creates (its .sig)."),
    _v("SSTATE_VALID_SIGS", "list", None,
       "Ed25519 public key files (PEM) whose signatures SSTATE_VERIFY_SIG accepts."),
    _v("BB_HASHSERVE", "string", "auto",
       "Where hash equivalence records are kept: auto (an SQLite database, ${TOPDIR}/cache/hashserv.db), "
       "a file:///DIR directory (one file per record, first writer wins; can be shared, NFS included), an "
       "s3://bucket/prefix or http(s):// WebDAV object store (first writer wins, as for SSTATE_UPLOAD), or "
       "\"\" for no hash equivalence. A store that fails is a warning; the build goes on without it."),
    _v("BB_UNIHASH", "string", None,
       "The unique hash a task runs as (its taskhash, unless hash equivalence gave it the unihash of an "
       "equivalent output); set by layerbuild in each task's datastore. Stamps, sigdata and sstate objects "
       "are named by it."),
    _v("CLEANFUNCS", "list", None,
       "Functions do_clean runs after it removed the recipe's work directory, stamps and installed outputs "
       "(utility-tasks.bbclass, as in OE)."),
    _v("LC_ALL", "string", "C.UTF-8", "The locale tasks run with (exported)."),
    _v("TZ", "string", "UTC", "The time zone tasks run in (exported)."),

    # -- BitBake's Python environment (layerbuild/engine/bb, docs/compatibility.md) ------------------
    _v("BB_SIGNATURE_HANDLER", "string", None,
       "The signature generator bb.siggen.init() picks by name (OE: OEEquivHash); layerbuild computes task "
       "signatures itself, so only metadata that asks bb.siggen reads it."),
    _v("BB_GLOBAL_PYMODULES", "list", None,
       "Python modules an addpylib line makes globals of metadata Python (OE-core: os sys time)."),
    _v("_BB_SKIP_FRAGMENTS", "string", None,
       "1: addfragments reads no configuration fragment (BitBake sets it for bitbake-config-build)."),
    _v("BB_CACHEDIR", "path", None,
       "BitBake's cache directory, ${TOPDIR}/cache unless the configuration sets it (as BitBake sets it); "
       "layerbuild keeps its own caches in CACHE."),
    _v("BB_ORIGENV", "string", None,
       "The environment layerbuild was started in, as a datastore (d.getVar(\"BB_ORIGENV\", False)"
       ".getVar(\"PATH\")): every variable, not only those passed through to the build. Set by layerbuild."),
    _v("BB_SRCREV_POLICY", "string", None,
       "cache: a recipe using AUTOREV stays in the parse cache (bb.fetch2.get_autorev); otherwise it is "
       "marked BB_DONT_CACHE, as in BitBake."),

    # -- reproducibility and signatures -------------------------------------------------------------
    _v("SOURCE_DATE_EPOCH", "epoch", "1577836800",
       "The time (seconds since 1970) every package and image is stamped with; the environment "
       "variable of the same name takes precedence (weak default).",
       tasks=(*_ROOTFS, "package_write_deb", "image", "pkgdbfs", "image_sbom")),
    _v("DATE", "string", None, "The UTC date the build started (YYYYMMDD); set by conf/layerbuild.conf."),
    _v("TIME", "string", None, "The UTC time the build started (HHMMSS); set by conf/layerbuild.conf."),
    _v("DATETIME", "string", "${DATE}${TIME}", "DATE and TIME together, as used in image names."),
    _v("BB_BASEHASH_IGNORE_VARS", "list", _IGNORE_VARS,
       "Variables that never make a task's signature change."),
    # -- images (classes/image.bbclass, core-image, image-sysext; docs/images.md) ------------------------
    _v("IMAGE_INSTALL", "list", None,
       "The packages an image installs (with their runtime dependencies, resolved from the feed). "
       "core-image sets it to ${CORE_IMAGE_BASE_INSTALL} ${CORE_IMAGE_EXTRA_INSTALL}; recipes add with +=.",
       tasks=_ROOTFS),
    _v("PACKAGE_INSTALL", "list", None,
       "What do_rootfs installs: ${IMAGE_INSTALL} ${FEATURE_INSTALL} (image.bbclass). The image's RDEPENDS, "
       "so the packages are built first.", tasks=_ROOTFS),
    _v("FEATURE_INSTALL", "list", None, "Packages IMAGE_FEATURES bring in (from FEATURE_PACKAGES_<feature>).",
       tasks=_ROOTFS),
    _v("FEATURE_PACKAGES_<feature>", "list", None, "The packages the image feature <feature> installs."),
    _v("IMAGE_FEATURES", "list", None,
       "Image features: read-only-rootfs (no postinst may be left for first boot), empty-root-password, and "
       "every feature with FEATURE_PACKAGES_<feature>.", tasks=("testimage",)),
    _v("IMAGE_LINGUAS", "list", None, "Locales to install; layerbuild images install none."),
    _v("PACKAGE_EXCLUDE", "list", None,
       "Packages that must not be installed; one that is needed anyway is an error naming who needs it.",
       tasks=_ROOTFS),
    _v("NO_RECOMMENDATIONS", "boolean", None, "1: do not install Recommends.", tasks=_ROOTFS),
    _v("BAD_RECOMMENDATIONS", "list", None, "Recommended packages not to install.", tasks=_ROOTFS),
    _v("CORE_IMAGE_BASE_INSTALL", "list", None,
       "What every core-image installs: base-files libc6 lb-init (core-image.bbclass)."),
    _v("CORE_IMAGE_EXTRA_INSTALL", "list", None, "More packages for every core-image (set in local.conf)."),
    _v("IMAGE_ROOTFS", "path", None, "Where do_rootfs assembles the root file system: ${WORKDIR}/rootfs.",
       tasks=(*_ROOTFS, "read_only_rootfs", "empty_root_password", "systemd_preset_all", "image", "pkgdbfs")),
    _v("IMAGE_BASENAME", "string", None, "The base of image file names: ${PN}.", tasks=("image_sbom",)),
    _v("IMAGE_VERSION_SUFFIX", "string", None, "What makes each build's file names unique: -${DATETIME}."),
    _v("IMAGE_NAME", "string", None,
       "The image file name without type: ${IMAGE_BASENAME}-${MACHINE}${IMAGE_VERSION_SUFFIX}.",
       tasks=("image", "pkgdbfs", "image_complete", "image_sbom")),
    _v("IMAGE_LINK_NAME", "string", None,
       "The name of the links to the newest images: ${IMAGE_BASENAME}-${MACHINE} (empty: no links).",
       tasks=("pkgdbfs", "image_complete", "testimage")),
    _v("IMAGE_NAME_SUFFIX", "string", None, "Between IMAGE_NAME and the type: .rootfs.", tasks=("image", "testimage")),
    _v("IMAGE_FSTYPES", "list", None,
       "The image types to write, one do_image_<type> each: tar.zst, squashfs (zstd), squashfs-zst, "
       "squashfs-xz, squashfs-gz, erofs, erofs-lz4, erofs-lz4hc. Default tar.zst (core-image: tar.zst squashfs; "
       "image-sysext: squashfs, exactly one of the squashfs or erofs types).", tasks=(*_EXTENSION, "image")),
    _v("IMAGE_LICENSE_MANIFEST", "path", None,
       "The licence manifest beside the image (a PACKAGE NAME, PACKAGE VERSION, RECIPE NAME, LICENSE stanza per "
       "package it ships): ${IMGDEPLOYDIR}/${IMAGE_NAME}.license.manifest.", tasks=_LICENSED),
    _v("IMAGE_MANIFEST", "path", None,
       "The package manifest (package arch version lines): ${IMGDEPLOYDIR}/${IMAGE_NAME}.manifest.",
       tasks=(*_ROOTFS, "testimage")),
    _v("IMGDEPLOYDIR", "path", None,
       "Where image tasks write; do_image_complete publishes it to DEPLOY_DIR_IMAGE through the shared state.",
       tasks=("image", "image_complete", "image_sbom")),
    _v("IMAGE_GEN_PKGDBFS", "switch", None,
       "1: do_pkgdbfs writes ${IMAGE_NAME}-pkgdb.rootfs.tar.zst (the package database and os-release), "
       "which extension images are built against."),
    _v("PKGDBFS_DEPLOYDIR", "path", None, "Where do_pkgdbfs writes its snapshot before it is deployed.",
       tasks=("pkgdbfs",)),
    _v("ROOTFS_POSTPROCESS_COMMAND", "list", None,
       "Functions (separated by ;) do_rootfs runs after installing, in ${IMAGE_ROOTFS}."),
    _v("IMAGE_PREPROCESS_COMMAND", "list", None, "Functions (separated by ;) do_image runs before the image types."),
    _v("IMAGE_RAW_FILE", "string", None,
       "For images that are one .raw file (extensions): its name in DEPLOY_DIR_IMAGE, ${EXTENSION_NAME}.raw.",
       tasks=("image", "testimage")),
    _v("IMAGE_RAW_KIND", "string", None, "What a .raw image is, for messages (system extension)."),
    _v("BUILD_SUMMARY", "string", None,
       "Printed after a successful build of the recipe as a target (\\n starts a new line); the extension "
       "classes say where the .raw is and how to deploy it."),
    _v("EXTENSION_NAME", "string", None,
       "The extension's name: the .raw file and extension-release.${EXTENSION_NAME} (default ${IMAGE_BASENAME}).",
       tasks=_EXTENSION),
    _v("EXTENSION_KIND", "string", None, "sysext (image-sysext) or confext.",
       tasks=(*_EXTENSION, "systemd_preset_all")),
    _v("IMAGE_BASE_PKGDB", "string", None,
       "The base image recipe (with IMAGE_GEN_PKGDBFS = \"1\") an extension is built against: it ships only "
       "what the base lacks, and its extension-release comes from the base's os-release.",
       tasks=(*_EXTENSION, "testimage", "image_sbom")),
    _v("IMAGE_BASE_PKGDB_FILE", "path", None,
       "The base's snapshot: ${DEPLOY_DIR_IMAGE}/${IMAGE_BASE_PKGDB}-${MACHINE}-pkgdb.rootfs.tar.zst.",
       tasks=_EXTENSION),
    _v("SYSEXT_ID", "string", None,
       "ID of a standalone extension (default DISTRO_ID; _any matches every OS). With a base: empty, the "
       "base's ID, or _any.", tasks=_EXTENSION),
    _v("SYSEXT_VERSION_ID", "string", None, "VERSION_ID of a standalone extension (default DISTRO_VERSION).",
       tasks=_EXTENSION),
    _v("SYSEXT_LEVEL", "string", None, "SYSEXT_LEVEL of a standalone extension (default DISTRO_SYSEXT_LEVEL).",
       tasks=_EXTENSION),
    _v("DISTRO_SYSEXT_LEVEL", "string", None,
       "The distro's SYSEXT_LEVEL: written to os-release by base-files, then used instead of VERSION_ID.",
       tasks=_EXTENSION),
    _v("SYSEXT_SCOPE", "list", None, "SYSEXT_SCOPE of the extension-release file: system, initrd, portable.",
       tasks=_EXTENSION),
    _v("EXTENSION_RELOAD_MANAGER", "boolean", None,
       "1: EXTENSION_RELOAD_MANAGER=1 in extension-release; when unset, a system extension that ships "
       "units gets it (the service manager reloads after the merge to see them).",
       tasks=_EXTENSION),
    _v("SYSEXT_ALLOW_UPGRADE", "list", None,
       "Packages an extension may carry at another version than the base has (otherwise an error).", tasks=_ROOTFS),
    _v("SYSEXT_SHADOW", "string", None,
       "warn (default) or error: an extension file that would shadow a file of a base package.", tasks=_EXTENSION),
    _v("SYSEXT_ETC_TO_USR_SHARE", "boolean", None,
       "1: /etc content of a sysext moves to /usr/share/${EXTENSION_NAME}/etc with a tmpfiles.d copy rule "
       "(otherwise it is an error: /etc belongs in a confext).", tasks=_EXTENSION),
    _v("SYSEXT_ALLOW_EMPTY", "boolean", None,
       "1: a system extension may ship nothing but its extension-release file (otherwise that is an error: "
       "IMAGE_INSTALL names nothing the base lacks).", tasks=_EXTENSION),
    _v("EXTENSION_ALL_ROOT", "boolean", None, "1 (default): every file of the extension is owned by root.",
       tasks=(*_EXTENSION, "image")),
    _v("CONFEXT_ID", "string", None, "ID of a standalone confext (image-confext; default DISTRO_ID).",
       tasks=_EXTENSION),
    _v("CONFEXT_VERSION_ID", "string", None, "VERSION_ID of a standalone confext (default DISTRO_VERSION).",
       tasks=_EXTENSION),
    _v("CONFEXT_LEVEL", "string", None, "CONFEXT_LEVEL of a standalone confext (default DISTRO_CONFEXT_LEVEL).",
       tasks=_EXTENSION),
    _v("DISTRO_CONFEXT_LEVEL", "string", None, "The distro's CONFEXT_LEVEL, used instead of VERSION_ID.",
       tasks=_EXTENSION),
    _v("CONFEXT_SCOPE", "list", None, "CONFEXT_SCOPE of the confext's extension-release file.", tasks=_EXTENSION),
    _v("CONFEXT_ALLOW_UPGRADE", "list", None, "Packages a confext may carry at another version than the base."),
    _v("CONFEXT_SHADOW", "string", None, "warn (default) or error: a confext file that shadows a base file.",
       tasks=_EXTENSION),
    _v("CONFEXT_ALLOW_EMPTY", "boolean", None,
       "1: a confext may ship nothing but its extension-release file (as SYSEXT_ALLOW_EMPTY for sysexts).",
       tasks=_EXTENSION),
    _v("IMAGE_SQUASHFS_BLOCK_SIZE", "integer", None,
       "Data block size of squashfs image types in bytes (default 131072; image-portable: 1048576).", tasks=("image",)),
    _v("PORTABLE_NAME", "string", None,
       "The portable service's name and unit prefix (default ${PN}); the image is ${PORTABLE_NAME}_${PV}.raw.",
       tasks=("portable_rootfs",)),
    _v("PORTABLE_UNITS", "list", None,
       "Units to ship in usr/lib/systemd/system: NAME (installed by a package), SOURCE:NAME (renamed) or "
       "file://FILE[:NAME] (next to the recipe). Each name must start with ${PORTABLE_NAME} followed by "
       "-, . or @.", tasks=("testimage", "portable_rootfs")),
    _v("PORTABLE_SYMLINKS", "list", None, "Links to create in the image: target:/linkname pairs.",
       tasks=("portable_rootfs",)),
    _v("PORTABLE_CONTENTS", "list", None, "Extra packages for the portable image."),
    _v("PORTABLE_SQUASHFS_COMP", "string", None, "Compressor of the portable image: xz (default), gzip or zstd."),
    _v("PORTABLE_SQUASHFS_BLOCK_SIZE", "integer", None, "Block size of the portable image (default 1048576)."),
    _v("PORTABLE_OS_ID", "string", None, "ID of the portable image's os-release (default ${DISTRO_ID}).",
       tasks=("portable_rootfs",)),
    _v("TEST_SUITES", "list", None,
       "The image test suites -c testimage runs: lib/testimage/NAME.py in any layer (default basic; "
       "extensions add sysext or confext, portable images portable).", tasks=("testimage",)),
    _v("TEST_START_SERVICES", "list", None, "Services the test boot starts besides the image's own.",
       tasks=("testimage",)),
    _v("TESTIMAGE_KIND", "string", None, "How the image boots for its tests: image, sysext, confext or portable.",
       tasks=("testimage",)),
    _v("TESTIMAGE_RAM_SIZE", "string", None, "Size of the test boot's /run tmpfs (default 50M).", tasks=("testimage",)),
    _v("TESTIMAGE_CABLE", "boolean", None,
       "1: the test boot gets a veth cable, 169.254.N.1 on the host, 169.254.N.2 in the subhost (default: "
       "for portable service images).", tasks=("testimage",)),
    _v("TESTIMAGE_ENVIRONMENT", "string", None,
       "Flags TESTIMAGE_ENVIRONMENT[unit] = \"K=V ...\": Environment= drop-ins in the test boot's /etc.",
       tasks=("testimage",)),
    _v("TESTIMAGE_REPORT", "path", None,
       "The JUnit XML report of -c testimage: ${DEPLOY_DIR_IMAGE}/${PN}-${MACHINE}.testimage.xml.",
       tasks=("testimage",)),
    _v("DISTRO_ID", "string", "${@(d.getVar('DISTRO') or 'nodistro').replace('+', '-').replace(' ', '_').lower()}",
       "The distro's os-release ID (lbdistro): by default DISTRO in lower case, as OE's os-release derives it.",
       tasks=(*_EXTENSION, "testimage")),
    _v("DISTRO_NAME", "string", "Layerbuild", "The distro's name: os-release NAME and PRETTY_NAME."),
    _v("DISTRO_VERSION", "string", "nodistro.0", "The distro's version: os-release VERSION and VERSION_ID.",
       tasks=(*_EXTENSION, "testimage", "portable_rootfs", "image_sbom")),
    _v("DISTRO_CODENAME", "string", None, "The distro's code name: os-release VERSION_CODENAME when set."),
    _v("OS_RELEASE_FIELDS", "list", None,
       "The os-release fields base-files writes to /usr/lib/os-release, each from OS_RELEASE_<field> (empty ones "
       "are left out; a value with an unexpanded ${...} is an error).", tasks=("os_release",)),
    _v("OS_RELEASE_<field>", "string", None, "The value of an os-release field (base-files: OS_RELEASE_ID = "
       "\"${DISTRO_ID}\", OS_RELEASE_VERSION_ID = \"${DISTRO_VERSION}\", ...).", tasks=("os_release",)),
)


_BY_NAME: Mapping[str, Variable] = {v.name: v for v in VARIABLES}
#: family rows by what their members start with (``RDEPENDS:``, ``BBFILE_PRIORITY_``), longest first
_FAMILIES: tuple[tuple[str, Variable], ...] = tuple(sorted(
    ((v.name[:v.name.index("<")], v) for v in VARIABLES if "<" in v.name), key=lambda item: -len(item[0])))


def by_name() -> dict[str, Variable]:
    return dict(_BY_NAME)


class UnknownVariable(LookupError):
    """A typed read of a variable that has no row: a programming error (add the row)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} has no row in layerbuild/util/variables.py; add one with its type, default and doc")
        self.name = name


def lookup(name: str) -> Variable:
    """The row of ``name``: its own, its family's (``RDEPENDS:hello``, ``BBFILE_PRIORITY_core``), or for
    a variable with an override (``SUMMARY:hello``) the variable's."""
    row = _BY_NAME.get(name)
    if row is not None:
        return row
    for prefix, family in _FAMILIES:
        if name.startswith(prefix) and len(name) > len(prefix):
            return family
    base = name.partition(":")[0]
    row = _BY_NAME.get(base) if base != name else None
    if row is None:
        raise UnknownVariable(name)
    return row


#: how a family's placeholder reads in a builtin's declared reads (taskapi.Builtin.vardeps expands them)
_PLACEHOLDER_READS = {"<package>": "{pkg}", "<field>": "{OS_RELEASE_FIELDS}"}


def _read_pattern(name: str) -> str:
    for placeholder, pattern in _PLACEHOLDER_READS.items():
        name = name.replace(placeholder, pattern)
    return name


def task_reads() -> dict[str, tuple[str, ...]]:
    """What each builtin task function reads, from the rows that name it: ``{pkg}`` stands for each
    package of a ``:<package>`` family (``FILES:{pkg}``)."""
    reads: dict[str, list[str]] = {}
    for var in VARIABLES:
        for task in var.tasks:
            reads.setdefault(task, []).append(_read_pattern(var.name))
    return {task: tuple(names) for task, names in reads.items()}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown() -> str:
    """docs/variables.md: the table as a Markdown reference."""
    lines = [
        "# Variables known to the engine",
        "",
        "<!-- Generated by `python -m layerbuild.util.variables > docs/variables.md`; edit layerbuild/util/variables.py. -->",
        "",
        "Every variable the engine reads or the core configuration (`conf/layerbuild.conf`,",
        "`conf/layer.conf`) defines. A name with `<collection>`, `<pn>`, `<name>` or `<package>` stands for",
        "a family: `BBFILE_PRIORITY_core`, `PREFERRED_VERSION_hello`, `RDEPENDS:hello-dev`. The default is",
        "the value as written in the core configuration, before expansion; `(none)` means the variable is",
        "unset unless a configuration file or recipe sets it.",
        "",
        "The type says how layerbuild reads the value. A value its type cannot read is an error at the line",
        "that set it: when the configuration is read for a value it sets, else when a task reads it.",
        "",
    ]
    lines.extend(f"- `{t.name}`: {t.meaning}." for t in TYPES.values())
    lines += [
        "",
        "| Variable | Type | Default | Description |",
        "|---|---|---|---|",
    ]
    for var in VARIABLES:
        if var.default is None:
            default = "(none)"
        elif var.default == "":
            default = "`\"\"`"
        else:
            default = f"`{_cell(var.default)}`"
        kind = var.type if var.minimum is None else f"{var.type} (at least {var.minimum})"
        lines.append(f"| `{_cell(var.name)}` | {kind} | {default} | {_cell(var.doc)} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    sys.stdout.write(markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
