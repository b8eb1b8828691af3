#!/usr/bin/env python3
"""Benchmark: layerbuild's rootfs assembly against the real dpkg on a generated feed.

    python3 selftest/bench/rootfs.py [--packages 1000] [--rounds 3] [--extension 20] [--seed 1] [--keep DIR]

The feed is ``--packages`` generated ``.deb`` files (a dependency web: each package depends on up to
four earlier ones, some versioned, some through alternatives or a virtual name; 5-50 files each in
shared and private directories, symbolic and hard links, conffiles, a postinst in one of ten), written
with layerbuild's own package writer from a fixed seed. Each round, alternately, installs the whole
set into an empty root with ``build_rootfs`` (a fresh Python process: import, feed scan, resolve,
unpack, scripts, database) and with ``dpkg --root --unpack`` of the same packages in the same order
followed by ``dpkg --root --configure -a``. Prints the median wall times and the ratio.

Then the extension step: a staging root holding only the database of the 1000-package root (what a
pkgdb snapshot holds) gets ``--extension`` new packages that depend on base packages; printed is the
median wall time of that ``build_rootfs`` run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from layerbuild.packaging import deb  # noqa: E402

CLAMP = 1_700_000_000
SHARED_DIRS = ("usr/bin", "usr/lib", "usr/share/doc", "usr/share/man/man1", "etc", "usr/lib/pkgconfig")

_LAYERBUILD = r"""
import json, sys, time
start = time.perf_counter()
from layerbuild.rootfs.assemble import build_rootfs
from layerbuild.rootfs.resolve import Request
root, feed, names = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
result = build_rootfs(root, [feed], Request.of(names), native_arch="amd64", log=None, clamp=1700000000)
print(json.dumps({"wall": time.perf_counter() - start, "new": len(result.new), "all": len(result.packages)}))
"""


def generate(feed: Path, count: int, seed: int, prefix: str = "p", base: int = 0) -> list[str]:
    """Write ``count`` packages into ``feed``; returns their names. With ``base``, depend on base packages."""
    rng = random.Random(seed)
    work = feed.parent / f".gen-{prefix}"
    names = []
    deb.ZSTD_LEVEL = 3  # generation speed only; the installers read any level alike
    for i in range(count):
        name = f"{prefix}{i:04d}"
        names.append(name)
        root = work / name
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        nfiles = rng.randint(5, 50)
        regular: list[str] = []
        conffiles = []
        for j in range(nfiles):
            kind = rng.random()
            if kind < 0.5:
                rel = f"{rng.choice(SHARED_DIRS)}/{name}-{j}"
            else:
                rel = f"usr/share/{name}/sub{j % 4}/f{j}"
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if kind > 0.93 and regular:
                os.symlink(os.path.relpath(root / regular[-1], path.parent), path)
            elif kind > 0.90 and regular:
                os.link(root / regular[-1], path)
            else:
                path.write_bytes(rng.randbytes(rng.randint(50, 8000)))
                os.chmod(path, 0o755 if rel.startswith("usr/bin") else 0o644)
                regular.append(rel)
                if rel.startswith("etc/"):
                    conffiles.append("/" + rel)
        depends = []
        pool = base if base else i
        for _ in range(rng.randint(0, 4) if pool else 0):
            target = rng.randrange(pool)
            dep_name = f"p{target:04d}"
            roll = rng.random()
            if roll < 0.2:
                depends.append(f"{dep_name} (>= 1.0)")
            elif roll < 0.3:
                depends.append(f"missing-{target} | {dep_name}")
            elif roll < 0.35:
                depends.append(f"virtual-{target}")
            else:
                depends.append(dep_name)
        scripts = {}
        if rng.random() < 0.1:
            scripts["postinst"] = f'#!/bin/sh\nset -e\necho configured > "$D/usr/share/{name}.state"\n'
        fields = {"Package": name, "Version": "1.0-r0", "Architecture": "amd64", "Maintainer": "Bench <b@x>",
                  "Depends": ", ".join(dict.fromkeys(depends)), "Provides": f"virtual-{i}" if not base else "",
                  "Section": "misc", "Priority": "optional"}
        deb.write_deb(str(root), str(feed), fields, f"benchmark package {name}", "", scripts, conffiles, CLAMP)
        shutil.rmtree(root)
    shutil.rmtree(work, ignore_errors=True)
    return names


def ordered_debs(feed: Path, names: list[str]) -> list[str]:
    """The layerbuild install order of ``names`` (so dpkg unpacks in the same order)."""
    from layerbuild.rootfs.feed import Feed
    from layerbuild.rootfs.resolve import Request, resolve

    resolution = resolve(Feed.scan([str(feed)], "amd64"), {}, Request.of(names))
    return [step.package.path for step in resolution.steps]


def run_layerbuild(root: Path, feed: Path, names: list[str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _LAYERBUILD, str(root), str(feed), ",".join(names)], check=True,
                         capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2])
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def run_dpkg(root: Path, debs: list[str]) -> float:
    import time

    admin = root / "var/lib/dpkg"
    admin.mkdir(parents=True)
    env = dict(os.environ, D=str(root))
    common = ["dpkg", f"--root={root}", "--force-script-chrootless", "--force-not-root", "--log=/dev/null"]
    start = time.perf_counter()
    subprocess.run([*common, "--unpack", *debs], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run([*common, "--configure", "-a"], check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--extension", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="lb-bench-rootfs-"))
    work.mkdir(parents=True, exist_ok=True)
    feed = work / "feed"
    try:
        if not feed.exists() or len(list(feed.glob("p*.deb"))) != args.packages:
            shutil.rmtree(feed, ignore_errors=True)
            print(f"generating {args.packages} packages ...", flush=True)
            generate(feed, args.packages, args.seed)
        names = sorted(p.name.split("_")[0] for p in feed.glob("p*.deb"))
        debs = ordered_debs(feed, names)
        files = sum(1 for _ in feed.glob("*.deb"))
        print(f"feed: {files} packages, {sum(p.stat().st_size for p in feed.glob('*.deb')) // 1024} KiB")
        ours: list[float] = []
        theirs: list[float] = []
        for rnd in range(args.rounds):
            for tool in (("layerbuild", "dpkg") if rnd % 2 == 0 else ("dpkg", "layerbuild")):
                root = work / f"root-{tool}"
                shutil.rmtree(root, ignore_errors=True)
                if tool == "layerbuild":
                    result = run_layerbuild(root, feed, names)
                    assert result["new"] == args.packages, result
                    ours.append(result["wall"])
                else:
                    theirs.append(run_dpkg(root, debs))
            print(f"round {rnd + 1}: layerbuild {ours[-1]:.2f} s, dpkg {theirs[-1]:.2f} s", flush=True)
        a, b = statistics.median(ours), statistics.median(theirs)
        print(f"rootfs of {args.packages} packages: layerbuild {a:.2f} s, dpkg {b:.2f} s, ratio {a / b:.2f}x")

        ext_feed = work / "ext-feed"
        shutil.rmtree(ext_feed, ignore_errors=True)
        ext_names = generate(ext_feed, args.extension, args.seed + 1, prefix="e", base=args.packages)
        for p in feed.glob("*.deb"):
            os.symlink(p, ext_feed / p.name)
        base_root = work / "root-layerbuild"
        times = []
        for _ in range(args.rounds):
            staging = work / "staging"
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(base_root / "var/lib/dpkg", staging / "var/lib/dpkg", symlinks=True)
            result = run_layerbuild(staging, ext_feed, ext_names)
            assert result["new"] == args.extension and result["all"] == args.packages + args.extension, result
            times.append(result["wall"])
        print(f"extension of {args.extension} packages against a {args.packages}-package database: "
              f"{statistics.median(times):.2f} s")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
