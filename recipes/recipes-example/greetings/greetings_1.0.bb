SUMMARY = "Greets in the language named on its command line"
DESCRIPTION = "Its table of greetings is C code generated at build time by greet-gen-native, a tool built \
for the build host and run from the native sysroot (DEPENDS on a -native recipe puts it on PATH)."
LICENSE = "MIT"

DEPENDS = "greet-gen-native"
SRC_URI = "file://greetings.c file://greetings.txt"
S = "${UNPACKDIR}"

do_compile() {
    greet-gen ${S}/greetings.txt > greetings-table.h
    ${CC} ${CFLAGS} ${LDFLAGS} -I. -o greetings ${S}/greetings.c
}

do_install() {
    install -d ${D}${bindir}
    install -m 0755 greetings ${D}${bindir}/greetings
}
