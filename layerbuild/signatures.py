"""Task signatures: a basehash from a task's code and every variable it reads, a taskhash over its deps.

The basehash of a task covers the task function, its ``[prefuncs]``/``[postfuncs]`` and, transitively,
the unexpanded value of every variable and function they reference (found by parsing the shell or
python bodies; ``[vardeps]`` adds, ``[vardepsexclude]`` and ``BB_BASEHASH_IGNORE_VARS`` remove,
``[vardepvalue]`` replaces a value), plus the content of ``[file-checksums]`` files. The taskhash adds
the taskhashes of the tasks it depends on, so a change anywhere below reruns exactly what is above.

Each run writes sigdata (all of the above, as JSON) next to the stamp, and ``diff_sigdata`` explains in
plain words why two signatures differ.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .codeparse import python_refs, shell_words
from .datastore import DataStore
from .fsutil import sha256_file


@dataclass(frozen=True, slots=True)
class TaskSignature:
    """What a task's basehash was computed from."""

    task: str
    basehash: str
    values: tuple[tuple[str, str | None], ...]
    deps: tuple[tuple[str, tuple[str, ...]], ...]
    files: tuple[tuple[str, str | None], ...]

    def sigdata(self, pn: str, taskhash: str, dep_hashes: dict[str, str]) -> dict[str, Any]:
        return {"pn": pn, "task": self.task, "basehash": self.basehash, "taskhash": taskhash,
                "values": dict(self.values), "deps": {k: list(v) for k, v in self.deps},
                "files": dict(self.files), "runtaskhashes": dict(sorted(dep_hashes.items()))}


def _hash_path(path: str) -> str | None:
    if os.path.isfile(path):
        return sha256_file(path)
    if os.path.isdir(path):
        h = hashlib.sha256()
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                h.update(os.path.relpath(full, path).encode() + b"\0" + (_hash_path(full) or "-").encode())
        return h.hexdigest()
    return None


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
            files.append((path, _hash_path(path)))
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
    tmp = f"{path}.{os.getpid()}.tmp"
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, sort_keys=True, separators=(",", ":"))
    os.replace(tmp, path)


def read_sigdata(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def diff_sigdata(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Why signature ``a`` became ``b``, one plain sentence per difference."""
    out: list[str] = []
    if a.get("task") != b.get("task") or a.get("pn") != b.get("pn"):
        out.append(f"comparing different tasks: {a.get('pn')}:{a.get('task')} and {b.get('pn')}:{b.get('task')}")
    task = b.get("task")
    va, vb = a.get("values", {}), b.get("values", {})
    if va.get(task) != vb.get(task):
        out.append(f"task code of {task} changed: {_short(va.get(task))} -> {_short(vb.get(task))}")
    for key in sorted(set(va) | set(vb)):
        if key == task:
            continue
        if key not in va:
            out.append(f"dependency on variable {key} added (value {_short(vb[key])})")
        elif key not in vb:
            out.append(f"dependency on variable {key} removed (value was {_short(va[key])})")
        elif va[key] != vb[key]:
            out.append(f"variable {key} changed: {_short(va[key])} -> {_short(vb[key])}")
    fa, fb = a.get("files", {}), b.get("files", {})
    for path in sorted(set(fa) | set(fb)):
        if fa.get(path) != fb.get(path):
            if path not in fa:
                out.append(f"file {path} added to the checksums")
            elif path not in fb:
                out.append(f"file {path} removed from the checksums")
            else:
                out.append(f"file {path} changed")
    ra, rb = a.get("runtaskhashes", {}), b.get("runtaskhashes", {})
    for dep in sorted(set(ra) | set(rb)):
        if dep not in ra:
            out.append(f"task dependency {dep} added")
        elif dep not in rb:
            out.append(f"task dependency {dep} removed")
        elif ra[dep] != rb[dep]:
            out.append(f"task dependency {dep} changed its hash ({ra[dep][:12]} -> {rb[dep][:12]})")
    if not out and a.get("taskhash") != b.get("taskhash"):
        out.append("the task was forced or tainted (-f), which changes its hash")
    if not out:
        out.append("the signatures are identical")
    return out
