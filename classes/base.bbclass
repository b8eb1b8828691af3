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

# PACKAGECONFIG, as OE's base.bbclass reads it: each option is a flag
#   PACKAGECONFIG[foo] = "--enable-foo,--disable-foo,build-deps,runtime-deps,runtime-recommends,conflicts"
# and the words of PACKAGECONFIG turn options on. An enabled option adds its first field to
# PACKAGECONFIG_CONFARGS (a disabled one its second), its build dependencies to DEPENDS and its runtime
# ones to RDEPENDS:${PN} and RRECOMMENDS:${PN}. PACKAGECONFIG_CONFARGS is what autotools, cmake and meson
# pass to the project's configuration.
PACKAGECONFIG_CONFARGS ??= ""

python packageconfig_anon() {
    flags = d.getVarFlags("PACKAGECONFIG") or {}
    flags = dict((k, v) for k, v in flags.items() if not k.startswith("_") and k not in ("doc", "vardeps", "vardepsexclude"))
    if not flags:
        return
    enabled = (d.getVar("PACKAGECONFIG") or "").split()
    deps, rdeps, rrecs, confargs = [], [], [], []
    for flag, value in sorted(flags.items()):
        items = (value or "").split(",")
        if len(items) > 6:
            loc = d.flag_location("PACKAGECONFIG", flag) or d.location("PACKAGECONFIG")
            raise bb.parse.ParseError("PACKAGECONFIG[%s] has %d fields; only enable,disable,depends,rdepends,"
                                      "rrecommends,conflicts can be given" % (flag, len(items)),
                                      loc.path if loc else d.getVar("FILE"), loc.line if loc else 0)
        items += [""] * (6 - len(items))
        if flag in enabled:
            for found, field in ((deps, 2), (rdeps, 3), (rrecs, 4), (confargs, 0)):
                if items[field].strip():
                    found.append(items[field].strip())
            conflicts = set(items[5].split()) & set(enabled)
            if conflicts:
                loc = d.flag_location("PACKAGECONFIG", flag) or d.location("PACKAGECONFIG")
                raise bb.parse.ParseError("PACKAGECONFIG[%s] conflicts with %s, which PACKAGECONFIG enables too"
                                          % (flag, " ".join(sorted(conflicts))),
                                          loc.path if loc else d.getVar("FILE"), loc.line if loc else 0)
        elif items[1].strip():
            confargs.append(items[1].strip())
    for var, found in (("DEPENDS", deps), ("RDEPENDS:${PN}", rdeps), ("RRECOMMENDS:${PN}", rrecs),
                       ("PACKAGECONFIG_CONFARGS", confargs)):
        if found:
            d.appendVar(d.expand(var), " " + " ".join(found))
}

# an option PACKAGECONFIG names that the recipe does not have is an error when the recipe is configured
# (OE's invalid-packageconfig check), at the line that set PACKAGECONFIG
python packageconfig_check() {
    flags = d.getVarFlags("PACKAGECONFIG") or {}
    unknown = sorted(set((d.getVar("PACKAGECONFIG") or "").split()) - set(flags))
    if unknown:
        known = sorted(k for k in flags if not k.startswith("_") and k not in ("doc", "vardeps", "vardepsexclude"))
        loc = d.location("PACKAGECONFIG")
        raise bb.parse.ParseError("%s: invalid PACKAGECONFIG(s): %s (the recipe's options: %s)"
                                  % (d.getVar("PN"), " ".join(unknown), " ".join(known) or "none"),
                                  loc.path if loc else d.getVar("FILE"), loc.line if loc else 0)
}
do_configure[prefuncs] += "packageconfig_check"

python __anonymous() {
    bb.build.exec_func("packageconfig_anon", d)
}

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
