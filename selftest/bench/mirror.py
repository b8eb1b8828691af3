#!/usr/bin/env python3
"""Shared state across runners: runner A builds an image with ``SSTATE_UPLOAD`` on an S3 store (moto's
server on 127.0.0.1); its objects are then put on a WebDAV store too (nginx on 127.0.0.1), as a second
runner's ``SSTATE_UPLOAD`` would have. Runner B, a fresh build directory each time (empty TMPDIR, empty
SSTATE_DIR), builds the same image with ``SSTATE_MIRRORS`` on one store, then the other. Printed: the
wall time of B's whole ``layerbuild`` command (median of --repeat), the tasks B ran, its compile tasks
(must be none) and its summary line (restored-from-mirror counts, bytes, hit rate: must be 100%).

    python3 selftest/bench/mirror.py [--image extending-image] [--image debug-tools-sysext] [--repeat 3]

debug-tools-sysext compiles real software in runner A: its sources must be in DL_DIR
(``LAYERBUILD_TEST_DL_DIR``, as for selftest/test_debugtools.py) or come from the host's Debian mirror.
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
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[2]))
sys.path.insert(0, str(HERE.parents[1]))

from conftest import make_build, start_moto, start_nginx  # noqa: E402

from layerbuild.util.objectstore import open_store  # noqa: E402


def layerbuild(build: Path, image: str) -> tuple[float, str]:
    start = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "layerbuild.cli", "-B", str(build), image], cwd=build.parent,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                       env=dict(os.environ, PYTHONPATH=str(HERE.parents[2])))
    if r.returncode:
        raise SystemExit(r.stderr[-3000:])
    return time.perf_counter() - start, r.stderr


def copy_objects(sstate: Path, url: str) -> int:
    """Put every object of SSTATE_DIR (with .sig and .siginfo) on the store ``url``, as SSTATE_UPLOAD does."""
    store = open_store(url)
    n = 0
    for obj in sorted(sstate.rglob("*.tar.zst")):
        name = str(obj.relative_to(sstate))
        store.put(str(obj), name)
        if Path(f"{obj}.sig").exists():
            store.put_record(name + ".sig", Path(f"{obj}.sig").read_bytes())
        store.put_record(name + ".siginfo", Path(f"{obj}.siginfo").read_bytes())
        n += 1
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--image", action="append", help="default: extending-image and debug-tools-sysext")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=8, help="runner B's BB_NUMBER_THREADS")
    ap.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (runner A's build is reused)")
    args = ap.parse_args()
    images = args.image or ["extending-image", "debug-tools-sysext"]
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="lb-bench-mirror-"))
    root.mkdir(parents=True, exist_ok=True)
    dl_dir = os.environ.get("LAYERBUILD_TEST_DL_DIR") or str(root / "downloads")
    (root / "www").mkdir(exist_ok=True)
    (root / "nginx").mkdir(exist_ok=True)
    moto = start_moto(root)
    nginx = start_nginx(root / "www", root / "nginx", dav=True)
    try:
        next(moto)
        http = next(nginx)
        for image in images:
            s3_url, http_url = f"s3://mirror/{image}", f"{http}/{image}"
            a = make_build(root / f"a-{image}", [], local=f'DL_DIR = "{dl_dir}"\nSSTATE_UPLOAD = "{s3_url}"\n')
            wall, _ = layerbuild(a, image)
            # (with --keep, A may have had nothing left to build: its objects go to the fresh S3 server here)
            copy_objects(a / "sstate-cache", s3_url)
            print(f"{image}: runner A built and uploaded in {wall:.1f} s; "
                  f"{copy_objects(a / 'sstate-cache', http_url)} objects copied to {http_url}")
            for url in (s3_url, http_url):
                runs = []
                for i in range(args.repeat):
                    top = root / f"b-{image}-{i}"
                    shutil.rmtree(top, ignore_errors=True)
                    b = make_build(top, [], local=f'SSTATE_MIRRORS = "file://.* {url}/PATH"\n'
                                                  f'BB_NUMBER_THREADS = "{args.threads}"\n')
                    wall, err = layerbuild(b, image)
                    ran = re.findall(r"^NOTE: Running task \d+ of \d+ \((\S+)\)$", err, re.M)
                    compiled = [t for t in ran if t.endswith(":do_compile")]
                    summary = err.strip().splitlines()[-1]
                    runs.append(wall)
                    if compiled or "hit rate 100%" not in summary:
                        raise SystemExit(f"runner B from {url}: compiled {compiled}; {summary}")
                    shutil.rmtree(top, ignore_errors=True)
                print(f"{image} from {url.split(':')[0]}: median {statistics.median(runs):.2f} s (runs: "
                      + ", ".join(f"{t:.2f}" for t in runs) + f"); {len(ran)} tasks run ({' '.join(ran)}), "
                      f"0 compiled\n    {summary}")
    finally:
        nginx.close()
        moto.close()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
