"""The systemd class's part of ``do_package``: each unit of ``SYSTEMD_SERVICE:<pkg>`` found, and a preset.

As OE's systemd.bbclass: every package of ``SYSTEMD_PACKAGES`` must be in ``PACKAGES``; every unit its
``SYSTEMD_SERVICE:<pkg>`` names must be installed (``foo@bar.service`` by its template ``foo@.service``)
under ``${sysconfdir}/systemd/system`` or ``${systemd_system_unitdir}``, else the task fails naming it;
and ``SYSTEMD_AUTO_ENABLE`` (per package or for the recipe) ``enable`` or ``disable`` becomes the preset
file ``${systemd_unitdir}/system-preset/98-<pkg>.preset`` in the package. Images apply the presets
offline when they make their root (:mod:`layerbuild.rootfs.units`), so the enablement travels with the
package into a base image or an extension alike.
"""

from __future__ import annotations

import os

from layerbuild.taskapi import TaskContext
from layerbuild.util.rootdir import RootDir, RootPathError

ACTIONS = ("enable", "disable", "mask", "preset")
#: the suffixes systemd accepts for unit names
UNIT_SUFFIXES = (".service", ".socket", ".target", ".timer", ".path", ".mount", ".automount", ".swap", ".slice",
                 ".scope", ".device")


def template_of(unit: str) -> str | None:
    """``foo@.service`` for an instance ``foo@bar.service``; None for anything else."""
    prefix, at, rest = unit.partition("@")
    if not at or rest.startswith("."):
        return None
    suffix = rest[rest.rfind("."):] if "." in rest else ""
    return f"{prefix}@{suffix}"


def unit_problem(unit: str) -> str | None:
    """Why ``unit`` cannot be a unit name systemd loads, or None."""
    if "/" in unit or unit in (".", ".."):
        return "a unit is named by its file name, without a directory"
    if not unit.endswith(UNIT_SUFFIXES):
        return f"a unit name ends in one of {' '.join(UNIT_SUFFIXES)}"
    if unit.startswith("@") or unit.startswith("."):
        return "a unit name does not start with '@' or '.'"
    return None


def search_dirs(ctx: TaskContext) -> list[str]:
    """Where a recipe may install its system units, as OE's systemd_service_searchpaths."""
    return [os.path.join(ctx.vars.get("sysconfdir"), "systemd", "system"), ctx.vars.get("systemd_system_unitdir")]


def _action(ctx: TaskContext, pkg: str) -> tuple[str, str]:
    var = f"SYSTEMD_AUTO_ENABLE:{pkg}" if ctx.vars.getVar(f"SYSTEMD_AUTO_ENABLE:{pkg}") else "SYSTEMD_AUTO_ENABLE"
    return ctx.vars.get(var, "enable").strip(), var


def preset_path(ctx: TaskContext, pkg: str) -> str:
    return os.path.join(ctx.vars.get("systemd_unitdir"), "system-preset", f"98-{pkg}.preset")


def package_units(ctx: TaskContext, pkgd: str) -> dict[str, list[str]]:
    """Check the units of ``SYSTEMD_SERVICE`` in ``pkgd`` (``${PKGD}``, before the split) and write the
    presets; returns package -> the unit files it must ship (paths as in ``FILES``)."""
    v = ctx.vars
    packages = v.words("PACKAGES")
    shipped: dict[str, list[str]] = {}
    for pkg in v.words("SYSTEMD_PACKAGES"):
        if pkg not in packages:
            raise ctx.fatal(f"{ctx.pn}: {pkg} is marked for packaging systemd units (SYSTEMD_PACKAGES), but it is "
                            "not in PACKAGES", var="SYSTEMD_PACKAGES",
                            hint="add it to PACKAGES, or adjust SYSTEMD_PACKAGES")
        var = f"SYSTEMD_SERVICE:{pkg}"
        units = v.words(var)
        if not units:
            continue
        action, action_var = _action(ctx, pkg)
        if action not in ACTIONS:
            raise ctx.fatal(f"{ctx.pn}: {action_var} = \"{action}\": choose one of {', '.join(ACTIONS)}",
                            var=action_var)
        files: list[str] = []
        lines: dict[str, list[str]] = {}
        with RootDir(pkgd) as top:
            for unit in units:
                found = _checked_unit(ctx, top, var, unit)
                files.append(found)
                template = template_of(unit)
                if template and os.path.basename(found) == template:
                    lines.setdefault(template, []).append(unit.partition("@")[2].rsplit(".", 1)[0])
                else:
                    lines.setdefault(unit, [])
            if action in ("enable", "disable"):
                rel = preset_path(ctx, pkg)
                text = "".join(f"{action} {name}{''.join(' ' + i for i in instances)}\n"
                               for name, instances in lines.items())
                write_inside(ctx, top, rel, text)
                files.append(rel)
        shipped[pkg] = sorted(set(files))
    return shipped


def _checked_unit(ctx: TaskContext, top: RootDir, var: str, unit: str) -> str:
    """Where ``unit`` (or its template) is installed in PKGD, else an error naming it."""
    problem = unit_problem(unit)
    if problem:
        raise ctx.fatal(f"{ctx.pn}: {var}: '{unit}' is not a unit name: {problem}", var=var)
    template = template_of(unit)
    found = _find(top, search_dirs(ctx), unit, template)
    if found is None:
        also = f" (nor its template '{template}')" if template else ""
        raise ctx.fatal(f"{ctx.pn}: the unit '{unit}' named in {var} is not installed{also}: looked in "
                        f"{' and '.join(search_dirs(ctx))} of ${{D}}", var=var,
                        hint="install it in do_install (install -m 0644 ... ${D}${systemd_system_unitdir}/), "
                             "or correct its name")
    return found


def _find(top: RootDir, dirs: list[str], unit: str, template: str | None) -> str | None:
    for directory in dirs:
        for name in (unit, template):
            try:
                if name and top.lexists(os.path.join(directory, name)):
                    return os.path.join(directory, name)
            except RootPathError:
                continue
    return None


def check_shipped(ctx: TaskContext, shipped: dict[str, list[str]], files: dict[str, list[str]],
                  var: str = "SYSTEMD_SERVICE") -> None:
    """Each generated or named file (a unit, a preset, a sysusers.d file) went into the package that names
    it, not another one FILES chose first."""
    owner = {rel: pkg for pkg, rels in files.items() for rel in rels}
    for pkg, rels in shipped.items():
        for rel in rels:
            other = owner.get(rel)
            if other != pkg:
                where = f"package {other}" if other else "no package"
                raise ctx.fatal(f"{ctx.pn}: {rel} of {var}:{pkg} went to {where}, not {pkg}",
                                var="PACKAGES",
                                hint=f"list {pkg} before {other} in PACKAGES (PACKAGES =+ \"{pkg}\"), so its "
                                     f"FILES take the unit first" if other else f"add it to FILES:{pkg}")


def write_inside(ctx: TaskContext, top: RootDir, rel: str, text: str) -> None:
    """Write a generated file into PKGD, resolving its directories inside PKGD (a link do_install left
    there never leads the write out of it)."""
    try:
        top.write_bytes(rel, text.encode(), 0o644)
    except (OSError, RootPathError) as exc:
        why = exc.message if isinstance(exc, RootPathError) else exc.strerror
        raise ctx.fatal(f"{ctx.pn}: cannot write {rel} into the package: {why}",
                        hint=f"do_install left a link in the way of {os.path.dirname(rel)}") from None
