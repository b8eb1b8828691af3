# license: LICENSE and LIC_FILES_CHKSUM with OE's meaning (docs/classes.md).
#
# do_populate_lic checks every LIC_FILES_CHKSUM entry (file://PATH;md5=...;beginline=N;endline=M, PATH
# relative to ${S}) against the recipe's md5, and publishes the recipe's licence texts through the shared
# state to ${LICENSE_DIRECTORY}/${PN}/: the files LIC_FILES_CHKSUM names (their lines beginline..endline
# when given), generic_<LICENCE> for every licence of LICENSE found in COMMON_LICENSE_DIR or LICENSE_PATH,
# and recipeinfo. Images write a licence manifest beside themselves and refuse packages whose licences
# INCOMPATIBLE_LICENSE names; a recipe all of whose packages have such licences is skipped, as in OE.

LICENSE_DIRECTORY ??= "${DEPLOY_DIR}/licenses"
LICSSTATEDIR = "${WORKDIR}/license-destdir"
INCOMPATIBLE_LICENSE ??= ""
INCOMPATIBLE_LICENSE_EXCEPTIONS ??= ""

python do_populate_lic() {
    run_builtin("populate_lic", d)
}
do_populate_lic[cleandirs] = "${LICSSTATEDIR}"
do_populate_lic[dirs] = "${LICSSTATEDIR}"
do_populate_lic[sstate-inputdirs] = "${LICSSTATEDIR}"
do_populate_lic[sstate-outputdirs] = "${LICENSE_DIRECTORY}"
SSTATETASKS += "do_populate_lic"
addtask populate_lic after do_patch before do_build

def incompatible_license(d, dont_want_licenses, package=None):
    """The licences of ``package`` (of the recipe, without one) that ``dont_want_licenses`` refuses: each '|'
    decided for a side without refused licences, as OE's incompatible_pkg_license."""
    var = "LICENSE:%s" % package if package and d.getVar("LICENSE:%s" % package) else "LICENSE"
    license = d.getVar(var) or ""
    def choose(a, b):
        return a if all(oe.license.license_ok(lic, dont_want_licenses) for lic in a) else b
    try:
        chosen = oe.license.flattened_licenses(license, choose)
    except oe.license.LicenseError as exc:
        where = d.location(var)
        raise bb.parse.ParseError('%s = "%s": %s' % (var, license, exc.message), where.path if where else d.getVar("FILE"),
                                  where.line if where else 0)
    return sorted(set(lic for lic in chosen if not oe.license.license_ok(lic, dont_want_licenses)))

# As OE's base.bbclass: a recipe whose every package has a licence INCOMPATIBLE_LICENSE refuses is skipped;
# one with some such packages builds, and images refuse those packages (do_rootfs).
python license_incompatible_anon() {
    refused = (d.getVar("INCOMPATIBLE_LICENSE") or "").split()
    if not refused:
        return
    try:
        refused = oe.license.expand_wildcard_licenses(d, refused)
    except oe.license.LicenseError as exc:
        where = d.location("INCOMPATIBLE_LICENSE")
        raise bb.parse.ParseError("INCOMPATIBLE_LICENSE: %s; %s" % (exc.message, exc.hint),
                                  where.path if where else d.getVar("FILE"), where.line if where else 0)
    exceptions = (d.getVar("INCOMPATIBLE_LICENSE_EXCEPTIONS") or "").split()
    packages = (d.getVar("PACKAGES") or "").split()
    if not packages:
        return
    skipped = {}
    for pkg in packages:
        lics = incompatible_license(d, oe.license.apply_pkg_license_exception(pkg, refused, exceptions), pkg)
        if lics:
            skipped[pkg] = lics
    if len(skipped) == len(packages):
        lics = sorted(set(lic for found in skipped.values() for lic in found))
        raise bb.parse.SkipRecipe("it has incompatible license(s): %s" % " ".join(lics))
}

python __anonymous() {
    bb.build.exec_func("license_incompatible_anon", d)
}
