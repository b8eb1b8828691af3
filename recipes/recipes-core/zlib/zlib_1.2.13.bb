SUMMARY = "Zlib Compression Library"
DESCRIPTION = "Zlib is a general-purpose, patent-free, lossless data compression \
library which is used by many different programs."
HOMEPAGE = "http://zlib.net/"
SECTION = "libs"
LICENSE = "Zlib"
LIC_FILES_CHKSUM = "file://zlib.h;beginline=6;endline=23;md5=5377232268e952e9ef63bc555f7aa6c0"

# Debian's pristine upstream tarball (repacked without the contrib/ binaries: "dfsg")
SRC_URI = "${DEBIAN_MIRROR}/main/z/zlib/zlib_${PV}.dfsg.orig.tar.bz2"
SRC_URI[sha256sum] = "71feb7947e3c00ef125f83b79a4e529bde31171e5babe48b391f06758d1ab0a1"
S = "${UNPACKDIR}/zlib-${PV}.dfsg"

CFLAGS += "-D_REENTRANT -fPIE"

# zlib's configure is its own script, not autoconf's: run as OE's zlib recipe runs it, from a
# separate build directory, with the toolchain from CC, CFLAGS and LDFLAGS in the environment
B = "${WORKDIR}/build"

do_configure() {
    LDCONFIG=true ${S}/configure --prefix=${prefix} --shared --libdir=${libdir} --uname=GNU
}
do_configure[cleandirs] += "${B}"

do_compile() {
    oe_runmake shared
}

do_install() {
    oe_runmake DESTDIR=${D} install
}
