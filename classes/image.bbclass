# image: a root file system assembled from the package feed, written as one or more image types.
#
# do_rootfs installs PACKAGE_INSTALL (IMAGE_INSTALL plus what IMAGE_FEATURES bring) from the .deb
# files in DEPLOY_DIR_DEB into IMAGE_ROOTFS with a dpkg database, runs the packages' postinst
# scripts offline, then ROOTFS_POSTPROCESS_COMMAND; do_image runs IMAGE_PREPROCESS_COMMAND; one
# do_image_<type> per IMAGE_FSTYPES entry writes ${IMAGE_NAME}${IMAGE_NAME_SUFFIX}.<type>; with
# IMAGE_GEN_PKGDBFS = "1", do_pkgdbfs writes the package-database snapshot extension images are
# built against; do_image_complete deploys everything to DEPLOY_DIR_IMAGE through the shared state,
# with ${IMAGE_LINK_NAME} links to the newest files.

inherit nopackages

LICENSE ?= "MIT"
PACKAGE_ARCH = "${MACHINE_ARCH}"

IMAGE_INSTALL ?= ""
IMAGE_FEATURES ?= ""
IMAGE_LINGUAS ?= ""
FEATURE_INSTALL ?= ""
PACKAGE_INSTALL ?= "${IMAGE_INSTALL} ${FEATURE_INSTALL}"
PACKAGE_EXCLUDE ?= ""
NO_RECOMMENDATIONS ?= ""
BAD_RECOMMENDATIONS ?= ""
# as in OE: the image's runtime dependencies are what it installs, so their packages are built first
RDEPENDS = "${PACKAGE_INSTALL}"

IMAGE_ROOTFS = "${WORKDIR}/rootfs"
IMAGE_BASENAME ?= "${PN}"
IMAGE_VERSION_SUFFIX ?= "-${DATETIME}"
IMAGE_VERSION_SUFFIX[vardepsexclude] += "DATETIME"
IMAGE_NAME ?= "${IMAGE_BASENAME}-${MACHINE}${IMAGE_VERSION_SUFFIX}"
IMAGE_LINK_NAME ?= "${IMAGE_BASENAME}-${MACHINE}"
IMAGE_NAME_SUFFIX ?= ".rootfs"
IMAGE_FSTYPES ?= "tar.zst"
IMAGE_MANIFEST = "${IMGDEPLOYDIR}/${IMAGE_NAME}.manifest"
IMAGE_LICENSE_MANIFEST = "${IMGDEPLOYDIR}/${IMAGE_NAME}.license.manifest"
IMGDEPLOYDIR = "${WORKDIR}/deploy-${PN}-image-complete"
IMAGE_GEN_PKGDBFS ?= "0"
PKGDBFS_DEPLOYDIR = "${WORKDIR}/deploy-${PN}-pkgdb"
ROOTFS_POSTPROCESS_COMMAND ?= ""
# as in OE: the units the packages' presets enable (the systemd class writes them) are enabled offline
ROOTFS_POSTPROCESS_COMMAND += "${@bb.utils.contains('DISTRO_FEATURES', 'systemd', 'systemd_preset_all;', '', d)}"
IMAGE_PREPROCESS_COMMAND ?= ""

# what each IMAGE_FEATURES entry installs or does (features without packages act in the hooks below)
FEATURE_PACKAGES_package-management ?= ""
IMAGE_FEATURES[validitems] = "read-only-rootfs empty-root-password package-management"

python image_features_anon() {
    wanted = (d.getVar("IMAGE_FEATURES") or "").split()
    valid = (d.getVarFlag("IMAGE_FEATURES", "validitems") or "").split()
    for feature in wanted:
        if feature not in valid and d.getVar("FEATURE_PACKAGES_" + feature) is None:
            bb.fatal("IMAGE_FEATURES: '%s' is not a known image feature (known: %s)" % (feature, " ".join(valid)))
        packages = d.getVar("FEATURE_PACKAGES_" + feature)
        if packages:
            d.appendVar("FEATURE_INSTALL", " " + packages)
    if "read-only-rootfs" in wanted:
        d.appendVar("ROOTFS_POSTPROCESS_COMMAND", " read_only_rootfs_hook;")
    if "empty-root-password" in wanted:
        d.appendVar("ROOTFS_POSTPROCESS_COMMAND", " empty_root_password_hook;")
}

# one do_image_<type> task per IMAGE_FSTYPES entry, each naming its type in [imagetype]
python image_types_anon() {
    for fstype in (d.getVar("IMAGE_FSTYPES") or "").split():
        task = "do_image_" + fstype.replace(".", "_").replace("-", "_")
        d.setVar(task, '    run_builtin("image", d)\n')
        d.setVarFlag(task, "func", 1)
        d.setVarFlag(task, "python", 1)
        d.setVarFlag(task, "imagetype", fstype)
        d.setVarFlag(task, "vardeps", "IMAGE_FSTYPES IMAGE_NAME_SUFFIX SOURCE_DATE_EPOCH")
        d.setVarFlag(task, "dirs", d.getVar("IMGDEPLOYDIR"))
        bb.build.addtask(task, "do_image_complete", "do_image", d)
    if d.getVar("IMAGE_GEN_PKGDBFS") != "1":
        bb.build.deltask("do_pkgdbfs", d)
}

python __anonymous() {
    bb.build.exec_func("image_features_anon", d)
    bb.build.exec_func("image_types_anon", d)
}

python do_rootfs() {
    run_builtin("rootfs", d)
    for func in (d.getVar("ROOTFS_POSTPROCESS_COMMAND") or "").replace(";", " ").split():
        bb.build.exec_func(func, d)
}
do_rootfs[cleandirs] = "${IMAGE_ROOTFS} ${IMGDEPLOYDIR}"
do_rootfs[dirs] = "${IMAGE_ROOTFS}"
# the packages of everything the image installs, built (or restored) first, with their licence texts
do_rootfs[recrdeptask] += "do_package_write_deb do_populate_lic"
do_rootfs[vardeps] += "PACKAGE_INSTALL PACKAGE_EXCLUDE NO_RECOMMENDATIONS BAD_RECOMMENDATIONS ROOTFS_POSTPROCESS_COMMAND DPKG_ARCH SOURCE_DATE_EPOCH"
addtask rootfs

python do_image() {
    for func in (d.getVar("IMAGE_PREPROCESS_COMMAND") or "").replace(";", " ").split():
        bb.build.exec_func(func, d)
}
do_image[dirs] = "${IMAGE_ROOTFS}"
addtask image after do_rootfs

python do_pkgdbfs() {
    run_builtin("pkgdbfs", d)
}
do_pkgdbfs[cleandirs] = "${PKGDBFS_DEPLOYDIR}"
do_pkgdbfs[sstate-inputdirs] = "${PKGDBFS_DEPLOYDIR}"
do_pkgdbfs[sstate-outputdirs] = "${DEPLOY_DIR_IMAGE}"
do_pkgdbfs[vardeps] += "SOURCE_DATE_EPOCH"
SSTATETASKS += "do_pkgdbfs"
addtask pkgdbfs after do_image before do_build

python do_image_complete() {
    run_builtin("image_complete", d)
}
do_image_complete[dirs] = "${IMGDEPLOYDIR}"
do_image_complete[sstate-inputdirs] = "${IMGDEPLOYDIR}"
do_image_complete[sstate-outputdirs] = "${DEPLOY_DIR_IMAGE}"
SSTATETASKS += "do_image_complete"
addtask image_complete after do_image before do_build

inherit testimage

# what the configuration adds to every image (create-spdx adds create-spdx-image), as OE's IMAGE_CLASSES
IMAGE_CLASSES ??= ""
inherit_defer ${IMAGE_CLASSES}

# IMAGE_FEATURES hooks (ROOTFS_POSTPROCESS_COMMAND functions, run in ${IMAGE_ROOTFS})
python systemd_preset_all() {
    run_builtin("systemd_preset_all", d)
}

python read_only_rootfs_hook() {
    run_builtin("read_only_rootfs", d)
}

python empty_root_password_hook() {
    run_builtin("empty_root_password", d)
}
