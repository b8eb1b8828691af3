#!/usr/bin/env python3
"""Instruction counts of the parse and task-engine benchmarks, this checkout against another commit.

On a shared machine the wall-clock figures of ``parse.py`` and ``runqueue.py`` move by a third from one
run to the next, which hides any change smaller than that. The number of instructions a command
executes does not: valgrind's cachegrind counts them (in every process the command starts), and two
counts of the same command differ by well under 1%. This script counts, for this checkout and for
``--base REV`` (checked out into a temporary git worktree), the same commands the two wall-clock
benchmarks time:

- ``layerbuild -p`` on a generated layer of ``--recipes`` recipes, cold (no parse cache) and warm;
- the scheduling overhead of ``runqueue.py`` (graph, hashes, plan, scheduling, stamps of noexec tasks),
  on 20 x 100 tasks: the count of the whole script less the count of the same script stopped before
  the timed section;
- the 20-recipe chain of ``runqueue.py``: a no-op rebuild, and a build after deleting TMPDIR (every
  task restored from the warm shared-state cache);

each with that checkout's own core layer and code (``PYTHONPATH``), and prints the ratios. Both
checkouts run in the same directories with a fixed ``PYTHONHASHSEED``; what still varies (the order in
which parallel workers finish) moves a count by 1-3%, so each figure is the median of ``--repeat`` runs.

    python3 selftest/bench/instructions.py --base f1bdbc9 [--recipes 1000] [--repeat 3]

It needs valgrind (``apt-get install valgrind``); a count takes about 50 times the command's time.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def _bench(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"lb_bench_{name}", REPO / "selftest" / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _env(checkout: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(checkout), PYTHONHASHSEED="0")
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # count what users run: compiled modules from __pycache__
    return env


def count(argv: list[str], cwd: Path, env: dict[str, str], logs: Path) -> int:
    """Instructions executed by ``argv`` and every process it starts."""
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    r = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no", "--trace-children=yes",
                        f"--log-file={logs}/%p.log", "--cachegrind-out-file=/dev/null", *argv],
                       cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode:
        raise SystemExit(f"{' '.join(argv)} failed in {cwd}:\n{r.stderr[-2000:]}")
    total = 0
    for log in logs.iterdir():
        found = re.search(r"I\s+refs:\s+([\d,]+)", log.read_text())
        if found:
            total += int(found.group(1).replace(",", ""))
    return total


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> None:
    r = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode:
        raise SystemExit(f"{' '.join(argv)} failed in {cwd}:\n{r.stderr[-2000:]}")


#: the timed section of runqueue.scheduling(), run when argv[3] is "full"
SCHEDULING = """
import io, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import importlib.util
spec = importlib.util.spec_from_file_location("rq", sys.argv[2])
rq = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rq)
from layerbuild.engine.reporters import PlainReporter
from layerbuild.engine.plan import make_plan
from layerbuild.engine.runqueue import RunQueue
from layerbuild import session
from layerbuild.engine.taskgraph import build_graph
recipes, tasks = 20, 100
rq.REPO = Path(sys.argv[1])
config = session.start_configuration(str(rq.synthetic(Path(sys.argv[4]), recipes, tasks)))
result = session.parse_recipes(config, jobs=1)
target = [(f"s{recipes - 1}", f"do_t{tasks - 1}")]
tg = build_graph(result.recipes, target)
if hasattr(session, "signatures_of"):
    signatures = (session.signatures_of(config, result, {t.fn for t in tg.graph.nodes}, jobs=1),)
else:  # a checkout from before the signatures had a step of their own (they came in the recipe summaries)
    result = session.ensure_signatures(config, result, {t.fn for t in tg.graph.nodes}, jobs=1)
    signatures = ()
if sys.argv[3] == "full":
    tg = build_graph(result.recipes, target)
    plan = make_plan(tg, *signatures, set())
    assert RunQueue(tg, plan, config, 2, PlainReporter(io.StringIO())).execute()
    assert len(plan.run) == recipes * tasks
"""


def scheduling(checkout: Path, root: Path, env: dict[str, str], logs: Path) -> int:
    """Instructions of the timed section of the scheduling benchmark: full run less setup."""
    counts = []
    for mode in ("warm-up", "setup", "full"):
        tree = root / "sched"
        shutil.rmtree(tree, ignore_errors=True)
        argv = [sys.executable, "-c", SCHEDULING, str(checkout), str(REPO / "selftest/bench/runqueue.py"),
                mode, str(tree)]
        if mode == "warm-up":
            run(argv, root, env)  # compiles the modules the section imports, outside the counts
        else:
            counts.append(count(argv, root, env, logs))
    return counts[1] - counts[0]


def measure(checkout: Path, root: Path, recipes: int) -> dict[str, int]:
    """The counts for one checkout, its own core layer under the generated layers, in a fresh ``root``."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    parse, runqueue = _bench("parse"), _bench("runqueue")
    parse.REPO = runqueue.REPO = checkout
    env = _env(checkout)
    lb = [sys.executable, "-m", "layerbuild.cli"]
    logs = root / "logs"
    figures = {}

    build = parse.make_build(root / "parse", parse.generate(root / "parse", recipes))
    run([*lb, "-p"], build, env)  # compiles the checkout's modules once
    shutil.rmtree(build / "tmp")
    figures["cold -p"] = count([*lb, "-p"], build, env, logs)
    figures["warm -p"] = count([*lb, "-p"], build, env, logs)

    figures["scheduling, 2,000 noexec tasks"] = scheduling(checkout, root, env, logs)

    build = runqueue.chain(root / "chain", 20)
    run([*lb, "c19"], build, env)
    figures["no-op rebuild"] = count([*lb, "c19"], build, env, logs)
    shutil.rmtree(build / "tmp")
    figures["empty TMPDIR, warm sstate"] = count([*lb, "c19"], build, env, logs)
    return figures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, metavar="REV", help="the commit to compare with")
    ap.add_argument("--recipes", type=int, default=1000, help="recipes of the generated layer (default 1000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each count; the median is shown (default 3)")
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        print("instructions.py: valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="lb-bench-instr-"))
    base = root / "base"
    try:
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(base), args.base],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        heads, olds = [], []
        for _ in range(args.repeat):
            heads.append(measure(REPO, root / "work", args.recipes))
            olds.append(measure(base, root / "work", args.recipes))
        head = {name: int(statistics.median(run[name] for run in heads)) for name in heads[0]}
        old = {name: int(statistics.median(run[name] for run in olds)) for name in olds[0]}
        rev = subprocess.run(["git", "-C", str(base), "rev-parse", "--short", "HEAD"], check=True,
                             stdout=subprocess.PIPE, text=True).stdout.strip()
        print(f"instructions (all processes), {args.recipes} generated recipes, median of {args.repeat}; "
              f"base {rev}")
        print(f"{'':28} {'base':>16} {'this checkout':>16} {'ratio':>7}")
        for name, value in head.items():
            print(f"{name:28} {old[name]:>16,} {value:>16,} {value / old[name]:>7.3f}")
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
