"""Shared-state mirrors on real servers started here on 127.0.0.1 (moto's S3 server, nginx with WebDAV):
a runner with an empty build directory restores what another uploaded and runs no task; runners
uploading at once leave whole objects; a corrupt, truncated, unsigned or wrongly signed object is
refused and its task runs; a dead or silent mirror is a warning within BB_MIRROR_TIMEOUT; a bad URL or
missing credentials is one error line."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Runner, make_build
from test_tasks import _chain, _ran

from layerbuild.util.objectstore import Store, forget_stores, open_store


@pytest.fixture(params=["s3", "http"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh prefix of an S3 bucket on moto's server, or of an nginx WebDAV directory."""
    forget_stores()
    if request.param == "s3":
        request.getfixturevalue("s3_server")
        yield f"s3://mirror/{tmp_path.name}"
    else:
        base, _root = request.getfixturevalue("nginx_dav")
        yield f"{base}/{tmp_path.name}"
    forget_stores()


def _runner(tmp_path: Path, name: str, layer_of: Path, conf: str) -> Path:
    """A build directory of its own (TMPDIR and SSTATE_DIR in it, both empty) over the same layers."""
    layers = [p for p in (layer_of.parent / "meta-tasks",) if p.exists()]
    build = make_build(tmp_path / name, layers)
    local = build / "conf/local.conf"
    local.write_text(local.read_text() + conf)
    return build


def _objects(store: Store) -> dict[str, int]:
    return {e.key: e.size for e in store.entries()}


def _intact(store: Store, tmp_path: Path) -> list[str]:
    """The objects of ``store``, each checked against the sha256 its siginfo records."""
    names = [k for k in _objects(store) if k.endswith(".tar.zst")]
    for name in names:
        siginfo = store.get_record(name + ".siginfo")
        assert siginfo is not None, name
        assert store.get(name, str(tmp_path / "check"))
        assert hashlib.sha256((tmp_path / "check").read_bytes()).hexdigest() == json.loads(siginfo)["sha256"], name
    return names


def test_an_empty_runner_restores_everything_from_the_mirror(store_url: str, tmp_path: Path, lb: Runner) -> None:
    a = _chain(tmp_path, n=2)
    with open(a / "conf/local.conf", "a") as fh:
        fh.write(f'SSTATE_UPLOAD = "{store_url}"\n')
    status, _, err = lb("-B", str(a), "r1")
    assert status == 0, err
    store = open_store(store_url)
    names = _intact(store, tmp_path)
    assert {n.split(":")[1] for n in names} == {"r0", "r1"} and any("_do_package_write_deb" in n for n in names)
    b = _runner(tmp_path, "b", a, f'SSTATE_MIRRORS = "file://.* {store_url}/PATH"\n')
    status, _, err = lb("-B", str(b), "r1")
    assert status == 0, err
    assert _ran(b) == []  # nothing compiled, nothing run
    assert (b / "tmp/deploy/fake-debs/r1.txt").read_text() == "r1 hello 1\n"
    summary = err.strip().splitlines()[-1]
    m = re.fullmatch(rf"Build succeeded: \d+ tasks run, (\d+) restored from sstate \(\1 from {re.escape(store_url)}, "
                     r"[\d.]+ (bytes|KiB) transferred; hit rate 100%\), 0 up to date, 0 failed\.", summary)
    assert m, summary
    fetched = {str(p.relative_to(b / "sstate-cache")) for p in (b / "sstate-cache").rglob("*.tar.zst")}
    assert len(fetched) == int(m.group(1)) and fetched <= set(names)


def test_runners_uploading_at_once_leave_whole_objects(store_url: str, tmp_path: Path) -> None:
    builds = []
    for name in ("one", "two"):
        build = _chain(tmp_path / name, n=2)
        with open(build / "conf/local.conf", "a") as fh:
            fh.write(f'SSTATE_UPLOAD = "{store_url}"\n')
        builds.append(build)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    procs = [subprocess.Popen([sys.executable, "-m", "layerbuild.cli", "-B", str(b), "r1"], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for b in builds]
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out
        assert "WARNING" not in out, out
    store = open_store(store_url)
    assert len(_intact(store, tmp_path)) >= 4
    assert not [k for k in _objects(store) if ".tmp" in k]
