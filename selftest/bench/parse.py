#!/usr/bin/env python3
"""Parse benchmark: cold and warm ``layerbuild -p`` on a generated layer of N recipes.

Each generated recipe has an include, inherits two classes that use EXPORT_FUNCTIONS and anonymous
Python, and uses ``+=``, ``:append``, ``:remove``, a varflag, ``${@...}`` and a DEPENDS chain.
Times are wall-clock times of whole commands (interpreter start-up included); memory is the
largest resident set of the command and its worker processes.

With ``--variants``, every recipe also has ``BBCLASSEXTEND = "native nativesdk"`` (and the layer two small
classes of those names): three recipes from each file, as in OE-core, where most recipes have variants.

With ``--bitbake DIR`` (a BitBake checkout), the same metadata is also parsed by ``DIR/bin/bitbake -p``
in the same run and the ratios are printed.

    python3 selftest/bench/parse.py --recipes 1000 [--variants] [--repeat 3] [--bitbake /path/to/bitbake]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

CLASS_TEMPLATE = """# benchmark class {name}
{name}_do_compile() {{
    echo "compiling ${{PN}} with {name}"
}}
python {name}_do_install() {{
    bb.note("installing %s" % d.getVar("PN"))
}}
EXPORT_FUNCTIONS do_compile do_install

{upper}_FLAGS ?= "-O2"
{upper}_FLAGS:append = " -g"
DEPENDS:append = " {name}-native-tool"
DEPENDS:remove = "{name}-native-tool"

python () {{
    if d.getVar("{upper}_ENABLE") == "1":
        d.appendVar("EXTRA_OECONF", " --with-{name}")
    d.setVar("{upper}_SEEN", d.getVar("PN"))
}}
"""

RECIPE_TEMPLATE = """SUMMARY = "Benchmark recipe {i}"
LICENSE = "MIT"
require bench-{i}.inc
inherit benchfoo benchbar

DEPENDS = "{dep}"
EXTRA_OECONF += "--enable-thing-{i}"
EXTRA_OECONF:append = " --with-extra"
EXTRA_OECONF:remove = "--enable-thing-0"
BENCHFOO_ENABLE = "{enable}"
do_compile[dirs] = "${{B}}/build-{i}"
VERSION_TAG = "${{@'v' + d.getVar('PV').replace('.', '_')}}"
"""

INC_TEMPLATE = """HOMEPAGE = "https://example.invalid/bench-{i}"
SRC_URI = "file://source-{i}.tar.gz"
CFLAGS:append = " -DBENCH={i}"
"""

VARIANT_CLASS_TEMPLATE = """# benchmark variant class {name}
CLASSOVERRIDE = "class-{name}"
{upper}_FLAGS = "-O2 -D{upper}"
EXTRA_OECONF:append:class-{name} = " --host={name}"
python () {{
    d.setVar("{upper}_PN", d.getVar("PN"))
}}
"""

BITBAKE_BBLAYERS = """BBPATH = "${{TOPDIR}}"
BBFILES ?= ""
BBLAYERS = "{core} {bench}"
"""


def generate(root: Path, n: int, variants: bool = False) -> Path:
    layer = root / "meta-bench"
    (layer / "conf").mkdir(parents=True)
    (layer / "classes").mkdir()
    (layer / "conf" / "layer.conf").write_text(
        'BBPATH .= ":${LAYERDIR}"\n'
        'BBFILES += "${LAYERDIR}/recipes/*/*.bb"\n'
        'BBFILE_COLLECTIONS += "bench"\n'
        'BBFILE_PATTERN_bench = "^${LAYERDIR}/"\n'
        'BBFILE_PRIORITY_bench = "6"\n'
        'LAYERSERIES_COMPAT_bench = "alder"\n')
    for name in ("benchfoo", "benchbar"):
        (layer / "classes" / f"{name}.bbclass").write_text(CLASS_TEMPLATE.format(name=name, upper=name.upper()))
    if variants:
        for name in ("native", "nativesdk"):
            (layer / "classes" / f"{name}.bbclass").write_text(
                VARIANT_CLASS_TEMPLATE.format(name=name, upper=name.upper()))
    for i in range(n):
        rdir = layer / "recipes" / f"bench-{i}"
        rdir.mkdir(parents=True)
        dep = f"bench-{i - 1}" if i else ""
        (rdir / f"bench-{i}_1.{i % 7}.bb").write_text(
            RECIPE_TEMPLATE.format(i=i, dep=dep, enable=i % 2)
            + ('BBCLASSEXTEND = "native nativesdk"\n' if variants else ""))
        (rdir / f"bench-{i}.inc").write_text(INC_TEMPLATE.format(i=i))
    return layer


def make_build(root: Path, layer: Path) -> Path:
    build = root / "build"
    (build / "conf").mkdir(parents=True)
    (build / "conf" / "bblayers.conf").write_text(
        f'BBPATH = "${{TOPDIR}}"\nBBFILES ?= ""\nBBLAYERS = "{REPO} {layer}"\n')
    (build / "conf" / "local.conf").write_text('MACHINE ??= "genericx86-64"\nDISTRO ?= "lbdistro"\n')
    return build


def make_bitbake_build(root: Path, layer: Path) -> Path:
    """The same metadata for BitBake: the core layer's layerbuild.conf serves as bitbake.conf."""
    core = root / "bb-core"
    shutil.copytree(REPO / "conf", core / "conf")
    shutil.copytree(REPO / "classes", core / "classes")
    shutil.copy(core / "conf" / "layerbuild.conf", core / "conf" / "bitbake.conf")
    build = root / "bb-build"
    (build / "conf").mkdir(parents=True)
    (build / "conf" / "bblayers.conf").write_text(BITBAKE_BBLAYERS.format(core=core, bench=layer))
    (build / "conf" / "local.conf").write_text('MACHINE ??= "genericx86-64"\nDISTRO ?= "lbdistro"\n')
    return build


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of the command and its children."""
    runner = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
        "t = time.perf_counter() - t\n"
        "if r.returncode: sys.stderr.write(r.stderr.decode()); sys.exit(r.returncode)\n"
        "print(t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    out = subprocess.run([sys.executable, "-c", runner, *argv], cwd=cwd, env=env, check=True,
                         stdout=subprocess.PIPE, text=True).stdout.split()
    return float(out[0]), int(out[1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipes", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--variants", action="store_true", help="give every recipe two BBCLASSEXTEND variants")
    ap.add_argument("--bitbake", metavar="DIR", help="a BitBake checkout to compare with")
    ap.add_argument("--keep", action="store_true", help="keep the generated tree")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lb-bench-parse-"))
    try:
        layer = generate(root, args.recipes, args.variants)
        build = make_build(root, layer)
        env = dict(os.environ)
        lb = [sys.executable, "-m", "layerbuild.cli", "-p"]
        cold, warm, mem = [], [], 0
        bb_cold: list[float] = []
        bb_warm: list[float] = []
        bb_build = make_bitbake_build(root, layer) if args.bitbake else None
        for _ in range(args.repeat):
            shutil.rmtree(build / "tmp", ignore_errors=True)
            t, rss = timed(lb, build, env)
            cold.append(t)
            mem = max(mem, rss)
            t, rss = timed(lb, build, env)
            warm.append(t)
            mem = max(mem, rss)
            if bb_build is not None:
                bbenv = dict(env, PATH=f"{args.bitbake}/bin:" + env.get("PATH", ""))
                for sub in ("tmp", "cache", "bitbake-cookerdaemon.log"):
                    p = bb_build / sub
                    shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
                t, _ = timed(["bitbake", "-p"], bb_build, bbenv)
                bb_cold.append(t)
                t, _ = timed(["bitbake", "-p"], bb_build, bbenv)
                bb_warm.append(t)
        print(f"recipes: {args.recipes}{' (x3 with their variants)' if args.variants else ''}, runs: {args.repeat}, "
              f"cpus: {os.cpu_count()}")
        print(f"layerbuild -p cold: median {statistics.median(cold):.3f} s (runs: "
              + ", ".join(f"{t:.3f}" for t in cold) + ")")
        print(f"layerbuild -p warm: median {statistics.median(warm):.3f} s (runs: "
              + ", ".join(f"{t:.3f}" for t in warm) + ")")
        print(f"layerbuild peak RSS (largest process): {mem / 1024:.0f} MB")
        if bb_cold:
            print(f"bitbake -p cold:    median {statistics.median(bb_cold):.3f} s; ratio layerbuild/bitbake "
                  f"{statistics.median(cold) / statistics.median(bb_cold):.2f}")
            print(f"bitbake -p warm:    median {statistics.median(bb_warm):.3f} s; ratio layerbuild/bitbake "
                  f"{statistics.median(warm) / statistics.median(bb_warm):.2f}")
    finally:
        if args.keep:
            print(f"tree kept at {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
