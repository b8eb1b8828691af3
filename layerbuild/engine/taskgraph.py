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
    runtime: dict[str, str] = field(default_factory=dict)

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


def runtime_providers(recipes: Recipes) -> dict[str, str]:
    """Package names (and RPROVIDES) -> recipe file, over the chosen recipes."""
    out: dict[str, str] = {}
    for fn in sorted(recipes.chosen.values()):
        info = recipes.infos[fn]
        for pkg in info.packages:
            out.setdefault(pkg, fn)
        for _pkg, provided in info.rprovides:
            for name in provided:
                out.setdefault(name, fn)
    return out


class _Builder:
    def __init__(self, recipes: Recipes) -> None:
        self.recipes = recipes
        self.graph = nx.DiGraph()
        self.runtime = runtime_providers(recipes)
        self._closure: dict[str, set[str]] = {}

    def resolve_build(self, name: str, asked_by: Location, pn: str = "") -> str:
        return self.recipes.resolve(name, asked_by=asked_by, what=f"needed by {pn}" if pn else "build dependency")

    def resolve_runtime(self, name: str, asked_by: Location, required: bool = True,
                        asked_by_var: str | None = None) -> str | None:
        fn = self.runtime.get(name)
        if fn is None:
            try:
                return self.recipes.resolve(name, asked_by=asked_by, what="runtime dependency")  # a recipe name
            except TargetError:
                if not required:
                    return None
                if self.recipes.skipped_provider(name) is not None:
                    raise  # the reason it was skipped is the useful message
                close = difflib.get_close_matches(name, sorted(self.runtime), n=3, cutoff=0.6)
                hint = (f"did you mean {' or '.join(close)}?" if close
                        else "add a recipe whose PACKAGES or RPROVIDES names it")
                where = f" (in {asked_by_var})" if asked_by_var else ""
                raise TargetError(f"nothing provides runtime dependency '{name}'{where}", asked_by,
                                  hint=hint) from None
        return fn

    def runtime_deps(self, info: RecipeInfo, recommends: bool = True) -> list[str]:
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
        if recommends:
            for _pkg, names in info.rrecommends:
                for name in names:
                    fn = self.resolve_runtime(name, loc, required=False)
                    if fn:
                        fns.append(fn)
        return fns

    def build_deps(self, info: RecipeInfo) -> list[str]:
        loc = _recipe_loc(info, "DEPENDS")
        return [self.resolve_build(name, loc, f"DEPENDS of {info.pn}") for name in info.depends]

    def closure(self, fn: str) -> set[str]:
        """Every recipe reachable from ``fn`` through build and runtime dependencies (``fn`` included)."""
        found = self._closure.get(fn)
        if found is not None:
            return found
        seen = {fn}
        todo = [fn]
        while todo:
            info = self.recipes.infos[todo.pop()]
            for dep in self.build_deps(info) + self.runtime_deps(info):
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        self._closure[fn] = seen
        return seen

    def edge(self, before: TaskId, after: TaskId, why: str, loc: Location | None) -> None:
        if before != after:
            self.graph.add_edge(before, after, why=why, loc=loc)

    def add(self, targets: list[TaskId]) -> None:
        todo = list(targets)
        expanded: set[TaskId] = set()
        while todo:
            tid = todo.pop()
            if tid in expanded:
                continue
            expanded.add(tid)
            self.graph.add_node(tid)
            info = self.recipes.infos[tid.fn]
            tasks = _tasks(info)
            ti = tasks[tid.task]
            loc = _loc(ti.flag("_addtask_loc"))
            for dep in ti.flag("deps", ()) or ():
                if dep in tasks:
                    self.edge(TaskId(tid.fn, dep), tid, f"addtask {tid.task} after {dep}", loc)
                    todo.append(TaskId(tid.fn, dep))
            for entry in str(ti.flag("depends", "") or "").split():
                if ":" not in entry:
                    raise TargetError(f"{info.pn}: {tid.task}[depends] entry '{entry}' is not of the form "
                                      "recipe:task", self._depends_origin(info, ti),
                                      hint=f"name the task too, as in {entry}:do_populate_sysroot")
                name, task = entry.split(":", 1)
                where = self._depends_origin(info, ti)
                fn = self.resolve_build(name, where)
                other = TaskId(fn, task_name(task))
                if other.task not in _tasks(self.recipes.infos[fn]):
                    there = self.recipes.infos[fn]
                    raise TargetError(f"{info.pn}: {tid.task}[depends] names {entry}, but {there.pn} has no task "
                                      f"{other.task}", where,
                                      hint=ti.flag("depends-hint") or f"the tasks of {there.pn} are: "
                                           f"{', '.join(sorted(t.name for t in there.tasks))}")
                self.edge(other, tid, f"{tid.task}[depends] = {entry}", where)
                todo.append(other)
            for task in map(task_name, str(ti.flag("deptask", "") or "").split()):
                for fn in self.build_deps(info):
                    if task in _tasks(self.recipes.infos[fn]):
                        other = TaskId(fn, task)
                        self.edge(other, tid, f"{tid.task}[deptask] over DEPENDS", _recipe_loc(info, "DEPENDS"))
                        todo.append(other)
            for task in map(task_name, str(ti.flag("rdeptask", "") or "").split()):
                for fn in self.runtime_deps(info):
                    if task in _tasks(self.recipes.infos[fn]):
                        other = TaskId(fn, task)
                        self.edge(other, tid, f"{tid.task}[rdeptask] over RDEPENDS", _recipe_loc(info, "RDEPENDS"))
                        todo.append(other)
            rec = [task_name(t) for t in str(ti.flag("recrdeptask", "") or "").split()]
            if rec:
                for fn in sorted(self.closure(tid.fn)):
                    other_tasks = _tasks(self.recipes.infos[fn])
                    for task in rec:
                        if task in other_tasks and TaskId(fn, task) != tid:
                            other = TaskId(fn, task)
                            if fn == tid.fn and self._reaches(tid, other):
                                continue
                            self.edge(other, tid, f"{tid.task}[recrdeptask] = {task}", Location(info.realfn))
                            todo.append(other)

    @staticmethod
    def _depends_origin(info: RecipeInfo, ti: TaskInfo) -> Location:
        """Where a ``[depends]`` entry was set: the variable the flag took it from when there is one
        (``${IMAGE_BASE_PKGDB}:do_pkgdbfs``), else the recipe."""
        for var in ti.flag("_depends_refs", ()) or ():
            found = info.location(var)
            if found:
                return Location(found[0], found[1])
        return _flag_loc(ti, "depends") or Location(info.realfn)

    def _reaches(self, start: TaskId, goal: TaskId) -> bool:
        """Whether ``goal`` already depends on ``start`` within the recipe (a recrdeptask on a later task)."""
        info = self.recipes.infos[start.fn]
        tasks = _tasks(info)
        seen = set()
        todo = [goal.task]
        while todo:
            name = todo.pop()
            if name == start.task:
                return True
            if name in seen or name not in tasks:
                continue
            seen.add(name)
            todo.extend(tasks[name].flag("deps", ()) or ())
        return False


def build_graph(recipes: Recipes, targets: list[tuple[str, str]]) -> TaskGraph:
    """The pruned graph of everything ``targets`` (name, task) need."""
    builder = _Builder(recipes)
    roots = []
    for name, task in targets:
        fn = recipes.resolve(name)
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
        lines.append(f'"{info.pn}.{tid.task}" [label="{info.pn} {tid.task}\\n{info.pv}-{info.pr}\\n{info.fn}"]')
    for u, v in sorted(tg.graph.edges):
        lines.append(f'"{tg.info(v).pn}.{v.task}" -> "{tg.info(u).pn}.{u.task}"')
    lines.append("}")
    dot = os.path.join(directory, "task-depends.dot")
    atomic_write(dot, "\n".join(lines) + "\n")
    pns = sorted({tg.info(tid).pn for tid in tg.graph.nodes})
    buildlist = os.path.join(directory, "pn-buildlist")
    atomic_write(buildlist, "\n".join(pns) + "\n")
    return dot, buildlist
