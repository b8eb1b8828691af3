# image-confext: a systemd configuration extension (confext), ${DEPLOY_DIR_IMAGE}/${EXTENSION_NAME}.raw.
#
# Like image-sysext, but the payload is /etc only, with etc/extension-release.d/extension-release.NAME
# (ID and VERSION_ID, or CONFEXT_LEVEL, from the base's recorded os-release when IMAGE_BASE_PKGDB
# names the base image). systemd 254 and later merge it with `systemd-confext merge`; layerbuild-boot
# merges it the same way (a read-only overlay on /etc). See docs/images.md.

IMAGE_FSTYPES ?= "squashfs"
EXTENSION_NAME ?= "${IMAGE_BASENAME}"
EXTENSION_KIND = "confext"
IMAGE_BASE_PKGDB ?= ""
IMAGE_BASE_PKGDB_FILE ?= "${DEPLOY_DIR_IMAGE}/${IMAGE_BASE_PKGDB}-${MACHINE}-pkgdb.rootfs.tar.zst"
# with a base, ID and VERSION_ID (or CONFEXT_LEVEL) come from the base's os-release
CONFEXT_ID ?= ""
CONFEXT_VERSION_ID ?= ""
CONFEXT_LEVEL ?= ""
CONFEXT_SCOPE ?= ""
CONFEXT_ALLOW_UPGRADE ?= ""
CONFEXT_SHADOW ?= "warn"
# a confext that would ship nothing but its extension-release file is an error unless this is "1"
CONFEXT_ALLOW_EMPTY ?= ""
SYSEXT_ALLOW_UPGRADE = "${CONFEXT_ALLOW_UPGRADE}"
EXTENSION_RELOAD_MANAGER ?= ""
EXTENSION_ALL_ROOT ?= "1"
IMAGE_RAW_FILE = "${EXTENSION_NAME}.raw"
IMAGE_RAW_KIND = "configuration extension"

TESTIMAGE_KIND = "confext"
TEST_SUITES ?= "basic confext"

inherit image

# testimage boots the base image with the extension merged
do_testimage[depends] += "${@'%s:do_image_complete' % d.getVar('IMAGE_BASE_PKGDB') if d.getVar('IMAGE_BASE_PKGDB') else ''}"

do_rootfs[depends] += "${@'%s:do_pkgdbfs' % d.getVar('IMAGE_BASE_PKGDB') if d.getVar('IMAGE_BASE_PKGDB') else ''}"
do_rootfs[depends-hint] = 'IMAGE_BASE_PKGDB must name an image recipe that sets IMAGE_GEN_PKGDBFS = "1"'
do_build[depends] += "${@'%s:do_build' % d.getVar('IMAGE_BASE_PKGDB') if d.getVar('IMAGE_BASE_PKGDB') else ''}"
do_rootfs[vardeps] += "IMAGE_BASE_PKGDB EXTENSION_NAME CONFEXT_ID CONFEXT_VERSION_ID CONFEXT_LEVEL CONFEXT_SCOPE \
    EXTENSION_RELOAD_MANAGER CONFEXT_ALLOW_UPGRADE CONFEXT_SHADOW EXTENSION_ALL_ROOT SYSTEMD_ARCHITECTURE \
    CONFEXT_ALLOW_EMPTY"

python do_rootfs() {
    run_builtin("extension_rootfs", d)
    for func in (d.getVar("ROOTFS_POSTPROCESS_COMMAND") or "").replace(";", " ").split():
        bb.build.exec_func(func, d)
    run_builtin("extension_check", d)
}

BUILD_SUMMARY = "Configuration extension: ${DEPLOY_DIR_IMAGE}/${EXTENSION_NAME}.raw\n\
Deploy it on a device running ${@d.getVar('IMAGE_BASE_PKGDB') or 'a matching OS'}: copy it to /var/lib/confexts/ \
(or /run/confexts/), then run 'systemd-confext merge' (systemd 254 or later)."
