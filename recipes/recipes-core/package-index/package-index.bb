SUMMARY = "Writes the Packages index of the Debian package feed"
DESCRIPTION = "layerbuild package-index indexes everything in DEPLOY_DIR_DEB, as OE's recipe of the \
same name does for its feeds."
LICENSE = "MIT"

inherit nopackages

python do_package_index() {
    run_builtin("package_index", d)
}
do_package_index[nostamp] = "1"
addtask package_index before do_build
