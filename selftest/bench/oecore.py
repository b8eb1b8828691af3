#!/usr/bin/env python3
"""OE-core benchmark: cold and warm ``layerbuild -p`` on unmodified OE-core ``meta/`` and, given a
BitBake checkout, ``bitbake -p`` on the same tree in the same run.

Each tool gets a build directory made from OE-core's templates in a temporary directory (see
oebuild.py: ``INHERIT:remove = "sanity"`` and ``BB_NO_NETWORK = "1"`` are added, and an
``en_US.UTF-8`` locale is built for BitBake where the system has none) and runs in the same small
environment. Cold = no parse cache (``tmp/`` and ``cache/`` removed); warm = nothing changed since
the previous run. Times are wall-clock times of the whole command as the user waits for it; BitBake's
server finishing its cache in the background after the client returned is not counted, but waited
for before the next run. Memory and CPU time (user + system, all processes: the steadier figure on
a shared machine) are sampled from ``/proc`` (procmem.py), BitBake's daemonised server and parser
processes included. Nothing of OE-core or BitBake enters this repository: the user points
the benchmark at their own checkouts.

    python3 selftest/bench/oecore.py --oe-core /path/to/openembedded-core [--bitbake /path/to/bitbake]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from oebuild import (  # noqa: E402
    REPO,
    clean_build,
    layerbuild_env,
    locale_dir,
    make_build,
    tool_env,
    wait_for_server,
)
from procmem import Peak, Sampler  # noqa: E402

SUMMARY = re.compile(r"Parsing of \d+ \.bb files complete.*")
REPARSED = re.compile(r"\(\d+ cached, [1-9]\d* parsed\)")


@dataclass(frozen=True)
class Run:
    seconds: float
    returncode: int
    summary: str
    error: str
    peak: Peak


def timed(argv: list[str], cwd: Path, env: dict[str, str], server: Path | None = None) -> Run:
    """Run a command, sampling the memory of its process tree (and of BitBake's server for the build
    directory ``server``) until the command and that server have exited."""
    marker = str(server / "bitbake.lock") if server is not None else None
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        sampler = Sampler(proc.pid, marker).start()
        # wait4, not wait: its rusage holds the peak of the largest process the command waited for,
        # which catches a peak the sampler's 100 ms may miss
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if server is not None:
            wait_for_server(server)
        peak = sampler.stop()
        peak = Peak(max(peak.largest_kib, usage.ru_maxrss), peak.total_kib, peak.processes,
                    max(peak.cpu_seconds, usage.ru_utime + usage.ru_stime))
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    match = SUMMARY.search(stdout)
    lines = [line for line in (stderr or stdout).splitlines() if line.strip()]
    error = "" if proc.returncode == 0 else (lines[-1] if lines else f"exit status {proc.returncode}")
    return Run(seconds, proc.returncode, match.group(0) if match else "", error, peak)


def series(argv: list[str], build: Path, env: dict[str, str], repeat: int,
           server: bool = False) -> tuple[list[Run], list[Run], list[Run]]:
    """Cold runs, warm runs, and the runs between them that parsed again although nothing changed
    (BitBake's second parse in a new build directory does: its configuration hash differs from the
    first one's)."""
    cold, warm, again = [], [], []
    for _ in range(repeat):
        clean_build(build)
        cold.append(timed(argv, build, env, build if server else None))
        for _attempt in range(3):
            run = timed(argv, build, env, build if server else None)
            if run.returncode or not REPARSED.search(run.summary):
                warm.append(run)
                break
            again.append(run)
        else:
            warm.append(again.pop())
    return cold, warm, again


def seconds(runs: list[Run]) -> str:
    med = statistics.median(r.seconds for r in runs)
    text = f"{med:.2f} s"
    if len(runs) > 1:
        text += " (" + ", ".join(f"{r.seconds:.2f}" for r in runs) + ")"
    if any(r.returncode for r in runs):
        text = "fails after " + text
    return text


def cpu(runs: list[Run]) -> str:
    return f"{statistics.median(r.peak.cpu_seconds for r in runs):.2f} s"


def cpu_ratio(lb: list[Run], bb: list[Run] | None) -> str:
    if not bb or any(r.returncode for r in lb + bb):
        return "-"
    return f"{statistics.median(r.peak.cpu_seconds for r in lb) / statistics.median(r.peak.cpu_seconds for r in bb):.3f}"


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def ratio(lb: list[Run], bb: list[Run] | None) -> str:
    if not bb or any(r.returncode for r in lb + bb):
        return "-"
    return f"{statistics.median(r.seconds for r in lb) / statistics.median(r.seconds for r in bb):.3f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--oe-core", required=True, type=Path, metavar="DIR", help="an openembedded-core checkout")
    ap.add_argument("--bitbake", type=Path, metavar="DIR", help="a BitBake checkout to compare with")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the build directories")
    args = ap.parse_args()
    if args.bitbake is not None and not (args.bitbake / "bin" / "bitbake").is_file():
        raise SystemExit(f"{args.bitbake}: no bin/bitbake: is this a BitBake checkout?")
    root = Path(tempfile.mkdtemp(prefix="lb-bench-oecore-"))
    try:
        locpath = locale_dir(root) if args.bitbake is not None else None
        env = tool_env(args.bitbake, locpath)
        lb_build = make_build(root / "layerbuild", args.oe_core)
        lb_cold, lb_warm, lb_again = series([sys.executable, "-m", "layerbuild.cli", "-p"], lb_build,
                                  layerbuild_env(env), args.repeat)
        bb_cold: list[Run] | None = None
        bb_warm: list[Run] | None = None
        bb_again: list[Run] = []
        if args.bitbake is not None:
            bb_build = make_build(root / "bitbake", args.oe_core)
            bb_cold, bb_warm, bb_again = series(["bitbake", "-p"], bb_build, env, args.repeat, server=True)
        recipes = len(list((args.oe_core / "meta").glob("recipes-*/*/*.bb")))
        print(f"OE-core meta/ at {args.oe_core} ({recipes} recipe files), runs: {args.repeat}, "
              f"cpus: {os.cpu_count()}, layerbuild at {REPO}")
        rows = [("", "layerbuild", "BitBake", "ratio", "target")]
        rows.append(("-p cold", seconds(lb_cold), seconds(bb_cold) if bb_cold else "", ratio(lb_cold, bb_cold),
                     "ratio ≤ 0.1"))
        rows.append(("-p warm", seconds(lb_warm), seconds(bb_warm) if bb_warm else "", ratio(lb_warm, bb_warm),
                     "≤ 1 s"))
        rows.append(("-p cold, CPU time", cpu(lb_cold), cpu(bb_cold) if bb_cold else "", cpu_ratio(lb_cold, bb_cold),
                     ""))
        rows.append(("-p warm, CPU time", cpu(lb_warm), cpu(bb_warm) if bb_warm else "", cpu_ratio(lb_warm, bb_warm),
                     ""))
        for label, attr in (("peak memory, largest process", "largest_kib"),
                            ("peak memory, all processes (PSS)", "total_kib")):
            lb_mem = max(getattr(r.peak, attr) for r in lb_cold + lb_warm + lb_again)
            bb_mem = max(getattr(r.peak, attr) for r in bb_cold + bb_warm + bb_again) if bb_cold and bb_warm else 0
            failed = any(r.returncode for r in lb_cold + lb_warm)
            rows.append((label, mib(lb_mem), mib(bb_mem) if bb_mem else "",
                         f"{lb_mem / bb_mem:.2f}" if bb_mem and not failed else "-", ""))
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        for row in rows:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        for name, cold, warm, again in (("layerbuild", lb_cold, lb_warm, lb_again),
                                        ("bitbake", bb_cold, bb_warm, bb_again)):
            if cold is None or warm is None:
                continue
            if again:
                print(f"{name} -p parsed every recipe again in the run after the cold one, nothing changed: "
                      + ", ".join(f"{r.seconds:.2f} s" for r in again) + " (not counted as warm)")
            for label, runs in (("cold", cold), ("warm", warm)):
                run = runs[-1]
                print(f"{name} -p {label}: " + (f"error: {run.error}" if run.returncode else run.summary
                                                or "(no summary line: every recipe came from the cache)"))
    finally:
        if args.keep:
            print(f"build directories kept under {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
