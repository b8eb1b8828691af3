SUMMARY = "A minimal init that starts one command and reaps orphans"
DESCRIPTION = "PID 1 for overlay-boot subhosts and containers: runs its command (or /etc/lb-init/rc), \
forwards termination signals to it and reaps every child until none remains."
LICENSE = "MIT"

SRC_URI = "file://lb-init.c"
S = "${UNPACKDIR}"

do_compile() {
    ${CC} ${CFLAGS} ${LDFLAGS} -o lb-init ${S}/lb-init.c
}

do_install() {
    install -d ${D}${base_sbindir}
    install -m 0755 lb-init ${D}${base_sbindir}/lb-init
}
