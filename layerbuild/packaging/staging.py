"""Per-recipe sysroots: ``do_populate_sysroot`` publishes headers and libraries, ``do_prepare_recipe_sysroot``
assembles a recipe's ``${RECIPE_SYSROOT}`` from the components of what it depends on (transitively).

A native recipe (native.bbclass) installs below the native sysroot's path and stages that tree, its
programs included; its component is kept by package architecture (``${COMPONENTS_DIR}/${BUILD_ARCH}/PN``),
and what depends on it gets it in ``${RECIPE_SYSROOT_NATIVE}``, as OE's staging.bbclass lays them out.
Its text files that name that path (``SSTATE_SCAN_FILES``: ``.pc``, ``.la``, ``-config`` scripts...) name
a placeholder in the component instead, which staging replaces with the path of the sysroot they land in,
as OE's sstate does with ``FIXMESTAGINGDIRHOST``.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
from typing import Any

from layerbuild.taskapi import TaskContext

META = "sysroot-providers"
#: what stands for the path of the sysroot a component is staged in, in its text files
PLACEHOLDER = b"FIXMESTAGINGDIRHOST"


def populate_sysroot(ctx: TaskContext) -> None:
    """The whole of ``do_populate_sysroot``."""
    src, dest = ctx.destdir, ctx.sysroot_destdir
    os.makedirs(dest, exist_ok=True)
    for directory in sorted(set(ctx.vars.words("SYSROOT_DIRS"))):
        source = src + directory
        if os.path.isdir(source):
            target = dest + directory
            shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
    # the record goes with what the task publishes: the tree below the native sysroot's path, for a
    # native recipe
    staged = ctx.vars.flag("do_populate_sysroot", "sstate-inputdirs").split()
    root = staged[0] if staged else dest
    fixed = _hide_path(root, ctx.vars.get("STAGING_DIR_NATIVE"), ctx.vars.words("SSTATE_SCAN_FILES")) \
        if os.path.normpath(root) != os.path.normpath(dest) else []
    meta = os.path.join(root, META)
    os.makedirs(meta, exist_ok=True)
    with open(os.path.join(meta, ctx.pn + ".json"), "w", encoding="utf-8") as fh:
        json.dump({"PN": ctx.pn, "PROVIDES": [ctx.pn] + ctx.vars.words("PROVIDES"),
                   "DEPENDS": ctx.vars.words("DEPENDS"), "FIXMEPATHS": fixed}, fh, indent=1, sort_keys=True)
        fh.write("\n")


def _hide_path(root: str, path: str, patterns: list[str]) -> list[str]:
    """In the files below ``root`` whose names match ``patterns``, ``path`` becomes the placeholder;
    returns those that named it (relative to ``root``, sorted)."""
    fixed = []
    needle = os.path.normpath(path).encode()
    for top, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(top, name)
            if os.path.islink(full) or not any(fnmatch.fnmatch(name, pattern) for pattern in patterns):
                continue
            with open(full, "rb") as fh:
                data = fh.read()
            if needle in data:
                with open(full, "wb") as fh:
                    fh.write(data.replace(needle, PLACEHOLDER))
                fixed.append(os.path.relpath(full, root))
    return fixed


def _show_path(sysroot: str, fixed: list[str]) -> None:
    """The placeholder in the staged copies of ``fixed`` becomes ``sysroot``."""
    for rel in fixed:
        full = os.path.join(sysroot, rel)
        if os.path.isfile(full) and not os.path.islink(full):
            with open(full, "rb") as fh:
                data = fh.read()
            with open(full, "wb") as fh:
                fh.write(data.replace(PLACEHOLDER, os.path.normpath(sysroot).encode()))


def _components(components: str) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Name (PN or anything it PROVIDES) -> each (component dir, its record) that provides it, by PN."""
    out: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    if not os.path.isdir(components):
        return out
    for pn in sorted(os.listdir(components)):
        record_path = os.path.join(components, pn, META, f"{pn}.json")
        if not os.path.isfile(record_path):
            continue
        with open(record_path, encoding="utf-8") as fh:
            record = json.load(fh)
        for name in record["PROVIDES"]:
            out.setdefault(name, []).append((os.path.join(components, pn), record))
    return out


def _provider(ctx: TaskContext, name: str,
              found: list[tuple[str, dict[str, Any]]]) -> tuple[str, dict[str, Any]]:
    """The component staged for ``name``: the one named so, else the preferred provider's when several
    components provide it (a virtual/ name whose provider was another one in an earlier build)."""
    for candidate in found:
        if candidate[1]["PN"] == name:
            return candidate
    if len(found) > 1:
        preferred = ctx.vars.get(f"PREFERRED_PROVIDER_{name}")
        for candidate in found:
            if candidate[1]["PN"] == preferred:
                return candidate
    return found[0]


def prepare_recipe_sysroot(ctx: TaskContext) -> None:
    """The whole of ``do_prepare_recipe_sysroot``: each name of DEPENDS (and of theirs, transitively) is a
    target component, staged in ``${RECIPE_SYSROOT}``, or a native one, staged in ``${RECIPE_SYSROOT_NATIVE}``."""
    sysroots = (ctx.recipe_sysroot, ctx.vars.path("RECIPE_SYSROOT_NATIVE"))
    for sysroot in sysroots:
        shutil.rmtree(sysroot, ignore_errors=True)
        os.makedirs(sysroot)
    components = ctx.vars.get("COMPONENTS_DIR")
    indexes = (_components(components), _components(os.path.join(components, ctx.vars.get("BUILD_ARCH"))))
    todo = ctx.vars.words("DEPENDS")
    seen: set[str] = set()
    while todo:
        name = todo.pop(0)
        found = [(sysroot, index[name]) for sysroot, index in zip(sysroots, indexes, strict=True) if name in index]
        if not found:
            raise ctx.fatal(f"{ctx.pn}: no sysroot component provides '{name}' (from DEPENDS)", var="DEPENDS")
        sysroot, candidates = found[0]
        directory, record = _provider(ctx, name, candidates)
        if directory in seen:
            continue
        seen.add(directory)
        top = directory
        shutil.copytree(directory, sysroot, symlinks=True, dirs_exist_ok=True,
                        ignore=lambda path, names, top=top: [META] if os.path.samefile(path, top) else [])
        _show_path(sysroot, record.get("FIXMEPATHS", []))
        todo.extend(record["DEPENDS"])
