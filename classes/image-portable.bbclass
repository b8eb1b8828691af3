# image-portable: a portable service image (systemd's PORTABLE_SERVICES), the read-only squashfs
# ${DEPLOY_DIR_IMAGE}/${PORTABLE_NAME}_${PV}.raw that `portablectl attach` takes.
#
# The service's packages are installed with their whole closure (the C runtime comes in through the
# shared-library dependencies); the units in PORTABLE_UNITS are shipped in usr/lib/systemd/system,
# each named with the image's prefix; usr/lib/os-release, the empty /etc/resolv.conf and
# /etc/machine-id, the mount points and the merged-usr links are made as the spec asks, and every
# requirement is checked at build time. The variables follow nixpkgs' portableService; see
# docs/portable.md.

PORTABLE_NAME ?= "${PN}"
# units to ship: NAME (from the installed packages), SOURCE:NAME (renamed) or file://FILE[:NAME]
PORTABLE_UNITS ?= ""
# extra links in the image, target:linkname (/usr/bin/busybox:/bin/sh)
PORTABLE_SYMLINKS ?= ""
# extra packages, installed as they are
PORTABLE_CONTENTS ?= ""
PORTABLE_SQUASHFS_COMP ?= "xz"
PORTABLE_SQUASHFS_BLOCK_SIZE ?= "1048576"
PORTABLE_OS_ID ?= "${DISTRO_ID}"

PACKAGE_INSTALL = "${IMAGE_INSTALL} ${PORTABLE_CONTENTS} ${FEATURE_INSTALL}"
IMAGE_FSTYPES = "${@ {'xz': 'squashfs-xz', 'gzip': 'squashfs-gz', 'gz': 'squashfs-gz', 'zstd': 'squashfs-zst'}.get(d.getVar('PORTABLE_SQUASHFS_COMP'), 'squashfs-' + d.getVar('PORTABLE_SQUASHFS_COMP'))}"
IMAGE_SQUASHFS_BLOCK_SIZE = "${PORTABLE_SQUASHFS_BLOCK_SIZE}"
IMAGE_RAW_FILE = "${PORTABLE_NAME}_${PV}.raw"
IMAGE_RAW_KIND = "portable service"

TESTIMAGE_KIND = "portable"
TEST_SUITES ?= "portable"

inherit image

# portablectl attach enables a portable service's units on the host, not inside the image
ROOTFS_POSTPROCESS_COMMAND:remove = "systemd_preset_all;"

do_rootfs[vardeps] += "PORTABLE_NAME PORTABLE_UNITS PORTABLE_SYMLINKS PORTABLE_CONTENTS PORTABLE_OS_ID SUMMARY HOMEPAGE DISTRO_VERSION"
# a file:// unit's content is an input of the image, found where a file:// SRC_URI entry would be
do_rootfs[file-checksums] += "${@portable_unit_checksums(d)}"

def portable_unit_checksums(d):
    urls = ["file://" + word[len("file://"):].split(":")[0]
            for word in (d.getVar("PORTABLE_UNITS") or "").split() if word.startswith("file://")]
    return bb.fetch2.Fetch(urls, d, localonly=True).checksum_file_list() if urls else ""
do_image_complete[vardeps] += "PORTABLE_SQUASHFS_COMP PORTABLE_SQUASHFS_BLOCK_SIZE"

python do_rootfs() {
    run_builtin("portable_rootfs", d)
    for func in (d.getVar("ROOTFS_POSTPROCESS_COMMAND") or "").replace(";", " ").split():
        bb.build.exec_func(func, d)
}

BUILD_SUMMARY = "Portable service image: ${DEPLOY_DIR_IMAGE}/${PORTABLE_NAME}_${PV}.raw\n\
Deploy it: copy it to /var/lib/portables/, run 'portablectl attach ${PORTABLE_NAME}_${PV}.raw', then \
'systemctl enable --now ${@(d.getVar('PORTABLE_UNITS') or '').split()[0].split(':')[-1] if d.getVar('PORTABLE_UNITS') else d.getVar('PORTABLE_NAME') + '.service'}'."
