# meson: Meson projects, with OE's meaning (docs/classes.md).
#
# do_write_config writes ${WORKDIR}/meson.cross (the target: the toolchain from CC, CXX, LD, AR, CFLAGS,
# LDFLAGS..., the system and CPU of HOST_OS and HOST_ARCH, the recipe sysroot) and ${WORKDIR}/meson.native
# (the build host: BUILD_CC, BUILD_CFLAGS...); the class names no compiler. do_configure is the host's
# meson setup into the separate build directory B with the directories from the path variables,
# --buildtype, --wrap-mode nodownload, ${EXTRA_OEMESON} and ${PACKAGECONFIG_CONFARGS}; do_compile is
# ninja, do_install meson install --destdir ${D}.

# meson's dependency() runs the host's pkg-config: it must see the recipe sysroot alone
inherit pkgconfig

# meson builds out of tree only
B = "${WORKDIR}/build"
do_configure[cleandirs] = "${B}"

# the directory of the top meson.build
MESON_SOURCEPATH = "${S}"
# what do_compile builds (empty: the default targets)
MESON_TARGET ?= ""
# install tags (meson install --tags), empty for everything
MESON_INSTALL_TAGS ?= ""
MESON_BUILDTYPE ?= "${@'debug' if (d.getVar('DEBUG_BUILD') or '0') == '1' else 'plain'}"

MESONOPTS = " --buildtype ${MESON_BUILDTYPE} \
              --prefix ${prefix} \
              --bindir ${bindir} \
              --datadir ${datadir} \
              --includedir ${includedir} \
              --infodir ${infodir} \
              --libdir ${libdir} \
              --libexecdir ${libexecdir} \
              --localstatedir ${localstatedir} \
              --mandir ${mandir} \
              --sbindir ${sbindir} \
              --sharedstatedir ${sharedstatedir} \
              --sysconfdir ${sysconfdir} \
              --wrap-mode nodownload \
              --native-file ${WORKDIR}/meson.native"

EXTRA_OEMESON ?= ""
EXTRA_OEMESON:append = " ${PACKAGECONFIG_CONFARGS}"

MESON_CROSS_FILE = "--cross-file ${WORKDIR}/meson.cross"

# a variable's words as a meson string or array: 'gcc', or ['gcc', '--sysroot=...']
def meson_array(var, d):
    words = (d.getVar(var) or "").split()
    return repr(words[0] if len(words) == 1 else words)

# meson's CPU families (https://mesonbuild.com/Reference-tables.html)
def meson_cpu_family(var, d):
    import re
    arch = d.getVar(var)
    families = {"powerpc": "ppc", "powerpc64": "ppc64", "powerpc64le": "ppc64", "armeb": "arm",
                "aarch64_be": "aarch64", "mipsel": "mips", "mips64el": "mips64", "microblazeel": "microblaze"}
    if re.match(r"i[3-6]86$", arch):
        return "x86"
    return families.get(arch, arch)

def meson_operating_system(var, d):
    system = d.getVar(var)
    if "mingw" in system:
        return "windows"
    return "linux" if "linux" in system else system

def meson_endian(var, d):
    arch = d.getVar(var)
    big = ("armeb", "aarch64_be", "mips", "mips64", "powerpc", "powerpc64", "s390x", "sparc", "sparc64",
           "microblaze", "or1k")
    return "big" if arch in big else "little"

do_write_config[vardeps] += "CC CXX LD AR NM STRIP OBJCOPY CFLAGS CXXFLAGS LDFLAGS PKG_CONFIG PKG_CONFIG_LIBDIR"
meson_do_write_config() {
    cat > ${WORKDIR}/meson.cross <<EOF
# written by the meson class from the recipe's toolchain variables
[binaries]
c = ${@meson_array('CC', d)}
cpp = ${@meson_array('CXX', d)}
ld = ${@meson_array('LD', d)}
ar = ${@meson_array('AR', d)}
nm = ${@meson_array('NM', d)}
strip = ${@meson_array('STRIP', d)}
objcopy = ${@meson_array('OBJCOPY', d)}
pkg-config = ${@meson_array('PKG_CONFIG', d)}

[built-in options]
c_args = ${@meson_array('CFLAGS', d)}
c_link_args = ${@meson_array('LDFLAGS', d)}
cpp_args = ${@meson_array('CXXFLAGS', d)}
cpp_link_args = ${@meson_array('LDFLAGS', d)}

[properties]
needs_exe_wrapper = true
sys_root = '${STAGING_DIR_HOST}'
pkg_config_libdir = '${PKG_CONFIG_LIBDIR}'

[host_machine]
system = '${@meson_operating_system('HOST_OS', d)}'
cpu_family = '${@meson_cpu_family('HOST_ARCH', d)}'
cpu = '${HOST_ARCH}'
endian = '${@meson_endian('HOST_ARCH', d)}'

[target_machine]
system = '${@meson_operating_system('TARGET_OS', d)}'
cpu_family = '${@meson_cpu_family('TARGET_ARCH', d)}'
cpu = '${TARGET_ARCH}'
endian = '${@meson_endian('TARGET_ARCH', d)}'
EOF

    cat > ${WORKDIR}/meson.native <<EOF
# written by the meson class: the compilers of programs the build runs on the build host
[binaries]
c = ${@meson_array('BUILD_CC', d)}
cpp = ${@meson_array('BUILD_CXX', d)}
ld = ${@meson_array('BUILD_LD', d)}

[built-in options]
c_args = ${@meson_array('BUILD_CFLAGS', d)}
c_link_args = ${@meson_array('BUILD_LDFLAGS', d)}
cpp_args = ${@meson_array('BUILD_CXXFLAGS', d)}
cpp_link_args = ${@meson_array('BUILD_LDFLAGS', d)}
EOF
}

addtask write_config after do_patch do_prepare_recipe_sysroot before do_configure

meson_check_host() {
    command -v meson >/dev/null || bbfatal "meson is not on PATH (Debian package meson)"
    command -v ninja >/dev/null || bbfatal "ninja is not on PATH (Debian package ninja-build)"
}
do_configure[prefuncs] += "meson_check_host"

meson_do_configure() {
    bbnote "Running meson setup ${MESONOPTS} ${MESON_SOURCEPATH} ${B} ${MESON_CROSS_FILE} ${EXTRA_OEMESON}"
    if ! meson setup ${MESONOPTS} "${MESON_SOURCEPATH}" "${B}" ${MESON_CROSS_FILE} ${EXTRA_OEMESON}; then
        if [ -f ${B}/meson-logs/meson-log.txt ]; then
            bbnote "the end of ${B}/meson-logs/meson-log.txt:"
            tail -n 10 ${B}/meson-logs/meson-log.txt
        fi
        bbfatal "meson setup failed"
    fi
}

meson_do_compile() {
    bbnote "Running ninja -v ${PARALLEL_MAKE} ${MESON_TARGET}"
    ninja -v ${PARALLEL_MAKE} ${MESON_TARGET} || bbfatal "ninja failed"
}

meson_do_install() {
    meson_install_tags=
    if [ -n "${MESON_INSTALL_TAGS}" ]; then
        meson_install_tags="--tags ${MESON_INSTALL_TAGS}"
    fi
    bbnote "Running meson install --destdir ${D} --no-rebuild $meson_install_tags"
    meson install --destdir ${D} --no-rebuild $meson_install_tags || bbfatal "meson install failed"
}

EXPORT_FUNCTIONS do_configure do_compile do_install do_write_config
