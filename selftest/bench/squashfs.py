#!/usr/bin/env python3
"""Benchmark: layerbuild-mksquashfs against mksquashfs on a ~200 MB tree taken from /usr.

    python3 selftest/bench/squashfs.py [--size-mb 200] [--rounds 3] [--comp zstd] [--level 15]
                                      [--block-size 131072] [--processors 2] [--keep DIR]

Both tools run as child processes, alternately, on the same tree with the same compressor, level,
block size and thread count; each run is wrapped in a small Python process that reports wall time
and the child's peak RSS (``getrusage(RUSAGE_CHILDREN)``, so every figure covers exactly one run).
Prints the median of each and the ratios layerbuild / mksquashfs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

#: Python libraries, binaries and text, in this order, until the size budget is reached.
SOURCES = ("/usr/lib/python3.11", "/usr/lib/python3", "/usr/bin", "/usr/share/perl", "/usr/share/doc",
           "/usr/lib/x86_64-linux-gnu", "/usr/share")

_MEASURE = r"""
import json, resource, subprocess, sys, time
start = time.perf_counter()
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": rc, "wall": wall, "maxrss_kb": usage.ru_maxrss,
                  "cpu": usage.ru_utime + usage.ru_stime}))
"""


def build_tree(dest: Path, budget: int) -> tuple[int, int]:
    """Copy files from SOURCES into ``dest`` in sorted order until ``budget`` bytes; return (files, bytes)."""
    total = files = 0
    for top in SOURCES:
        if total >= budget or not os.path.isdir(top):
            continue
        for root, dirs, names in os.walk(top):
            dirs.sort()
            for name in sorted(names):
                src = os.path.join(root, name)
                st = os.lstat(src)
                if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
                    continue
                if total + st.st_size > budget * 1.05:
                    continue  # one huge library would make the tree about that library
                target = dest / os.path.relpath(src, "/")
                if target.exists() or target.is_symlink():
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                if stat.S_ISLNK(st.st_mode):
                    os.symlink(os.readlink(src), target)
                else:
                    try:
                        shutil.copy2(src, target)
                    except OSError:
                        continue
                    total += st.st_size
                files += 1
                if total >= budget:
                    return files, total
    return files, total


def measure(argv: list[str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _MEASURE, *argv], check=True, stdout=subprocess.PIPE, text=True)
    result = json.loads(out.stdout)
    if result["rc"] != 0:
        raise SystemExit(f"failed: {' '.join(argv)}")
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--comp", default="zstd")
    ap.add_argument("--level", type=int, default=15)
    ap.add_argument("--block-size", type=int, default=131072)
    ap.add_argument("--processors", type=int, default=2)
    ap.add_argument("--keep", type=Path, help="build the tree here (reused if it exists)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sqfs-bench-"))
    try:
        tree = args.keep or work / "tree"
        if not tree.exists():
            files, size = build_tree(tree, args.size_mb * 1024 * 1024)
        else:
            files = sum(len(f) for _, _, f in os.walk(tree))
            size = sum(os.lstat(os.path.join(r, n)).st_size for r, _, fs in os.walk(tree) for n in fs)
        print(f"tree: {tree} ({files} entries, {size / 1e6:.1f} MB)")
        level = [] if args.comp == "xz" else ["-Xcompression-level", str(args.level)]
        ours_out, ref_out = work / "layerbuild.sqfs", work / "mksquashfs.sqfs"
        ours = [shutil.which("layerbuild-mksquashfs") or "layerbuild-mksquashfs", str(tree), str(ours_out),
                "--comp", args.comp, "--block-size", str(args.block_size), "--processors", str(args.processors)]
        if args.comp != "xz":
            ours += ["--level", str(args.level)]
        ref = ["mksquashfs", str(tree), str(ref_out), "-noappend", "-quiet", "-no-progress", "-comp", args.comp,
               *level, "-b", str(args.block_size), "-processors", str(args.processors)]
        print("layerbuild:", " ".join(ours))
        print("mksquashfs:", " ".join(ref))
        for root, _, names in os.walk(tree):  # warm the page cache for both
            for n in names:
                p = os.path.join(root, n)
                if os.path.isfile(p) and not os.path.islink(p):
                    with open(p, "rb") as fh:
                        while fh.read(1 << 20):
                            pass
        runs: dict[str, list[dict[str, float]]] = {"layerbuild": [], "mksquashfs": []}
        for i in range(args.rounds):
            order = [("layerbuild", ours), ("mksquashfs", ref)]
            if i % 2:
                order.reverse()
            for name, argv in order:
                r = measure(argv)
                runs[name].append(r)
                print(f"  round {i + 1} {name:10s} {r['wall']:7.2f} s  {r['maxrss_kb'] / 1024:7.1f} MiB  "
                      f"cpu {r['cpu']:6.2f} s", flush=True)
        med = {name: {k: statistics.median(r[k] for r in rs) for k in ("wall", "maxrss_kb", "cpu")}
               for name, rs in runs.items()}
        sizes = {"layerbuild": ours_out.stat().st_size, "mksquashfs": ref_out.stat().st_size}
        print()
        print(f"{'':12s}{'wall s':>9s}{'cpu s':>9s}{'peak MiB':>10s}{'size MB':>10s}")
        for name in runs:
            print(f"{name:12s}{med[name]['wall']:9.2f}{med[name]['cpu']:9.2f}{med[name]['maxrss_kb'] / 1024:10.1f}"
                  f"{sizes[name] / 1e6:10.2f}")
        ours_m, ref_m = med["layerbuild"], med["mksquashfs"]
        print(f"{'ratio':12s}{ours_m['wall'] / ref_m['wall']:9.3f}{ours_m['cpu'] / ref_m['cpu']:9.3f}"
              f"{ours_m['maxrss_kb'] / ref_m['maxrss_kb']:10.3f}{sizes['layerbuild'] / sizes['mksquashfs']:10.4f}")
        check = subprocess.run(["sqfsdiff", "-a", str(ours_out), "-b", str(ref_out)], stdout=subprocess.PIPE,
                               text=True)
        print("sqfsdiff:", "identical contents" if check.returncode == 0 else check.stdout.strip()[:500])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
