"""``layerbuild-layers``: show-layers, show-recipes, show-appends and show-overlayed, as bitbake-layers prints
them."""

from __future__ import annotations

import argparse
import fnmatch
import os
from typing import TextIO

from layerbuild.engine.layers import LayerSet, appends_for, collect_files
from layerbuild.engine.recipe import RecipeInfo
from layerbuild.session import ParseResult, parse_recipes, start_configuration
from layerbuild.util.errors import ErrorList


def show_layers(topdir: str, args: argparse.Namespace, out: TextIO) -> int:
    config = start_configuration(topdir)
    layerset = config.layerset
    out.write(f"{'layer':<20} {'path':<60} priority\n")
    out.write("=" * 90 + "\n")
    for layer in layerset.layers:
        colls = [c for c in layerset.collections if c.layer == layer]
        if not colls:
            out.write(f"{os.path.basename(layer):<20} {layer:<60} {'':>8}\n")
        for coll in colls:
            out.write(f"{coll.name:<20} {layer:<60} {coll.priority}\n")
    return 0


def _files_by_name(result: ParseResult, layerset: LayerSet, variants: bool) -> dict[str, list[str]]:
    """Each recipe name's files (with ``variants``, the variants' virtual ones too), the chosen file first,
    then by layer priority, sorted by name."""
    by_pn: dict[str, list[str]] = {}
    for fn, info in result.recipes.infos.items():
        if variants or not info.variant:
            by_pn.setdefault(info.pn, []).append(fn)

    def order(fn: str) -> tuple[int, int]:
        return (0 if fn == result.recipes.chosen.get(result.recipes.infos[fn].pn) else 1, -layerset.priority_of(fn))

    return {pn: sorted(by_pn[pn], key=order) for pn in sorted(by_pn)}


def _version(info: RecipeInfo) -> str:
    return (f"{info.pe}:" if info.pe and info.pe != "0" else "") + info.pv


def show_recipes(topdir: str, args: argparse.Namespace, out: TextIO) -> int:
    config = start_configuration(topdir)
    result = parse_recipes(config)
    layerset = config.layerset
    infos = result.recipes.infos
    out.write("=== Available recipes: ===\n")
    for pn, fns in _files_by_name(result, layerset, variants=True).items():
        if args.pnspec and not any(fnmatch.fnmatch(pn, spec) for spec in args.pnspec):
            continue
        chosen = result.recipes.chosen.get(pn)
        if not args.show_variants:
            # as bitbake-layers: a variant (zlib-native) is listed only when its file's own recipe is
            # skipped, and each file once under a name (a devupstream variant keeps its recipe's name)
            top = infos[fns[0]]
            if top.variant and top.realfn in infos and not infos[top.realfn].skipped:
                continue
            files = {infos[fn].realfn: fn for fn in reversed(fns)}
            fns = [fn for fn in fns if files[infos[fn].realfn] == fn]
        out.write(f"{pn}:\n")
        for fn in fns:
            info = result.recipes.infos[fn]
            version = _version(info)
            notes = []
            if info.skipped:
                notes.append(f"(skipped: {info.skipped})")
            elif fn != chosen:
                notes.append("(not chosen)")
            out.write(f"  {(layerset.layer_name(fn) or '?'):<20} {version:<20} {' '.join(notes)}".rstrip() + "\n")
    if result.errors:  # the recipes that parsed are listed; the others are the errors
        raise ErrorList(result.errors)
    return 0


def show_appends(topdir: str, args: argparse.Namespace, out: TextIO) -> int:
    config = start_configuration(topdir)
    files = collect_files(config.d, config.layerset)
    out.write("=== Matched appended recipes ===\n")
    matched = set()
    for fn in files.recipes:
        appends = appends_for(fn, files.appends)
        if not appends:
            continue
        out.write(f"{os.path.basename(fn)}:\n")
        for append in appends:
            matched.add(append)
            out.write(f"  {append}\n")
        out.write("\n")
    unmatched = [a for a in files.appends if a not in matched]
    if unmatched:
        out.write("=== Appends without a matching recipe ===\n")
        for append in unmatched:
            out.write(f"  {append}\n")
    return 0


def show_overlayed(topdir: str, args: argparse.Namespace, out: TextIO) -> int:
    """The recipes that more than one layer provides (the chosen file first), then the classes more than one
    layer has (the one ``BBPATH`` finds first, then the others), as bitbake-layers lists them."""
    config = start_configuration(topdir)
    result = parse_recipes(config)
    layerset = config.layerset
    infos = result.recipes.infos
    listed = False
    for pn, fns in _files_by_name(result, layerset, variants=False).items():
        if len({layerset.layer_name(fn) for fn in fns}) < 2:
            continue
        versions = {fn: _version(infos[fn]) for fn in fns}
        if args.same_version and len(set(versions.values())) > 1:
            continue
        if not listed:
            out.write("=== Overlayed recipes ===\n")
            listed = True
        for i, fn in enumerate(fns):
            skipped = f" (skipped: {infos[fn].skipped})" if infos[fn].skipped else ""
            if args.filenames:
                out.write(f"{'' if i == 0 else '  '}{fn}{skipped}\n")
                continue
            if i == 0:
                out.write(f"{pn}:\n")
            out.write(f"  {(layerset.layer_name(fn) or '?'):<20} {versions[fn]}{skipped}\n")
    classes: dict[str, list[str]] = {}
    for layer in layerset.layers:
        for sub in ("classes-global", "classes-recipe", "classes"):
            classdir = os.path.join(layer, sub)
            if os.path.isdir(classdir):
                for name in sorted(os.listdir(classdir)):
                    if name.endswith(".bbclass"):
                        classes.setdefault(name, []).append(classdir)
    bbpath = [p for p in (config.d.getVar("BBPATH") or "").split(":") if p]
    shown_classes = False
    for name, classdirs in classes.items():
        if len(classdirs) < 2:
            continue
        if not shown_classes:
            out.write("=== Overlayed classes ===\n")
            shown_classes = listed = True
        main = next((os.path.join(p, "classes", name) for p in bbpath
                     if os.path.exists(os.path.join(p, "classes", name))), "")
        if args.filenames:
            out.write(f"{main}\n")
        else:
            owner = next((layer for layer in layerset.layers
                          if main.startswith(os.path.join(layer, "classes") + os.sep)), None)
            out.write(f"{name}:\n  {_layer_label(layerset, owner)}\n")
        for classdir in classdirs:
            path = os.path.join(classdir, name)
            if path != main:
                out.write(f"  {path if args.filenames else _layer_label(layerset, os.path.dirname(classdir))}\n")
    if not listed:
        out.write("No overlayed files found.\n")
    if result.errors:
        raise ErrorList(result.errors)
    return 0


def _layer_label(layerset: LayerSet, layer: str | None) -> str:
    """A layer as bitbake-layers names it: its collection, else its directory's name."""
    if layer is None:
        return "?"
    names = [c.name for c in layerset.collections if c.layer == layer]
    return names[0] if names else os.path.basename(layer)
