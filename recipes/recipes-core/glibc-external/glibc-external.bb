SUMMARY = "The C runtime of the machine's compiler, packaged for images and staged for builds"
DESCRIPTION = "Packages the C library, the math library and the dynamic loader that the machine's \
compiler (the host's, or a cross toolchain's such as Debian's aarch64-linux-gnu-gcc) links against, \
with their SONAMEs, so images can run what the recipes compile; and stages the C library's development \
files (headers, start files, linker scripts) into recipe sysroots, so the compiler, run with --sysroot, \
builds against the sysroot and nothing else of the build host. This is the external-toolchain \
approach: the C runtime comes from the compiler's own sysroot."
LICENSE = "LGPL-2.1-or-later & GPL-3.0-with-GCC-exception"
LICENSE:libc6 = "LGPL-2.1-or-later"
LICENSE:libc6-dev = "LGPL-2.1-or-later"
LICENSE:libgcc1 = "GPL-3.0-with-GCC-exception"
SECTION = "libs"

# the version of the C library the compiler builds against (its <features.h>), asked once when the recipe
# is read; a compiler that is not there yet is reported by the check before any task runs
def glibc_external_version(d):
    import shlex, subprocess
    cc = shlex.split(d.getVar("CC") or "gcc")
    try:
        out = subprocess.run(cc + ["-dM", "-E", "-include", "features.h", "-x", "c", "/dev/null"],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "0.0"
    macros = dict(line.split()[1:3] for line in out.splitlines() if line.startswith("#define __GLIBC") and len(line.split()) >= 3)
    return "%s.%s" % (macros.get("__GLIBC__", "0"), macros.get("__GLIBC_MINOR__", "0"))

PV = "${@glibc_external_version(d)}"
PROVIDES = "virtual/libc"
INHIBIT_DEFAULT_DEPS = "1"
# the host's libraries come stripped, and their debug information is not ours to ship
INHIBIT_PACKAGE_STRIP = "1"
# this recipe reads the compiler's own files: its recipe sysroot is empty
TOOLCHAIN_OPTIONS = ""
TOOLCHAIN_CC_OPTIONS = ""

# the dynamic loader, named by each architecture's psABI, and the directory of the interpreter path the
# compiler writes into every executable, under root_prefix as OE's glibc places its loader link (/usr/lib64
# with usrmerge, /lib64 without it, for x86-64; /usr/lib or /lib for AArch64)
EXTERNAL_LOADER = "ld-linux-x86-64.so.2"
EXTERNAL_LOADER:aarch64 = "ld-linux-aarch64.so.1"
ELF_INTERPRETER_DIR = "${root_prefix}/lib64"
ELF_INTERPRETER_DIR:aarch64 = "${root_prefix}/lib"

# libgcc_s.so.1 is gcc's: every link asks for it (as needed), and glibc loads it to unwind threads
EXTERNAL_LIBS = "libc.so.6 libm.so.6 ${EXTERNAL_LOADER} libgcc_s.so.1"
# what linking against the C library needs besides the libraries: start files, the part of libc that is
# always linked statically, and the empty archives of the libraries glibc 2.34 merged into libc (for -lpthread)
EXTERNAL_DEV_FILES = "crt1.o crti.o crtn.o Scrt1.o rcrt1.o libc_nonshared.a libpthread.a libdl.a librt.a libutil.a"
# a header of the C library and one of the kernel: the compiler says where it finds them, and the packages
# that own them (libc6-dev:amd64 and linux-libc-dev:amd64 for the host's gcc, libc6-dev-arm64-cross and
# linux-libc-dev-arm64-cross for Debian's aarch64-linux-gnu-gcc) are the headers this recipe stages: their
# include directory also holds every other -dev package's headers, which a recipe must get from its DEPENDS
EXTERNAL_HEADERS = "stdio.h linux/types.h"
MULTIARCH = "${EXTERNAL_TARGET_SYS}"

PACKAGES = "libc6-dev libgcc1 libc6"
FILES:libc6-dev = "${includedir} ${libdir}/${MULTIARCH}/*.o ${libdir}/${MULTIARCH}/*.a \
    ${libdir}/${MULTIARCH}/libc.so ${libdir}/${MULTIARCH}/libm.so"
FILES:libgcc1 = "${libdir}/${MULTIARCH}/libgcc_s.so.1"
FILES:libc6 = "${libdir}/${MULTIARCH} ${ELF_INTERPRETER_DIR}"
RPROVIDES:libc6 = "libc libm"
RDEPENDS:libc6-dev = "libc6 (= ${EXTENDPKGV})"

do_install() {
    install -d ${D}${libdir}/${MULTIARCH}
    for lib in ${EXTERNAL_LIBS} ${EXTERNAL_DEV_FILES}; do
        src=$(${CC} -print-file-name=$lib)
        [ -e "$src" ] || bbfatal "the compiler (${CC}) has no $lib (Debian package ${@'libc6-dev' if not d.getVar('TARGET_PREFIX') else 'libc6-dev-%s-cross' % d.getVar('DPKG_ARCH')})"
        install -m 0644 "$(readlink -f $src)" ${D}${libdir}/${MULTIARCH}/$lib
    done
    chmod 0755 ${D}${libdir}/${MULTIARCH}/*.so.*
    install -d ${D}${ELF_INTERPRETER_DIR}
    ln -rs ${D}${libdir}/${MULTIARCH}/${EXTERNAL_LOADER} ${D}${ELF_INTERPRETER_DIR}/${EXTERNAL_LOADER}
    # the linker scripts -lc and -lm read, naming the files where this recipe puts them (the host's name
    # /lib/..., which a sysroot without /lib does not have)
    echo "GROUP ( ${libdir}/${MULTIARCH}/libc.so.6 ${libdir}/${MULTIARCH}/libc_nonshared.a AS_NEEDED ( ${libdir}/${MULTIARCH}/${EXTERNAL_LOADER} ) )" \
        > ${D}${libdir}/${MULTIARCH}/libc.so
    echo "GROUP ( ${libdir}/${MULTIARCH}/libm.so.6 )" > ${D}${libdir}/${MULTIARCH}/libm.so
    command -v dpkg-query >/dev/null || bbfatal "dpkg-query is not on PATH (Debian package dpkg): it lists the C library's headers"
    for header in ${EXTERNAL_HEADERS}; do
        found=$(echo "#include <$header>" | ${CPP} -M -x c - | tr -s ' \\' '\n\n' | grep "/$header\$" | head -n 1)
        [ -n "$found" ] || bbfatal "the compiler (${CC}) finds no <$header>"
        incdir=${found%/$header}
        pkg=$(dpkg-query -S "$found" | head -n 1 | sed -e 's/[,:] .*//') || true
        [ -n "$pkg" ] || bbfatal "no package of the host owns $found, the compiler's <$header>"
        for f in $(dpkg-query -L "$pkg"); do
            case "$f" in
            $incdir/*)
                if [ -L "$f" ] || [ -f "$f" ]; then
                    dest=${D}${includedir}/${f#$incdir/}
                    install -d "$(dirname $dest)"
                    cp -P "$f" "$dest"
                fi
                ;;
            esac
        done
    done
}

# The specs every other recipe's compiler reads (TOOLCHAIN_CC_OPTIONS): gcc's library search is its own
# directory (libgcc, crtbegin.o) and the sysroot's, not the host directories gcc adds on its own, and the
# C library's start files are the sysroot's. Staged only: no package ships them.
glibc_external_specs() {
    gccdir=$(dirname $(${CC} -print-libgcc-file-name))
    specs=${SYSROOT_DESTDIR}${TOOLCHAIN_SPECS}
    install -d $(dirname $specs)
    {
        printf '*link_libgcc:\n-L%s -L%%R%s -L%%R%s\n\n' $gccdir ${libdir}/${MULTIARCH} ${libdir}
        for spec in startfile endfile; do
            printf '*%s:\n' $spec
            ${CC} -dumpspecs | awk -v name="*$spec:" '$0 == name { getline; print; exit }' \
                | sed -e 's,\([A-Za-z]*crt[1in]\.o\)%s,%R${libdir}/${MULTIARCH}/\1,g'
            printf '\n'
        done
    } > $specs
    grep -q "crt1.o" $specs || bbfatal "${CC} -dumpspecs has no start files to point into the sysroot"
}
do_populate_sysroot[postfuncs] += "glibc_external_specs"
