#!/usr/bin/env python3
"""Extension-side benchmark: the pkgdb snapshot of an N-package base, and the image steps after install.

A generated dpkg database of N packages (5-50 files each, plus md5sums) stands for the base rootfs.
Printed are the times to write its snapshot, to unpack it into a staging root and read BaseInfo, and,
after two tool packages are added to the staging root, to assemble the sysext payload, run the ABI
closure check and write the squashfs image.

    python3 selftest/bench/extension.py [--packages 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from layerbuild.image import types  # noqa: E402
from layerbuild.image.abi import check_closure  # noqa: E402
from layerbuild.image.extension import ExtensionConfig, assemble  # noqa: E402
from layerbuild.image.pkgdb import unpack_snapshot, write_snapshot  # noqa: E402
from layerbuild.image.types import ImageOptions  # noqa: E402

SDE = 1_700_000_000


def make_base(root: Path, packages: int) -> None:
    dpkg = root / "var/lib/dpkg"
    (dpkg / "info").mkdir(parents=True)
    stanzas = []
    for i in range(packages):
        name = f"pkg{i:04d}"
        stanzas.append(f"Package: {name}\nStatus: install ok installed\nArchitecture: x86-64\n"
                       f"Version: 1.{i}-r0\nMaintainer: bench\nDescription: package {i}\n")
        files = [f"/usr/share/{name}/f{j}" for j in range(5 + i % 46)] + [f"/usr/bin/{name}"]
        listed = ["/.", "/usr", "/usr/bin", "/usr/share", f"/usr/share/{name}", *files]
        (dpkg / "info" / f"{name}.list").write_text("\n".join(listed) + "\n")
        (dpkg / "info" / f"{name}.md5sums").write_text("".join(f"{'0' * 32}  {f[1:]}\n" for f in files))
    (dpkg / "status").write_text("\n".join(stanzas))
    (root / "usr/lib").mkdir(parents=True)
    (root / "usr/lib/os-release").write_text("ID=bench\nVERSION_ID=1\n")


def add_tools(staging: Path) -> None:
    (staging / "usr/bin").mkdir(parents=True, exist_ok=True)
    for k in range(2):
        shutil.copy("/bin/true", staging / f"usr/bin/tool{k}")
        with open(staging / "var/lib/dpkg/status", "a") as fh:
            fh.write(f"\nPackage: tool{k}\nStatus: install ok installed\nArchitecture: x86-64\nVersion: 1\n"
                     "Maintainer: bench\nDescription: tool\n")
        (staging / f"var/lib/dpkg/info/tool{k}.list").write_text(f"/.\n/usr\n/usr/bin\n/usr/bin/tool{k}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="lb-bench-ext-") as tmp:
        top = Path(tmp)
        make_base(top / "base", args.packages)
        for r in range(args.rounds):
            snap, staging = top / f"snap{r}.tar.zst", top / f"staging{r}"
            steps = []
            t = time.perf_counter()
            write_snapshot(top / "base", snap, SDE)
            steps.append(("snapshot write", time.perf_counter() - t))
            t = time.perf_counter()
            base = unpack_snapshot(snap, staging)
            steps.append(("unpack + BaseInfo", time.perf_counter() - t))
            add_tools(staging)
            t = time.perf_counter()
            assemble(staging, ExtensionConfig(kind="sysext", name="tools", architecture="x86-64"), base)
            steps.append(("assemble", time.perf_counter() - t))
            t = time.perf_counter()
            check_closure(staging, {"libc.so.6": "libc6"}, base.owners.keys())
            steps.append(("ABI check", time.perf_counter() - t))
            t = time.perf_counter()
            types.write("squashfs", staging, top / f"tools{r}.raw", ImageOptions(SDE, all_root=True))
            steps.append(("squashfs image", time.perf_counter() - t))
            for name, value in steps:
                times.setdefault(name, []).append(value)
        size = (top / "snap0.tar.zst").stat().st_size
    print(f"base of {args.packages} packages, snapshot {size} bytes; median of {args.rounds} rounds:")
    total = 0.0
    for name, values in times.items():
        med = statistics.median(values)
        if name != "snapshot write":
            total += med
        print(f"  {name:20s} {med:.3f} s")
    print(f"  {'extension step':20s} {total:.3f} s (unpack to image)")


if __name__ == "__main__":
    main()
