"""Task signatures: a basehash from a task's code and every variable it reads, a taskhash over its deps.

The basehash of a task covers the task function, its ``[prefuncs]``/``[postfuncs]`` and, transitively,
the unexpanded value of every variable and function they reference (found by parsing the shell or
python bodies; ``[vardeps]`` adds, ``[vardepsexclude]`` and ``BB_BASEHASH_IGNORE_VARS`` remove,
``[vardepvalue]`` replaces a value), plus the content of ``[file-checksums]`` files. The taskhash adds
the taskhashes of the tasks it depends on, so a change anywhere below reruns exactly what is above.

Each run writes sigdata (all of the above, as JSON) next to the stamp; :mod:`layerbuild.engine.sigdiff` says
why two signatures differ.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from layerbuild.engine.codeparse import Contains, builtin_calls, python_refs, shell_words
from layerbuild.engine.datastore import DataStore
from layerbuild.util.fsutil import atomic_write
from layerbuild.util.hashing import sha256_path

if TYPE_CHECKING:  # annotations only: taskgraph imports networkx, which a parse does not need
    from layerbuild.engine.taskgraph import TaskId

#: Version of the sigdata layout: 2 records each task dependency as its TaskId, recipe name and taskhash
#: (version 1, without the field, keyed them by "pn:do_task" strings)
SIGDATA_FORMAT = 2


@dataclass(frozen=True, slots=True)
class DepHash:
    """The taskhash a task saw of one task it depends on."""

    tid: TaskId
    pn: str
    taskhash: str

    @property
    def label(self) -> str:
        return f"{self.pn}:{self.tid.task}"

    def to_json(self) -> dict[str, str]:
        found = {"fn": self.tid.fn, "task": self.tid.task, "pn": self.pn, "taskhash": self.taskhash}
        if self.tid.mc:  # a multiconfig's task ([mcdepends]); the default configuration's have none
            found["mc"] = self.tid.mc
        return found


def _dep_key(dep: DepHash) -> tuple[str, str, str]:
    return (dep.tid.mc, dep.tid.fn, dep.tid.task)


@dataclass(frozen=True, slots=True)
class TaskSignature:
    """What a task's basehash was computed from."""

    task: str
    basehash: str
    values: tuple[tuple[str, str | None], ...]
    deps: tuple[tuple[str, tuple[str, ...]], ...]
    files: tuple[tuple[str, str | None], ...]

    def sigdata(self, pn: str, taskhash: str, dep_hashes: Iterable[DepHash]) -> dict[str, Any]:
        return {"format": SIGDATA_FORMAT, "pn": pn, "task": self.task, "basehash": self.basehash,
                "taskhash": taskhash, "values": dict(self.values), "deps": {k: list(v) for k, v in self.deps},
                "files": dict(self.files), "runtaskhashes": [dep.to_json() for dep in sorted(dep_hashes, key=_dep_key)]}


class Signatures(NamedTuple):
    """What the basehash of each task of a build's task graph was computed from, by recipe file and task:
    worked out once, after the graph, from the parse cache or a parse of the recipe for it.

    (A named tuple rather than a dataclass: every command imports it, and a frozen dataclass costs
    four times the instructions to create.)"""

    recipes: dict[str, dict[str, TaskSignature]]
    #: the same, of each multiconfig's recipes by its name (the default configuration's are ``recipes``)
    multiconfigs: dict[str, dict[str, dict[str, TaskSignature]]] = {}  # noqa: RUF012 - never changed

    def of(self, tid: TaskId) -> TaskSignature:
        return (self.multiconfigs[tid.mc] if tid.mc else self.recipes)[tid.fn][tid.task]


_EXPANDED_FLAGS = ("vardeps", "vardepsexclude", "vardepvalue", "vardepvalueexclude", "prefuncs", "postfuncs",
                   "exports", "file-checksums")


class _DepFinder:
    def __init__(self, d: DataStore) -> None:
        self.d = d
        self.ignored = set((d.getVar("BB_BASEHASH_IGNORE_VARS") or "").split())
        self.funcs = d.functions()
        exports = d.getVar("__exportlist", False) or set()
        self.shelldeps = {k for k in exports if d.getVarFlag(k, "export", False)
                          and not d.getVarFlag(k, "unexport", False)} - self.ignored
        self.cache: dict[str, tuple[set[str], str | None]] = {}

    def deps(self, key: str) -> tuple[set[str], str | None]:
        found = self.cache.get(key)
        if found is not None:
            return found
        d = self.d
        flags = d.getVarFlags(key, expand=_EXPANDED_FLAGS) or {}
        value, parser = d.getVarFlag(key, "_content", False, retparser=True)
        deps: set[str] = set(parser.refs) if parser is not None else set()
        asked: set[Contains] = set(parser.contains or ()) if parser is not None else set()
        removes = sorted(parser.removes or ()) if parser is not None else []
        if removes and isinstance(value, str):
            # as in BitBake: a :remove that takes effect is part of the value, and what it references a dependency
            for removed in removes:
                expansion = d.expandWithRefs(removed, None)
                deps |= set(expansion.refs)
                asked |= expansion.contains or set()
            value += "".join(f"\n_remove of {removed}" for removed in removes)
        if "vardepvalue" in flags:
            # as in BitBake: the given value stands for the variable; only [vardeps] are followed
            deps = set()
            asked = set()
        if flags.get("func") and "vardepvalue" not in flags:
            body = value if isinstance(value, str) else ""
            if flags.get("python"):
                reads, calls, expands, questions = python_refs(body)
                deps |= reads
                asked |= questions
                deps |= calls & self.funcs
                if "run_builtin" in calls:
                    # a builtin declares what it reads (the session's hooks know the table)
                    declared = d.pyglobals.get("builtin_vardeps")
                    for name in sorted(builtin_calls(body)):
                        deps |= set(declared(name, d)) if declared is not None else set()
                for text in expands:
                    expansion = d.expandWithRefs(text, None)
                    deps |= set(expansion.refs)
                    asked |= expansion.contains or set()
            else:
                deps |= self.shelldeps
                deps |= (shell_words(body) & self.funcs) - {key}
            for name in ("prefuncs", "postfuncs", "exports"):
                deps |= set(str(flags.get(name) or "").split())
        if "vardepvalue" in flags:
            value = flags["vardepvalue"]
        if isinstance(value, str) and flags.get("vardepvalueexclude"):
            for excl in str(flags["vardepvalueexclude"]).split("|"):
                if excl:
                    value = value.replace(excl, "")
        deps |= set(str(flags.get("vardeps") or "").split())
        excluded = set(str(flags.get("vardepsexclude") or "").split())
        if asked and "vardepvalue" not in flags:
            value = self._answers(value if isinstance(value, str) else None, asked, excluded)
        deps -= excluded
        deps -= self.ignored
        deps.discard(key)
        result = (deps, value if value is None or isinstance(value, str) else str(value))
        self.cache[key] = result
        return result


    def _answers(self, value: str | None, asked: set[Contains], excluded: set[str]) -> str:
        """``value`` with what its contains() calls asked, as BitBake's signatures record it: whether
        VAR holds the words (``VAR{words} = Set``), not VAR's value, so a variable reached only through
        a contains() whose answer stays the same does not change the basehash."""
        out = [value] if value else []
        held: dict[str, set[str]] = {}
        for var, words in sorted(asked):
            if var in excluded or var in self.ignored:
                continue
            if var not in held:
                held[var] = set((self.d.getVar(var) or "").split())
            answer = "Set" if all(word in held[var] for word in words.split()) else "Unset"
            out.append(f"\n{var}{{{words}}} = {answer}")
        return "".join(out)


def task_signatures(d: DataStore, tasks: Iterable[str]) -> dict[str, TaskSignature]:
    """Basehashes of ``tasks`` of the finalised recipe datastore ``d``."""
    finder = _DepFinder(d)
    out = {}
    for task in tasks:
        closure: dict[str, tuple[str, ...]] = {}
        values: dict[str, str | None] = {}
        todo = [task]
        for name in (d.getVarFlag(task, "prefuncs") or "").split() + (d.getVarFlag(task, "postfuncs") or "").split():
            todo.append(name)
        seen = set()
        while todo:
            key = todo.pop()
            if key in seen:
                continue
            seen.add(key)
            deps, value = finder.deps(key)
            closure[key] = tuple(sorted(deps))
            values[key] = value
            todo.extend(deps - seen)
        files = []
        for entry in (d.getVarFlag(task, "file-checksums") or "").split():
            path = entry.rsplit(":", 1)[0] if entry.endswith((":True", ":False")) else entry
            files.append((path, sha256_path(path)))
        h = hashlib.sha256()
        h.update(f"{task}\0{values.get(task) or ''}\n".encode())
        for key in sorted(values):
            if key == task:
                continue
            h.update(f"{key}\0{values[key] if values[key] is not None else '<unset>'}\n".encode())
        for path, digest in sorted(files):
            h.update(f"file {path}\0{digest or '-'}\n".encode())
        out[task] = TaskSignature(task, h.hexdigest(), tuple(sorted(values.items())),
                                  tuple(sorted(closure.items())), tuple(sorted(files)))
    return out


def taskhash(basehash: str, dep_hashes: Iterable[str], taint: str | None = None) -> str:
    h = hashlib.sha256(basehash.encode())
    for dep in sorted(dep_hashes):
        h.update(dep.encode())
    if taint:
        h.update(b"taint:" + taint.encode())
    return h.hexdigest()


def write_sigdata(path: str, data: dict[str, Any]) -> None:
    """Write sigdata under a temporary name and rename it into place (never half-written)."""
    atomic_write(path, json.dumps(data, sort_keys=True, separators=(",", ":")))


def read_sigdata(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data
