"""Why two task signatures differ: typed differences between two sigdata records, and the one place
that puts them into words (``layerbuild -S`` and ``layerbuild-diffsigs`` print them; ``-S`` follows a
:class:`DependencyChanged` down to the task it names).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from layerbuild.engine.signatures import DepHash
from layerbuild.engine.taskgraph import TaskId


def recorded_deps(sigdata: dict[str, Any]) -> dict[tuple[str, str], DepHash]:
    """The task dependencies recorded in ``sigdata``, by (recipe name, task).

    Sigdata of layout 1 named a dependency only as "pn:do_task": its TaskId then has an empty ``fn``.
    """
    raw = sigdata.get("runtaskhashes") or {}
    deps: list[DepHash] = []
    if isinstance(raw, dict):
        for label, h in raw.items():
            pn, _, task = str(label).rpartition(":")
            deps.append(DepHash(TaskId("", task), pn, str(h)))
    else:
        deps = [DepHash(TaskId(str(e["fn"]), str(e["task"]), str(e.get("mc", ""))), str(e["pn"]), str(e["taskhash"])) for e in raw]
    return {(dep.pn, dep.tid.task): dep for dep in deps}


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


@dataclass(frozen=True, slots=True)
class Equivalent:
    """Hash equivalence replaced the newer signature's taskhash: its output was already known (output hash
    ``outhash``), so the task took the unihash that output was first given."""
    taskhash: str
    unihash: str
    outhash: str


SigDifference = (DifferentTasks | TaskCodeChanged | VariableAdded | VariableRemoved | VariableChanged | FileAdded
                 | FileRemoved | FileChanged | DependencyAdded | DependencyRemoved | DependencyChanged
                 | BasehashChanged | Forced | Identical | Equivalent)


def equivalent(sigdata: dict[str, Any]) -> Equivalent | None:
    """How hash equivalence replaced this signature's taskhash, if it did."""
    taskhash, unihash = str(sigdata.get("taskhash") or ""), str(sigdata.get("unihash") or "")
    if unihash and unihash != taskhash:
        return Equivalent(taskhash, unihash, str(sigdata.get("outhash") or "unknown"))
    return None


def equivalence_lines(sigdata: dict[str, Any]) -> list[str]:
    """:func:`describe` of :func:`equivalent`, as a list of no or one line."""
    found = equivalent(sigdata)
    return [describe(found)] if found is not None else []


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
    ra, rb = recorded_deps(a), recorded_deps(b)
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
    replaced = equivalent(b)
    if replaced is not None:
        out.append(replaced)
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
        case Equivalent(taskhash, unihash, outhash):
            return f"unihash {unihash} (equivalent of taskhash {taskhash}, output hash {outhash})"
    raise AssertionError(diff)
