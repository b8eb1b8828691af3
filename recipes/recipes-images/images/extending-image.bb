SUMMARY = "A systemd system extension that adds greet to some-core-image"
DESCRIPTION = "Built against the package database of some-core-image: it holds greet and \
libgreet, and nothing the base already has (not the C runtime)."

inherit image-sysext

IMAGE_FSTYPES = "squashfs"
IMAGE_BASE_PKGDB = "some-core-image"
IMAGE_INSTALL = "greet"
