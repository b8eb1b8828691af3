"""Deciding what to do with each task: its hashes, then up to date, restored, deferred or run.

Planning walks the graph from the targets: a task whose stamp for its current unihash exists is up to
date; otherwise one whose output is in the shared-state cache (checksum verified) or on an
``SSTATE_MIRRORS`` mirror is restored and its dependencies are not needed for it; otherwise it runs, and
its dependencies are visited in turn. The walk goes one level of the graph at a time, so that the mirror
lookups of a level go out together.

Hashes are BitBake's with hash equivalence: a task's taskhash covers its dependencies' unihashes, and a
shared-state task's unihash is what the equivalence records give its taskhash (:mod:`hashequiv`). Stamps,
sigdata and sstate objects (in SSTATE_DIR and on mirrors) are named by unihash. When a task's output
takes an earlier unihash during a build, the run queue plans the tasks not yet started again
(``before``, ``finished``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from layerbuild.engine.hashequiv import Equivalence
from layerbuild.engine.signatures import DepHash, Signatures, taskhash
from layerbuild.engine.sstate import Sstate, SstateObject, object_name
from layerbuild.engine.sstatemirror import MirrorSettings, Remote, mirrors_for, store_base
from layerbuild.engine.taskgraph import TaskGraph, TaskId
from layerbuild.util.errors import LayerbuildError, Location, TargetError
from layerbuild.util.fsutil import directory_problem
from layerbuild.util.objectstore import StoreConfigError
from layerbuild.util.vartypes import flag_set


@dataclass
class Plan:
    order: list[TaskId]
    signatures: Signatures
    #: each task's taskhash (over its dependencies' unihashes) and unihash (what stamps, sigdata and sstate
    #: objects are named by: the taskhash, unless hash equivalence gave the task another one)
    hashes: dict[TaskId, str]
    unihashes: dict[TaskId, str] = field(default_factory=dict)
    #: the output hash that gave a task its unihash, where the store or the task's own run said
    outhashes: dict[TaskId, str] = field(default_factory=dict)
    equivalence: Equivalence | None = None
    #: the unihash a task ran as, when its output then took another one: its sigdata is named by it (as
    #: BitBake's), so that the signature of the task that first gave the output keeps its name
    ran_as: dict[TaskId, str] = field(default_factory=dict)
    run: set[TaskId] = field(default_factory=set)
    setscene: dict[TaskId, SstateObject] = field(default_factory=dict)
    uptodate: set[TaskId] = field(default_factory=set)
    corrupt: dict[TaskId, str] = field(default_factory=dict)
    force: set[TaskId] = field(default_factory=set)
    #: tasks whose sstate object failed to restore in this build: they run instead
    avoid: set[TaskId] = field(default_factory=set)
    #: shared-state tasks of a multiconfig whose object a task of another configuration, with the same
    #: signature, publishes in this build: each is restored from it once that one is done (BitBake's
    #: deferred setscene), and what it needs is not run for it
    deferred: dict[TaskId, TaskId] = field(default_factory=dict)
    #: what SSTATE_MIRRORS hold of the tasks looked up (None: nothing); each is looked up once per build
    remote: dict[TaskId, Remote | None] = field(default_factory=dict)


def task_var(tg: TaskGraph, tid: TaskId, name: str) -> str:
    """A variable of the task's recipe, as the graph recorded it ("" when unset)."""
    return tg.info(tid).var(name) or ""


def stamp_base(tg: TaskGraph, tid: TaskId) -> str:
    return f"{task_var(tg, tid, 'STAMP')}.{tid.task}"


def taint_of(tg: TaskGraph, tid: TaskId) -> str | None:
    try:
        with open(stamp_base(tg, tid) + ".taint", encoding="utf-8") as fh:
            return fh.read().strip() or None
    except OSError:
        return None


@dataclass
class Hashes:
    order: list[TaskId]
    taskhashes: dict[TaskId, str]
    unihashes: dict[TaskId, str]
    outhashes: dict[TaskId, str]


def compute_hashes(tg: TaskGraph, signatures: Signatures, equivalence: Equivalence | None = None,
                   fixed: Plan | None = None, keep: Iterable[TaskId] = ()) -> Hashes:
    """Every task's taskhash, over its dependencies' unihashes, and its unihash: what ``equivalence`` says
    for a shared-state task, else the taskhash. The tasks ``keep`` keep the hashes ``fixed`` gave them
    (tasks done or running in this build)."""
    order = list(nx.lexicographical_topological_sort(tg.graph))
    out = Hashes(order, {}, {}, {})
    kept = set(keep)
    for tid in order:
        if fixed is not None and tid in kept:
            out.taskhashes[tid] = fixed.hashes[tid]
            out.unihashes[tid] = fixed.unihashes[tid]
            if tid in fixed.outhashes:
                out.outhashes[tid] = fixed.outhashes[tid]
            continue
        base = signatures.of(tid).basehash
        h = taskhash(base, [out.unihashes[p] for p in tg.graph.predecessors(tid)], taint_of(tg, tid))
        out.taskhashes[tid] = h
        unihash, outhash = equivalence.unihash(h) if equivalence is not None and is_sstate_task(tg, tid) \
            else (h, None)
        out.unihashes[tid] = unihash
        if outhash:
            out.outhashes[tid] = outhash
    return out


def dep_hashes(tg: TaskGraph, tid: TaskId, unihashes: dict[TaskId, str]) -> list[DepHash]:
    """The unihashes ``tid``'s taskhash covers, as its sigdata records them."""
    return [DepHash(p, tg.pn(p), unihashes[p]) for p in tg.graph.predecessors(tid)]


def sigdata_of(tg: TaskGraph, plan: Plan, tid: TaskId) -> dict[str, Any]:
    """A task's sigdata: its signature, taskhash and dependencies' unihashes, and its unihash (with the
    output hash that gave it) when hash equivalence replaced the taskhash."""
    h, unihash = plan.hashes[tid], plan.unihashes[tid]
    data = plan.signatures.of(tid).sigdata(tg.pn(tid), h, dep_hashes(tg, tid, plan.unihashes))
    data["unihash"] = unihash
    if tid in plan.outhashes:
        data["outhash"] = plan.outhashes[tid]
    return data


def is_sstate_task(tg: TaskGraph, tid: TaskId) -> bool:
    return tid.task in task_var(tg, tid, "SSTATETASKS").split() and bool(tg.taskinfo(tid).flag("sstate-inputdirs"))


def mirror_settings(tg: TaskGraph, tid: TaskId) -> MirrorSettings:
    """The task's mirror variables; a value that cannot work is an error at the line that set it."""
    try:
        settings = MirrorSettings.read(lambda name: task_var(tg, tid, name))
        mirrors_for(settings)
    except StoreConfigError as exc:
        info = tg.info(tid)
        var = next((v for v in ("SSTATE_UPLOAD", "BB_MIRROR_TIMEOUT", "SSTATE_VERIFY_SIG")
                    if v in exc.message or (v == "SSTATE_UPLOAD" and info.var(v) and
                                            exc.message.startswith(store_base(info.var(v) or "")))),
                   "SSTATE_MIRRORS")
        loc = info.location(var)
        raise LayerbuildError(exc.message, Location(*loc) if loc else None) from None
    return settings


def sstate_for(tg: TaskGraph, tid: TaskId) -> Sstate:
    return Sstate(task_var(tg, tid, "SSTATE_DIR"), mirror_settings(tg, tid))


def probe_uploads(tg: TaskGraph) -> None:
    """Ask each SSTATE_UPLOAD store once before tasks run (see :meth:`Mirrors.probe_upload`)."""
    probed: set[MirrorSettings] = set()
    for tid in tg.graph.nodes:
        if task_var(tg, tid, "SSTATE_UPLOAD") and is_sstate_task(tg, tid):
            settings = mirror_settings(tg, tid)
            if settings not in probed:
                probed.add(settings)
                mirrors_for(settings).probe_upload()


def lookup_mirrors(tg: TaskGraph, plan: Plan, tids: Iterable[TaskId], jobs: int) -> None:
    """Look up on SSTATE_MIRRORS, ``jobs`` at a time, the objects of ``tids`` (shared-state tasks that
    are neither up to date nor in SSTATE_DIR; OE's setscene hash check). The plan's walk asks for one
    level of the graph at a time, so a build that finds its targets' objects looks up nothing below."""
    wanted: dict[MirrorSettings, dict[str, TaskId]] = {}
    for tid in tids:
        if tid in plan.remote or tid in plan.force or tid in plan.avoid or not is_sstate_task(tg, tid) \
                or not task_var(tg, tid, "SSTATE_MIRRORS"):
            continue
        plan.remote[tid] = None
        h = plan.unihashes[tid]
        name = sstate_name(tg, tid, h)
        if os.path.exists(f"{stamp_base(tg, tid)}.{h}") or \
                os.path.exists(os.path.join(task_var(tg, tid, "SSTATE_DIR"), name + ".siginfo")):
            continue
        wanted.setdefault(mirror_settings(tg, tid), {})[name] = tid
    for settings, names in wanted.items():
        for name, remote in mirrors_for(settings).lookup(names, jobs).items():
            plan.remote[names[name]] = remote


def sstate_name(tg: TaskGraph, tid: TaskId, h: str) -> str:
    info = tg.info(tid)
    return object_name(info.pn, task_var(tg, tid, "PACKAGE_ARCH"), info.pv, info.pr, h, tid.task)


def share_identical(tg: TaskGraph, signatures: Signatures) -> None:
    """Tasks of two configurations that write the same stamp (a multiconfig with the default TMPDIR and a
    PACKAGE_ARCH another configuration has too, as ``allarch`` recipes do) are one task when their
    signatures agree: the same basehash over the same (shared) dependencies. The first configuration's
    task (the default one's, then by name) stays in the graph, the others' are merged into it and their
    successors wait for it; it runs, or is restored, once. Two different tasks over one stamp and work
    directory would overwrite each other's output: that is an error naming both."""
    if not tg.multiconfigs:
        return
    order = list(nx.lexicographical_topological_sort(tg.graph, key=lambda t: (t.mc, t.fn, t.task)))
    merged: dict[TaskId, TaskId] = {}
    first: dict[str, tuple[TaskId, str, frozenset[TaskId]]] = {}
    for tid in order:
        base = stamp_base(tg, tid)
        key = (signatures.of(tid).basehash, frozenset(merged.get(p, p) for p in tg.graph.predecessors(tid)))
        seen = first.get(base)
        if seen is None:
            first[base] = (tid, *key)
            continue
        other, basehash, preds = seen
        if other.mc == tid.mc:
            continue
        if (basehash, preds) != key:
            raise TargetError(f"{tg.label(other)} and {tg.label(tid)} would share the stamp and work directory "
                              f"{os.path.dirname(base)}, with different task signatures",
                              hint="give each multiconfig its own TMPDIR (TMPDIR = \"${TOPDIR}/tmp-${BB_CURRENT_MC}\" "
                                   "in its conf/multiconfig file), or a MACHINE with its own PACKAGE_ARCH")
        merged[tid] = other
    if not merged:
        return
    for dup, keep in merged.items():
        for succ in list(tg.graph.successors(dup)):
            tg.graph.add_edge(keep, merged.get(succ, succ), **tg.graph.edges[dup, succ])
        tg.graph.remove_node(dup)
    tg.targets[:] = list(dict.fromkeys(merged.get(tid, tid) for tid in tg.targets))


def make_plan(tg: TaskGraph, signatures: Signatures, force: set[TaskId], use_sstate: bool = True,
              avoid: set[TaskId] | None = None, jobs: int = 4,
              remote: dict[TaskId, Remote | None] | None = None, equivalence: Equivalence | None = None,
              before: Plan | None = None, finished: Iterable[TaskId] = ()) -> Plan:
    """What to do for each task: up to date, restored from sstate, deferred, or run. Planning again during a
    build (``before``: after a task took an equivalent unihash, or an object failed to restore), the tasks
    ``finished`` (done or running) keep their hashes and are neither run nor restored again; what
    ``remote`` says of a task is kept while the task's unihash (its object's name) is the same."""
    done = set(finished)
    hashes = compute_hashes(tg, signatures, equivalence, before, done)
    plan = Plan(hashes.order, signatures, hashes.taskhashes, hashes.unihashes, hashes.outhashes, equivalence,
                dict(before.ran_as) if before is not None else {}, force=set(force), avoid=set(avoid or ()))
    if before is not None:
        remote = {tid: found for tid, found in (remote or {}).items()
                  if before.unihashes.get(tid) == plan.unihashes[tid]}
    plan.remote = dict(remote or {})
    if use_sstate and remote is None:
        probe_uploads(tg)
    # as in BitBake, whatever depends on a nostamp task is never up to date
    volatile: set[TaskId] = set()
    for tid in plan.order:
        if flag_set(tg.taskinfo(tid).flag("nostamp")) or any(p in volatile for p in tg.graph.predecessors(tid)):
            volatile.add(tid)
    # the default configuration's targets first, then by multiconfig name: of two tasks with one sstate
    # object, the first planned publishes it
    todo = sorted(tg.targets, key=lambda tid: tid.mc)
    seen: set[TaskId] = set()
    #: sstate object name -> the task that publishes it in this build (multiconfig builds only)
    publishers: dict[str, TaskId] | None = {} if tg.multiconfigs else None
    if publishers is not None and before is not None:
        # a task running (or done) now publishes its object: the other configurations' tasks with that
        # object wait for it, as they did before
        for tid in done:
            if is_sstate_task(tg, tid):
                publishers.setdefault(sstate_name(tg, tid, plan.unihashes[tid]), tid)
    while todo:
        if use_sstate:  # one level of the walk at a time: its mirror lookups go out together
            lookup_mirrors(tg, plan, [t for t in todo if t not in seen and t not in done], jobs)
        level, todo = todo, []
        for tid in level:
            if tid not in seen and tid not in done:
                _decide(tg, plan, tid, tid in volatile, use_sstate, todo, publishers)
            seen.add(tid)
    return plan


def _decide(tg: TaskGraph, plan: Plan, tid: TaskId, nostamp: bool, use_sstate: bool, todo: list[TaskId],
            publishers: dict[str, TaskId] | None = None) -> None:
    """Up to date, restored from an object, deferred to the task of another configuration that publishes
    the same object (``publishers``: object name -> that task, in multiconfig builds), or run (then its
    dependencies are visited: ``todo``)."""
    force, hashes = plan.force, plan.unihashes
    if tid not in force and not nostamp and os.path.exists(f"{stamp_base(tg, tid)}.{hashes[tid]}"):
        plan.uptodate.add(tid)
        return
    if tid not in force and tid not in plan.avoid and use_sstate and is_sstate_task(tg, tid) \
            and directory_problem(task_var(tg, tid, "SSTATE_DIR")) is None:
        # (a SSTATE_DIR that is no directory to write below is an error when the task is to run)
        sstate = sstate_for(tg, tid)
        name = sstate_name(tg, tid, hashes[tid])
        obj = sstate.find(name)
        found = plan.remote.get(tid)
        if obj is None and found is not None:
            path = os.path.join(sstate.directory, name)
            plan.setscene[tid] = SstateObject(path, path + ".siginfo", found.sha256, found)
            return
        if obj is not None:
            if sstate.verify(obj):
                plan.setscene[tid] = obj
                return
            plan.corrupt[tid] = f"sstate object {obj.path} is corrupt (checksum mismatch)"
        if publishers is not None and tid not in plan.corrupt:
            first = publishers.setdefault(name, tid)
            if first.mc != tid.mc and not nx.has_path(tg.graph, tid, first):
                plan.deferred[tid] = first
                return
    plan.run.add(tid)
    todo.extend(tg.graph.predecessors(tid))
