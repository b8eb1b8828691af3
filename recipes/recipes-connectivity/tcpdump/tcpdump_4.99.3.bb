SUMMARY = "A sophisticated network protocol analyzer"
DESCRIPTION = "Tcpdump prints out a description of the contents of packets on a network interface \
that match a boolean expression, and can save them to a file or read them from one."
HOMEPAGE = "http://www.tcpdump.org/"
SECTION = "net"
LICENSE = "BSD-3-Clause"
LIC_FILES_CHKSUM = "file://LICENSE;md5=5eb289217c160e2920d2e35bddc36453"

# libpcap is found through its libpcap.pc in the recipe sysroot (PKG_CONFIG_LIBDIR): neither the build
# host's libpcap nor a libpcap source tree next to tcpdump's
DEPENDS = "libpcap"

# Debian's copy of the upstream release tarball
SRC_URI = "${DEBIAN_MIRROR}/main/t/tcpdump/tcpdump_${PV}.orig.tar.gz"
SRC_URI[sha256sum] = "ad75a6ed3dc0d9732945b2e5483cb41dc8b4b528a169315e499c6861952e73b3"

inherit autotools pkgconfig

# there are no recipes for libcrypto, libcap-ng and libsmi: the features that need them are off unless
# a layer that has them turns them on
PACKAGECONFIG ??= ""
PACKAGECONFIG[libcap-ng] = "--with-cap-ng,--without-cap-ng,libcap-ng"
PACKAGECONFIG[openssl] = "--with-crypto,--without-crypto,openssl"
PACKAGECONFIG[smi] = "--with-smi,--without-smi,libsmi"
PACKAGECONFIG[smb] = "--enable-smb,--disable-smb"

EXTRA_OECONF = "--disable-local-libpcap"

# make install also leaves a copy named for the version
do_install:append() {
    rm -f ${D}${bindir}/tcpdump.${PV}
}
