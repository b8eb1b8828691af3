SUMMARY = "data generated at build time by gen-table-native"
LICENSE = "MIT"
INHIBIT_DEFAULT_DEPS = "1"
DEPENDS = "gen-table-native pack-native virtual/fmt"
do_compile() {
    gen-table ${MACHINE_FEATURES} > table.txt
    pack table.txt >> table.txt
}
do_install() {
    install -d ${D}${datadir}/gentable
    install -m 0644 table.txt ${D}${datadir}/gentable/table.txt
}
