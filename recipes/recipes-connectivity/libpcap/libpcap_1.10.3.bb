SUMMARY = "Interface for user-level network packet capture"
DESCRIPTION = "Libpcap provides a portable framework for low-level network \
monitoring.  Libpcap can provide network statistics collection, \
security monitoring and network debugging."
HOMEPAGE = "http://www.tcpdump.org/"
SECTION = "libs/network"
LICENSE = "BSD-3-Clause"
LIC_FILES_CHKSUM = "file://LICENSE;md5=5eb289217c160e2920d2e35bddc36453 \
                    file://pcap.h;beginline=1;endline=32;md5=39af3510e011f34b8872f120b1dc31d2"

# Debian's copy of the upstream release tarball
SRC_URI = "${DEBIAN_MIRROR}/main/libp/libpcap/libpcap_${PV}.orig.tar.gz"
SRC_URI[sha256sum] = "2a8885c403516cf7b0933ed4b14d6caa30e02052489ebd414dc75ac52e7559e6"

inherit autotools pkgconfig

# the filter language's grammar and scanner are generated at build time, with the build host's bison
# and flex (OE's bison-native and flex-native); HOSTTOOLS is the configuration's, so a missing one is
# said here, before configure
libpcap_check_host() {
    for tool in bison flex; do
        command -v $tool >/dev/null || bbfatal "$tool is not on PATH (Debian package $tool): libpcap's filter grammar needs it"
    done
}
do_configure[prefuncs] += "libpcap_check_host"

# Linux capture only: without DAG, DPDK, Septel, SNF and TurboCap, for which there are no recipes, and
# whose detection would add the build host's /usr/local/include to the include path
EXTRA_OECONF = " \
                 --with-pcap=linux \
                 --without-dag \
                 --without-dpdk \
                 --without-septel \
                 --without-snf \
                 --without-turbocap \
                 --disable-rdma \
                 --disable-netmap \
                 --disable-usb \
                 "

PACKAGECONFIG ??= "${@bb.utils.filter('DISTRO_FEATURES', 'ipv6', d)}"
PACKAGECONFIG[bluez5] = "--enable-bluetooth,--disable-bluetooth,bluez5"
PACKAGECONFIG[dbus] = "--enable-dbus,--disable-dbus,dbus"
PACKAGECONFIG[ipv6] = "--enable-ipv6,--disable-ipv6,"
PACKAGECONFIG[libnl] = "--with-libnl,--without-libnl,libnl"

# pcap-config prints the build's paths: other recipes find libpcap through pkg-config (libpcap.pc),
# as OE's binconfig-disabled arranges
do_install:append() {
    rm -f ${D}${bindir}/pcap-config ${D}${mandir}/man1/pcap-config.1
    rmdir --ignore-fail-on-non-empty ${D}${bindir} ${D}${mandir}/man1
}
