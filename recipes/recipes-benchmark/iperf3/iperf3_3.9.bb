SUMMARY = "Network benchmark tool"
DESCRIPTION = "iperf is a tool for active measurements of the maximum achievable bandwidth on IP networks. \
It supports tuning of various parameters related to timing, protocols, and buffers. For each test it \
reports the bandwidth, loss, and other parameters."
HOMEPAGE = "http://software.es.net/iperf/"
SECTION = "console/network"
LICENSE = "BSD-3-Clause"
LIC_FILES_CHKSUM = "file://LICENSE;md5=b7fb682e9941a49f1214dcd7441410d7"

# Debian's copy of the upstream release tarball (the source package is iperf3; the tree is iperf-3.9)
SRC_URI = "${DEBIAN_MIRROR}/main/i/iperf3/iperf3_${PV}.orig.tar.gz"
SRC_URI[sha256sum] = "24b63a26382325f759f11d421779a937b63ca1bc17c44587d2fcfedab60ac038"
S = "${UNPACKDIR}/iperf-${PV}"

inherit autotools

# there are no recipes for OpenSSL (authenticated tests) and lksctp-tools (SCTP tests) here; without the
# option, configure looks for OpenSSL in the build host's /usr and /usr/local
PACKAGECONFIG ??= ""
PACKAGECONFIG[lksctp] = "ac_cv_header_netinet_sctp_h=yes,ac_cv_header_netinet_sctp_h=no,lksctp-tools"
PACKAGECONFIG[openssl] = "--with-openssl=${RECIPE_SYSROOT}${prefix},--without-openssl,openssl"

CFLAGS += "-D_GNU_SOURCE"
