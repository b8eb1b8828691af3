SUMMARY = "a tool that is only ever built for the build host"
LICENSE = "MIT"
inherit native
do_install() {
    install -d ${D}${bindir}
    printf '#!/bin/sh\necho packed "$@"\n' > ${D}${bindir}/pack
    chmod 0755 ${D}${bindir}/pack
}
