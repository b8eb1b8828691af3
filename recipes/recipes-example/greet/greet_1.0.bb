SUMMARY = "Greets whoever is named on its command line, using libgreet"
DESCRIPTION = "Links against libgreet from its recipe sysroot. Its runtime dependencies on the \
libgreet and C runtime packages are found from the ELF file, not declared here."
LICENSE = "MIT"

DEPENDS = "libgreet"
SRC_URI = "file://greet.c"
S = "${UNPACKDIR}"

do_compile() {
    ${CC} ${CFLAGS} ${LDFLAGS} -o greet ${S}/greet.c -lgreet
}

do_install() {
    install -d ${D}${bindir}
    install -m 0755 greet ${D}${bindir}/greet
}
