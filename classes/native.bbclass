# native: a recipe for the build host, as OE's native.bbclass makes it. A recipe gets it either by
# `inherit native` (a foo-native recipe of its own) or through BBCLASSEXTEND = "native" (the variant
# foo-native of recipe foo). It is built with the build host's compiler, for the build host's
# architecture, installed into its own prefix under the native sysroot (${STAGING_DIR_NATIVE}), and
# never packaged: its do_populate_sysroot output is what recipes that DEPENDS on it get, in their
# ${RECIPE_SYSROOT_NATIVE}, with ${STAGING_BINDIR_NATIVE} on their PATH.
#
# Its output is the same for every MACHINE: the package architecture is the build host's, the machine's
# overrides and features are cleared, and the target variables are the build host's, so its work
# directory, stamps and shared state are one for all machines of a build.

PACKAGE_ARCH = "${BUILD_ARCH}"

TARGET_ARCH = "${BUILD_ARCH}"
TARGET_OS = "${BUILD_OS}"
TARGET_VENDOR = "${BUILD_VENDOR}"
TARGET_CFLAGS = "${BUILD_CFLAGS}"
TARGET_LDFLAGS = "${BUILD_LDFLAGS}"

HOST_ARCH = "${BUILD_ARCH}"
HOST_OS = "${BUILD_OS}"
HOST_VENDOR = "${BUILD_VENDOR}"
TARGET_PREFIX = "${BUILD_PREFIX}"
HOST_PREFIX = "${BUILD_PREFIX}"

# the host compiler, named explicitly: the target's CC may be a cross compiler
CC = "${BUILD_CC}"
CXX = "${BUILD_CXX}"
CPP = "${BUILD_CPP}"
LD = "${BUILD_LD}"
AR = "${BUILD_AR}"
RANLIB = "${BUILD_RANLIB}"
NM = "${BUILD_NM}"
STRIP = "${BUILD_STRIP}"
OBJCOPY = "${BUILD_OBJCOPY}"
AS = "${BUILD_AS}"
OBJDUMP = "${BUILD_OBJDUMP}"
READELF = "${BUILD_READELF}"
CPPFLAGS = "${BUILD_CPPFLAGS}"

# a native program builds against the build host's C library, not a sysroot's
TOOLCHAIN_OPTIONS = ""
TOOLCHAIN_CC_OPTIONS = ""
BASEDEPENDS = ""

# installed in place: the paths are the native sysroot's (OE's "no staging prefix")
base_prefix = "${STAGING_DIR_NATIVE}"
prefix = "${STAGING_DIR_NATIVE}${prefix_native}"
exec_prefix = "${STAGING_DIR_NATIVE}${prefix_native}"
root_prefix = "${exec_prefix}"
bindir = "${STAGING_BINDIR_NATIVE}"
sbindir = "${STAGING_SBINDIR_NATIVE}"
base_libdir = "${STAGING_BASE_LIBDIR_NATIVE}"
libdir = "${STAGING_LIBDIR_NATIVE}"
libexecdir = "${STAGING_LIBEXECDIR_NATIVE}"
includedir = "${STAGING_INCDIR_NATIVE}"
sysconfdir = "${STAGING_ETCDIR_NATIVE}"
datadir = "${STAGING_DATADIR_NATIVE}"
baselib = "lib"
STAGING_DIR_HOST = ""
STAGING_DIR_TARGET = ""

CLASSOVERRIDE = "class-native"
MACHINEOVERRIDES = ""
MACHINE_FEATURES = ""

# the programs are staged too (staging.bbclass's SYSROOT_DIRS_NATIVE), and the sysroot component is
# the tree below the native sysroot's path, kept by package architecture (OE's native.bbclass)
SYSROOT_DIRS_NATIVE = "${bindir} ${sbindir} ${libexecdir} ${sysconfdir}"
SYSROOT_DIRS:append:class-native = " ${SYSROOT_DIRS_NATIVE}"
do_populate_sysroot[sstate-inputdirs] = "${SYSROOT_DESTDIR}${STAGING_DIR_NATIVE}"
do_populate_sysroot[sstate-outputdirs] = "${COMPONENTS_DIR}/${PACKAGE_ARCH}/${PN}"

# The names of the variant's dependencies and of what it provides are those of other native recipes:
# DEPENDS = "zlib virtual/gen" in recipe foo is "zlib-native virtual/gen-native" in foo-native, so a
# virtual/ name resolves among the -native providers (PREFERRED_PROVIDER_virtual/gen-native).
python native_virtclass_handler () {
    import oe.classextend
    pn = d.getVar("PN")
    if not pn.endswith("-native"):
        return
    bpn = d.getVar("BPN")
    if "native" not in (d.getVar("BBCLASSEXTEND") or "").split():
        return
    d.setVarFilter("DEPENDS", "native_filter(val, '" + pn + "', '" + bpn + "', selfref=False)")
    d.setVarFilter("PROVIDES", "native_filter(val, '" + pn + "', '" + bpn + "')")
}
addhandler native_virtclass_handler
native_virtclass_handler[eventmask] = "bb.event.RecipePreFinalise"

# no packages: what depends on a native recipe gets its sysroot component (OE's native.bbclass inherits
# nopackages, which here also drops the sysroot, the build tasks, for recipes that build nothing)
PACKAGES = ""
deltask do_package
deltask do_package_write_deb
