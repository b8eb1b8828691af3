"""``layerbuild-sstate prune``: objects not used for DAYS days leave SSTATE_DIR and the stores (moto's S3
server, nginx with WebDAV); objects a build restored since survive; --dry-run removes nothing; the bytes
freed are reported."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest
from conftest import Runner
from test_mirrors import _objects, _runner, store_url  # noqa: F401  (the fixture)
from test_tasks import _chain, _ran, _reset_log

from layerbuild.cli import sstate_main
from layerbuild.util.objectstore import forget_stores, open_store


def _prune(capsys, *args: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    capsys.readouterr()
    status = sstate_main(list(args))
    return status, capsys.readouterr().out


@pytest.mark.slow
def test_prune_a_local_directory_keeps_what_was_restored(tmp_path: Path, lb: Runner, capsys) -> None:  # type: ignore[no-untyped-def]
    build = _chain(tmp_path, n=2)
    assert lb("-B", str(build), "r1")[0] == 0
    sstate = build / "sstate-cache"
    old = time.time() - 30 * 86400
    for path in sstate.rglob("sstate:*"):
        os.utime(path, (old, old))
    # a fresh TMPDIR: r0's objects are restored from SSTATE_DIR, which marks them used
    shutil.rmtree(build / "tmp")
    _reset_log(build)
    status, _, err = lb("-B", str(build), "r0")
    assert status == 0 and "r0:do_compile" not in _ran(build), err
    objects = sorted(sstate.rglob("*.tar.zst"))
    before = sum(p.stat().st_size for p in sstate.rglob("sstate:*"))
    # restored (access time) or built by this build (r0's licence, which r1 did not need)
    used = {str(p.relative_to(sstate)) for p in objects if max(p.stat().st_atime, p.stat().st_mtime) > old + 86400}
    assert used and all(":r0:" in name for name in used)
    status, out = _prune(capsys, "-B", str(build), "prune", "--older-than", "10", "--dry-run")
    assert status == 0
    assert sorted(sstate.rglob("*.tar.zst")) == objects  # nothing removed
    would = re.findall(r"^would remove (\S+) ", out, re.M)
    assert set(would) == {str(p.relative_to(sstate)) for p in objects} - used, out
    status, out = _prune(capsys, "-B", str(build), "prune", "--older-than", "10")
    assert status == 0
    left = sorted(sstate.rglob("*.tar.zst"))
    assert {str(p.relative_to(sstate)) for p in left} == used
    assert not [p for p in sstate.rglob("sstate:r1:*")]  # their siginfo went too
    after = sum(p.stat().st_size for p in sstate.rglob("sstate:*"))
    m = re.search(rf"^file://{re.escape(str(sstate))}: {len(would)} objects removed, .*?(\d+) bytes\)? freed; "
                  rf"{len(left)} kept$", out, re.M)
    assert m and int(m.group(1)) == before - after, out


@pytest.mark.slow
def test_prune_a_store_keeps_objects_restored_since(store_url: str, tmp_path: Path, lb: Runner,  # noqa: F811
                                                    capsys) -> None:  # type: ignore[no-untyped-def]
    a = _chain(tmp_path, n=2)
    with open(a / "conf/local.conf", "a") as fh:
        fh.write(f'SSTATE_UPLOAD = "{store_url}"\n')
    assert lb("-B", str(a), "r1")[0] == 0
    uploaded = time.time()
    from_a = {k for k in _objects(open_store(store_url)) if k.endswith(".tar.zst")}
    time.sleep(2.2)  # store times have one-second steps
    b = _runner(tmp_path, "b", a, f'SSTATE_MIRRORS = "file://.* {store_url}/PATH"\nSSTATE_UPLOAD = "{store_url}"\n')
    status, _, err = lb("-B", str(b), "r0")  # restores r0's objects from the store: their access records
    assert status == 0 and "r0:do_compile" not in _ran(b), err
    store = open_store(store_url)
    # what b restored has its access record; what b built itself (r0's licence, which r1 did not need) is new
    used = {k[: -len(".access")] for k in _objects(store) if k.endswith(".access")}
    assert used and all(":r0:" in k for k in used)
    used |= {k for k in _objects(store) if k.endswith(".tar.zst")} - from_a
    days = f"{(time.time() - uploaded - 1.0) / 86400:.9f}"
    before = _objects(store)
    status, out = _prune(capsys, "prune", "--older-than", days, "--dry-run", store_url)
    assert status == 0 and _objects(store) == before
    would = re.findall(r"^would remove (\S+) ", out, re.M)
    assert set(would) == {k for k in before if k.endswith(".tar.zst")} - used, out
    forget_stores()
    status, out = _prune(capsys, "prune", "--older-than", days, store_url)
    assert status == 0, out
    after = _objects(store)
    assert {k for k in after if k.endswith(".tar.zst")} == used
    assert {k for k in after if not k.endswith(".access")} == {k + s for k in used for s in ("", ".siginfo")}
    freed = sum(size for key, size in before.items() if key not in after)
    assert re.search(rf"^{re.escape(store_url)}: {len(would)} objects removed, .*\b{freed} bytes\)? freed; "
                     rf"{len(used)} kept$", out, re.M), (out, freed)
