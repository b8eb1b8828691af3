# Debian packages: do_package_write_deb writes ${DEPLOY_DIR_DEB}/${PACKAGE_ARCH}/NAME_VERSION_ARCH.deb
# for every package that has content (or ALLOW_EMPTY:<pkg> = "1").

python do_package_write_deb() {
    run_builtin("package_write_deb", d)
}
do_package_write_deb[cleandirs] = "${WORKDIR}/deploy-debs"
do_package_write_deb[sstate-inputdirs] = "${WORKDIR}/deploy-debs"
do_package_write_deb[sstate-outputdirs] = "${DEPLOY_DIR_DEB}"
do_package_write_deb[vardeps] += "MAINTAINER SOURCE_DATE_EPOCH DPKG_ARCH"
SSTATETASKS += "do_package_write_deb"
addtask package_write_deb after do_package

# as in OE: building a recipe writes the packages of its whole runtime closure, not only its own
do_build[recrdeptask] += "do_package_write_deb"
