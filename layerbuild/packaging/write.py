"""``do_package_write_deb``: one ``.deb`` per non-empty package, from the split tree and its pkgdata."""

from __future__ import annotations

import os

from layerbuild.packaging.deb import write_deb
from layerbuild.packaging.split import read_pkgdata
from layerbuild.taskapi import TaskContext, VarView

_SCRIPT_VARS = {"preinst": "pkg_preinst", "postinst": "pkg_postinst", "prerm": "pkg_prerm", "postrm": "pkg_postrm"}


#: the variables a control field's value comes from, the first one set (pkgdata carries RDEPENDS and the like)
_FIELD_VARS = {"Version": ("PKGV",), "Architecture": ("PACKAGE_ARCH",), "Maintainer": ("MAINTAINER",),
               "Depends": ("RDEPENDS:{pkg}",), "Recommends": ("RRECOMMENDS:{pkg}",),
               "Suggests": ("RSUGGESTS:{pkg}",), "Provides": ("RPROVIDES:{pkg}",),
               "Conflicts": ("RCONFLICTS:{pkg}",), "Replaces": ("RREPLACES:{pkg}",),
               "Section": ("SECTION:{pkg}", "SECTION"), "Priority": ("PRIORITY:{pkg}",), "Homepage": ("HOMEPAGE",),
               "Summary": ("SUMMARY:{pkg}", "SUMMARY"), "Description": ("DESCRIPTION:{pkg}", "DESCRIPTION")}


def _source(d: VarView, key: str, pkg: str) -> str:
    """The variable the value of control field ``key`` of ``pkg`` came from."""
    names = [name.format(pkg=pkg) for name in _FIELD_VARS.get(key, ("PN",))]
    return next((name for name in names[:-1] if d.getVar(name)), names[-1])


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
        fields = {
            "Package": pkg,
            "Source": data["PN"] if data["PN"] != pkg else "",
            "Version": data["VERSION"],
            "Architecture": debian_arch(d),
            "Maintainer": d.getVar("MAINTAINER") or "Unknown <unknown@example.invalid>",
            "Depends": data["RDEPENDS"],
            "Recommends": data["RRECOMMENDS"],
            "Suggests": data.get("RSUGGESTS", ""),
            "Provides": data["RPROVIDES"],
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

