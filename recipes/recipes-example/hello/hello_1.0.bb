SUMMARY = "Prints a greeting"
DESCRIPTION = "A small C program, the smallest recipe that compiles and installs something."
LICENSE = "MIT"

SRC_URI = "file://hello.c"
S = "${UNPACKDIR}"

do_compile() {
    ${CC} ${CFLAGS} ${LDFLAGS} -o hello ${S}/hello.c
}

do_install() {
    install -d ${D}${bindir}
    install -m 0755 hello ${D}${bindir}/hello
}
