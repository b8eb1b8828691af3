"""Rebuilds after losing stamps never fail, and no two unordered tasks share a directory one of them empties.

The stress test removes a random set of stamps (seeded; the seed is printed and named in every failure)
and rebuilds the sample layer with two jobs, fifty times: a task that works inside a directory another
task may be emptying at the same moment fails now and then, as ``do_prepare_recipe_sysroot`` did in
``${B}`` while ``do_unpack`` emptied the unpack directory. The static check finds such pairs without
luck: for every task of every recipe, the directories it works in ([dirs], ``${B}`` by default,
[cleandirs], and those of its [prefuncs] and [postfuncs]) must not lie inside a directory that a task
not ordered before or after it empties ([cleandirs]).
"""

from __future__ import annotations

import glob
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from conftest import CORE, make_build

from layerbuild.engine.plan import stamp_base
from layerbuild.engine.taskgraph import TaskGraph, TaskId, build_graph
from layerbuild.session import parse_recipes, parse_target_recipe, start_configuration

TARGETS = ("greet", "hello", "lb-echod")
ROUNDS = 50


def _build(build: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "layerbuild.cli", "-B", str(build), "-j", "2", *targets],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=CORE), timeout=600)


def _graph(build: Path, targets: list[tuple[str, str]] | None = None) -> tuple[Any, TaskGraph]:
    config = start_configuration(str(build))
    recipes = parse_recipes(config, use_cache=False).recipes
    if targets is None:
        targets = [(info.pn, task.name) for fn, info in sorted(recipes.infos.items())
                   if not info.skipped and recipes.chosen.get(info.pn) == fn for task in info.tasks]
    return config, build_graph(recipes, targets)


def _remove_from(build: Path, tg: TaskGraph, tid: TaskId) -> list[str]:
    """Remove the stamps of ``tid`` and of what comes after it in its recipe, with their sstate objects
    (as cleaning a recipe from a task on does), so that all of them run again."""
    removed = []
    later = [t for t in nx.descendants(tg.graph, tid) if t.fn == tid.fn]
    for task in sorted([tid, *later], key=lambda t: t.task):
        for stamp in glob.glob(glob.escape(stamp_base(tg, task)) + ".*"):
            if ".sigdata." not in stamp and not stamp.endswith(".taint"):
                os.unlink(stamp)
                removed.append(tg.label(task))
        pattern = f"sstate:{glob.escape(tg.info(task).pn)}:*_{task.task}.tar.zst"
        for obj in (build / "sstate-cache").rglob(pattern):
            obj.unlink()
    return removed


@pytest.mark.slow
def test_remove_stamps_and_rebuild_fifty_times(tmp_path: Path) -> None:
    build = make_build(tmp_path, [])
    seed = int(os.environ.get("LAYERBUILD_STRESS_SEED") or random.randrange(1 << 30))
    print(f"stress seed {seed} (LAYERBUILD_STRESS_SEED={seed} repeats it)")
    rng = random.Random(seed)
    result = _build(build, *TARGETS)
    assert result.returncode == 0, result.stdout + result.stderr
    _config, tg = _graph(build, [(t, "do_build") for t in TARGETS])
    tasks = sorted((t for t in tg.graph.nodes if not tg.taskinfo(t).flag("noexec")), key=tg.label)
    recipes = sorted({t.fn for t in tasks})
    start = time.monotonic()
    for round_ in range(ROUNDS):
        removed = []
        # a recipe or two from a task on (often from do_fetch: everything after it runs again, the
        # unpack and its unordered neighbours side by side), and a few stamps anywhere
        for fn in rng.sample(recipes, rng.randint(1, 2)):
            own = [t for t in tasks if t.fn == fn]
            fetch = [t for t in own if t.task == "do_fetch"]
            first = fetch[0] if fetch and rng.random() < 0.6 else rng.choice(own)
            removed += _remove_from(build, tg, first)
        for tid in rng.sample(tasks, rng.randint(0, 3)):
            removed += _remove_from(build, tg, tid)
        result = _build(build, *TARGETS)
        assert result.returncode == 0, (f"seed {seed}, round {round_}, stamps removed: {', '.join(removed)}\n"
                                        f"{result.stdout}{result.stderr}")
        assert "Traceback" not in result.stderr, f"seed {seed}, round {round_}: {result.stderr}"
    print(f"{ROUNDS} rebuilds in {time.monotonic() - start:.1f}s")
    result = _build(build, *TARGETS)
    assert result.returncode == 0 and " 0 tasks run" in result.stderr, f"seed {seed}: {result.stderr}"


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def test_no_task_works_in_a_directory_an_unordered_task_empties(tmp_path: Path) -> None:
    config, tg = _graph(make_build(tmp_path, []))
    recipes = tg.recipes
    graph = tg.graph
    touches: dict[TaskId, set[str]] = {}
    empties: dict[TaskId, set[str]] = {}
    datastores = {fn: parse_target_recipe(config, fn, recipes.infos[fn].appends)
                  for fn in sorted({tid.fn for tid in graph.nodes})}
    for tid in graph.nodes:
        d = datastores[tid.fn]
        if d.getVarFlag(tid.task, "noexec"):
            continue
        funcs = [tid.task, *(d.getVarFlag(tid.task, "prefuncs") or "").split(),
                 *(d.getVarFlag(tid.task, "postfuncs") or "").split()]
        for func in funcs:
            dirs = (d.getVarFlag(func, "dirs") or "").split()
            cleandirs = (d.getVarFlag(func, "cleandirs") or "").split()
            cwd = dirs[-1] if dirs else d.getVar("B")
            touches.setdefault(tid, set()).update(os.path.normpath(p) for p in [*dirs, *cleandirs, cwd])
            empties.setdefault(tid, set()).update(os.path.normpath(p) for p in cleandirs)
    assert sum(len(v) for v in empties.values()) > 10  # the check sees the sample layer's tasks
    ordered = {tid: nx.descendants(graph, tid) | nx.ancestors(graph, tid) for tid in graph.nodes}
    clashes = []
    for emptier, emptied in empties.items():
        for other, paths in touches.items():
            if other == emptier or other in ordered[emptier]:
                continue
            for top in emptied:
                for path in paths:
                    if _under(path, top):
                        clashes.append(f"{tg.label(other)} works in {path}, which {tg.label(emptier)} "
                                       f"empties ([cleandirs] {top}), and neither is ordered after the other")
    assert not clashes, "\n".join(sorted(clashes))
