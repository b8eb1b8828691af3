# buildhistory: each image build records what it installed under ${BUILDHISTORY_DIR}, a git repository
# with one commit per build (docs/buildhistory.md); layerbuild-buildhistory-diff says what changed.
#
# As OE's buildhistory.bbclass for images: do_image writes the image's record into
# ${BUILDHISTORY_DIR_IMAGE} (installed-package-names.txt, installed-package-sizes.txt,
# installed-package-info.txt, installed-packages.txt, depends.dot, files-in-image.txt, image-info.txt),
# and the build commits the directory when it ends.

BUILDHISTORY_FEATURES ?= "image"
BUILDHISTORY_DIR ?= "${TOPDIR}/buildhistory"
TCLIBC ??= "glibc"
BUILDHISTORY_DIR_IMAGE = "${BUILDHISTORY_DIR}/images/${MACHINE_ARCH}/${TCLIBC}/${IMAGE_BASENAME}"
BUILDHISTORY_COMMIT ?= "1"
BUILDHISTORY_COMMIT_AUTHOR ?= "buildhistory <buildhistory@${DISTRO}>"

python buildhistory_image() {
    if bb.utils.contains("BUILDHISTORY_FEATURES", "image", True, False, d):
        run_builtin("buildhistory_image", d)
}
IMAGE_PREPROCESS_COMMAND:append = " buildhistory_image;"
