"""``do_package_write_deb``: one ``.deb`` per non-empty package, from the split tree and its pkgdata."""

from __future__ import annotations

import os

from layerbuild.packaging.deb import write_deb
from layerbuild.packaging.deps import deb_provides_field
from layerbuild.packaging.split import read_pkgdata
from layerbuild.taskapi import TaskContext, VarView
from layerbuild.util.errors import BuildError, Location
from layerbuild.util.relations import (
    OPERATORS,
    deb_provides,
    entry_problem,
    metadata_entries,
    package_name_problem,
    version_problem,
)

_SCRIPT_VARS = {"preinst": "pkg_preinst", "postinst": "pkg_postinst", "prerm": "pkg_prerm", "postrm": "pkg_postrm"}


#: the variables a control field's value comes from, the first one set (pkgdata carries RDEPENDS and the like)
_FIELD_VARS = {"Version": ("PKGV",), "Architecture": ("PACKAGE_ARCH",), "Maintainer": ("MAINTAINER",),
               "Depends": ("RDEPENDS:{pkg}",), "Recommends": ("RRECOMMENDS:{pkg}",),
               "Suggests": ("RSUGGESTS:{pkg}",), "Provides": ("RPROVIDES:{pkg}",),
               "Conflicts": ("RCONFLICTS:{pkg}",), "Replaces": ("RREPLACES:{pkg}",),
               "Section": ("SECTION:{pkg}", "SECTION"), "Priority": ("PRIORITY:{pkg}",), "Homepage": ("HOMEPAGE",),
               "Summary": ("SUMMARY:{pkg}", "SUMMARY"), "Description": ("DESCRIPTION:{pkg}", "DESCRIPTION")}


def _source(v: VarView, key: str, pkg: str) -> str:
    """The variable the value of control field ``key`` of ``pkg`` came from."""
    names = [name.format(pkg=pkg) for name in _FIELD_VARS.get(key, ("PN",))]
    return next((name for name in names[:-1] if v.getVar(name)), names[-1])


#: the relationship variables of a package and the operators its control field allows (Provides: only =)
_RELATIONS = {"RDEPENDS": OPERATORS, "RRECOMMENDS": OPERATORS, "RSUGGESTS": OPERATORS, "RPROVIDES": ("=",),
              "RCONFLICTS": OPERATORS, "RREPLACES": OPERATORS}
_RELATION_HINT = "entries are NAME or NAME (OP VERSION), OP one of << <= = >= >>"


def _recipe_location(ctx: TaskContext, *names: str) -> Location:
    """Where a recipe (not the configuration's or a class's default) set the first of ``names``."""
    for name in names:
        loc = ctx.vars.location(name)
        if loc is not None and not loc.path.endswith((".conf", ".bbclass")):
            return loc
    return Location(ctx.file)


def check_package(ctx: TaskContext, pkg: str, version: str) -> None:
    """What dpkg refuses in package ``pkg``, refused before it is written, at the line that set it. The
    recipe was read with warnings only: BitBake accepts these values, and a package without files is
    never written."""
    problem = package_name_problem(pkg)
    if problem:
        raise BuildError(f"cannot write package {pkg}: PACKAGES: {problem}", ctx.where("PACKAGES"),
                         hint="package names follow dpkg's rules (deb-control(5))")
    problem = version_problem(version)
    if problem:
        raise BuildError(f"cannot write package {pkg}: {problem}", _recipe_location(ctx, "PKGV", "PV"),
                         hint="a package version starts with a digit (deb-version(7)); set PV or PKGV")
    for var, operators in _RELATIONS.items():
        name = f"{var}:{pkg}"
        for entry in metadata_entries(ctx.vars.getVar(name)):
            if var == "RPROVIDES" and not deb_provides(entry.name):
                continue  # left out of Provides (the recipe was warned when it was read)
            problem = entry_problem(entry, operators)
            if problem:
                raise BuildError(f"cannot write package {pkg}: {name}: {problem}",
                                 ctx.vars.location(name) or ctx.where(var), hint=_RELATION_HINT)


def debian_arch(v: VarView) -> str:
    arch = v.get("PACKAGE_ARCH")
    return "all" if arch == "all" else (v.getVar("DPKG_ARCH") or arch)


def write_debs(ctx: TaskContext) -> None:
    """The whole of ``do_package_write_deb``."""
    d = ctx.vars
    pkgdest = ctx.pkgdest
    pkgdata_dir = ctx.pkgdata_dir
    outdir = os.path.join(ctx.workdir, "deploy-debs", d.get("PACKAGE_ARCH"))
    clamp = d.epoch("SOURCE_DATE_EPOCH")
    for pkg in d.words("PACKAGES"):
        data = read_pkgdata(pkgdata_dir, pkg)
        if not data["PACKAGED"]:
            continue
        check_package(ctx, pkg, data["VERSION"])
        fields = {
            "Package": pkg,
            "Source": data["PN"] if data["PN"] != pkg else "",
            "Version": data["VERSION"],
            "Architecture": debian_arch(d),
            "Maintainer": d.getVar("MAINTAINER") or "Unknown <unknown@example.invalid>",
            "Depends": data["RDEPENDS"],
            "Recommends": data["RRECOMMENDS"],
            "Suggests": data.get("RSUGGESTS", ""),
            "Provides": deb_provides_field(data["RPROVIDES"]),
            "Conflicts": data["RCONFLICTS"],
            "Replaces": data["RREPLACES"],
            "Section": d.getVar(f"SECTION:{pkg}") or d.getVar("SECTION") or "misc",
            "Priority": d.getVar(f"PRIORITY:{pkg}") or "optional",
            "Homepage": d.getVar("HOMEPAGE") or "",
        }
        scripts = {}
        for script, var in _SCRIPT_VARS.items():
            body = d.getVar(f"{var}:{pkg}")
            if body and body.strip():
                scripts[script] = "#!/bin/sh\nset -e\n" + body.strip("\n") + "\n"
        conf = d.getVar(f"CONFFILES:{pkg}")
        root = os.path.join(pkgdest, pkg)
        if conf is None:
            conffiles = [f for f in data["FILES"] if f.startswith("/etc/") and os.path.isfile(root + f)
                         and not os.path.islink(root + f)]
        else:
            conffiles = conf.split()
        summary = d.getVar(f"SUMMARY:{pkg}") or d.getVar("SUMMARY") or pkg
        description = d.getVar(f"DESCRIPTION:{pkg}") or d.getVar("DESCRIPTION") or ""
        checks = [(f"the control field {key}", _source(d, key, pkg), value) for key, value in fields.items() if value]
        checks += [("the control field Description", _source(d, "Summary", pkg), summary),
                   ("the control field Description", _source(d, "Description", pkg), description),
                   ("the conffiles", f"CONFFILES:{pkg}", " ".join(conffiles))]
        for what, var, value in checks:
            ctx.expanded(var, value, f"{what} of package {pkg}")
        write_deb(root, outdir, fields, summary, description, scripts, conffiles, clamp)

