SUMMARY = "A JSON implementation in C"
DESCRIPTION = "JSON-C implements a reference counting object model that allows \
you to easily construct JSON objects in C, output them as JSON formatted strings \
and parse JSON formatted strings back into the C representation of JSON objects."
HOMEPAGE = "https://github.com/json-c/json-c/wiki"
SECTION = "libs"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://COPYING;md5=de54b60fbbc35123ba193fea8ee216f2"

# Debian's copy of the upstream release tarball (a GitHub tag archive: its directory carries the tag's date)
SRC_URI = "${DEBIAN_MIRROR}/main/j/json-c/json-c_${PV}.orig.tar.gz"
SRC_URI[sha256sum] = "3ecaeedffd99a60b1262819f9e60d7d983844073abc74e495cb822b251904185"
S = "${UNPACKDIR}/json-c-json-c-${PV}-20220414"

RPROVIDES:${PN} = "libjson"

# the test programs are ptest material, which layerbuild does not package
EXTRA_OECMAKE = "-DDISABLE_WERROR=ON -DBUILD_TESTING=OFF"

inherit cmake
