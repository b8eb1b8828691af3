# systemd: a recipe's systemd units, packaged and enabled with OE's names and meaning (docs/classes.md).
#
# SYSTEMD_PACKAGES (default ${PN}) are the packages that ship units; SYSTEMD_SERVICE:<pkg> names each one's
# units (foo@bar.service by its template foo@.service), installed under ${systemd_system_unitdir} (or
# ${sysconfdir}/systemd/system). do_package fails naming a unit that is not installed, puts the units in
# their package, and writes ${systemd_unitdir}/system-preset/98-<pkg>.preset from SYSTEMD_AUTO_ENABLE
# (enable or disable; SYSTEMD_AUTO_ENABLE:<pkg> for one package). Images enable what the presets enable
# when they make their root (image.bbclass's systemd_preset_all): links in /etc/systemd/system for an
# image, beside the units in /usr for a system extension, which then asks systemd to reload
# (EXTENSION_RELOAD_MANAGER=1). Without "systemd" in DISTRO_FEATURES the units are packaged but no presets
# are written. As OE's current class, no runtime dependency is added: enabling needs no systemctl.

SYSTEMD_PACKAGES ?= "${PN}"
SYSTEMD_PACKAGES:class-native ?= ""
SYSTEMD_PACKAGES:class-nativesdk ?= ""
SYSTEMD_AUTO_ENABLE ??= "enable"

# the units (and the preset) go to the package that names them, whatever its place in PACKAGES
python systemd_files_anon() {
    if not bb.utils.contains('DISTRO_FEATURES', 'systemd', True, False, d):
        d.setVar("SYSTEMD_PACKAGES", "")
        return
    dirs = ["${sysconfdir}/systemd/system", "${systemd_system_unitdir}"]
    for pkg in (d.getVar("SYSTEMD_PACKAGES") or "").split():
        files = []
        for unit in (d.getVar("SYSTEMD_SERVICE:" + pkg) or "").split():
            names = [unit]
            prefix, at, rest = unit.partition("@")
            if at and not rest.startswith(".") and "." in rest:
                names.append(prefix + "@" + rest[rest.rfind("."):])
            files.extend("%s/%s" % (directory, name) for directory in dirs for name in names)
        if files:
            files.append("${systemd_unitdir}/system-preset/98-%s.preset" % pkg)
            d.prependVar("FILES:" + pkg, " ".join(files) + " ")
}

python __anonymous() {
    bb.build.exec_func("systemd_files_anon", d)
}
