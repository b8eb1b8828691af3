SUMMARY = "one formatter of virtual/fmt"
LICENSE = "MIT"
INHIBIT_DEFAULT_DEPS = "1"
PROVIDES = "virtual/fmt"
do_install() {
    install -d ${D}${datadir}/fmt
    echo "fmt-a ${CLASSOVERRIDE}" > ${D}${datadir}/fmt/which
}
SYSROOT_DIRS += "${datadir}/fmt"
FILES:${PN} += "${datadir}/fmt"
BBCLASSEXTEND = "native"
