SUMMARY = "The C runtime of the build host's compiler, packaged for images"
DESCRIPTION = "Packages the C library, the math library and the dynamic loader that the host \
compiler links against, with their SONAMEs, so images can run what the sample recipes compile. \
This is the external-toolchain approach: the C runtime comes from the compiler's own sysroot."
LICENSE = "LGPL-2.1-or-later"
SECTION = "libs"

PV = "${@os.confstr('CS_GNU_LIBC_VERSION').split()[-1]}"
PROVIDES = "virtual/libc"
INHIBIT_DEFAULT_DEPS = "1"
# the host's libraries come stripped, and their debug information is not ours to ship
INHIBIT_PACKAGE_STRIP = "1"

EXTERNAL_LIBS = "libc.so.6 libm.so.6 ld-linux-x86-64.so.2"
MULTIARCH = "${@'%s-linux-gnu' % d.getVar('TARGET_ARCH')}"

PACKAGES = "libc6"
FILES:libc6 = "${libdir}/${MULTIARCH} ${exec_prefix}/lib64"
RPROVIDES:libc6 = "libc libm"

do_install() {
    install -d ${D}${libdir}/${MULTIARCH}
    for lib in ${EXTERNAL_LIBS}; do
        src=$(${CC} -print-file-name=$lib)
        [ -e "$src" ] || bbfatal "the compiler has no $lib"
        install -m 0755 "$(readlink -f $src)" ${D}${libdir}/${MULTIARCH}/$lib
    done
    # the path the compiler writes into every executable as its interpreter
    install -d ${D}${exec_prefix}/lib64
    ln -s ../lib/${MULTIARCH}/ld-linux-x86-64.so.2 ${D}${exec_prefix}/lib64/ld-linux-x86-64.so.2
}
