# pkgconfig: pkg-config finds only what the recipe sysroot holds (docs/classes.md).
#
# PKG_CONFIG_LIBDIR replaces pkg-config's default search path with the sysroot's pkgconfig directories
# and PKG_CONFIG_SYSROOT_DIR prefixes the sysroot to the -I and -L it prints, so a library that a recipe
# forgets in DEPENDS is not found, rather than found on the build host.

export PKG_CONFIG ?= "pkg-config"
export PKG_CONFIG_PATH ?= ""
export PKG_CONFIG_LIBDIR ?= "${STAGING_LIBDIR}/pkgconfig:${STAGING_DATADIR}/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR ?= "${STAGING_DIR_HOST}"
export PKG_CONFIG_DISABLE_UNINSTALLED ?= "yes"
export PKG_CONFIG_SYSTEM_LIBRARY_PATH ?= "${STAGING_BASELIBDIR}:${STAGING_LIBDIR}"
export PKG_CONFIG_SYSTEM_INCLUDE_PATH ?= "${STAGING_INCDIR}"

pkgconfig_check_host() {
    command -v ${PKG_CONFIG} >/dev/null || bbfatal "${PKG_CONFIG} is not on PATH (Debian package pkgconf)"
}
do_configure[prefuncs] += "pkgconfig_check_host"
