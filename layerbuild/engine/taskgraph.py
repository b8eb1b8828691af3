"""The task graph: a networkx DiGraph of ``TaskId(recipe file, task)`` built from the recipe summaries.

An edge ``a -> b`` means ``a`` must finish before ``b`` starts; each edge records why it exists (the
``addtask`` ordering, a ``[depends]`` flag, ``[deptask]`` over DEPENDS, ``[rdeptask]`` over runtime
dependencies, ``[recrdeptask]``) and where that was declared, so a cycle can be explained.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from layerbuild.engine.providers import Recipes
from layerbuild.engine.recipe import RecipeInfo, TaskInfo
from layerbuild.taskapi import task_name
from layerbuild.util.errors import Location, TargetError


@dataclass(frozen=True, slots=True, order=True)
class TaskId:
    fn: str
    task: str


@dataclass
class TaskGraph:
    graph: nx.DiGraph
    recipes: Recipes
    targets: list[TaskId]
    runtime: dict[str, str | None] = field(default_factory=dict)

    def info(self, tid: TaskId) -> RecipeInfo:
        return self.recipes.infos[tid.fn]

    def label(self, tid: TaskId) -> str:
        return f"{self.info(tid).pn}:{tid.task}"

    def taskinfo(self, tid: TaskId) -> TaskInfo:
        for task in self.info(tid).tasks:
            if task.name == tid.task:
                return task
        raise KeyError(tid)


def _tasks(info: RecipeInfo) -> dict[str, TaskInfo]:
    return {t.name: t for t in info.tasks}


def _loc(value: Any) -> Location | None:
    if isinstance(value, tuple) and len(value) == 2:
        return Location(value[0], value[1])
    return None


def _flag_loc(ti: TaskInfo, flag: str) -> Location | None:
    """Where the task flag ``flag`` was last set, when the recipe summary knows."""
    for name, path, line in ti.flag("_flag_locs", ()) or ():
        if name == flag:
            return Location(path, line)
    return None


def _recipe_loc(info: RecipeInfo, *names: str) -> Location:
    """Where the first of ``names`` that the recipe set was set; the recipe file if none."""
    for var in names:
        found = info.location(var)
        if found:
            return Location(found[0], found[1])
    return Location(info.realfn)


Why = tuple[str, "Location | None"]


class _Builder:
    """BitBake's task data and run queue, for the graph only: the recipes the targets reach through their
    providers (the first BitBake's provider ordering gives, for build and runtime names), every task of
    them with its dependencies (addtask order, [depends], [rdepends], [deptask], [rdeptask],
    [recrdeptask] with [recideptask]), then what the target tasks need of them."""

    def __init__(self, recipes: Recipes) -> None:
        self.recipes = recipes
        self.graph = nx.DiGraph()
        #: runtime names -> the recipe file providing them (None: ASSUME_PROVIDED)
        self.runtime: dict[str, str | None] = {}
        self._build: dict[str, str | None] = {}
        self._recipe_deps: dict[str, tuple[list[str], list[str]]] = {}
        #: task -> {the task it needs: why}
        self.depends: dict[TaskId, dict[TaskId, Why]] = {}
        self._task_maps: dict[str, dict[str, TaskInfo]] = {}

    def tasks(self, fn: str) -> dict[str, TaskInfo]:
        found = self._task_maps.get(fn)
        if found is None:
            found = self._task_maps[fn] = _tasks(self.recipes.infos[fn])
        return found

    def resolve_build(self, name: str, asked_by: Location, pn: str = "") -> str | None:
        if name not in self._build:
            self._build[name] = self.recipes.build_provider(
                name, asked_by=asked_by, what=f"needed by {pn}" if pn else "build dependency")
        return self._build[name]

    def resolve_runtime(self, name: str, asked_by: Location, required: bool = True,
                        asked_by_var: str | None = None) -> str | None:
        if name in self.runtime:
            return self.runtime[name]
        fn = self.recipes.runtime_provider(name)
        if fn is None and not self.recipes.assumed(name):
            if not required:
                return None
            skipped = self.recipes.skipped_provider(name)
            if skipped is not None:  # the reason it was skipped is the useful message
                raise TargetError(f"runtime dependency {name} was skipped: {skipped.skipped}", asked_by)
            close = difflib.get_close_matches(name, sorted(self.recipes.index.packages), n=3, cutoff=0.6)
            hint = (f"did you mean {' or '.join(close)}?" if close
                    else "add a recipe whose PACKAGES, RPROVIDES or PACKAGES_DYNAMIC names it")
            where = f" (in {asked_by_var})" if asked_by_var else ""
            raise TargetError(f"nothing provides runtime dependency '{name}'{where}", asked_by, hint=hint)
        self.runtime[name] = fn
        return fn

    def runtime_deps(self, info: RecipeInfo) -> list[str]:
        """The recipes providing the recipe's RDEPENDS and RRECOMMENDS (of the recipe and of each package)."""
        fns = []
        loc = _recipe_loc(info, "RDEPENDS")
        for pkg, names in info.rdepends:
            where = _recipe_loc(info, f"RDEPENDS:{pkg}", "RDEPENDS") if pkg else loc
            for name in names:
                origin = info.origin(name) if not pkg else None
                if origin is not None:
                    var, path, line = origin
                    fn = self.resolve_runtime(name, Location(path, line), asked_by_var=f"{var} of {info.pn}")
                else:
                    fn = self.resolve_runtime(name, where, asked_by_var=f"RDEPENDS:{pkg}" if pkg else None)
                if fn:
                    fns.append(fn)
        for _pkg, names in info.rrecommends:
            for name in names:
                fn = self.resolve_runtime(name, loc, required=False)
                if fn:
                    fns.append(fn)
        return fns

    def build_deps(self, info: RecipeInfo) -> list[str]:
        loc = _recipe_loc(info, "DEPENDS")
        found = (self.resolve_build(name, loc, f"DEPENDS of {info.pn}") for name in info.depends)
        return [fn for fn in found if fn]

    def recipe_deps(self, fn: str) -> tuple[list[str], list[str]]:
        deps = self._recipe_deps.get(fn)
        if deps is None:
            info = self.recipes.infos[fn]
            deps = self._recipe_deps[fn] = (self.build_deps(info), self.runtime_deps(info))
        return deps

    def _flag_deps(self, info: RecipeInfo, ti: TaskInfo, flag: str) -> list[tuple[str, TaskId]]:
        """The tasks a ``[depends]`` or ``[rdepends]`` flag names, each with its entry."""
        out = []
        where = self._depends_origin(info, ti, flag)
        for entry in str(ti.flag(flag, "") or "").split():
            if ":" not in entry:
                raise TargetError(f"{info.pn}: {ti.name}[{flag}] entry '{entry}' is not of the form "
                                  "recipe:task", where, hint=f"name the task too, as in {entry}:do_populate_sysroot")
            name, task = entry.split(":", 1)
            fn = self.resolve_build(name, where) if flag == "depends" else \
                self.resolve_runtime(name, where, asked_by_var=f"{ti.name}[{flag}] of {info.pn}")
            if fn is None:
                continue
            other = TaskId(fn, task_name(task))
            if other.task not in self.tasks(fn):
                there = self.recipes.infos[fn]
                raise TargetError(f"{info.pn}: {ti.name}[{flag}] names {entry}, but {there.pn} has no task "
                                  f"{other.task}", where,
                                  hint=ti.flag("depends-hint") or f"the tasks of {there.pn} are: "
                                       f"{', '.join(sorted(t.name for t in there.tasks))}")
            out.append((entry, other))
        return out

    def _over(self, tid: TaskId, deps: dict[TaskId, Why], fns: list[str], names: list[str], why: Why,
              own: bool = True) -> None:
        """``tid`` needs the tasks ``names`` of the recipes ``fns`` (those they have); ``own=False``:
        not those of its own recipe that run after it."""
        for other_fn in fns:
            other_tasks = self.tasks(other_fn)
            for task in names:
                if task in other_tasks and (own or not self._later(tid, TaskId(other_fn, task))):
                    deps.setdefault(TaskId(other_fn, task), why)

    def _recipe(self, fn: str, recursive: dict[TaskId, list[str]], selfref: set[TaskId],
                itasks: dict[TaskId, list[TaskId]]) -> list[str]:
        """Each task's own dependencies (BitBake's run queue, part A); returns the recipes they name."""
        info = self.recipes.infos[fn]
        tasks = self.tasks(fn)
        build, runtime = self.recipe_deps(fn)
        named: list[str] = [*build, *runtime]
        for ti in info.tasks:
            tid = TaskId(fn, ti.name)
            deps: dict[TaskId, Why] = {}
            loc = _loc(ti.flag("_addtask_loc"))
            for dep in ti.flag("deps", ()) or ():
                if dep in tasks:
                    deps.setdefault(TaskId(fn, dep), (f"addtask {ti.name} after {dep}", loc))

            deptask = [task_name(t) for t in str(ti.flag("deptask", "") or "").split()]
            if deptask:
                self._over(tid, deps, build, deptask,
                           (f"{ti.name}[deptask] over DEPENDS", _recipe_loc(info, "DEPENDS")))
            rdeptask = [task_name(t) for t in str(ti.flag("rdeptask", "") or "").split()]
            if rdeptask:
                self._over(tid, deps, runtime, rdeptask,
                           (f"{ti.name}[rdeptask] over RDEPENDS", _recipe_loc(info, "RDEPENDS")))
            for flag in ("depends", "rdepends"):
                if ti.flag(flag):
                    for entry, other in self._flag_deps(info, ti, flag):
                        deps.setdefault(other, (f"{ti.name}[{flag}] = {entry}",
                                                self._depends_origin(info, ti, flag)))
                        named.append(other.fn)
            rec = [task_name(t) for t in str(ti.flag("recrdeptask", "") or "").split()]
            if rec:
                recursive[tid] = rec
                why: Why = (f"{ti.name}[recrdeptask] = {' '.join(rec)}", Location(info.realfn))
                self._over(tid, deps, build, rec, why, own=False)
                self._over(tid, deps, runtime, rec, why, own=False)
                if ti.name in rec:
                    selfref.add(tid)
                rec_i = str(ti.flag("recideptask", "") or "").split()
                if rec_i:
                    itasks[tid] = [TaskId(fn, task_name(t)) for t in rec_i]
            deps.pop(tid, None)
            self.depends[tid] = deps
        return named

    def add(self, targets: list[TaskId]) -> None:
        recursive: dict[TaskId, list[str]] = {}
        selfref: set[TaskId] = set()
        itasks: dict[TaskId, list[TaskId]] = {}
        seen: set[str] = set()
        todo = sorted({tid.fn for tid in targets})
        while todo:
            fn = todo.pop()
            if fn in seen:
                continue
            seen.add(fn)
            todo.extend(f for f in self._recipe(fn, recursive, selfref, itasks) if f not in seen)
        self._recursive(recursive, selfref, itasks)
        active: set[TaskId] = set()
        stack = list(targets)
        while stack:
            tid = stack.pop()
            if tid in active:
                continue
            active.add(tid)
            self.graph.add_node(tid)
            for dep, (why, loc) in self.depends[tid].items():
                self.graph.add_edge(dep, tid, why=why, loc=loc)
                stack.append(dep)

    def _recursive(self, recursive: dict[TaskId, list[str]], selfref: set[TaskId],
                   itasks: dict[TaskId, list[TaskId]]) -> None:
        """[recrdeptask]: each such task needs the named tasks of every recipe the tasks it needs reach,
        recursively, and what the recursive tasks it needs need (BitBake's run queue, part B)."""
        if not recursive:
            return
        reach = self._reach()
        added = True
        while added:
            added = False
            for tid, names in recursive.items():
                deps = self.depends[tid]
                info = self.recipes.infos[tid.fn]
                why: Why = (f"{tid.task}[recrdeptask] = {' '.join(names)}", Location(info.realfn))
                total = set(deps)
                for dep in itasks.get(tid, ()):
                    total.add(dep)
                    total.update(self.depends.get(dep, ()))
                fns: set[str] = set()
                for dep in total:
                    fns |= reach.get(dep, frozenset())
                for fn in fns:
                    for task in names:
                        new = TaskId(fn, task)
                        if new != tid and new in self.depends and new not in deps and not self._later(tid, new):
                            deps[new] = why
                            added = True
                more: set[TaskId] = set()
                for dep in [d for d in deps if d in recursive]:
                    more.update(d for d in self.depends[dep] if d not in deps)
                for new in more:
                    if new.task in names and new in self.depends and not self._later(tid, new):
                        deps[new] = why
                        added = True
        for tid in selfref:
            for other in selfref:
                self.depends[tid].pop(other, None)

    def _reach(self) -> dict[TaskId, frozenset[str]]:
        """For each task, the recipes of the tasks it needs, directly or not (BitBake's cumulativedeps),
        before [recrdeptask] adds anything. A cycle leaves them short: check_acyclic explains it."""
        reach: dict[TaskId, frozenset[str]] = {}
        depends = self.depends
        for root in depends:
            if root in reach:
                continue
            stack = [(root, iter(depends[root]))]
            walking = {root}
            while stack:
                node, deps = stack[-1]
                for dep in deps:
                    if dep not in reach and dep not in walking:
                        walking.add(dep)
                        stack.append((dep, iter(depends[dep])))
                        break
                else:
                    stack.pop()
                    walking.discard(node)
                    found: set[str] = set()
                    for dep in depends[node]:
                        found.add(dep.fn)
                        found.update(reach.get(dep, ()))
                    reach[node] = frozenset(found)
        return reach

    def _later(self, tid: TaskId, other: TaskId) -> bool:
        """Whether ``other`` is a task of the same recipe that runs after ``tid`` (its addtask order says
        so). A [recrdeptask] does not reach it: the recipe's own packages in its runtime dependencies
        would otherwise make a cycle, which BitBake reports and we leave out."""
        if other.fn != tid.fn:
            return False
        tasks = self.tasks(tid.fn)
        seen = set()
        todo = [other.task]
        while todo:
            name = todo.pop()
            if name == tid.task:
                return True
            if name in seen or name not in tasks:
                continue
            seen.add(name)
            todo.extend(tasks[name].flag("deps", ()) or ())
        return False

    @staticmethod
    def _depends_origin(info: RecipeInfo, ti: TaskInfo, flag: str = "depends") -> Location:
        """Where a ``[depends]`` entry was set: the variable the flag took it from when there is one
        (``${IMAGE_BASE_PKGDB}:do_pkgdbfs``), else the recipe."""
        if flag == "depends":
            for var in ti.flag("_depends_refs", ()) or ():
                found = info.location(var)
                if found:
                    return Location(found[0], found[1])
        return _flag_loc(ti, flag) or Location(info.realfn)


def build_graph(recipes: Recipes, targets: list[tuple[str, str]]) -> TaskGraph:
    """The pruned graph of everything ``targets`` (name, task) need."""
    builder = _Builder(recipes)
    roots = []
    for name, task in targets:
        fn = recipes.build_provider(name)
        if fn is None:
            raise TargetError(f"{name} is provided by the host (ASSUME_PROVIDED): there is nothing to build")
        info = recipes.infos[fn]
        task = task_name(task)
        if task not in _tasks(info):
            names = sorted(t.name for t in info.tasks)
            close = difflib.get_close_matches(task, names, n=1)
            raise TargetError(f"{info.pn} has no task {task}", Location(info.realfn),
                              hint=f"did you mean {close[0]}?" if close else f"its tasks are: {', '.join(names)}")
        roots.append(TaskId(fn, task))
    builder.add(roots)
    graph = TaskGraph(builder.graph, recipes, roots, builder.runtime)
    check_acyclic(graph)
    return graph


def check_acyclic(tg: TaskGraph) -> None:
    if nx.is_directed_acyclic_graph(tg.graph):
        return
    try:
        cycle = nx.find_cycle(tg.graph)
    except nx.NetworkXNoCycle:
        return
    path = " -> ".join(tg.label(u) for u, _v in cycle) + " -> " + tg.label(cycle[0][0])
    notes = []
    for u, v in cycle:
        data = tg.graph.edges[u, v]
        where = f" ({data['loc']})" if data.get("loc") else ""
        notes.append(f"{tg.label(v)} needs {tg.label(u)}: {data['why']}{where}")
    first = tg.graph.edges[cycle[0][0], cycle[0][1]].get("loc")
    raise TargetError(f"dependency cycle: {path}", first, notes=tuple(notes))


def write_dot(tg: TaskGraph, directory: str) -> tuple[str, str]:
    """``task-depends.dot`` and ``pn-buildlist``, as ``bitbake -g`` writes them."""
    from layerbuild.util.fsutil import atomic_write
    lines = ["digraph depends {"]
    for tid in sorted(tg.graph.nodes):
        info = tg.info(tid)
        # BitBake's label: the epoch always written, empty or not (":1.0-r0")
        lines.append(f'"{info.pn}.{tid.task}" [label="{info.pn} {tid.task}\\n{info.pe}:{info.pv}-{info.pr}\\n{info.fn}"]')
    for u, v in sorted(tg.graph.edges):
        lines.append(f'"{tg.info(v).pn}.{v.task}" -> "{tg.info(u).pn}.{u.task}"')
    lines.append("}")
    dot = os.path.join(directory, "task-depends.dot")
    atomic_write(dot, "\n".join(lines) + "\n")
    pns = sorted({tg.info(tid).pn for tid in tg.graph.nodes})
    buildlist = os.path.join(directory, "pn-buildlist")
    atomic_write(buildlist, "\n".join(pns) + "\n")
    return dot, buildlist
