"""The rows of the variables the classes for real software read (``docs/classes.md``): systemd and useradd,
PACKAGECONFIG, autotools, pkgconfig, cmake and meson. :mod:`layerbuild.util.variables` puts them in its
table where they belong in ``docs/variables.md``."""

from __future__ import annotations

from layerbuild.util.variable import Variable

#: the rows are written _v(...) to keep the table narrow
_v = Variable

UNIT_AND_USER_VARIABLES: tuple[Variable, ...] = (
    _v("SYSTEMD_PACKAGES", "list", None, "The packages that ship systemd units (systemd.bbclass: ${PN}).", tasks=("package",)),
    _v("SYSTEMD_SERVICE:<package>", "list", None, "The units a package of SYSTEMD_PACKAGES ships (foo.service, foo@bar.service "
       "from foo@.service); do_package fails naming one not installed under ${systemd_system_unitdir}.", tasks=("package",)),
    _v("SYSTEMD_AUTO_ENABLE", "string", None, "enable (the default), disable, mask or preset; enable and disable become "
       "${systemd_unitdir}/system-preset/98-<package>.preset, which images apply offline.", tasks=("package",)),
    _v("SYSTEMD_AUTO_ENABLE:<package>", "string", None, "SYSTEMD_AUTO_ENABLE for one package.", tasks=("package",)),
    _v("USERADD_PACKAGES", "list", None, "The packages that create users or groups (useradd.bbclass).", tasks=("package",)),
    _v("USERADD_PARAM:<package>", "string", None, "useradd arguments, several users separated by ';', written as "
       "${nonarch_libdir}/sysusers.d/useradd-<package>.conf: base images apply it offline, extensions ship it.",
       tasks=("package",)),
    _v("GROUPADD_PARAM:<package>", "string", None, "groupadd arguments, several separated by ';'.", tasks=("package",)),
    _v("GROUPMEMS_PARAM:<package>", "string", None, "groupmems -a USER -g GROUP, several separated by ';'.", tasks=("package",)),
    _v("USERMOD_PARAM:<package>", "string", None, "usermod arguments: only -a -G GROUPS USER is carried.", tasks=("package",)),
    _v("USERADD_DEPENDS", "list", None, "Recipes whose users this one needs (useradd.bbclass adds them to DEPENDS)."),
)

BUILD_CLASS_VARIABLES: tuple[Variable, ...] = (
    _v("PACKAGECONFIG", "list", None, "The optional features enabled; each is a flag PACKAGECONFIG[f] = \"enabled,"
       "disabled,depends,rdepends,rrecommends,conflicts\" (base.bbclass applies them, as OE's)."),
    _v("PACKAGECONFIG_CONFARGS", "string", None, "The configure arguments of the features (PACKAGECONFIG)."),
    _v("EXTRA_OECONF", "string", None, "Extra configure arguments (autotools)."),
    _v("CONFIGUREOPTS", "string", None, "The configure arguments autotools always passes (--build ... --mandir)."),
    _v("CONFIGUREOPT_DEPTRACK", "string", None, "autotools: --disable-dependency-tracking."),
    _v("CONFIGURE_SCRIPT", "path", None, "The configure script autotools runs: ${AUTOTOOLS_SCRIPT_PATH}/configure."),
    _v("AUTOTOOLS_SCRIPT_PATH", "path", None, "Where the project's configure.ac is: ${S}."),
    _v("AUTOTOOLS_AUTORECONF", "string", None,
       "When autotools runs autoreconf: auto (default; when there is no configure script), 1 (always), 0 (never)."),
    _v("EXTRA_AUTORECONF", "string", None, "Extra autoreconf arguments."),
    _v("CACHED_CONFIGUREVARS", "string", None, "Shell assignments (cache values) put before the configure script."),
    _v("DISABLE_STATIC", "string", None, "Appended to EXTRA_OECONF by autotools: --disable-static."),
    _v("PKG_CONFIG", "string", None, "The pkg-config program (pkgconfig.bbclass: pkg-config, the host's)."),
    _v("PKG_CONFIG_LIBDIR", "string", None, "pkg-config's search path (pkgconfig): the sysroot's pkgconfig directories."),
    _v("OECMAKE_GENERATOR", "string", None, "The CMake generator of the cmake class: Ninja (default) or Unix Makefiles."),
    _v("OECMAKE_SOURCEPATH", "path", None, "The directory of the top CMakeLists.txt (cmake): ${S}."),
    _v("EXTRA_OECMAKE", "string", None, "Extra cmake arguments (cmake; PACKAGECONFIG_CONFARGS is appended)."),
    _v("OECMAKE_ARGS", "string", None, "The arguments cmake always gets: install directories, the toolchain file."),
    _v("OECMAKE_FIND_ROOT_PATH_MODE_PROGRAM", "string", None, "cmake's find_program: NEVER (the host's PATH), ONLY, BOTH."),
    _v("OECMAKE_EXTRA_ROOT_PATH", "string", None, "More directories for the toolchain file's CMAKE_FIND_ROOT_PATH."),
    _v("OECMAKE_GENERATOR_ARGS", "string", None, "cmake's -G and -DCMAKE_MAKE_PROGRAM, from OECMAKE_GENERATOR."),
    _v("OECMAKE_C_COMPILER", "string", None, "The toolchain file's C compiler: CC's first word (after ccache)."),
    _v("OECMAKE_CXX_COMPILER", "string", None, "The toolchain file's C++ compiler: CXX's first word (after ccache)."),
    _v("OECMAKE_AR", "string", None, "The toolchain file's archiver: ${AR}."),
    _v("OECMAKE_C_FLAGS", "string", None, "The toolchain file's CMAKE_C_FLAGS: CC's options and CFLAGS."),
    _v("OECMAKE_CXX_FLAGS", "string", None, "The toolchain file's CMAKE_CXX_FLAGS: CXX's options and CXXFLAGS."),
    _v("OECMAKE_C_FLAGS_RELEASE", "string", None, "CMAKE_C_FLAGS_RELEASE (and ASM): -DNDEBUG."),
    _v("OECMAKE_CXX_FLAGS_RELEASE", "string", None, "CMAKE_CXX_FLAGS_RELEASE: -DNDEBUG."),
    _v("OECMAKE_C_LINK_FLAGS", "string", None, "The toolchain file's CMAKE_C_LINK_FLAGS: CC's options, CPPFLAGS, LDFLAGS."),
    _v("OECMAKE_CXX_LINK_FLAGS", "string", None, "CMAKE_CXX_LINK_FLAGS: CXX's options, CXXFLAGS, LDFLAGS."),
    _v("OECMAKE_RPATH", "string", None, "The toolchain file's CMAKE_INSTALL_RPATH (empty: none)."),
    _v("OECMAKE_TARGET_COMPILE", "string", None, "The target do_compile builds (cmake): all."),
    _v("OECMAKE_TARGET_INSTALL", "string", None, "The target do_install builds (cmake): install, by cmake --install."),
    _v("EXTRA_OECMAKE_BUILD", "string", None, "Extra arguments of the build tool cmake --build runs (after --)."),
    _v("CMAKE_VERBOSE", "string", None, "VERBOSE=1 (default): cmake --build logs each command; empty: quiet."),
    _v("EXTRA_OEMESON", "string", None, "Extra meson setup arguments (meson; PACKAGECONFIG_CONFARGS is appended)."),
    _v("MESONOPTS", "string", None, "The arguments meson setup always gets: --buildtype, the directories, --wrap-mode."),
    _v("MESON_SOURCEPATH", "path", None, "The directory of the top meson.build (meson): ${S}."),
    _v("MESON_BUILDTYPE", "string", None, "meson's --buildtype: plain, or debug when DEBUG_BUILD = \"1\"."),
    _v("MESON_TARGET", "string", None, "What do_compile builds (meson; empty: the default targets)."),
    _v("MESON_INSTALL_TAGS", "string", None, "meson install --tags (empty: everything)."),
    _v("MESON_CROSS_FILE", "string", None, "meson setup's --cross-file ${WORKDIR}/meson.cross (meson)."),
    _v("DEBUG_BUILD", "switch", None, "1: build for debugging (meson: --buildtype debug)."),
    _v("STAGING_BASELIBDIR", "path", "${STAGING_DIR_HOST}${base_libdir}", "base_libdir of the recipe sysroot."),
    _v("STAGING_DATADIR", "path", "${STAGING_DIR_HOST}${datadir}", "datadir of the recipe sysroot (pkgconfig, aclocal)."),
    _v("SHLIB_ALLOWLIST", "list", None,
       "SONAMEs a package may need although no package provides them (otherwise a build error).", tasks=("package",)),
    _v("INHIBIT_PACKAGE_STRIP", "switch", None, "1: ship ELF files as installed, without stripping.",
       tasks=("package",)),
    _v("INHIBIT_DEFAULT_DEPS", "switch", None, "1: do not add virtual/libc to DEPENDS (allarch, the C library)."),
    _v("DL_DIR", "path", "${TOPDIR}/downloads", "Downloaded sources; can be shared between build directories."),
    _v("SSTATE_DIR", "path", "${TOPDIR}/sstate-cache",
       "The shared-state cache; can be shared between build directories."),
    _v("STAMPS_DIR", "path", "${TMPDIR}/stamps", "Where task stamps are kept."),
    _v("STAMP", "path", "${STAMPS_DIR}/${PACKAGE_ARCH}/${PN}/${PV}-${PR}", "The stamp file prefix of a recipe."),
    _v("BASE_WORKDIR", "path", "${TMPDIR}/work", "The top of the recipes' work directories."),
    _v("WORKDIR", "path", "${BASE_WORKDIR}/${PACKAGE_ARCH}/${PN}/${PV}-${PR}", "The recipe's work directory."),
    _v("T", "path", "${WORKDIR}/temp", "Task logs (log.do_TASK) and run scripts (run.do_TASK)."),
    _v("UNPACKDIR", "path", "${WORKDIR}/sources", "Where sources are unpacked.", tasks=("unpack", "patch")),
    _v("S", "path", "${UNPACKDIR}/${BP}", "The unpacked source tree.", tasks=("patch",)),
    _v("B", "path", "${S}", "The build tree."),
    _v("D", "path", "${WORKDIR}/image", "The destination directory do_install installs into."),
    _v("PKGD", "path", "${WORKDIR}/package", "The copy of D that packaging works on."),
    _v("PKGDEST", "path", "${WORKDIR}/packages-split", "The per-package trees after splitting."),
    _v("PKGDATA_DIR", "path", "${TMPDIR}/pkgdata/${MACHINE}", "Package metadata shared between recipes."),
    _v("DEPLOY_DIR", "path", "${TMPDIR}/deploy", "The top of the deploy directories."),
    _v("DEPLOY_DIR_DEB", "path", "${DEPLOY_DIR}/deb", "Where .deb packages and their Packages index go."),
    _v("DEPLOY_DIR_IMAGE", "path", "${DEPLOY_DIR}/images/${MACHINE}", "Where images go."),
    _v("LOG_DIR", "path", "${TMPDIR}/log", "Build-wide logs."),
    _v("STAGING_DIR", "path", "${TMPDIR}/sysroots-components", "Per-recipe sysroot components."),
    _v("RECIPE_SYSROOT", "path", "${WORKDIR}/recipe-sysroot", "The recipe's sysroot of build dependencies."),
    _v("STAGING_DIR_TARGET", "path", "${RECIPE_SYSROOT}", "The target sysroot."),
    _v("STAGING_DIR_HOST", "path", "${RECIPE_SYSROOT}", "The host sysroot."),
    _v("SYSROOT_DESTDIR", "path", "${WORKDIR}/sysroot-destdir", "What the recipe stages for others."),
)

SBOM_VARIABLES: tuple[Variable, ...] = (
    _v("SPDX_VERSION", "string", None, "The SPDX version of the SBOMs create-spdx writes: 3.0.1."),
    _v("DEPLOY_DIR_SPDX", "path", None, "Where the recipes' SPDX records go (create-spdx.bbclass: "
       "${DEPLOY_DIR}/spdx/${SPDX_VERSION}, a directory per PACKAGE_ARCH).", tasks=("image_sbom",)),
    _v("SPDXDIR", "path", None, "Where do_create_spdx writes the recipe's record before the shared state publishes "
       "it: ${WORKDIR}/spdx/${SPDX_VERSION}.", tasks=("create_spdx",)),
    _v("SPDX_NAMESPACE_PREFIX", "string", None, "The start of an SBOM's namespace, which every id in it begins with "
       "(http://spdx.org/spdxdocs).", tasks=("image_sbom",)),
    _v("SPDX_UUID_NAMESPACE", "string", None, "What the SBOM's uuid is derived from, with the image and its "
       "packages: your organisation's domain (default sbom.layerbuild).", tasks=("image_sbom",)),
    _v("CVE_PRODUCT", "list", None, "The upstream product names CVE databases use for the recipe, each product or "
       "vendor:product (${BPN}); the SBOM gives them as CPE 2.3 names.", tasks=("create_spdx",)),
    _v("CVE_VERSION", "string", None, "The upstream version CVE databases use for the recipe (${PV}).",
       tasks=("create_spdx",)),
    _v("SPDX_PACKAGE_SUPPLIER_name", "string", None, "Who supplies the packages, the SBOM's suppliedBy of each "
       "(${DISTRO_NAME}).", tasks=("create_spdx",)),
    _v("SPDX_PACKAGE_SUPPLIER_type", "string", None, "organization (the default) or person.", tasks=("create_spdx",)),
    _v("SPDX_IMAGE_SUPPLIER_name", "string", None, "Who supplies the image (${DISTRO_NAME}), the SBOM's creator.",
       tasks=("image_sbom",)),
    _v("SPDX_IMAGE_SUPPLIER_type", "string", None, "organization (the default) or person.", tasks=("image_sbom",)),
    _v("IMAGE_BASE_SPDX", "path", None, "The SBOM of an extension's base image, which the extension's refers to: "
       "${DEPLOY_DIR_IMAGE}/${IMAGE_BASE_PKGDB}-${MACHINE}.spdx.json.", tasks=("image_sbom",)),
    _v("IMAGE_CLASSES", "list", None, "Classes every image inherits (create-spdx adds create-spdx-image)."),
)

BUILDHISTORY_VARIABLES: tuple[Variable, ...] = (
    _v("BUILDHISTORY_DIR", "path", None, "The buildhistory git repository (buildhistory.bbclass: ${TOPDIR}/buildhistory)."),
    _v("BUILDHISTORY_DIR_IMAGE", "path", None,
       "An image's record: ${BUILDHISTORY_DIR}/images/${MACHINE_ARCH}/${TCLIBC}/${IMAGE_BASENAME}."),
    _v("BUILDHISTORY_FEATURES", "list", None, "What buildhistory records: image (the default)."),
    _v("BUILDHISTORY_COMMIT", "boolean", None, "Whether a build commits the record (1, the default)."),
    _v("BUILDHISTORY_COMMIT_AUTHOR", "string", None,
       "The author of the commits: buildhistory <buildhistory@${DISTRO}>."),
    _v("TCLIBC", "string", None, "The C library's name in buildhistory's layout (glibc)."),
)

#: the native sysroot and where native recipes install in it (OE's bitbake.conf and native.bbclass)
NATIVE_VARIABLES: tuple[Variable, ...] = (
    _v("RECIPE_SYSROOT_NATIVE", "path", "${WORKDIR}/recipe-sysroot-native",
       "The recipe's native sysroot: what the native recipes of DEPENDS staged (do_prepare_recipe_sysroot).",
       tasks=("prepare_recipe_sysroot",)),
    _v("STAGING_DIR_NATIVE", "path", "${RECIPE_SYSROOT_NATIVE}",
       "The native sysroot; a native recipe's prefix is ${STAGING_DIR_NATIVE}${prefix_native}.",
       tasks=("populate_sysroot",)),
    _v("STAGING_BINDIR_NATIVE", "path", "${STAGING_DIR_NATIVE}${bindir_native}",
       "Programs of the native sysroot; first on the PATH of every task."),
    _v("STAGING_SBINDIR_NATIVE", "path", "${STAGING_DIR_NATIVE}${sbindir_native}", "sbin of the native sysroot (on PATH)."),
    _v("STAGING_LIBDIR_NATIVE", "path", "${STAGING_DIR_NATIVE}${libdir_native}",
       "Libraries of the native sysroot (BUILD_LDFLAGS links against them)."),
    _v("STAGING_LIBEXECDIR_NATIVE", "path", "${STAGING_DIR_NATIVE}${libexecdir_native}", "libexec of the native sysroot."),
    _v("STAGING_BASE_LIBDIR_NATIVE", "path", "${STAGING_DIR_NATIVE}${base_libdir_native}", "/lib of the native sysroot."),
    _v("STAGING_INCDIR_NATIVE", "path", "${STAGING_DIR_NATIVE}${includedir_native}",
       "Headers of the native sysroot (BUILD_CPPFLAGS)."),
    _v("STAGING_ETCDIR_NATIVE", "path", "${STAGING_DIR_NATIVE}${sysconfdir_native}", "/etc of the native sysroot."),
    _v("STAGING_DATADIR_NATIVE", "path", "${STAGING_DIR_NATIVE}${datadir_native}", "Data of the native sysroot."),
    _v("prefix_native", "path", "/usr", "The prefix native recipes install under, in the native sysroot."),
    _v("bindir_native", "path", "${prefix_native}/bin", "bindir of native recipes, below STAGING_DIR_NATIVE."),
    _v("sbindir_native", "path", "${prefix_native}/sbin", "sbindir of native recipes."),
    _v("includedir_native", "path", "${prefix_native}/include", "includedir of native recipes."),
    _v("libdir_native", "path", "${prefix_native}/lib", "libdir of native recipes."),
    _v("libexecdir_native", "path", "${prefix_native}/libexec", "libexecdir of native recipes."),
    _v("base_libdir_native", "path", "/lib", "base_libdir of native recipes."),
    _v("sysconfdir_native", "path", "/etc", "sysconfdir of native recipes."),
    _v("datadir_native", "path", "${prefix_native}/share", "datadir of native recipes."),
    _v("SSTATE_SCAN_FILES", "list", None,
       "Names (shell patterns) of a native recipe's staged text files that may hold the native sysroot's path "
       "(staging.bbclass: *.la *-config *_config *.pc *.cmake): the component holds a placeholder, which "
       "do_prepare_recipe_sysroot replaces with the path of the sysroot they are staged in.",
       tasks=("populate_sysroot",)),
    _v("SYSROOT_DIRS_NATIVE", "list", None,
       "The directories a native recipe stages besides SYSROOT_DIRS, its programs among them (native.bbclass: "
       "${bindir} ${sbindir} ${libexecdir} ${sysconfdir})."),
)
