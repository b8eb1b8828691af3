SUMMARY = "A lightweight SSH and SCP implementation"
HOMEPAGE = "http://matt.ucc.asn.au/dropbear/dropbear.html"
DESCRIPTION = "Dropbear is a relatively small SSH server and client. It runs on a variety of \
POSIX-based platforms. Dropbear is open source software, distributed under a MIT-style license. \
Dropbear is particularly useful for embedded-type Linux (or other Unix) systems, such as wireless routers."
SECTION = "console/network"

# some files are from other projects and have other licence terms: public domain, OpenSSH 3.5p1,
# OpenSSH 3.6.1p2, PuTTY; the bundled libtomcrypt and libtommath are public domain
LICENSE = "MIT & BSD-3-Clause & BSD-2-Clause & PD"
LIC_FILES_CHKSUM = "file://LICENSE;md5=25cf44512b7bc8966a48b6b1a9b7605f \
                    file://libtomcrypt/LICENSE;md5=71baacc459522324ef3e2b9e052e8180 \
                    file://libtommath/LICENSE;md5=23e7e0a32e53a2b1d35f5fd9ef053402"

DEPENDS = "zlib"
RPROVIDES:${PN} = "ssh sshd"

# Debian's copy of the upstream release tarball
SRC_URI = "${DEBIAN_MIRROR}/main/d/dropbear/dropbear_${PV}.orig.tar.bz2 \
           file://dropbear.socket \
           file://dropbear@.service \
           file://dropbear.service"
SRC_URI[sha256sum] = "bc5a121ffbc94b5171ad5ebe01be42746d50aa797c9549a4639894a16749443b"

inherit autotools systemd

# as in OE: the server starts on the first connection to port 22, one process per connection
SYSTEMD_SERVICE:${PN} = "dropbear.socket"

SBINCOMMANDS = "dropbear dropbearkey dropbearconvert"
BINCOMMANDS = "dbclient"
EXTRA_OEMAKE = 'MULTI=1 SCPPROGRESS=1 PROGRAMS="${SBINCOMMANDS} ${BINCOMMANDS}"'

PACKAGECONFIG ??= "zlib"
PACKAGECONFIG[zlib] = ",--disable-zlib,zlib"

# there is no recipe for libcrypt (virtual/crypt) yet: the server authenticates with public keys only
do_configure:append() {
    echo "/* Dropbear features */" > ${B}/localoptions.h
    echo "#define DROPBEAR_SVR_PASSWORD_AUTH 0" >> ${B}/localoptions.h
}

do_install() {
    install -d ${D}${sbindir} ${D}${bindir}
    install -m 0755 dropbearmulti ${D}${sbindir}/
    for i in ${BINCOMMANDS}; do
        ln -s ${sbindir}/dropbearmulti ${D}${bindir}/$i
    done
    for i in ${SBINCOMMANDS}; do
        ln -s ./dropbearmulti ${D}${sbindir}/$i
    done
    install -d ${D}${systemd_system_unitdir}
    for unit in dropbear.socket dropbear@.service dropbear.service; do
        sed -e 's,@SBINDIR@,${sbindir},g' ${UNPACKDIR}/$unit > ${D}${systemd_system_unitdir}/$unit
        chmod 0644 ${D}${systemd_system_unitdir}/$unit
    done
}
