"""Task signatures: a basehash from a task's code and every variable it reads, a taskhash over its deps.

The basehash of a task covers the task function, its ``[prefuncs]``/``[postfuncs]`` and, transitively,
the unexpanded value of every variable and function they reference (found by parsing the shell or
python bodies; ``[vardeps]`` adds, ``[vardepsexclude]`` and ``BB_BASEHASH_IGNORE_VARS`` remove,
``[vardepvalue]`` replaces a value), plus the content of ``[file-checksums]`` files. The taskhash adds
the taskhashes of the tasks it depends on, so a change anywhere below reruns exactly what is above.

Each run writes sigdata (all of the above, as JSON) next to the stamp. ``diff_sigdata`` says why two
signatures differ as typed differences, and :func:`describe` puts them into plain words.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .codeparse import builtin_calls, python_refs, shell_words
from .datastore import DataStore
from .fsutil import atomic_write
from .hashing import sha256_path

if TYPE_CHECKING:  # taskgraph imports recipe, which imports this module
    from .taskgraph import TaskId

#: Version of the sigdata layout: 2 records each task dependency as its TaskId, recipe name and taskhash
#: (version 1, without the field, keyed them by "pn:do_task" strings)
SIGDATA_FORMAT = 2


@dataclass(frozen=True, slots=True, order=True)
class DepHash:
    """The taskhash a task saw of one task it depends on."""

    tid: TaskId
    pn: str
    taskhash: str

    @property
    def label(self) -> str:
        return f"{self.pn}:{self.tid.task}"

    def to_json(self) -> dict[str, str]:
        return {"fn": self.tid.fn, "task": self.tid.task, "pn": self.pn, "taskhash": self.taskhash}


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
                "files": dict(self.files), "runtaskhashes": [dep.to_json() for dep in sorted(dep_hashes)]}


_EXPANDED_FLAGS = ("vardeps", "vardepsexclude", "vardepvalue", "vardepvalueexclude", "prefuncs", "postfuncs",
                   "exports", "file-checksums")


class _DepFinder:
    def __init__(self, d: DataStore) -> None:
        self.d = d
        self.ignored = set((d.getVar("BB_BASEHASH_IGNORE_VARS") or "").split())
        self.funcs = {k for k in d.keys() if d.getVarFlag(k, "func", False)}
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
        if "vardepvalue" in flags:
            # as in BitBake: the given value stands for the variable; only [vardeps] are followed
            deps = set()
        if flags.get("func") and "vardepvalue" not in flags:
            body = value if isinstance(value, str) else ""
            if flags.get("python"):
                reads, calls, expands = python_refs(body)
                deps |= reads
                deps |= calls & self.funcs
                if "run_builtin" in calls:
                    # a builtin declares what it reads (the session's hooks know the table)
                    declared = d.pyglobals.get("builtin_vardeps")
                    for name in sorted(builtin_calls(body)):
                        deps |= set(declared(name, d)) if declared is not None else set()
                for text in expands:
                    deps |= set(d.expandWithRefs(text, None).refs)
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
        deps -= set(str(flags.get("vardepsexclude") or "").split())
        deps -= self.ignored
        deps.discard(key)
        result = (deps, value if value is None or isinstance(value, str) else str(value))
        self.cache[key] = result
        return result


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


def dep_hashes(sigdata: dict[str, Any]) -> dict[tuple[str, str], DepHash]:
    """The task dependencies recorded in ``sigdata``, by (recipe name, task).

    Sigdata of layout 1 named a dependency only as "pn:do_task": its TaskId then has an empty ``fn``.
    """
    from .taskgraph import TaskId
    raw = sigdata.get("runtaskhashes") or {}
    deps: list[DepHash] = []
    if isinstance(raw, dict):
        for label, h in raw.items():
            pn, _, task = str(label).rpartition(":")
            deps.append(DepHash(TaskId("", task), pn, str(h)))
    else:
        deps = [DepHash(TaskId(str(e["fn"]), str(e["task"])), str(e["pn"]), str(e["taskhash"])) for e in raw]
    return {(dep.pn, dep.tid.task): dep for dep in deps}


# -- why two signatures differ: typed differences, and the one place that puts them into words --

@dataclass(frozen=True, slots=True)
class DifferentTasks:
    """The two signatures are of different tasks."""
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class TaskCodeChanged:
    task: str
    old: str | None
    new: str | None


@dataclass(frozen=True, slots=True)
class VariableAdded:
    name: str
    value: str | None


@dataclass(frozen=True, slots=True)
class VariableRemoved:
    name: str
    value: str | None


@dataclass(frozen=True, slots=True)
class VariableChanged:
    name: str
    old: str | None
    new: str | None


@dataclass(frozen=True, slots=True)
class FileAdded:
    path: str
    digest: str | None


@dataclass(frozen=True, slots=True)
class FileRemoved:
    path: str
    digest: str | None


@dataclass(frozen=True, slots=True)
class FileChanged:
    path: str
    old: str | None
    new: str | None


@dataclass(frozen=True, slots=True)
class DependencyAdded:
    dep: DepHash


@dataclass(frozen=True, slots=True)
class DependencyRemoved:
    dep: DepHash


@dataclass(frozen=True, slots=True)
class DependencyChanged:
    """A task this one depends on has another taskhash (``tid`` as the newer signature names it)."""
    tid: TaskId
    label: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class BasehashChanged:
    """The basehash differs although every input it records is the same (another layerbuild computed it)."""
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Forced:
    """Only the taskhash differs: the task was forced or tainted."""


@dataclass(frozen=True, slots=True)
class Identical:
    pass


SigDifference = (DifferentTasks | TaskCodeChanged | VariableAdded | VariableRemoved | VariableChanged | FileAdded
                 | FileRemoved | FileChanged | DependencyAdded | DependencyRemoved | DependencyChanged
                 | BasehashChanged | Forced | Identical)


def diff_sigdata(a: dict[str, Any], b: dict[str, Any]) -> list[SigDifference]:
    """Why signature ``a`` became ``b``: the differences in the order :func:`describe` lists them."""
    out: list[SigDifference] = []
    if a.get("task") != b.get("task") or a.get("pn") != b.get("pn"):
        out.append(DifferentTasks(f"{a.get('pn')}:{a.get('task')}", f"{b.get('pn')}:{b.get('task')}"))
    task = b.get("task")
    va, vb = a.get("values", {}), b.get("values", {})
    if va.get(task) != vb.get(task):
        out.append(TaskCodeChanged(str(task), va.get(task), vb.get(task)))
    for key in sorted(set(va) | set(vb)):
        if key == task:
            continue
        if key not in va:
            out.append(VariableAdded(key, vb[key]))
        elif key not in vb:
            out.append(VariableRemoved(key, va[key]))
        elif va[key] != vb[key]:
            out.append(VariableChanged(key, va[key], vb[key]))
    fa, fb = a.get("files", {}), b.get("files", {})
    for path in sorted(set(fa) | set(fb)):
        if path not in fa:
            out.append(FileAdded(path, fb[path]))
        elif path not in fb:
            out.append(FileRemoved(path, fa[path]))
        elif fa[path] != fb[path]:
            out.append(FileChanged(path, fa[path], fb[path]))
    ra, rb = dep_hashes(a), dep_hashes(b)
    for key in sorted(set(ra) | set(rb), key=lambda k: f"{k[0]}:{k[1]}"):
        if key not in ra:
            out.append(DependencyAdded(rb[key]))
        elif key not in rb:
            out.append(DependencyRemoved(ra[key]))
        elif ra[key].taskhash != rb[key].taskhash:
            new = rb[key]
            out.append(DependencyChanged(new.tid, new.label, ra[key].taskhash, new.taskhash))
    if not out and a.get("basehash") != b.get("basehash"):
        out.append(BasehashChanged(str(a.get("basehash")), str(b.get("basehash"))))
    if not out and a.get("taskhash") != b.get("taskhash"):
        out.append(Forced())
    if not out:
        out.append(Identical())
    return out


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(diff: SigDifference) -> str:
    """One difference as a plain sentence."""
    match diff:
        case DifferentTasks(old, new):
            return f"comparing different tasks: {old} and {new}"
        case TaskCodeChanged(task, old, new):
            return f"task code of {task} changed: {_short(old)} -> {_short(new)}"
        case VariableAdded(name, value):
            return f"dependency on variable {name} added (value {_short(value)})"
        case VariableRemoved(name, value):
            return f"dependency on variable {name} removed (value was {_short(value)})"
        case VariableChanged(name, old, new):
            return f"variable {name} changed: {_short(old)} -> {_short(new)}"
        case FileAdded(path):
            return f"file {path} added to the checksums"
        case FileRemoved(path):
            return f"file {path} removed from the checksums"
        case FileChanged(path):
            return f"file {path} changed"
        case DependencyAdded(dep):
            return f"task dependency {dep.label} added"
        case DependencyRemoved(dep):
            return f"task dependency {dep.label} removed"
        case DependencyChanged(_tid, label, old, new):
            return f"task dependency {label} changed its hash ({old[:12]} -> {new[:12]})"
        case BasehashChanged(old, new):
            return (f"the basehash changed ({old[:12]} -> {new[:12]}) with the same inputs: the signatures come "
                    "from different versions of layerbuild")
        case Forced():
            return "the task was forced or tainted (-f), which changes its hash"
        case Identical():
            return "the signatures are identical"
    raise AssertionError(diff)
