#!/usr/bin/env python3
"""Task engine benchmarks.

1. Scheduling overhead: a synthetic graph of 100 recipes x 100 noexec tasks (10,000 tasks), chained
   within each recipe and across recipes; the time from parsed recipes to a finished build, per task
   (graph, hashes, plan, scheduling, stamps and sigdata), measured in-process.
2. No-op rebuild: a 20-recipe DEPENDS chain with the full standard task chain (do_fetch ... do_build),
   built once, then rebuilt with nothing changed; wall time of the whole command.
3. Fresh TMPDIR with a warm sstate cache: the same build after deleting TMPDIR; wall time.

With ``--bitbake DIR`` the same 20-recipe metadata is also built by BitBake in the same run.

    python3 selftest/bench/runqueue.py [--repeat 3] [--bitbake /path/to/bitbake]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

NOOP_CLASS = """
B = "${WORKDIR}/build"
SSTATETASKS += "do_populate_sysroot do_package_write_deb"
do_configure[deptask] = "do_populate_sysroot"
do_fetch() {
    :
}
do_unpack() {
    :
}
do_patch() {
    :
}
do_configure() {
    :
}
do_compile() {
    echo "${PN}" > ${B}/built
}
do_compile[dirs] = "${B}"
do_install() {
    mkdir -p ${D}/usr/share/${PN}
    cp ${B}/built ${D}/usr/share/${PN}/
}
do_install[cleandirs] = "${D}"
do_populate_sysroot() {
    mkdir -p ${SYSROOT_DESTDIR}
    cp -a ${D}/. ${SYSROOT_DESTDIR}/
    mkdir -p ${SYSROOT_DESTDIR}/sysroot-providers
    echo '{"PN": "${PN}", "PROVIDES": ["${PN}"], "DEPENDS": []}' > ${SYSROOT_DESTDIR}/sysroot-providers/${PN}.json
}
do_populate_sysroot[cleandirs] = "${SYSROOT_DESTDIR}"
do_populate_sysroot[sstate-inputdirs] = "${SYSROOT_DESTDIR}"
do_populate_sysroot[sstate-outputdirs] = "${TMPDIR}/sysroots-components/${PN}"
do_package() {
    :
}
do_package_write_deb() {
    mkdir -p ${WORKDIR}/deploy-out
    echo "${PN}" > ${WORKDIR}/deploy-out/${PN}.txt
}
do_package_write_deb[cleandirs] = "${WORKDIR}/deploy-out"
do_package_write_deb[sstate-inputdirs] = "${WORKDIR}/deploy-out"
do_package_write_deb[sstate-outputdirs] = "${DEPLOY_DIR}/bench"
"""


def layer_conf(name: str) -> str:
    return (f'BBPATH .= ":${{LAYERDIR}}"\nBBFILES += "${{LAYERDIR}}/recipes/*/*.bb"\n'
            f'BBFILE_COLLECTIONS += "{name}"\nBBFILE_PATTERN_{name} = "^${{LAYERDIR}}/"\n'
            f'BBFILE_PRIORITY_{name} = "6"\nLAYERSERIES_COMPAT_{name} = "alder"\n')


def make_build(root: Path, layer: Path) -> Path:
    build = root / "build"
    (build / "conf").mkdir(parents=True)
    (build / "conf/bblayers.conf").write_text(f'BBPATH = "${{TOPDIR}}"\nBBFILES ?= ""\nBBLAYERS = "{REPO} {layer}"\n')
    (build / "conf/local.conf").write_text('MACHINE ??= "genericx86-64"\nDISTRO ?= "lbdistro"\n')
    return build


def synthetic(root: Path, recipes: int, tasks: int) -> Path:
    layer = root / "meta-synthetic"
    (layer / "conf").mkdir(parents=True)
    (layer / "conf/layer.conf").write_text(layer_conf("synthetic"))
    body = []
    for t in range(tasks):
        after = f" after do_t{t - 1}" if t else ""
        body.append(f"addtask t{t}{after}")
        body.append(f'do_t{t}[noexec] = "1"')
    body.append(f'do_t0[deptask] = "do_t{tasks - 1}"')
    text = "\n".join(body) + "\n"
    for r in range(recipes):
        d = layer / f"recipes/s{r}"
        d.mkdir(parents=True)
        dep = f'DEPENDS = "s{r - 1}"\n' if r else ""
        (d / f"s{r}_1.0.bb").write_text(dep + text)
    return make_build(root, layer)


def chain(root: Path, n: int) -> Path:
    layer = root / "meta-chain"
    (layer / "conf").mkdir(parents=True)
    (layer / "conf/layer.conf").write_text(layer_conf("chain"))
    (layer / "classes").mkdir()
    (layer / "classes/noop.bbclass").write_text(NOOP_CLASS)
    for i in range(n):
        d = layer / f"recipes/c{i}"
        d.mkdir(parents=True)
        dep = f'DEPENDS = "c{i - 1}"\n' if i else ""
        (d / f"c{i}_1.0.bb").write_text(f"inherit noop\n{dep}LICENSE = \"MIT\"\n")
    return make_build(root, layer)


def scheduling(root: Path, recipes: int, tasks: int) -> tuple[float, int]:
    from layerbuild.engine.plan import make_plan
    from layerbuild.engine.reporters import PlainReporter
    from layerbuild.engine.runqueue import RunQueue
    from layerbuild.engine.taskgraph import build_graph
    from layerbuild.session import parse_recipes, signatures_of, start_configuration
    build = synthetic(root, recipes, tasks)
    config = start_configuration(str(build))
    result = parse_recipes(config)
    target = [(f"s{recipes - 1}", f"do_t{tasks - 1}")]
    tg = build_graph(result.recipes, target)
    signatures = signatures_of(config, result, {t.fn for t in tg.graph.nodes})
    start = time.perf_counter()
    tg = build_graph(result.recipes, target)
    plan = make_plan(tg, signatures, set())
    ok = RunQueue(tg, plan, config, 2, PlainReporter(io.StringIO())).execute()
    elapsed = time.perf_counter() - start
    assert ok and len(plan.run) == recipes * tasks, len(plan.run)
    return elapsed, len(plan.run)


def wall(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    r = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if r.returncode:
        raise SystemExit(f"{' '.join(argv)} failed:\n{r.stderr[-3000:]}")
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--recipes", type=int, default=20, help="length of the recipe chain (default 20)")
    ap.add_argument("--bitbake", metavar="DIR", help="a BitBake checkout to compare with")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lb-bench-rq-"))
    try:
        elapsed, count = scheduling(root / "sched", 100, 100)
        print(f"scheduling: {count} noexec tasks in {elapsed:.2f} s = {elapsed / count * 1e6:.0f} us per task")
        build = chain(root / "chain", args.recipes)
        lb = [sys.executable, "-m", "layerbuild.cli", f"c{args.recipes - 1}"]
        first = wall(lb, build)
        noop, fresh = [], []
        for _ in range(args.repeat):
            noop.append(wall(lb, build))
        for _ in range(args.repeat):
            shutil.rmtree(build / "tmp")
            fresh.append(wall(lb, build))
        ntasks = 10 * args.recipes
        print(f"chain of {args.recipes} recipes ({ntasks} tasks): first build {first:.2f} s")
        print(f"no-op rebuild:               median {statistics.median(noop):.3f} s (runs: "
              + ", ".join(f"{t:.3f}" for t in noop) + ")")
        print(f"empty TMPDIR, warm sstate:   median {statistics.median(fresh):.3f} s (runs: "
              + ", ".join(f"{t:.3f}" for t in fresh) + ")")
        if args.bitbake:
            bb_build = root / "chain" / "bb-build"
            core = root / "chain" / "bb-core"
            shutil.copytree(REPO / "conf", core / "conf")
            shutil.copytree(REPO / "classes", core / "classes")
            shutil.copy(core / "conf/layerbuild.conf", core / "conf/bitbake.conf")
            (bb_build / "conf").mkdir(parents=True)
            (bb_build / "conf/bblayers.conf").write_text(
                f'BBPATH = "${{TOPDIR}}"\nBBFILES ?= ""\nBBLAYERS = "{core} {root / "chain/meta-chain"}"\n')
            (bb_build / "conf/local.conf").write_text('MACHINE ??= "genericx86-64"\nDISTRO ?= "lbdistro"\n')
            env = dict(os.environ, PATH=f"{args.bitbake}/bin:" + os.environ["PATH"])
            bb = ["bitbake", f"c{args.recipes - 1}"]
            wall(bb, bb_build, env)
            bb_noop = [wall(bb, bb_build, env) for _ in range(args.repeat)]
            print(f"bitbake no-op rebuild:       median {statistics.median(bb_noop):.3f} s; ratio layerbuild/bitbake "
                  f"{statistics.median(noop) / statistics.median(bb_noop):.2f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
