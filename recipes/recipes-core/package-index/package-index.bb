SUMMARY = "Writes the Packages index of the Debian package feed"
DESCRIPTION = "layerbuild package-index indexes everything in DEPLOY_DIR_DEB, as OE's recipe of the \
same name does for its feeds."
LICENSE = "MIT"

inherit nopackages

python do_package_index() {
    import os
    from layerbuild.packaging.index import write_index
    feed = d.getVar("DEPLOY_DIR_DEB")
    os.makedirs(feed, exist_ok=True)
    bb.note("wrote %s" % write_index(feed))
}
do_package_index[nostamp] = "1"
addtask package_index before do_build
