# image-sysext: a systemd system extension (sysext), ${DEPLOY_DIR_IMAGE}/${EXTENSION_NAME}.raw.
#
# With IMAGE_BASE_PKGDB = "<base image recipe>" the extension is installed against the base's
# package-database snapshot (the base sets IMAGE_GEN_PKGDBFS = "1"): packages the base has are not
# installed again, so the extension holds only what the base lacks, and its extension-release file
# comes from the base's recorded os-release. Without it the extension is standalone (all
# dependencies, ID from SYSEXT_ID). Only /usr and /opt ship; see docs/images.md.

IMAGE_FSTYPES ?= "squashfs"
EXTENSION_NAME ?= "${IMAGE_BASENAME}"
EXTENSION_KIND = "sysext"
IMAGE_BASE_PKGDB ?= ""
IMAGE_BASE_PKGDB_FILE ?= "${DEPLOY_DIR_IMAGE}/${IMAGE_BASE_PKGDB}-${MACHINE}-pkgdb.rootfs.tar.zst"
# with a base, ID and VERSION_ID (or SYSEXT_LEVEL) come from the base's os-release; set these only
# for a standalone extension (SYSEXT_ID = "_any" matches every OS)
SYSEXT_ID ?= ""
SYSEXT_VERSION_ID ?= ""
SYSEXT_LEVEL ?= ""
SYSEXT_SCOPE ?= ""
EXTENSION_RELOAD_MANAGER ?= ""
SYSEXT_ALLOW_UPGRADE ?= ""
SYSEXT_SHADOW ?= "warn"
SYSEXT_ETC_TO_USR_SHARE ?= "0"
# an extension that would ship nothing but its extension-release file is an error unless this is "1"
SYSEXT_ALLOW_EMPTY ?= ""
EXTENSION_ALL_ROOT ?= "1"

IMAGE_RAW_FILE = "${EXTENSION_NAME}.raw"
IMAGE_RAW_KIND = "system extension"

TESTIMAGE_KIND = "sysext"
TEST_SUITES ?= "basic sysext"

inherit image

# testimage boots the base image with the extension merged
do_testimage[depends] += "${@'%s:do_image_complete' % d.getVar('IMAGE_BASE_PKGDB') if d.getVar('IMAGE_BASE_PKGDB') else ''}"

BUILD_SUMMARY = "System extension: ${DEPLOY_DIR_IMAGE}/${EXTENSION_NAME}.raw\n\
Deploy it on a device running ${@d.getVar('IMAGE_BASE_PKGDB') or 'a matching OS'}: copy it to /var/lib/extensions/ \
(or /run/extensions/), then run 'systemd-sysext merge' and check with 'systemd-sysext list'."

# the base's snapshot comes first (the base image is built, or restored, when needed)
do_rootfs[depends] += "${@'%s:do_pkgdbfs' % d.getVar('IMAGE_BASE_PKGDB') if d.getVar('IMAGE_BASE_PKGDB') else ''}"
do_rootfs[depends-hint] = 'IMAGE_BASE_PKGDB must name an image recipe that sets IMAGE_GEN_PKGDBFS = "1"'
# and building the extension builds the base image too: the two are deployed together
do_build[depends] += "${@'%s:do_build' % d.getVar('IMAGE_BASE_PKGDB') if d.getVar('IMAGE_BASE_PKGDB') else ''}"
do_rootfs[vardeps] += "IMAGE_BASE_PKGDB EXTENSION_NAME SYSEXT_ID SYSEXT_VERSION_ID SYSEXT_LEVEL SYSEXT_SCOPE \
    EXTENSION_RELOAD_MANAGER SYSEXT_ALLOW_UPGRADE SYSEXT_SHADOW SYSEXT_ETC_TO_USR_SHARE EXTENSION_ALL_ROOT \
    SYSTEMD_ARCHITECTURE SYSEXT_ALLOW_EMPTY"

python do_rootfs() {
    run_builtin("extension_rootfs", d)
    for func in (d.getVar("ROOTFS_POSTPROCESS_COMMAND") or "").replace(";", " ").split():
        bb.build.exec_func(func, d)
    run_builtin("extension_check", d)
}
