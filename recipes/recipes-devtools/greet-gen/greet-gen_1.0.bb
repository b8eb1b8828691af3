SUMMARY = "Turns a list of greetings into a C table"
DESCRIPTION = "A code generator that recipes run at build time: greet-gen GREETINGS.txt writes a C header \
with the greetings as a table sorted by language. Its native variant, greet-gen-native, is built with the \
build host's compiler and staged in the native sysroot of the recipes that DEPENDS on it."
LICENSE = "MIT"
SECTION = "devel"

SRC_URI = "file://greet-gen.c"
S = "${UNPACKDIR}"

do_compile() {
    ${CC} ${CFLAGS} ${LDFLAGS} -o greet-gen ${S}/greet-gen.c
}

do_install() {
    install -d ${D}${bindir}
    install -m 0755 greet-gen ${D}${bindir}/greet-gen
}

BBCLASSEXTEND = "native"
