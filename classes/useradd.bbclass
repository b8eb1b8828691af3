# useradd: users and groups a package needs, with OE's names and meaning (docs/classes.md).
#
# USERADD_PACKAGES names the packages; USERADD_PARAM:<pkg>, GROUPADD_PARAM:<pkg> and GROUPMEMS_PARAM:<pkg>
# hold the arguments of useradd, groupadd and groupmems (several commands separated by ';'). do_package
# writes them as ${nonarch_libdir}/sysusers.d/useradd-<pkg>.conf in the package: a base image creates the
# users and groups in its /etc/passwd, /etc/group, /etc/shadow and /etc/gshadow when it makes its root,
# with the numbers systemd-sysusers would choose; a system extension, which cannot change /etc/passwd,
# ships the file and systemd-sysusers creates them on the device.

USERADD_PACKAGES ??= ""
# recipes whose users or groups this one needs at build time, as in OE
USERADD_DEPENDS ??= ""
DEPENDS += "${USERADD_DEPENDS}"
USERADD_PACKAGES:class-native = ""
USERADD_PACKAGES:class-nativesdk = ""

# as OE's update_useradd_after_parse: each package says what to create
python useradd_anon() {
    packages = (d.getVar("USERADD_PACKAGES") or "").split()
    if bb.data.inherits_class("native", d) or bb.data.inherits_class("nativesdk", d):
        return
    # a recipe may inherit useradd only to depend on another's users (USERADD_DEPENDS)
    if not packages and not d.getVar("USERADD_DEPENDS"):
        raise bb.parse.ParseError("%s inherits useradd but doesn't set USERADD_PACKAGES" % d.getVar("PN"),
                                  d.getVar("FILE"), 0)
    for pkg in packages:
        params = [d.getVar("%s:%s" % (var, pkg))
                  for var in ("USERADD_PARAM", "GROUPADD_PARAM", "USERMOD_PARAM", "GROUPMEMS_PARAM")]
        if not any(params):
            where = d.location("USERADD_PACKAGES")
            raise bb.parse.ParseError("%s inherits useradd but doesn't set USERADD_PARAM, GROUPADD_PARAM, "
                                      "USERMOD_PARAM or GROUPMEMS_PARAM for package %s" % (d.getVar("PN"), pkg),
                                      where.path if where else d.getVar("FILE"), where.line if where else 0)
        d.prependVar("FILES:" + pkg, "${nonarch_libdir}/sysusers.d/useradd-%s.conf " % pkg)
}

python __anonymous() {
    bb.build.exec_func("useradd_anon", d)
}
