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

# the interpreter path the compiler writes into every executable (the x86-64 psABI's), under
# root_prefix as OE's glibc places its loader link: /usr/lib64 with usrmerge (/lib64 links there),
# /lib64 itself without it
ELF_INTERPRETER_DIR = "${root_prefix}/lib64"

PACKAGES = "libc6"
FILES:libc6 = "${libdir}/${MULTIARCH} ${ELF_INTERPRETER_DIR}"
RPROVIDES:libc6 = "libc libm"

do_install() {
    install -d ${D}${libdir}/${MULTIARCH}
    for lib in ${EXTERNAL_LIBS}; do
        src=$(${CC} -print-file-name=$lib)
        [ -e "$src" ] || bbfatal "the compiler has no $lib"
        install -m 0755 "$(readlink -f $src)" ${D}${libdir}/${MULTIARCH}/$lib
    done
    install -d ${D}${ELF_INTERPRETER_DIR}
    ln -rs ${D}${libdir}/${MULTIARCH}/ld-linux-x86-64.so.2 ${D}${ELF_INTERPRETER_DIR}/ld-linux-x86-64.so.2
}
