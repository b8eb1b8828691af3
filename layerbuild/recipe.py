"""Parsing one recipe, and the summary of it that the parse cache keeps.

A recipe is parsed onto a copy of the configuration: the ``.bb`` file, then its ``.bbappend`` files
in layer order, then finalisation (deferred inherits, key expansion, anonymous Python). ``RecipeInfo``
holds what later stages need without parsing again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .datastore import DataStore
from .evaluate import Evaluator
from .pyenv import SkipRecipe
from .signatures import TaskSignature, task_signatures

#: Task flags kept in the recipe summary (the task graph reads them).
TASK_FLAGS = ("deps", "depends", "deptask", "rdeptask", "recrdeptask", "noexec", "nostamp", "_addtask_loc",
              "sstate-inputdirs", "sstate-outputdirs", "depends-hint")
#: Variables kept in the recipe summary for the scheduler (stamps, sstate names).
KEEP_VARS = ("STAMP", "SSTATETASKS", "PACKAGE_ARCH", "SSTATE_DIR", "SSTATE_MIRRORS", "SSTATE_MANIFESTS",
             "BB_CURRENT_MC", "BUILD_SUMMARY")


@dataclass(frozen=True, slots=True)
class TaskInfo:
    name: str
    flags: tuple[tuple[str, Any], ...]

    def flag(self, name: str, default: Any = None) -> Any:
        for key, value in self.flags:
            if key == name:
                return value
        return default


@dataclass(frozen=True, slots=True)
class RecipeInfo:
    """What the rest of the build needs to know about a parsed recipe."""

    fn: str
    appends: tuple[str, ...]
    pn: str
    pv: str
    pe: str
    pr: str
    provides: tuple[str, ...]
    depends: tuple[str, ...]
    packages: tuple[str, ...]
    rdepends: tuple[tuple[str, tuple[str, ...]], ...]
    rrecommends: tuple[tuple[str, tuple[str, ...]], ...]
    rprovides: tuple[tuple[str, tuple[str, ...]], ...]
    tasks: tuple[TaskInfo, ...]
    skipped: str | None
    variables: tuple[tuple[str, str | None], ...] = field(default=())
    locations: tuple[tuple[str, str, int], ...] = field(default=())
    signatures: tuple[TaskSignature, ...] | None = None
    #: (word, variable, path, line): which variable named each word of the recipe's own RDEPENDS, and
    #: where it was set (an image's IMAGE_INSTALL, reached through PACKAGE_INSTALL)
    origins: tuple[tuple[str, str, str, int], ...] = field(default=())

    def origin(self, word: str) -> tuple[str, str, int] | None:
        for name, var, path, line in self.origins:
            if name == word:
                return var, path, line
        return None

    def signature(self, task: str) -> TaskSignature:
        for sig in self.signatures or ():
            if sig.task == task:
                return sig
        raise KeyError(f"{self.pn}:{task} has no signature")

    def var(self, name: str) -> str | None:
        for key, value in self.variables:
            if key == name:
                return value
        return None

    def location(self, name: str) -> tuple[str, int] | None:
        for key, path, line in self.locations:
            if key == name:
                return path, line
        return None


def parse_recipe(config: DataStore, evaluator: Evaluator, fn: str, appends: tuple[str, ...] = (),
                 layername: str = "") -> DataStore:
    """Parse ``fn`` and its appends onto a copy of ``config``; returns the finalised datastore.

    A recipe that raises ``SkipRecipe`` is returned with ``__SKIPPED`` set to the reason.
    """
    d = config.createCopy()
    d.file_depends = []
    d.setVar("FILE_LAYERNAME", layername)
    d.setVar("__BB_RECIPE_FILE", fn)
    if appends:
        d.setVar("__BBAPPEND", " ".join(appends))
    try:
        evaluator.eval_file(d, fn, include=False)
        for append in appends:
            evaluator.eval_file(d, append, include=True)
        evaluator.finalize(d)
    except SkipRecipe as exc:
        d.setVar("__SKIPPED", str(exc) or "skipped")
    return d


def _split(value: str | None) -> tuple[str, ...]:
    return tuple((value or "").split())


def _split_deps(value: str | None) -> tuple[str, ...]:
    """Names from a dependency list, dropping version constraints such as ``(>= 1.0)``."""
    names = []
    depth = 0
    for word in (value or "").split():
        if word.startswith("("):
            depth += 1
        if depth == 0:
            names.append(word)
        if word.endswith(")") and depth:
            depth -= 1
    return tuple(names)


def _runtime(d: DataStore, var: str, packages: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    own = _split_deps(d.getVar(var))
    per_package = tuple((p, _split_deps(d.getVar(f"{var}:{p}"))) for p in packages)
    return ((("", own),) if own else ()) + per_package


def _origins(d: DataStore, var: str) -> tuple[tuple[str, str, str, int], ...]:
    """For each word of ``var``, the deepest variable in its expansion that names it, and where it was set."""
    words = _split_deps(d.getVar(var))
    if not words:
        return ()
    found: dict[str, tuple[str, str, str, int]] = {}
    seen = {var}
    level = [var]
    while level:
        nxt: list[str] = []
        for name in level:
            loc = d.location(name)
            value = set((d.getVar(name) or "").split())
            for word in words:
                if word in value and loc is not None:
                    found[word] = (word, name, loc.path, loc.line)
            raw = d.getVar(name, False)
            for ref in sorted(d.expandWithRefs(raw, None).refs if isinstance(raw, str) else ()):
                if ref not in seen:
                    seen.add(ref)
                    nxt.append(ref)
        level = nxt
    return tuple(found[w] for w in words if w in found)


def recipe_info(d: DataStore, fn: str, appends: tuple[str, ...], keep: tuple[str, ...] = KEEP_VARS,
                signatures: bool = False) -> RecipeInfo:
    """Summarise a parsed recipe for the parse cache."""
    skipped = d.getVar("__SKIPPED", False)
    pn = d.getVar("PN") or ""
    provides = [pn] + [p for p in _split(d.getVar("PROVIDES")) if p != pn]
    packages = _split(d.getVar("PACKAGES")) if not skipped else ()
    tasks = []
    if not skipped:
        for task in d.getVar("__BBTASKS", False) or []:
            flags = []
            for name in TASK_FLAGS:
                value = d.getVarFlag(task, name, name not in ("deps", "_addtask_loc"))
                if value is not None and value != "":
                    flags.append((name, tuple(value) if isinstance(value, list) else value))
            raw = d.getVarFlag(task, "depends", False)
            if raw and "${" in str(raw):
                # the variables a [depends] entry came from, so an error can point at where they were set
                flags.append(("_depends_refs", tuple(sorted(d.expandWithRefs(str(raw), None).refs))))
            tasks.append(TaskInfo(task, tuple(flags)))
    locations = []
    refs = {ref for task in tasks for ref in task.flag("_depends_refs", ()) or ()}
    for var in ("DEPENDS", "RDEPENDS", "PROVIDES", *sorted(refs)):
        loc = d.location(var)
        if loc is not None:
            locations.append((var, loc.path, loc.line))
    return RecipeInfo(
        fn=fn, appends=appends, pn=pn, pv=d.getVar("PV") or "", pe=d.getVar("PE") or "",
        pr=d.getVar("PR") or "", provides=tuple(provides), depends=_split_deps(d.getVar("DEPENDS")),
        packages=packages,
        # as in BitBake, the recipe's own RDEPENDS/RRECOMMENDS (an image's packages) count as package ""
        rdepends=_runtime(d, "RDEPENDS", packages),
        rrecommends=_runtime(d, "RRECOMMENDS", packages),
        rprovides=tuple((p, _split_deps(d.getVar(f"RPROVIDES:{p}"))) for p in packages),
        tasks=tuple(tasks),
        skipped=str(skipped) if skipped else None,
        variables=tuple((name, d.getVar(name)) for name in keep),
        locations=tuple(locations),
        signatures=tuple(task_signatures(d, [t.name for t in tasks]).values()) if signatures and not skipped
        else (() if skipped else None),
        origins=_origins(d, "RDEPENDS") if not skipped else (),
    )
