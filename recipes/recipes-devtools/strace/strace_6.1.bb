SUMMARY = "System call tracing tool"
HOMEPAGE = "http://strace.io"
DESCRIPTION = "strace is a diagnostic, debugging and instructional userspace utility for Linux. It is used \
to monitor and tamper with interactions between processes and the Linux kernel, which include system \
calls, signal deliveries, and changes of process state."
SECTION = "console/utils"
# the program is LGPL-2.1-or-later, its test suite (not built here) GPL-2.0-or-later
LICENSE = "GPL-2.0-or-later & LGPL-2.1-or-later"
LIC_FILES_CHKSUM = "file://COPYING;md5=59a33f0a3e6122d67c0b3befccbdaa6b"

# Debian's copy of the upstream release tarball
SRC_URI = "${DEBIAN_MIRROR}/main/s/strace/strace_${PV}.orig.tar.xz"
SRC_URI[sha256sum] = "2579e9cec37dbb786f6ea0bebd15f40dd561ef2bde2a2a2ecdce5963b01859fd"

inherit autotools

# stack traces (-k) need libunwind or libdw, and -yy's security contexts libselinux: there are no
# recipes for them, so they are off unless a layer that has them turns them on
PACKAGECONFIG ??= ""
PACKAGECONFIG[bluez] = "ac_cv_header_bluetooth_bluetooth_h=yes,ac_cv_header_bluetooth_bluetooth_h=no,bluez5"
PACKAGECONFIG[libunwind] = "--with-libunwind,--without-libunwind,libunwind"
PACKAGECONFIG[libdw] = "--with-libdw,--without-libdw,elfutils"
PACKAGECONFIG[libselinux] = "--with-libselinux,--without-libselinux,libselinux"

# no multiple-personality decoders (they need a 32-bit multilib toolchain), no -Werror with a newer gcc
EXTRA_OECONF += "--enable-mpers=no --disable-gcc-Werror --without-libiberty"
