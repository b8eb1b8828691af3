SUMMARY = "A small base image: base files, the C runtime, the init and hello"
DESCRIPTION = "The base image of the extension demo. It records its package database \
(IMAGE_GEN_PKGDBFS), so system extensions can be built that ship only what it lacks."

inherit core-image

IMAGE_INSTALL += "hello"
IMAGE_GEN_PKGDBFS = "1"

TEST_SUITES = "basic hello"
