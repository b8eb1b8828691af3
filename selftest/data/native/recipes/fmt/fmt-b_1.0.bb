SUMMARY = "the other formatter of virtual/fmt"
LICENSE = "MIT"
INHIBIT_DEFAULT_DEPS = "1"
PROVIDES = "virtual/fmt"
do_install() {
    install -d ${D}${datadir}/fmt
    install -d ${D}${libdir}/pkgconfig
    printf 'prefix=${prefix}\nincludedir=${includedir}\n\nName: fmt\nDescription: formats\nVersion: 1.0\nCflags: -I${includedir}\n' > ${D}${libdir}/pkgconfig/fmt.pc
    echo "fmt-b ${CLASSOVERRIDE}" > ${D}${datadir}/fmt/which
}
SYSROOT_DIRS += "${datadir}/fmt"
FILES:${PN} += "${datadir}/fmt"
FILES:${PN}-dev += "${libdir}/pkgconfig"
BBCLASSEXTEND = "native"
