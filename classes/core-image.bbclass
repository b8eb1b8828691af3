# core-image: the base image of a device. It installs the base files, the C runtime and the init
# on top of IMAGE_INSTALL, as OE's core-image does with packagegroup-core-boot.

CORE_IMAGE_BASE_INSTALL ?= "base-files libc6 lb-init"
CORE_IMAGE_EXTRA_INSTALL ?= ""
IMAGE_INSTALL ?= "${CORE_IMAGE_BASE_INSTALL} ${CORE_IMAGE_EXTRA_INSTALL}"
IMAGE_FSTYPES ?= "tar.zst squashfs"

inherit image
