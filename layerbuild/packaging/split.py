"""``do_package``: strip, split ``${D}`` into packages, find shared-library dependencies, write pkgdata.

As in OE: ``${D}`` is copied to ``${PKGD}``; ELF files are stripped with their debug information kept
in ``/usr/lib/debug/<path>.debug`` (for ``${PN}-dbg``); every path goes to the first package in
``PACKAGES`` whose ``FILES:<pkg>`` matches it; a file no package takes is an error. Each package's
ELF ``DT_NEEDED`` entries are matched against the SONAMEs packages provide (this recipe's, and those in
``PKGDATA_DIR`` from the recipes it depends on), and the providers become runtime dependencies.
The result is kept as pkgdata (JSON per package) for ``do_package_write_deb`` and image assembly.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shlex
import shutil
from dataclasses import dataclass, field
from typing import Any

from layerbuild.packaging.deps import format_depends, metadata_depends
from layerbuild.packaging.elf import ElfInfo, arch_problem, inspect
from layerbuild.packaging.systemd import check_shipped, package_units
from layerbuild.packaging.useradd import package_users
from layerbuild.taskapi import TaskContext, VarView
from layerbuild.util import licenses
from layerbuild.util.errors import BuildError
from layerbuild.util.fsutil import copy_tree, relative_paths

DEBUG_DIR = "/usr/lib/debug"
#: dpkg's database directory in an image, which no package may ship anything in
DPKG_ADMINDIR = "/var/lib/dpkg"


@dataclass
class Package:
    name: str
    files: list[str] = field(default_factory=list)
    provides_sonames: list[str] = field(default_factory=list)
    needs: dict[str, list[str]] = field(default_factory=dict)


def _walk(root: str) -> list[str]:
    """Every path below ``root`` as ``/rel/path``, directories before their contents, sorted."""
    return sorted("/" + rel for rel in relative_paths(root))


def _copy_tree(src: str, dst: str) -> None:
    if os.path.exists(dst):
        shutil.rmtree(dst)
    os.makedirs(dst)
    if os.path.isdir(src):
        copy_tree(src, dst)


def _matches(path: str, pattern: str) -> bool:
    pattern = pattern.rstrip("/")
    if not pattern:
        return True  # "/" takes everything
    if fnmatch.fnmatchcase(path, pattern):
        return True
    # a pattern naming a directory takes everything below it
    parent = path
    while "/" in parent.strip("/"):
        parent = parent.rsplit("/", 1)[0]
        if fnmatch.fnmatchcase(parent, pattern):
            return True
    return False


def strip_tree(ctx: TaskContext, pkgd: str) -> None:
    """Strip ELF executables and shared objects, keeping their debug info beside them for -dbg."""
    # the machine's binutils: the host's strip cannot read another architecture's ELF files
    strip_cmd, objcopy = shlex.split(ctx.vars.get("STRIP")), shlex.split(ctx.vars.get("OBJCOPY"))
    target_arch, allarch = ctx.vars.get("TARGET_ARCH"), ctx.vars.get("PACKAGE_ARCH") == "all"
    seen: set[tuple[int, int]] = set()
    for rel in _walk(pkgd):
        path = pkgd + rel
        if rel.startswith(DEBUG_DIR + "/") or os.path.islink(path) or not os.path.isfile(path):
            continue
        info = inspect(path)
        if info is None or info.kind not in ("exec", "dyn"):
            continue
        if arch_problem(info, target_arch, allarch) is not None:
            # another architecture's file: the machine's binutils cannot read it; the architecture check
            # after the split reports it, or ships it as installed where INSANE_SKIP says "arch"
            continue
        st = os.stat(path)
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        debug = pkgd + DEBUG_DIR + rel + ".debug"
        os.makedirs(os.path.dirname(debug), exist_ok=True)
        mode = st.st_mode
        os.chmod(path, mode | 0o200)
        ctx.run([*objcopy, "--only-keep-debug", path, debug])
        strip = [*strip_cmd, "--remove-section=.comment", "--remove-section=.note"]
        if info.soname or (info.kind == "dyn" and info.interpreter is None):
            strip.append("--strip-unneeded")
        ctx.run([*strip, path])
        ctx.run([*objcopy, f"--add-gnu-debuglink={debug}", path])
        os.chmod(path, mode)
        os.chmod(debug, 0o644)


def split(ctx: TaskContext, pkgd: str, pkgdest: str, packages: list[str]) -> dict[str, Package]:
    """Assign every path of ``pkgd`` to the first package whose FILES matches it; copy into ``pkgdest``."""
    patterns = {pkg: ctx.vars.words(f"FILES:{pkg}") for pkg in packages}
    result = {pkg: Package(pkg) for pkg in packages}
    unshipped = []
    taken: dict[str, str] = {}
    for rel in _walk(pkgd):
        path = pkgd + rel
        owner = next((pkg for pkg in packages if any(_matches(rel, p) for p in patterns[pkg])), None)
        if owner is None:
            if os.path.isdir(path) and not os.path.islink(path):
                continue  # a directory goes where its contents go
            unshipped.append(rel)
            continue
        taken[rel] = owner
        result[owner].files.append(rel)
    if unshipped and "installed-vs-shipped" not in ctx.vars.words("INSANE_SKIP"):
        shown = "\n".join(f"    {p}" for p in unshipped[:20]) + ("\n    ..." if len(unshipped) > 20 else "")
        raise ctx.fatal(f"{ctx.pn}: {len(unshipped)} installed file(s) are in no package:\n{shown}", var="PACKAGES",
                        hint="add them to FILES:<package>, or do not install them")
    _check_names(ctx, result)
    shutil.rmtree(pkgdest, ignore_errors=True)
    os.makedirs(pkgdest)
    for pkg in packages:
        root = os.path.join(pkgdest, pkg)
        os.makedirs(root)
        for rel in result[pkg].files:
            src = pkgd + rel
            dst = root + rel
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if os.path.islink(src):
                os.symlink(os.readlink(src), dst)
            elif os.path.isdir(src):
                os.makedirs(dst, exist_ok=True)
                shutil.copystat(src, dst)
            else:
                shutil.copy2(src, dst)
                if os.geteuid() == 0:
                    st = os.lstat(src)
                    os.chown(dst, st.st_uid, st.st_gid)
    return result


def _check_names(ctx: TaskContext, packages: dict[str, Package]) -> None:
    """Refuse what the image's installer would refuse, here where the recipe can be named.

    dpkg's database (``/var/lib/dpkg``) is written by the installer alone: a package file there could
    replace the database or plant a link the installer would write through, so the installer refuses it
    in any package of the feed, and packaging refuses it first, at the recipe. A file name with a
    newline breaks the database's file lists (one name a line); dpkg refuses it too.
    """
    for pkg, files in packages.items():
        for rel in files.files:
            if "\n" in rel:
                raise ctx.fatal(f"{ctx.pn}: the file name {rel!r} (package {pkg}) contains a newline, which a "
                                "package may not hold (dpkg refuses it: its file lists hold one name a line)",
                                var="do_install")
        inside = [rel for rel in files.files if rel.startswith(DPKG_ADMINDIR + "/")] or \
            [rel for rel in files.files if rel == DPKG_ADMINDIR]
        if inside:
            shown = "\n".join(f"    {p}" for p in inside[:20]) + ("\n    ..." if len(inside) > 20 else "")
            raise ctx.fatal(f"{ctx.pn}: package {pkg} ships {DPKG_ADMINDIR}, dpkg's database, which only the "
                            f"image's package manager writes:\n{shown}", var="do_install",
                            hint=f"install the files elsewhere; what must be in {DPKG_ADMINDIR} on the target, a "
                                 "postinst can create there")


def _shlib_providers(pkgdata_dir: str) -> dict[str, tuple[str, str]]:
    """SONAME -> (package, version) over everything already in PKGDATA_DIR."""
    out: dict[str, tuple[str, str]] = {}
    shlibs = os.path.join(pkgdata_dir, "shlibs")
    if not os.path.isdir(shlibs):
        return out
    for name in sorted(os.listdir(shlibs)):
        if not name.endswith(".list"):
            continue
        pkg = name[:-5]
        with open(os.path.join(shlibs, name), encoding="utf-8") as fh:
            for line in fh:
                soname, _, version = line.strip().partition(":")
                if soname:
                    out.setdefault(soname, (pkg, version))
    return out


def check_elf_arch(ctx: TaskContext, pkg: str, rel: str, info: ElfInfo) -> None:
    """An ELF file ships only in a package for its architecture, and never in an allarch one (OE's
    "arch" check): a compiler that built for the wrong machine is an error here, not a package named
    for one architecture holding another's binaries. ``INSANE_SKIP`` "arch" (of the recipe or the
    package) allows it, for firmware of another processor."""
    v = ctx.vars
    allarch = v.getVar("PACKAGE_ARCH") == "all"
    problem = arch_problem(info, v.getVar("TARGET_ARCH") or "", allarch)
    if problem is None or "arch" in v.words("INSANE_SKIP") + v.words(f"INSANE_SKIP:{pkg}"):
        return
    raise ctx.fatal(f"{ctx.pn}: {rel} (package {pkg}) {problem}", var="PACKAGE_ARCH" if allarch else "TARGET_ARCH",
                    hint="do not install compiled files in an allarch recipe, or drop inherit allarch" if allarch
                    else "build it with CC for TARGET_ARCH; INSANE_SKIP:" + pkg + ' = "arch" ships it anyway')


def package_version(v: VarView) -> str:
    pe = v.get("PE")
    version = f"{v.getVar('PKGV')}-{v.getVar('PKGR')}"
    return f"{pe}:{version}" if pe and pe != "0" else version


def package_license(ctx: TaskContext, pkg: str) -> str:
    """``LICENSE:<pkg>``, else the recipe's ``LICENSE``, checked as an expression (images read it from pkgdata)."""
    var = f"LICENSE:{pkg}" if ctx.vars.getVar(f"LICENSE:{pkg}") else "LICENSE"
    value = " ".join(ctx.vars.get(var).split())
    try:
        licenses.parse(value)
    except licenses.LicenseError as exc:
        raise ctx.fatal(f'recipe {ctx.pn}: {var} = "{value}": {exc.message}', var=var) from None
    return value


def package_recipe(ctx: TaskContext) -> None:
    """The whole of ``do_package``."""
    v = ctx.vars
    pkgd, pkgdest = ctx.pkgd, ctx.pkgdest
    out = os.path.join(ctx.workdir, "pkgdata-out")
    shutil.rmtree(out, ignore_errors=True)
    packages = v.words("PACKAGES")
    twice = [pkg for i, pkg in enumerate(packages) if pkg in packages[:i]]
    if twice:
        raise ctx.fatal(f"{ctx.pn}: PACKAGES lists {twice[0]} twice, and a package is split and written once",
                        var="PACKAGES", hint="each package may be listed once (PACKAGES =+ and += add to the defaults)")
    _copy_tree(ctx.destdir, pkgd)
    if not v.switch("INHIBIT_PACKAGE_STRIP"):
        strip_tree(ctx, pkgd)
    units = package_units(ctx, pkgd)
    users = package_users(ctx, pkgd)
    split_result = split(ctx, pkgd, pkgdest, packages)
    check_shipped(ctx, units, {pkg: split_result[pkg].files for pkg in packages})
    check_shipped(ctx, users, {pkg: split_result[pkg].files for pkg in packages}, "USERADD_PARAM")
    version = package_version(v)
    provided: dict[str, tuple[str, str]] = {}
    elf_needs: dict[str, dict[str, list[str]]] = {}
    for pkg in packages:
        for rel in split_result[pkg].files:
            path = os.path.join(pkgdest, pkg) + rel
            if os.path.islink(path) or not os.path.isfile(path) or rel.startswith(DEBUG_DIR + "/"):
                continue
            info = inspect(path)
            if info is None:
                continue
            check_elf_arch(ctx, pkg, rel, info)
            if info.soname:
                provided.setdefault(info.soname, (pkg, version))
                split_result[pkg].provides_sonames.append(info.soname)
            if info.needed:
                elf_needs.setdefault(pkg, {})[rel] = list(info.needed)
    external = _shlib_providers(ctx.pkgdata_dir)
    allow = set(v.words("SHLIB_ALLOWLIST"))
    auto: dict[str, list[tuple[str, str | None, str | None]]] = {pkg: [] for pkg in packages}
    for pkg, files in elf_needs.items():
        for rel, needed in sorted(files.items()):
            for soname in needed:
                found = provided.get(soname) or external.get(soname)
                if found is None:
                    if soname in allow:
                        continue
                    raise BuildError(f"{ctx.pn}: {rel} (package {pkg}) needs {soname}, which no package provides",
                                     ctx.recipe_where("DEPENDS"),
                                     hint=f"add the recipe that provides {soname} to DEPENDS, or list it in "
                                          "SHLIB_ALLOWLIST")
                provider, pversion = found
                if provider != pkg:
                    auto[pkg].append((provider, ">=", pversion.split(":")[-1] if pversion else None))
    os.makedirs(os.path.join(out, "runtime"), exist_ok=True)
    os.makedirs(os.path.join(out, "shlibs"), exist_ok=True)
    for pkg in packages:
        root = os.path.join(pkgdest, pkg)
        pkg_files = split_result[pkg].files
        payload = [f for f in pkg_files if not os.path.isdir(root + f) or os.path.islink(root + f)]
        allow_empty = v.switch(f"ALLOW_EMPTY:{pkg}" if v.getVar(f"ALLOW_EMPTY:{pkg}") else "ALLOW_EMPTY")
        rdepends = metadata_depends(v.getVar(f"RDEPENDS:{pkg}")) + auto[pkg]
        data = {
            "PN": ctx.pn, "PKG": pkg, "PE": v.get("PE"), "PKGV": v.getVar("PKGV"),
            "LICENSE": package_license(ctx, pkg),
            "PKGR": v.getVar("PKGR"), "VERSION": version,
            "PACKAGE_ARCH": v.getVar("PACKAGE_ARCH"),
            "RDEPENDS": format_depends(rdepends),
            "RRECOMMENDS": format_depends(metadata_depends(v.getVar(f"RRECOMMENDS:{pkg}"))),
            "RSUGGESTS": format_depends(metadata_depends(v.getVar(f"RSUGGESTS:{pkg}"))),
            "RPROVIDES": format_depends(metadata_depends(v.getVar(f"RPROVIDES:{pkg}"))),
            "RCONFLICTS": format_depends(metadata_depends(v.getVar(f"RCONFLICTS:{pkg}"))),
            "RREPLACES": format_depends(metadata_depends(v.getVar(f"RREPLACES:{pkg}"))),
            "SHLIB_DEPENDS": format_depends(auto[pkg]),
            "SONAMES": sorted(split_result[pkg].provides_sonames),
            "FILES": pkg_files,
            "PACKAGED": bool(payload) or allow_empty,
            "SIZE": sum(os.lstat(root + f).st_size for f in payload if not os.path.islink(root + f)),
        }
        with open(os.path.join(out, "runtime", f"{pkg}.json"), "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
            fh.write("\n")
        with open(os.path.join(out, "shlibs", f"{pkg}.list"), "w", encoding="utf-8") as fh:
            for soname in sorted(split_result[pkg].provides_sonames):
                fh.write(f"{soname}:{version}\n")
    with open(os.path.join(out, f"{ctx.pn}.json"), "w", encoding="utf-8") as fh:
        json.dump({"PN": ctx.pn, "PACKAGES": packages, "VERSION": version}, fh, indent=1, sort_keys=True)
        fh.write("\n")


def read_pkgdata(pkgdata_dir: str, pkg: str) -> dict[str, Any]:
    with open(os.path.join(pkgdata_dir, "runtime", f"{pkg}.json"), encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data
