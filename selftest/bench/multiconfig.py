#!/usr/bin/env python3
"""Multiconfig: ``extending-image`` of two configurations in one command (the core layer's ``x86``
multiconfig and a second machine whose TUNE_PKGARCH differs), built from an empty build directory, then
rebuilt with nothing changed; the no-op rebuild of the default configuration alone for comparison. Wall
and CPU (user + system) times of whole ``layerbuild`` commands.

    python3 selftest/bench/multiconfig.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAYER_CONF = """BBPATH .= ":${LAYERDIR}"
BBFILE_COLLECTIONS += "bench"
BBFILE_PATTERN_bench = "^${LAYERDIR}/"
BBFILE_PRIORITY_bench = "6"
LAYERSERIES_COMPAT_bench = "alder"
"""
MACHINE = 'require conf/machine/genericx86-64.conf\nTUNE_PKGARCH = "corei7_64"\n'
SECOND = 'MACHINE = "benchx86"\nTMPDIR = "${TOPDIR}/tmp-${BB_CURRENT_MC}"\n'
TARGETS = ("mc:x86:extending-image", "mc:second:extending-image")


def timed(argv: list[str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one command (its children's CPU, task workers included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    r = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode:
        raise SystemExit(r.stderr[-3000:])
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def report(label: str, runs: list[tuple[float, float]]) -> None:
    walls = [w for w, _c in runs]
    cpus = [c for _w, c in runs]
    print(f"{label:<44} median {statistics.median(walls):.2f} s wall, {statistics.median(cpus):.2f} s CPU "
          "(runs: " + ", ".join(f"{w:.2f}/{c:.2f}" for w, c in runs) + ")")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lb-bench-mc-"))
    try:
        build = root / "build"
        lb = [sys.executable, "-m", "layerbuild.cli", "-B", str(build)]
        timed([*lb, "-p"], root)  # creates the build directory from the templates
        layer = root / "meta-bench"
        (layer / "conf" / "machine").mkdir(parents=True)
        (layer / "conf" / "layer.conf").write_text(LAYER_CONF)
        (layer / "conf" / "machine" / "benchx86.conf").write_text(MACHINE)
        bblayers = build / "conf" / "bblayers.conf"
        bblayers.write_text(bblayers.read_text().replace('BBLAYERS ?= " \\', f'BBLAYERS ?= " {layer} \\'))
        with open(build / "conf" / "local.conf", "a") as fh:
            fh.write('\nBBMULTICONFIG = "x86 second"\n')
            if os.environ.get("LAYERBUILD_TEST_DL_DIR"):
                fh.write(f'DL_DIR = "{os.environ["LAYERBUILD_TEST_DL_DIR"]}"\n')
        (build / "conf" / "multiconfig").mkdir()
        (build / "conf" / "multiconfig" / "second.conf").write_text(SECOND)
        clean = [timed([*lb, *TARGETS], root)]
        noop = [timed([*lb, *TARGETS], root) for _ in range(args.repeat)]
        single = [timed([*lb, "mc:x86:extending-image"], root) for _ in range(args.repeat)]
        report("clean build, both configurations", clean)
        report("no-op rebuild, both configurations", noop)
        report("no-op rebuild, mc:x86 alone", single)
        for mc, machine in (("x86", "genericx86-64"), ("second", "benchx86")):
            raw = build / f"tmp-{mc}" / "deploy" / "images" / machine / "extending-image.raw"
            assert raw.is_file(), raw
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
