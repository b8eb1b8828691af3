# Packaging: do_package strips ELF files (debug info to ${PN}-dbg), splits ${D} into PACKAGES by
# FILES:<pkg>, adds runtime dependencies on the packages that provide the shared libraries each
# package's ELF files need, and keeps the result as pkgdata in ${PKGDATA_DIR}.

PACKAGES = "${PN}-dbg ${PN}-staticdev ${PN}-dev ${PN}-doc ${PN}-locale ${PN}"

SOLIBS = ".so.*"
SOLIBSDEV = ".so"
FILES_SOLIBSDEV ?= "${base_libdir}/lib*${SOLIBSDEV} ${libdir}/lib*${SOLIBSDEV}"

FILES:${PN} = "${bindir}/* ${sbindir}/* ${libexecdir}/* ${libdir}/lib*${SOLIBS} \
    ${sysconfdir} ${sharedstatedir} ${localstatedir} \
    ${base_bindir}/* ${base_sbindir}/* ${base_libdir}/*${SOLIBS} \
    ${datadir}/${BPN} ${libdir}/${BPN}/* \
    ${systemd_system_unitdir} ${systemd_user_unitdir} ${nonarch_libdir}/tmpfiles.d ${nonarch_libdir}/sysusers.d \
    ${datadir}/dbus-1"
FILES:${PN}-dev = "${includedir} ${FILES_SOLIBSDEV} ${libdir}/*.la ${libdir}/*.o ${libdir}/pkgconfig \
    ${datadir}/pkgconfig ${datadir}/aclocal ${base_libdir}/*.o ${libdir}/cmake ${datadir}/cmake"
FILES:${PN}-staticdev = "${libdir}/*.a ${base_libdir}/*.a ${libdir}/${BPN}/*.a"
FILES:${PN}-doc = "${docdir} ${mandir} ${infodir} ${datadir}/gtk-doc ${datadir}/gnome/help"
FILES:${PN}-locale = "${datadir}/locale"
FILES:${PN}-dbg = "/usr/lib/debug /usr/src/debug"

EXTENDPKGV = "${EXTENDPE}${PKGV}-${PKGR}"
RDEPENDS:${PN}-dev = "${PN} (= ${EXTENDPKGV})"
RDEPENDS:${PN}-staticdev = "${PN}-dev (= ${EXTENDPKGV})"

python do_package() {
    run_builtin("package", d)
}
do_package[cleandirs] = "${PKGD} ${PKGDEST} ${WORKDIR}/pkgdata-out"
# shared libraries of the recipes this one builds against must be in pkgdata first
do_package[deptask] = "do_package"
do_package[sstate-inputdirs] = "${PKGDEST} ${WORKDIR}/pkgdata-out"
do_package[sstate-outputdirs] = "${PKGDEST} ${PKGDATA_DIR}"
do_package[vardeps] += "SHLIB_ALLOWLIST INHIBIT_PACKAGE_STRIP"
SSTATETASKS += "do_package"
addtask package after do_install
