# create-spdx-image: an image's SPDX 3.0.1 document, ${IMAGE_NAME}.spdx.json, deployed with the image and
# linked as ${IMAGE_LINK_NAME}.spdx.json (create-spdx.bbclass adds it to IMAGE_CLASSES; docs/sbom.md).
# An extension's document holds what it ships and refers to its base's, IMAGE_BASE_SPDX.

IMAGE_BASE_SPDX ?= "${DEPLOY_DIR_IMAGE}/${IMAGE_BASE_PKGDB}-${MACHINE}.spdx.json"

python do_create_image_sbom_spdx() {
    run_builtin("image_sbom", d)
}
# every recipe whose packages the image may install has its record
do_create_image_sbom_spdx[recrdeptask] += "do_create_spdx do_package_write_deb"
# an extension's base deploys its document first
do_create_image_sbom_spdx[depends] += "${@'%s:do_image_complete' % d.getVar('IMAGE_BASE_PKGDB') if d.getVar('IMAGE_BASE_PKGDB') else ''}"
addtask create_image_sbom_spdx after do_rootfs before do_image_complete
