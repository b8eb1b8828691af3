SUMMARY = "A small shared library that formats greetings"
DESCRIPTION = "Built with its own Makefile through oe_runmake; ships libgreet.so.1 in libgreet and \
the header and the libgreet.so link in libgreet-dev."
LICENSE = "MIT"
SECTION = "libs"

SRC_URI = "file://greet.c file://greet.h file://Makefile"
S = "${UNPACKDIR}"

EXTRA_OEMAKE = "libdir=${libdir} includedir=${includedir}"

do_install() {
    oe_runmake install DESTDIR=${D}
}
