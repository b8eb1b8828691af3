# Per-recipe sysroots. do_populate_sysroot publishes what other recipes build against (headers,
# libraries, pkg-config files); do_prepare_recipe_sysroot gathers the components of everything in
# DEPENDS, transitively, into ${RECIPE_SYSROOT} before do_configure.

SYSROOT_DIRS = "${includedir} ${libdir} ${base_libdir} ${nonarch_base_libdir} ${datadir}/pkgconfig"
COMPONENTS_DIR = "${STAGING_DIR}"

python do_populate_sysroot() {
    run_builtin("populate_sysroot", d)
}
do_populate_sysroot[cleandirs] = "${SYSROOT_DESTDIR}"
do_populate_sysroot[sstate-inputdirs] = "${SYSROOT_DESTDIR}"
do_populate_sysroot[sstate-outputdirs] = "${COMPONENTS_DIR}/${PN}"
SSTATETASKS += "do_populate_sysroot"
# Text files of a native recipe's component that may name the path it was built for (OE's sstate.bbclass,
# with the .pc and .cmake files its pkgconfig and cmake classes add): staging puts the path of the
# sysroot they land in there instead.
SSTATE_SCAN_FILES ?= "*.la *-config *_config *.pc *.cmake"
addtask populate_sysroot after do_install

python do_prepare_recipe_sysroot() {
    run_builtin("prepare_recipe_sysroot", d)
}
do_prepare_recipe_sysroot[recrdeptask] = "do_populate_sysroot"
# it may run while do_unpack empties the unpack directory (which holds ${B} in many recipes): it works
# in ${WORKDIR}, which nothing else removes
do_prepare_recipe_sysroot[dirs] = "${WORKDIR}"
addtask prepare_recipe_sysroot before do_configure after do_fetch
