"""Layers: ``bblayers.conf``, each layer's ``conf/layer.conf``, collections and recipe files.

Reading follows BitBake's cooker: ``LAYERDIR`` is set while a layer's ``layer.conf`` is read and its
references are made literal afterwards; collections must be unique, compatible with the core series
and have their ``LAYERDEPENDS`` present; ``BBFILES`` (plus matching ``BBFILES_DYNAMIC`` entries) are
globbed and filtered by ``BBMASK``.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass

from layerbuild.engine.datastore import DataStore
from layerbuild.engine.evaluate import Evaluator
from layerbuild.engine.variants import split_virtual
from layerbuild.util.errors import LayerError, Location
from layerbuild.util.values import Typed

#: the per-collection variables of a layer.conf (``NAME_<collection>``), whose lines errors name
_LAYER_VARS = ("BBFILE_PATTERN", "BBFILE_PRIORITY", "LAYERDEPENDS", "LAYERSERIES_COMPAT", "LAYERVERSION")


@dataclass(frozen=True, slots=True)
class Collection:
    name: str
    layer: str
    pattern: str
    priority: int
    depends: tuple[str, ...]
    series_compat: tuple[str, ...]
    version: str | None


@dataclass(frozen=True, slots=True)
class LayerSet:
    """The layers of a build and the collections they define."""

    bblayers_conf: str
    layers: tuple[str, ...]
    collections: tuple[Collection, ...]
    series: tuple[str, ...]

    def collection_of(self, path: str) -> Collection | None:
        """The collection a recipe file (or a variant of one) belongs to: the longest matching ``BBFILE_PATTERN``."""
        path = split_virtual(path)[0]
        best: Collection | None = None
        for coll in self.collections:
            if coll.pattern and re.match(coll.pattern, path):
                if best is None or len(coll.pattern) > len(best.pattern):
                    best = coll
        return best

    def layer_name(self, path: str) -> str:
        """The name of the collection a recipe file belongs to (its ``FILE_LAYERNAME``), "" for none."""
        coll = self.collection_of(path)
        return coll.name if coll else ""

    def priority_of(self, path: str) -> int:
        coll = self.collection_of(path)
        return coll.priority if coll else 0


def _literal_layerdir(d: DataStore, layer: str, written: dict[str, str]) -> None:
    """Replace ``${LAYERDIR}``/``${LAYERDIR_RE}`` references with the layer's path (BitBake's expandVarref).

    The regular expressions among them are kept in ``written`` as the layer wrote them, so an error in
    one can point into that text rather than into a path the user never typed.
    """
    refs = {"${LAYERDIR}": layer, "${LAYERDIR_RE}": re.escape(layer)}
    for var in list(d.localkeys()):
        entry = d._vars.get(var)
        if not entry:
            continue
        content = entry.get("_content")
        if content is None and isinstance(entry.get("_defaultval"), str) and "${LAYERDIR" in entry["_defaultval"]:
            # BitBake reads the value as getVar(var, False) does, the weak default when nothing set it,
            # and sets it back: a ??= that names LAYERDIR is an assignment from then on
            content = entry["_defaultval"]
        if isinstance(content, str) and "${LAYERDIR" in content:
            if var.startswith("BBFILE_PATTERN_"):
                written[var] = content
            new = content
            for ref, value in refs.items():
                new = new.replace(ref, value)
            d._writable(var)["_content"] = new
        for keyword in (":append", ":prepend", ":remove"):
            pairs = entry.get(keyword)
            if pairs and any("${LAYERDIR" in v for v, _o in pairs):
                fixed = []
                for value, override in pairs:
                    for ref, literal in refs.items():
                        value = value.replace(ref, literal)
                    fixed.append((value, override))
                d._writable(var)[keyword] = tuple(fixed)
    d._changed()


def _regex_problem(exc: re.error, pattern: str, written: str | None) -> tuple[str, tuple[str, ...]]:
    """What is wrong with ``pattern`` and where, in the text as the layer wrote it when that is known.

    The layer's own directory stands in for ``${LAYERDIR}`` in ``pattern``; the offset Python reports
    into it depends on where the layer happens to live, so the text is compiled again with a plain
    stand-in of the reference's own length and the offset of that error (the same one) is shown.
    """
    text, pos = pattern, exc.pos
    if written is not None:
        stand_in = written
        for ref in ("${LAYERDIR_RE}", "${LAYERDIR}"):
            stand_in = stand_in.replace(ref, "L" * len(ref))
        try:
            re.compile(stand_in)
        except re.error as again:
            if again.msg == exc.msg:
                text, pos = written, again.pos
    if pos is None:
        return f'{exc.msg} in "{text}"', ()
    return f'{exc.msg} at position {pos} of "{text}"', (text, " " * pos + "^")


def read_layers(d: DataStore, evaluator: Evaluator, bblayers_conf: str) -> LayerSet:
    """Evaluate ``bblayers.conf`` and every layer's ``layer.conf`` onto ``d``; check the layer set."""
    evaluator.eval_file(d, bblayers_conf, include=False, baseconfig=True)
    layers = [os.path.abspath(os.path.expanduser(p)).rstrip("/") for p in (d.getVar("BBLAYERS") or "").split()]
    bbloc = d.location("BBLAYERS") or Location(bblayers_conf, 0)
    if not layers:
        raise LayerError("BBLAYERS is empty: no layers are configured", bbloc,
                         hint="list layer directories in BBLAYERS")
    for layer in layers:
        if not os.path.isdir(layer):
            raise LayerError(f"layer directory {layer} does not exist", bbloc, hint="check BBLAYERS")
    series: set[str] = set()
    compat: dict[str, set[str]] = {}
    owner: dict[str, str] = {}
    #: where each layer variable was set (collection name -> variable -> location), for errors
    where: dict[str, dict[str, Location]] = {}
    written: dict[str, str] = {}
    for layer in layers:
        conf = os.path.join(layer, "conf", "layer.conf")
        if not os.path.isfile(conf):
            raise LayerError(f"layer {layer} has no conf/layer.conf", bbloc,
                             hint="BBLAYERS lists layer directories, each with a conf/layer.conf")
        before = (d.getVar("BBFILE_COLLECTIONS") or "").split()
        d.setVar("LAYERDIR", layer, file=conf)
        d.setVar("LAYERDIR_RE", re.escape(layer), file=conf)
        d.reset_local()
        # (as an include: FILE is bblayers.conf again afterwards, as BitBake leaves it)
        evaluator.eval_file(d, conf, include=True, baseconfig=True)
        _literal_layerdir(d, layer, written)
        after = (d.getVar("BBFILE_COLLECTIONS") or "").split()
        for name in after[len(before):]:
            if name in owner or name in before:
                raise LayerError(f"collection '{name}' is defined twice (again by layer {layer})",
                                 d.location("BBFILE_COLLECTIONS") or Location(conf),
                                 hint="each layer needs its own BBFILE_COLLECTIONS name")
            owner[name] = layer
            found = {var: d.location(f"{var}_{name}") for var in _LAYER_VARS}
            where[name] = {var: w for var, w in found.items() if w is not None and w.path == conf}
        for name in after:
            value = d.getVar(f"LAYERSERIES_COMPAT_{name}")
            if value:
                compat[name] = set(value.split())
                where.setdefault(name, {}).setdefault("LAYERSERIES_COMPAT",
                                                      d.location(f"LAYERSERIES_COMPAT_{name}") or Location(conf))
                d.delVar(f"LAYERSERIES_COMPAT_{name}", file=conf)
        if not series:
            names = (d.getVar("LAYERSERIES_CORENAMES") or "").split()
            if names:
                series = set(names)
                d.delVar("LAYERSERIES_CORENAMES", file=conf)
    d.delVar("LAYERDIR", file=bblayers_conf)
    d.delVar("LAYERDIR_RE", file=bblayers_conf)
    for name, values in compat.items():
        d.setVar(f"LAYERSERIES_COMPAT_{name}", " ".join(sorted(values)), file=bblayers_conf)
    d.setVar("LAYERSERIES_CORENAMES", " ".join(sorted(series)), file=bblayers_conf)
    names = (d.getVar("BBFILE_COLLECTIONS") or "").split()
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        name = sorted(dup)[0]
        raise LayerError(f"collection '{name}' is defined twice", d.location("BBFILE_COLLECTIONS") or bbloc,
                         hint="check BBLAYERS and the layers' BBFILE_COLLECTIONS")
    for dynamic in (d.getVar("BBFILES_DYNAMIC") or "").split():
        parts = dynamic.split(":", 1)
        if len(parts) != 2 or parts[0].lstrip("!") == "":
            raise LayerError(f"BBFILES_DYNAMIC entry '{dynamic}' is not of the form "
                             "[!]collection:pattern", d.location("BBFILES_DYNAMIC") or bbloc,
                             hint="prefix the pattern with the collection it needs, as in core:${LAYERDIR}/...")
        coll, pattern = parts
        invert = coll.startswith("!")
        coll = coll.lstrip("!")
        if (coll in names) != invert:
            d.appendVar("BBFILES", " " + pattern)
    collections = []
    for name in names:
        layer = owner.get(name, "")
        conf = os.path.join(layer, "conf", "layer.conf") if layer else bblayers_conf
        locs = where.get(name, {})

        def at(var: str, name: str = name, conf: str = conf) -> Location:
            return where.get(name, {}).get(var) or d.location(f"{var}_{name}") or Location(conf)

        wanted = compat.get(name, set())
        if wanted and not series:
            raise LayerError(f"layer {name} declares LAYERSERIES_COMPAT_{name} but no layer sets "
                             "LAYERSERIES_CORENAMES", at("LAYERSERIES_COMPAT"), hint="add the core layer to BBLAYERS")
        if wanted and not wanted & series:
            raise LayerError(f"layer {name} is not compatible with the core layer series "
                             f"{' '.join(sorted(series))} (it supports {' '.join(sorted(wanted))})",
                             at("LAYERSERIES_COMPAT"),
                             hint=f"update LAYERSERIES_COMPAT_{name} or use a matching release")
        priority = Typed(d).int(f"BBFILE_PRIORITY_{name}", 0)
        pattern = d.getVar(f"BBFILE_PATTERN_{name}") or ""
        try:
            re.compile(pattern)
        except re.error as exc:
            problem, notes = _regex_problem(exc, pattern, written.get(f"BBFILE_PATTERN_{name}"))
            raise LayerError(f"BBFILE_PATTERN_{name} is not a valid regular expression: {problem}",
                             at("BBFILE_PATTERN"), hint='the usual pattern is "^${LAYERDIR}/"', notes=notes) from None
        for var in _LAYER_VARS:
            locs.setdefault(var, at(var))
        where[name] = locs
        collections.append(Collection(
            name=name, layer=layer, pattern=pattern, priority=priority,
            depends=tuple((d.getVar(f"LAYERDEPENDS_{name}") or "").split()), series_compat=tuple(sorted(wanted)),
            version=d.getVar(f"LAYERVERSION_{name}")))
    _check_depends(collections, {name: w["LAYERDEPENDS"] for name, w in where.items() if "LAYERDEPENDS" in w})
    return LayerSet(bblayers_conf, tuple(layers), tuple(collections), tuple(sorted(series)))


def _check_depends(collections: list[Collection], where: dict[str, Location]) -> None:
    by_name = {c.name: c for c in collections}
    for coll in collections:
        words = list(coll.depends)
        i = 0
        while i < len(words):
            dep = words[i]
            version = None
            if i + 1 < len(words) and words[i + 1].startswith("("):
                spec = [words[i + 1]]
                i += 1
                while not spec[-1].endswith(")") and i + 1 < len(words):
                    i += 1
                    spec.append(words[i])
                version = " ".join(spec)[1:-1].strip()
            i += 1
            conf = where[coll.name]
            if dep not in by_name:
                raise LayerError(f"layer {coll.name} depends on layer {dep}, which is not in BBLAYERS",
                                 conf, hint=f"add the layer that provides collection '{dep}' to BBLAYERS")
            if version:
                _check_layer_version(coll, dep, version, by_name[dep], conf)


def _check_layer_version(coll: Collection, dep: str, spec: str, target: Collection, conf: Location) -> None:
    from layerbuild.util.version import vercmp_string
    m = re.match(r"(>=|<=|=|>|<)?\s*([^\s<>=]+)$", spec)
    if not m:
        raise LayerError(f"LAYERDEPENDS_{coll.name}: cannot read version requirement '({spec})'", conf,
                         hint=f"write {dep} (>= VERSION); the operators are >= <= = > <")
    op, wanted = m.group(1) or "=", m.group(2)
    if target.version is None:
        raise LayerError(f"layer {coll.name} needs {dep} version {op} {wanted}, but {dep} sets no "
                         f"LAYERVERSION_{dep}", conf, hint=f"set LAYERVERSION_{dep} in {dep}'s layer.conf")
    cmp = vercmp_string(target.version, wanted)
    ok = {">=": cmp >= 0, "<=": cmp <= 0, "=": cmp == 0, ">": cmp > 0, "<": cmp < 0}[op]
    if not ok:
        raise LayerError(f"layer {coll.name} needs {dep} version {op} {wanted}, but it is {target.version}", conf)


@dataclass(frozen=True, slots=True)
class RecipeFiles:
    recipes: tuple[str, ...]
    appends: tuple[str, ...]
    masked: tuple[str, ...]


def collect_files(d: DataStore, layerset: LayerSet) -> RecipeFiles:
    """Recipe and append files from ``BBFILES``, in BitBake's order, without the ``BBMASK``-ed ones."""
    masks = []
    for mask in (d.getVar("BBMASK") or "").split():
        try:
            masks.append(re.compile(mask))
        except re.error as exc:
            raise LayerError(f"BBMASK entry '{mask}' is not a valid regular expression: {exc}",
                             d.location("BBMASK") or Location(layerset.bblayers_conf),
                             hint="BBMASK entries are Python regular expressions (.* where a shell uses *)") from None
    seen: set[str] = set()
    recipes: list[str] = []
    appends: list[str] = []
    masked: list[str] = []
    for pattern in (d.getVar("BBFILES") or "").split():
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else (
            [pattern] if os.path.exists(pattern) else [])
        for path in matches:
            path = os.path.abspath(path)
            if path in seen:
                continue
            seen.add(path)
            if any(m.search(path) for m in masks):
                masked.append(path)
                continue
            if path.endswith(".bb"):
                recipes.append(path)
            elif path.endswith(".bbappend"):
                appends.append(path)
    return RecipeFiles(tuple(recipes), tuple(appends), tuple(masked))


def appends_for(recipe: str, appends: tuple[str, ...]) -> tuple[str, ...]:
    """The ``.bbappend`` files that apply to ``recipe`` (``%`` matches the rest of the name)."""
    name = os.path.basename(recipe)
    found = []
    for append in appends:
        stem = os.path.basename(append)[:-len("append")]
        if stem == name or ("%" in stem and name.startswith(stem[:stem.index("%")])):
            found.append(append)
    return tuple(found)


def dangling_appends(recipes: tuple[str, ...], appends: tuple[str, ...]) -> list[str]:
    used: set[str] = set()
    for recipe in recipes:
        used.update(appends_for(recipe, appends))
    return [a for a in appends if a not in used]
