#!/usr/bin/env python3
"""Sample layer benchmark: a clean build of every sample recipe, a no-op rebuild, and a rebuild from an
empty TMPDIR with the shared-state cache warm. Wall times of whole ``layerbuild`` commands.

    python3 selftest/bench/samples.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLES = ["glibc-external", "base-files", "lb-init", "hello", "libgreet", "greet", "lb-echod"]


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    r = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode:
        raise SystemExit(r.stderr[-3000:])
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lb-bench-samples-"))
    try:
        cmd = [sys.executable, "-m", "layerbuild.cli", "-B", str(root / "build"), *SAMPLES]
        clean = []
        for _ in range(args.repeat):
            shutil.rmtree(root / "build", ignore_errors=True)
            clean.append(timed(cmd, root))
        noop = [timed(cmd, root) for _ in range(args.repeat)]
        warm = []
        for _ in range(args.repeat):
            shutil.rmtree(root / "build" / "tmp")
            warm.append(timed(cmd, root))
        for label, runs in (("clean build (empty build directory)", clean), ("no-op rebuild", noop),
                            ("empty TMPDIR, warm sstate", warm)):
            print(f"{label:<38} median {statistics.median(runs):.2f} s (runs: "
                  + ", ".join(f"{t:.2f}" for t in runs) + ")")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
