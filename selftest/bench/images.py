#!/usr/bin/env python3
"""The headline benchmark: ``layerbuild extending-image`` (the base image, its package-database snapshot
and the system extension) from an empty build directory, as a no-op rebuild, and from an empty TMPDIR
with the shared-state cache warm; then the size of the extension against a standalone extension of the
same tool (``greet`` with its whole closure, ID=_any). Wall times of whole ``layerbuild`` commands.

    python3 selftest/bench/images.py [--repeat 3]
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

STANDALONE = """inherit image-sysext
SYSEXT_ID = "_any"
IMAGE_INSTALL = "greet"
"""
LAYER_CONF = """BBPATH .= ":${LAYERDIR}"
BBFILES += "${LAYERDIR}/recipes/*/*.bb"
BBFILE_COLLECTIONS += "bench"
BBFILE_PATTERN_bench = "^${LAYERDIR}/"
BBFILE_PRIORITY_bench = "6"
LAYERSERIES_COMPAT_bench = "alder"
"""


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    r = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode:
        raise SystemExit(r.stderr[-3000:])
    return time.perf_counter() - start


def report(label: str, runs: list[float]) -> None:
    print(f"{label:<40} median {statistics.median(runs):.2f} s (runs: " + ", ".join(f"{t:.2f}" for t in runs) + ")")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lb-bench-images-"))
    try:
        build = root / "build"
        cmd = [sys.executable, "-m", "layerbuild.cli", "-B", str(build), "extending-image"]
        clean = []
        for _ in range(args.repeat):
            shutil.rmtree(build, ignore_errors=True)
            clean.append(timed(cmd, root))
        noop = [timed(cmd, root) for _ in range(args.repeat)]
        warm = []
        for _ in range(args.repeat):
            shutil.rmtree(build / "tmp")
            warm.append(timed(cmd, root))
        report("clean build (empty build directory)", clean)
        report("no-op rebuild", noop)
        report("empty TMPDIR, warm sstate", warm)

        layer = root / "meta-bench"
        (layer / "conf").mkdir(parents=True)
        (layer / "conf" / "layer.conf").write_text(LAYER_CONF)
        (layer / "recipes" / "images").mkdir(parents=True)
        (layer / "recipes" / "images" / "greet-standalone.bb").write_text(STANDALONE)
        bblayers = build / "conf" / "bblayers.conf"
        bblayers.write_text(bblayers.read_text().replace('BBLAYERS ?= " \\', f'BBLAYERS ?= " {layer} \\'))
        timed([sys.executable, "-m", "layerbuild.cli", "-B", str(build), "greet-standalone"], root)
        deploy = next((build / "tmp" / "deploy" / "images").iterdir())
        ext = (deploy / "extending-image.raw").stat().st_size
        alone = (deploy / "greet-standalone.raw").stat().st_size
        print(f"{'extension against the base':<40} {ext} bytes")
        print(f"{'standalone extension of greet':<40} {alone} bytes (ratio {ext / alone:.3f})")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
