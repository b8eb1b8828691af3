"""``layerbuild-layers add-layer``, ``remove-layer`` and ``create-layer``: ``conf/bblayers.conf`` edited as
bitbake-layers edits it (``bb.utils.edit_bblayers_conf``), and a new layer's skeleton as OE's
``create-layer`` writes it.

Only the ``BBLAYERS`` assignments change: every other line of the file (comments, ``BBPATH``, the layout
of the other assignments) is kept as it was.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import sys
from dataclasses import dataclass
from typing import TextIO

from layerbuild.session import start_configuration
from layerbuild.util.errors import ErrorList, LayerbuildError, LayerError, Location
from layerbuild.util.fsutil import atomic_write

_ASSIGNMENT = re.compile(r"^(BBLAYERS)[ \t]*([?+:.]*=[+.]*)[ \t]*([\"'])")


@dataclass
class _Assignment:
    first: int  # index of its first line
    last: int  # index of its last line
    op: str
    layers: list[str]


def _assignments(lines: list[str]) -> list[_Assignment]:
    """The ``BBLAYERS`` assignments of the file, with their layers, in file order."""
    found = []
    i = 0
    while i < len(lines):
        m = _ASSIGNMENT.match(lines[i])
        if not m:
            i += 1
            continue
        quote = m.group(3)
        first = i
        text = lines[i][m.end():].rstrip("\n")
        value = ""
        while True:
            stripped = text.rstrip()
            if stripped.endswith(quote):
                value += stripped[:-1]
                break
            value += stripped[:-1] if stripped.endswith("\\") else stripped
            if i + 1 >= len(lines):
                break
            i += 1
            text = lines[i].rstrip("\n")
        found.append(_Assignment(first, i, m.group(2), [_canonical(x) for x in value.split()]))
        i += 1
    return found


def _canonical(path: str) -> str:
    return path[:-1] if path.endswith(os.sep) and len(path) > 1 else path


def _format(op: str, layers: list[str]) -> list[str]:
    if not layers:
        return [f'BBLAYERS {op} ""\n']
    return [f'BBLAYERS {op} " \\\n', *(f"  {layer} \\\n" for layer in layers), '  "\n']


def edit_bblayers(path: str, add: list[str], remove: list[str]) -> tuple[list[str], list[str]]:
    """Add and remove layers in ``path``; returns (layers already there, patterns that matched none).

    As BitBake does it: a layer is added to the first assignment (or as ``BBLAYERS += "..."`` lines when
    the file builds the list with several ``+=``); each pattern to remove (``fnmatch``) removes the first
    matching entry of each assignment.
    """
    with open(path, encoding="utf-8") as fh:
        lines = fh.readlines()
    found = _assignments(lines)
    if not found:
        raise LayerError("unable to find BBLAYERS", Location(path))
    existing: list[str] = []
    for assignment in found:
        if assignment.op == "=":
            existing.clear()
        existing.extend(assignment.layers)
    plusequals = sum(1 for a in found if a.op == "+=") > 1
    remove = [_canonical(r) for r in remove]
    notadded = [a for a in add if _canonical(a) in existing and _canonical(a) not in remove]
    pending = [_canonical(a) for a in add if a not in notadded]
    removed: set[str] = set()
    out: list[str] = []
    start = 0
    for assignment in found:
        out.extend(lines[start:assignment.first])
        start = assignment.last + 1
        layers = list(assignment.layers)
        for pattern in remove:
            match = next((layer for layer in layers if fnmatch.fnmatch(layer, pattern)), None)
            if match is not None:
                layers.remove(match)
                removed.add(pattern)
        if pending and not plusequals:
            layers.extend(layer for layer in pending if layer not in layers)
            pending = []
        if layers != assignment.layers:
            out.extend(_format(assignment.op, layers) if layers or assignment.op != "+=" else [])
        else:
            out.extend(lines[assignment.first:start])
    out.extend(lines[start:])
    if out and not out[-1].endswith("\n"):
        out[-1] += "\n"
    out.extend(f'BBLAYERS += "{layer}"\n' for layer in pending)
    if out != lines:
        atomic_write(path, "".join(out))
    return notadded, [r for r in remove if r not in removed]


def _bblayers_conf(topdir: str) -> str:
    path = os.path.join(topdir, "conf", "bblayers.conf")
    if not os.path.exists(path):
        raise LayerError("Unable to find bblayers.conf", Location(topdir))
    return path


def add_layer(topdir: str, args: argparse.Namespace, out: TextIO) -> int:
    """Add layers to ``BBLAYERS``; unless ``-F``, the configuration is read with them and the file is put
    back as it was if that fails (a missing ``LAYERDEPENDS`` layer, an incompatible series...)."""
    layerdirs = [os.path.abspath(d) for d in args.layerdir]
    for layerdir in layerdirs:
        if not os.path.exists(layerdir):
            raise LayerError(f"Specified layer directory {layerdir} doesn't exist")
        if not os.path.exists(os.path.join(layerdir, "conf", "layer.conf")):
            raise LayerError(f"Specified layer directory {layerdir} doesn't contain a conf/layer.conf file")
    path = _bblayers_conf(topdir)
    with open(path, encoding="utf-8") as fh:
        backup = fh.read()
    notadded, _ = edit_bblayers(path, layerdirs, [])
    if not args.force and len(notadded) < len(layerdirs):
        try:
            start_configuration(topdir)
        except LayerbuildError as exc:
            atomic_write(path, backup)
            raise ErrorList((exc, LayerError("Parse failure with the specified layer added, exiting.",
                                             Location(path)))) from None
    for layerdir in notadded:
        sys.stderr.write(f"Specified layer {layerdir} is already in BBLAYERS\n")
    return 0


def remove_layer(topdir: str, args: argparse.Namespace, out: TextIO) -> int:
    """Remove layers from ``BBLAYERS``: by directory, or by name (``*/NAME``), or by a ``*`` pattern."""
    path = _bblayers_conf(topdir)
    patterns = []
    for item in args.layerdir:
        if item.startswith("*"):
            patterns.append(item)
        elif "/" not in item:
            patterns.append(f"*/{item}")
        else:
            patterns.append(os.path.abspath(item))
    _, notremoved = edit_bblayers(path, [], patterns)
    if notremoved:
        raise ErrorList(tuple(LayerError(f"No layers matching {item} found in BBLAYERS", Location(path))
                              for item in notremoved))
    return 0


_LAYER_CONF = """\
# We have a conf and classes directory, add to BBPATH
BBPATH .= ":${{LAYERDIR}}"

# We have recipes-* directories, add to BBFILES
BBFILES += "${{LAYERDIR}}/recipes-*/*/*.bb \\
            ${{LAYERDIR}}/recipes-*/*/*.bbappend"

BBFILE_COLLECTIONS += "{layerid}"
BBFILE_PATTERN_{layerid} = "^${{LAYERDIR}}/"
BBFILE_PRIORITY_{layerid} = "{priority}"

LAYERDEPENDS_{layerid} = "core"
LAYERSERIES_COMPAT_{layerid} = "{compat}"
"""

_EXAMPLE_RECIPE = """\
SUMMARY = "bitbake-layers recipe"
DESCRIPTION = "Recipe created by bitbake-layers"
LICENSE = "MIT"

python do_display_banner() {
    bb.plain("***********************************************");
    bb.plain("*                                             *");
    bb.plain("*  Example recipe created by bitbake-layers   *");
    bb.plain("*                                             *");
    bb.plain("***********************************************");
}

addtask display_banner before do_build
"""

_README = """\
This README file contains information on the contents of the {layername} layer.

Please see the corresponding sections below for details.

Dependencies
============

  URI: <first dependency>
  branch: <branch name>

Adding the {layername} layer to your build
=================================================

Run 'bitbake-layers add-layer {layername}'
"""


def create_layer(topdir: str, args: argparse.Namespace, out: TextIO) -> int:
    """A new layer: ``conf/layer.conf`` (compatible with the core layer's series, depending on ``core``),
    a README and the example recipe ``recipes-NAME/NAME/NAME_VERSION.bb``; ``-a`` adds it as well."""
    layerdir = os.path.abspath(args.layerdir)
    if os.path.exists(layerdir):
        raise LayerError(f"Specified layer directory exists: {layerdir}")
    layername = os.path.basename(os.path.normpath(args.layerdir))
    layerid = args.layerid if args.layerid is not None else layername
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]*", layerid):
        raise LayerError(f"layer id '{layerid}' is not usable as a collection name",
                         hint="give another with --layerid")
    name, version = args.examplerecipe, args.version
    if not re.fullmatch(r"[a-z0-9][a-z0-9.+-]*", name) or not re.fullmatch(r"[A-Za-z0-9.+~]+", version):
        raise LayerError(f"'{name}_{version}.bb' is not a recipe file name (lower-case name, version without '_')")
    compat = start_configuration(topdir).d.getVar("LAYERSERIES_CORENAMES") or ""
    os.makedirs(os.path.join(layerdir, "conf"))
    atomic_write(os.path.join(layerdir, "README"), _README.format(layername=layername))
    atomic_write(os.path.join(layerdir, "conf", "layer.conf"),
                 _LAYER_CONF.format(layerid=layerid, priority=args.priority, compat=compat))
    recipedir = os.path.join(layerdir, f"recipes-{name}", name)
    os.makedirs(recipedir)
    atomic_write(os.path.join(recipedir, f"{name}_{version}.bb"), _EXAMPLE_RECIPE)
    if args.add_layer:
        args.layerdir = [layerdir]
        add_layer(topdir, args, out)
        out.write(f"Layer added {layerdir}\n")
    else:
        out.write(f"Add your new layer with '{args.prog} add-layer {args.layerdir}'\n")
    return 0
