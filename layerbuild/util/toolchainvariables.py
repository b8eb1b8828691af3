"""The rows of the variables that make a machine switch the toolchain (``docs/machines.md``): the package
architectures an image installs from, the external toolchain's triplet and prefix, the programs of the
machine's toolchain (``CC``, ``STRIP`` ...) and of the build host's (``BUILD_CC`` ...).
:mod:`layerbuild.util.variables` puts them in its table where they belong in ``docs/variables.md``."""

from __future__ import annotations

from layerbuild.util.variable import Variable

#: the rows are written _v(...) to keep the table narrow
_v = Variable

_ROOTFS = ("rootfs", "extension_rootfs", "extension_check", "portable_rootfs")

MACHINE_VARIABLES: tuple[Variable, ...] = (
    _v("PACKAGE_EXTRA_ARCHS", "list", "${TUNE_PKGARCH}",
       "The package architectures of the machine's tune, besides all and MACHINE_ARCH (weak default)."),
    _v("PACKAGE_ARCHS", "list", "all any noarch ${PACKAGE_EXTRA_ARCHS} ${MACHINE_ARCH}",
       "The package architectures an image installs from (DEPLOY_DIR_DEB/<arch>/), lowest priority first: of two "
       "packages of the same name and version, the one of the later architecture is installed.",
       tasks=(*_ROOTFS, "image_sbom")),
    _v("EXTERNAL_TARGET_SYS", "string", "${TARGET_ARCH}-linux-gnu",
       "The GNU triplet the external toolchain was built for, which its programs are named with "
       "(aarch64-linux-gnu-gcc): Debian's name, where TARGET_SYS is OE's (aarch64-oe-linux)."),
    _v("TARGET_PREFIX", "string",
       "${@'' if d.getVar('TARGET_ARCH') == d.getVar('BUILD_ARCH') else d.getVar('EXTERNAL_TARGET_SYS') + '-'}",
       "The prefix of the machine's toolchain programs: empty (the host's gcc) when TARGET_ARCH is the build host's, "
       "else ${EXTERNAL_TARGET_SYS}- (weak default; genericarm64 sets aarch64-linux-gnu-)."),
    _v("HOST_PREFIX", "string", "${TARGET_PREFIX}", "The prefix of the programs CC, LD, STRIP ... name (OE's)."),
    _v("BUILD_PREFIX", "string", "", "The prefix of the programs BUILD_CC, BUILD_LD ... name: the build host's own."),
)

TOOLCHAIN_VARIABLES: tuple[Variable, ...] = (
    _v("CC", "string", "${HOST_PREFIX}gcc${TOOLCHAIN_OPTIONS}${TOOLCHAIN_CC_OPTIONS}",
       "C compiler, exported to shell tasks. It and the binutils below are checked before any task runs: one "
       "not on PATH is an error naming the Debian package to install (gcc-aarch64-linux-gnu ...)."),
    _v("CXX", "string", "${HOST_PREFIX}g++${TOOLCHAIN_OPTIONS}${TOOLCHAIN_CC_OPTIONS}",
       "C++ compiler, exported to shell tasks."),
    _v("CPP", "string", "${HOST_PREFIX}gcc -E${TOOLCHAIN_OPTIONS}${TOOLCHAIN_CC_OPTIONS}",
       "C preprocessor, exported to shell tasks."),
    _v("LD", "string", "${HOST_PREFIX}ld${TOOLCHAIN_OPTIONS}", "Linker, exported to shell tasks."),
    _v("AR", "string", "${HOST_PREFIX}ar", "Archiver, exported to shell tasks."),
    _v("AS", "string", "${HOST_PREFIX}as", "Assembler, exported to shell tasks."),
    _v("NM", "string", "${HOST_PREFIX}nm", "Symbol lister, exported to shell tasks."),
    _v("RANLIB", "string", "${HOST_PREFIX}ranlib", "Archive indexer, exported to shell tasks."),
    _v("STRIP", "string", "${HOST_PREFIX}strip", "Strip tool, exported to shell tasks; do_package strips with it.",
       tasks=("package",)),
    _v("OBJCOPY", "string", "${HOST_PREFIX}objcopy",
       "objcopy, exported to shell tasks; do_package keeps debug information apart with it.", tasks=("package",)),
    _v("OBJDUMP", "string", "${HOST_PREFIX}objdump", "objdump, exported to shell tasks."),
    _v("READELF", "string", "${HOST_PREFIX}readelf", "readelf, exported to shell tasks."),
    _v("BUILD_CC", "string", "${BUILD_PREFIX}gcc",
       "The C compiler for programs the build runs itself (autotools: CC_FOR_BUILD; native recipes' CC)."),
    _v("BUILD_CXX", "string", "${BUILD_PREFIX}g++", "The C++ compiler for programs the build runs itself."),
    _v("BUILD_CPP", "string", "${BUILD_PREFIX}gcc -E", "The preprocessor for programs the build runs itself."),
    _v("BUILD_LD", "string", "${BUILD_PREFIX}ld", "The linker for programs the build runs itself."),
    _v("BUILD_AR", "string", "${BUILD_PREFIX}ar", "The archiver for programs the build runs itself."),
    _v("BUILD_AS", "string", "${BUILD_PREFIX}as", "The assembler for programs the build runs itself."),
    _v("BUILD_NM", "string", "${BUILD_PREFIX}nm", "The symbol lister for programs the build runs itself."),
    _v("BUILD_RANLIB", "string", "${BUILD_PREFIX}ranlib", "The archive indexer for programs the build runs itself."),
    _v("BUILD_STRIP", "string", "${BUILD_PREFIX}strip", "The strip tool for programs the build runs itself."),
    _v("BUILD_OBJCOPY", "string", "${BUILD_PREFIX}objcopy", "objcopy for programs the build runs itself."),
    _v("BUILD_OBJDUMP", "string", "${BUILD_PREFIX}objdump", "objdump for programs the build runs itself."),
    _v("BUILD_READELF", "string", "${BUILD_PREFIX}readelf", "readelf for programs the build runs itself."),
    _v("BUILD_CFLAGS", "string", "-O2 -pipe", "C flags for programs the build runs itself."),
    _v("BUILD_CXXFLAGS", "string", "${BUILD_CFLAGS}", "C++ flags for programs the build runs itself."),
    _v("BUILD_CPPFLAGS", "string", "-isystem${STAGING_INCDIR_NATIVE}",
       "Preprocessor flags for programs the build runs itself: the native sysroot's headers."),
    _v("BUILD_LDFLAGS", "string", "-L${STAGING_LIBDIR_NATIVE} -Wl,-rpath-link,${STAGING_LIBDIR_NATIVE} "
       "-Wl,-rpath,${STAGING_LIBDIR_NATIVE} -Wl,-O1",
       "Linker flags for programs the build runs itself: the native sysroot's libraries, at link and run time."),
)
