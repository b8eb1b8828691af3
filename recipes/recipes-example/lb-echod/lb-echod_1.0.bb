SUMMARY = "A tiny line echo daemon with a systemd unit"
DESCRIPTION = "The daemon of the portable-service demo: echoes lines on 127.0.0.1:7777 (or on a \
socket systemd passes it) and ships lb-echod.service."
LICENSE = "MIT"

SRC_URI = "file://lb-echod.c file://lb-echod.service"
S = "${UNPACKDIR}"

do_compile() {
    ${CC} ${CFLAGS} ${LDFLAGS} -o lb-echod ${S}/lb-echod.c
}

do_install() {
    install -d ${D}${bindir} ${D}${systemd_system_unitdir}
    install -m 0755 lb-echod ${D}${bindir}/lb-echod
    install -m 0644 ${S}/lb-echod.service ${D}${systemd_system_unitdir}/lb-echod.service
}
