SUMMARY = "A configuration extension that adds greet's configuration to some-core-image"
DESCRIPTION = "Built against the package database of some-core-image: it holds /etc/greet/greet.conf \
and its extension-release file, nothing else."

inherit image-confext

IMAGE_BASE_PKGDB = "some-core-image"
IMAGE_INSTALL = "greet-conf"
