SUMMARY = "Site configuration for greet"
DESCRIPTION = "/etc/greet/greet.conf, the greeting greet uses: the payload of the confext demo."
LICENSE = "MIT"
SECTION = "config"

SRC_URI = "file://greet.conf"
S = "${UNPACKDIR}"
# the same file for every machine: built once, shared between machines
inherit allarch

do_install() {
    install -d ${D}${sysconfdir}/greet
    install -m 0644 ${S}/greet.conf ${D}${sysconfdir}/greet/greet.conf
}
