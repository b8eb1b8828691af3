# base: inherited by every recipe (and by the configuration). It defines the standard task chain
# and the default implementations a plain Makefile project needs; the classes it inherits fill in
# fetching, sysroots, packaging, Debian package writing, the clean tasks and licences.

inherit logging fetcher staging package package_deb utility-tasks license

# Every target recipe builds against the C library, except the C library itself and allarch recipes.
BASEDEPENDS = "${@'' if d.getVar('INHIBIT_DEFAULT_DEPS') == '1' else 'virtual/libc'}"
DEPENDS:prepend = "${BASEDEPENDS} "

addtask fetch
addtask unpack after do_fetch
addtask patch after do_unpack
addtask configure after do_patch
addtask compile after do_configure
addtask install after do_compile
addtask build after do_populate_sysroot do_package_write_deb

do_build[noexec] = "1"
do_build[recrdeptask] += "do_deploy"

oe_runmake() {
    ${MAKE} ${PARALLEL_MAKE} ${EXTRA_OEMAKE} "$@" || die "oe_runmake failed"
}

base_do_configure() {
    :
}

base_do_compile() {
    if [ -e Makefile -o -e makefile -o -e GNUmakefile ]; then
        oe_runmake
    else
        bbnote "nothing to compile"
    fi
}

base_do_install() {
    :
}

EXPORT_FUNCTIONS do_configure do_compile do_install

do_configure[dirs] = "${B}"
do_compile[dirs] = "${B}"
do_install[dirs] = "${B}"
do_install[cleandirs] = "${D}"

# The configuration must name a machine: everything machine-specific (MACHINE_ARCH, the deploy
# directory, the package architecture) follows from it.
addhandler base_sanity_check
base_sanity_check[eventmask] = "bb.event.ConfigParsed"
python base_sanity_check() {
    if not d.getVar("MACHINE"):
        bb.fatal("MACHINE is not set. Please set a valid MACHINE in your local.conf (%s/conf/local.conf), "
                 "for example MACHINE = \"genericx86-64\"" % d.getVar("TOPDIR"))
    # OE's sanity check: a DISTRO no layer has a conf file for builds with the nodistro defaults
    distro = d.getVar("DISTRO")
    if distro and distro != "nodistro" and not bb.utils.which(d.getVar("BBPATH"), "conf/distro/%s.conf" % distro):
        where = d.location("DISTRO")
        bb.warn("%sDISTRO '%s' not found: no layer has conf/distro/%s.conf; building with the nodistro "
                "defaults (os-release ID=%s, VERSION_ID=%s)"
                % ("%s: " % where if where else "", distro, distro, d.getVar("DISTRO_ID"), d.getVar("DISTRO_VERSION")))
}
