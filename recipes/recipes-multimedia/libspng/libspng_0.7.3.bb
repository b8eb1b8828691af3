SUMMARY = "Simple, modern libpng alternative"
DESCRIPTION = "libspng is a C library for reading and writing PNG images, \
with an API focused on simplicity and security."
HOMEPAGE = "https://libspng.org/"
SECTION = "libs"
# spng.c carries filter code derived from libpng, under libpng's licence
LICENSE = "BSD-2-Clause & libpng-2.0"
LIC_FILES_CHKSUM = "file://LICENSE;md5=a382479500cef6f07bc21dcd2bf564fb \
                    file://spng/spng.c;beginline=1;endline=1;md5=eecff4866f2db5c268ee3e5661aff7f2 \
                    file://spng/spng.c;beginline=6147;endline=6179;md5=07706e818aa326bb78781b0e8558783c"

SRC_URI = "${DEBIAN_MIRROR}/main/libs/libspng/libspng_${PV}.orig.tar.gz"
SRC_URI[sha256sum] = "a50cadbe808ffda1a7fab17d145f52a23b163f34b3eb3696c7ecb5a52340fc1d"

# zlib through its pkg-config file in the recipe sysroot
DEPENDS = "zlib"

inherit meson pkgconfig

# the example program is not installed; the test suite needs libpng and is not built without dev_build
EXTRA_OEMESON = "-Dbuild_examples=false"

PACKAGECONFIG ??= "opt"
PACKAGECONFIG[opt] = "-Denable_opt=true,-Denable_opt=false"
