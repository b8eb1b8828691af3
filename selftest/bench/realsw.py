#!/usr/bin/env python3
"""Real-software benchmark: debug-tools-sysext (dropbear, tcpdump, iperf3 and strace from Debian's orig
tarballs, on some-core-image) built clean from a warm DL_DIR, a no-op rebuild, and a one-line change in
tcpdump's recipe (a .bbappend in a layer of the benchmark's own), after which only tcpdump and the image
may run again. Wall times of whole ``layerbuild`` commands, and the tasks each ran.

    python3 selftest/bench/realsw.py [--repeat 3] [--dl-dir DIR] [--machine genericarm64]
    python3 selftest/bench/realsw.py --machines genericx86-64 genericarm64

``--machines`` builds debug-tools-sysext clean for each machine in turn (each in a build directory of its
own, from the same warm DL_DIR) and prints each one's times and their ratio to the first's: the cost of
cross-compiling (genericarm64, Debian's cross toolchain) against building for the host.

DL_DIR defaults to LAYERBUILD_TEST_DL_DIR, else layerbuild-test-downloads in the temporary directory, as
the slow tests use it; a first run fills it from DEBIAN_MIRROR (that download is not part of the figures:
run once with --fetch-only to warm it).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TARGET = "debug-tools-sysext"
# the recipes whose sources come from DEBIAN_MIRROR
SOURCES = ("zlib", "dropbear", "libpcap", "tcpdump", "iperf3", "strace")
CHANGE = 'PACKAGECONFIG:append = " smb"\n'
RAN = re.compile(r"^NOTE: Running task \d+ of \d+ \((\S+)\)$", re.M)
SUMMARY = re.compile(r"^Build succeeded: .*$", re.M)


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def layerbuild(top: Path, *args: str) -> tuple[float, float, list[str], str]:
    """Wall time, CPU time (user and system, its processes included), the tasks that ran and the summary
    line of ``layerbuild -B TOP ARGS``. On a loaded machine the CPU time is the steadier figure."""
    start, start_cpu = time.perf_counter(), cpu()
    r = subprocess.run([sys.executable, "-m", "layerbuild.cli", "-B", str(top), *args], cwd=top.parent,
                       capture_output=True, text=True)
    elapsed, used = time.perf_counter() - start, cpu() - start_cpu
    if r.returncode:
        raise SystemExit(f"layerbuild {' '.join(args)} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    summary = SUMMARY.search(r.stdout + r.stderr)
    return elapsed, used, RAN.findall(r.stdout + r.stderr), summary.group(0) if summary else ""


def make_build(root: Path, dl_dir: Path, machine: str = "genericx86-64") -> Path:
    """A build directory over the core layer and a layer whose tcpdump .bbappend starts empty."""
    layer = root / "meta-bench"
    (layer / "conf").mkdir(parents=True)
    (layer / "conf/layer.conf").write_text(
        'BBPATH .= ":${LAYERDIR}"\nBBFILES += "${LAYERDIR}/recipes/*/*.bbappend"\n'
        'BBFILE_COLLECTIONS += "bench"\nBBFILE_PATTERN_bench = "^${LAYERDIR}/"\nBBFILE_PRIORITY_bench = "6"\n'
        'LAYERSERIES_COMPAT_bench = "alder"\n')
    (layer / "recipes/tcpdump").mkdir(parents=True)
    (layer / "recipes/tcpdump/tcpdump_%.bbappend").write_text("# the benchmark's one-line change goes here\n")
    top = root / "build"
    (top / "conf").mkdir(parents=True)
    (top / "conf/bblayers.conf").write_text(f'BBPATH = "${{TOPDIR}}"\nBBFILES ?= ""\nBBLAYERS = "{REPO} {layer}"\n')
    (top / "conf/local.conf").write_text(f'MACHINE = "{machine}"\nDISTRO ?= "lbdistro"\nDL_DIR = "{dl_dir}"\n')
    return top


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="no-op rebuilds to take the median of")
    ap.add_argument("--dl-dir", type=Path, default=Path(os.environ.get("LAYERBUILD_TEST_DL_DIR") or
                                                        Path(tempfile.gettempdir()) / "layerbuild-test-downloads"))
    ap.add_argument("--fetch-only", action="store_true", help="fill DL_DIR and stop")
    ap.add_argument("--machine", default="genericx86-64", help="the MACHINE to build for")
    ap.add_argument("--machines", nargs="+", metavar="MACHINE",
                    help="clean builds for each machine and their ratios to the first, nothing else")
    args = ap.parse_args()
    if args.machines:
        return compare_machines(args.machines, args.dl_dir.resolve())
    root = Path(tempfile.mkdtemp(prefix="lb-bench-realsw-"))
    try:
        top = make_build(root, args.dl_dir.resolve(), args.machine)
        if args.fetch_only:
            layerbuild(top, "-c", "fetch", *SOURCES)
            return 0
        elapsed, used, ran, summary = layerbuild(top, TARGET)
        fetched = [t for t in ran if t.endswith(":do_fetch")]
        print(f"clean build of {TARGET}, warm DL_DIR: {elapsed:.1f} s ({used:.1f} s CPU), {len(ran)} tasks run "
              f"({len(fetched)} do_fetch from DL_DIR)\n  {summary}")
        noop, noop_cpu = [], []
        for _ in range(args.repeat):
            elapsed, used, ran, summary = layerbuild(top, TARGET)
            if ran:
                raise SystemExit(f"a no-op rebuild ran tasks: {' '.join(ran)}")
            noop.append(elapsed)
            noop_cpu.append(used)
        print(f"no-op rebuild: median {statistics.median(noop):.2f} s, {statistics.median(noop_cpu):.2f} s CPU "
              "(runs: " + ", ".join(f"{t:.2f}" for t in noop) + ")")
        with open(root / "meta-bench/recipes/tcpdump/tcpdump_%.bbappend", "a") as fh:
            fh.write(CHANGE)
        elapsed, used, ran, summary = layerbuild(top, TARGET)
        recipes = sorted({task.split(":")[0] for task in ran})
        print(f"one-line change in tcpdump ({CHANGE.strip()}): {elapsed:.1f} s ({used:.1f} s CPU), {len(ran)} tasks of "
              f"{', '.join(recipes)}\n  {summary}")
        for task in ran:
            print(f"  {task}")
        return 0 if recipes == sorted(["tcpdump", TARGET]) else 1
    finally:
        shutil.rmtree(root, ignore_errors=True)


def compare_machines(machines: list[str], dl_dir: Path) -> int:
    """A clean build of TARGET for each machine, one after the other, and each one's ratio to the first's."""
    first: tuple[float, float] | None = None
    for machine in machines:
        root = Path(tempfile.mkdtemp(prefix=f"lb-bench-realsw-{machine}-"))
        try:
            elapsed, used, ran, summary = layerbuild(make_build(root, dl_dir, machine), TARGET)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        first = first or (elapsed, used)
        print(f"clean build of {TARGET} for {machine}, warm DL_DIR: {elapsed:.1f} s ({used:.1f} s CPU), "
              f"{len(ran)} tasks run; {elapsed / first[0]:.2f}x wall, {used / first[1]:.2f}x CPU of {machines[0]}"
              f"\n  {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
