"""The task graph: a networkx DiGraph of ``TaskId(recipe file, task, multiconfig)`` built from the recipe
summaries of each configuration (the default one, ``""``, and each of ``BBMULTICONFIG``).

An edge ``a -> b`` means ``a`` must finish before ``b`` starts; each edge records why it exists (the
``addtask`` ordering, a ``[depends]`` flag, ``[deptask]`` over DEPENDS, ``[rdeptask]`` over runtime
dependencies, ``[recrdeptask]``) and where that was declared, so a cycle can be explained. A ``[mcdepends]`` entry (``mc:FROM:TO:recipe:task``) is an edge from a task of
configuration TO to one of FROM, as in BitBake.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from layerbuild.engine.providers import Recipes
from layerbuild.engine.recipe import RecipeInfo, TaskInfo
from layerbuild.taskapi import task_name
from layerbuild.util.errors import Location, TargetError


@dataclass(frozen=True, slots=True, order=True)
class TaskId:
    """A task of the graph: its recipe (file, or a variant's virtual name), the task, and the configuration
    it belongs to (``""`` the default one, else a name of ``BBMULTICONFIG``)."""

    fn: str
    task: str
    mc: str = ""


def mc_name(mc: str, name: str) -> str:
    """BitBake's name of a recipe or task of a multiconfig: ``mc:NAME:name`` (the name alone for the default)."""
    return f"mc:{mc}:{name}" if mc else name


@dataclass
class TaskGraph:
    graph: nx.DiGraph
    recipes: Recipes
    targets: list[TaskId]
    runtime: dict[str, str | None] = field(default_factory=dict)
    #: the recipes of each multiconfig of the build (the default configuration's are ``recipes``)
    multiconfigs: Mapping[str, Recipes] = field(default_factory=dict)

    def recipes_of(self, mc: str) -> Recipes:
        return self.multiconfigs[mc] if mc else self.recipes

    def info(self, tid: TaskId) -> RecipeInfo:
        return (self.multiconfigs[tid.mc] if tid.mc else self.recipes).infos[tid.fn]

    def pn(self, tid: TaskId) -> str:
        """The recipe's name as BitBake shows it: ``mc:NAME:pn`` for a multiconfig's."""
        return mc_name(tid.mc, self.info(tid).pn)

    def label(self, tid: TaskId) -> str:
        return f"{self.pn(tid)}:{tid.task}"

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

    def __init__(self, recipes: Recipes, mc: str = "", builders: dict[str, _Builder] | None = None) -> None:
        self.recipes = recipes
        self.mc = mc
        #: every configuration's builder, by multiconfig (a [mcdepends] entry resolves in another's)
        self.builders = builders if builders is not None else {mc: self}
        #: the tasks of other configurations that [mcdepends] entries name
        self.cross: list[TaskId] = []
        # [recrdeptask] tasks, those that name their own task, and their [recideptask]s (for finish())
        self._rec: dict[TaskId, list[str]] = {}
        self._selfref: set[TaskId] = set()
        self._itasks: dict[TaskId, list[TaskId]] = {}
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
            other = TaskId(fn, task_name(task), self.mc)
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
                if task in other_tasks and (own or not self._later(tid, TaskId(other_fn, task, self.mc))):
                    deps.setdefault(TaskId(other_fn, task, self.mc), why)

    def _recipe(self, fn: str, recursive: dict[TaskId, list[str]], selfref: set[TaskId],
                itasks: dict[TaskId, list[TaskId]]) -> list[str]:
        """Each task's own dependencies (BitBake's run queue, part A); returns the recipes they name."""
        info = self.recipes.infos[fn]
        tasks = self.tasks(fn)
        build, runtime = self.recipe_deps(fn)
        named: list[str] = [*build, *runtime]
        for ti in info.tasks:
            tid = TaskId(fn, ti.name, self.mc)
            deps: dict[TaskId, Why] = {}
            loc = _loc(ti.flag("_addtask_loc"))
            if ti.flag("mcdepends"):  # BitBake adds them first, before the task's own order
                self._mc_deps(info, ti, deps)
            for dep in ti.flag("deps", ()) or ():
                if dep in tasks:
                    deps.setdefault(TaskId(fn, dep, self.mc), (f"addtask {ti.name} after {dep}", loc))

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
                    itasks[tid] = [TaskId(fn, task_name(t), self.mc) for t in rec_i]
            deps.pop(tid, None)
            self.depends[tid] = deps
        return named

    def _mc_deps(self, info: RecipeInfo, ti: TaskInfo, deps: dict[TaskId, Why]) -> None:
        """``[mcdepends]``: each ``mc:FROM:TO:recipe:task`` entry whose FROM is this configuration makes the
        task need ``task`` of the recipe TO's providers give ``recipe``; TO must be a configuration of the
        build whichever FROM is (BitBake's checks, with the line that set the flag)."""
        where = _flag_loc(ti, "mcdepends") or Location(info.realfn)
        for entry in str(ti.flag("mcdepends") or "").split():
            parts = entry.split(":")
            if len(parts) != 5 or parts[0] != "mc" or not parts[3] or not parts[4]:
                raise TargetError(f"{info.pn}: {ti.name}[mcdepends] entry '{entry}' is not of the form "
                                  "mc:FROM:TO:recipe:task", where,
                                  hint="FROM and TO are multiconfig names (empty for the default configuration)")
            _, frm, to, name, task = parts
            other_builder = self.builders.get(to)
            if other_builder is None:
                enabled = ", ".join(repr(mc) for mc in sorted(self.builders) if mc) or "none"
                raise TargetError(f"{info.pn}: {ti.name}[mcdepends] entry '{entry}' names multiconfig '{to}', "
                                  "which BBMULTICONFIG does not enable", where,
                                  hint=f"the enabled multiconfigs are: {enabled}")
            if frm != self.mc:
                continue
            fn = other_builder.resolve_build(name, where, f"{ti.name}[mcdepends] of {mc_name(self.mc, info.pn)}")
            if fn is None:
                continue
            other = TaskId(fn, task_name(task), to)
            if other.task not in other_builder.tasks(fn):
                there = other_builder.recipes.infos[fn]
                raise TargetError(f"{info.pn}: {ti.name}[mcdepends] names {entry}, but {there.pn} has no task "
                                  f"{other.task}", where,
                                  hint=f"the tasks of {there.pn} are: {', '.join(sorted(t.name for t in there.tasks))}")
            deps.setdefault(other, (f"{ti.name}[mcdepends] = {entry}", where))
            self.cross.append(other)

    def collect(self, fns: Sequence[str], seen: set[str]) -> None:
        """Work out the task dependencies of the recipes ``fns`` and of every recipe they reach in this
        configuration (``seen``: those already done)."""
        todo = sorted(set(fns))
        while todo:
            fn = todo.pop()
            if fn in seen:
                continue
            seen.add(fn)
            todo.extend(f for f in self._recipe(fn, self._rec, self._selfref, self._itasks) if f not in seen)

    def finish(self) -> None:
        self._recursive(self._rec, self._selfref, self._itasks)

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
                        new = TaskId(fn, task, self.mc)
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
        before [recrdeptask] adds anything. A cycle leaves them short: check_acyclic explains it. The
        recipes of another configuration ([mcdepends]) are not this one's: a [recrdeptask] stops at them."""
        reach: dict[TaskId, frozenset[str]] = {}
        mc = self.mc
        depends = {tid: [dep for dep in deps if dep.mc == mc] for tid, deps in self.depends.items()}
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


def build_graph(recipes: Recipes, targets: Sequence[tuple[str, str] | tuple[str, str, str]],
                multiconfigs: Mapping[str, Recipes] | None = None) -> TaskGraph:
    """The pruned graph of everything ``targets`` need: (name, task) of the default configuration, or
    (multiconfig, name, task); ``multiconfigs`` are the recipes of each of ``BBMULTICONFIG``."""
    multiconfigs = dict(multiconfigs or {})
    builders: dict[str, _Builder] = {}
    builders[""] = _Builder(recipes, "", builders)
    for mc, mcrecipes in multiconfigs.items():
        builders[mc] = _Builder(mcrecipes, mc, builders)
    roots = []
    for target in targets:
        mc, name, task = target if len(target) == 3 else ("", *target)
        if mc not in builders:
            enabled = " ".join(sorted(m for m in builders if m))
            raise TargetError(f"mc:{mc}:{name} names multiconfig '{mc}', which BBMULTICONFIG does not enable",
                              hint=f"the enabled multiconfigs are: {enabled}" if enabled
                              else f'add it to BBMULTICONFIG in conf/local.conf, with conf/multiconfig/{mc}.conf')
        recipes = builders[mc].recipes
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
        roots.append(TaskId(fn, task, mc))
    _collect(builders, roots)
    graph = nx.DiGraph()
    active: set[TaskId] = set()
    stack = list(roots)
    while stack:
        tid = stack.pop()
        if tid in active:
            continue
        active.add(tid)
        graph.add_node(tid)
        for dep, (why, loc) in builders[tid.mc].depends[tid].items():
            graph.add_edge(dep, tid, why=why, loc=loc)
            stack.append(dep)
    tg = TaskGraph(graph, builders[""].recipes, roots, builders[""].runtime, multiconfigs)
    check_acyclic(tg)
    return tg


def _collect(builders: dict[str, _Builder], roots: list[TaskId]) -> None:
    """Each configuration's task dependencies, for the recipes the roots reach and those that the
    [mcdepends] of what they reach name in another configuration, until none names a new one."""
    seen: dict[str, set[str]] = {mc: set() for mc in builders}
    todo = list(roots)
    while todo:
        for mc in sorted({tid.mc for tid in todo}):
            builders[mc].collect([tid.fn for tid in todo if tid.mc == mc], seen[mc])
        todo = [tid for builder in builders.values() for tid in builder.cross if tid.fn not in seen[tid.mc]]
        for builder in builders.values():
            builder.cross.clear()
    for builder in builders.values():
        builder.finish()


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
        pn = tg.pn(tid)  # a multiconfig's as BitBake names it: mc:NAME:pn
        # BitBake's label: the epoch always written, empty or not (":1.0-r0")
        lines.append(f'"{pn}.{tid.task}" [label="{pn} {tid.task}\\n{info.pe}:{info.pv}-{info.pr}\\n{info.fn}"]')
    for u, v in sorted(tg.graph.edges):
        lines.append(f'"{tg.pn(v)}.{v.task}" -> "{tg.pn(u)}.{u.task}"')
    lines.append("}")
    dot = os.path.join(directory, "task-depends.dot")
    atomic_write(dot, "\n".join(lines) + "\n")
    pns = sorted({tg.pn(tid) for tid in tg.graph.nodes})
    buildlist = os.path.join(directory, "pn-buildlist")
    atomic_write(buildlist, "\n".join(pns) + "\n")
    return dot, buildlist
