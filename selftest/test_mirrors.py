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
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Runner, make_build
from test_tasks import _chain, _ran

from layerbuild.util.objectstore import Store, forget_stores, open_store


@pytest.fixture(params=[pytest.param("s3", marks=pytest.mark.slow), "http"])
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


@pytest.mark.slow
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


def _uploaded(tmp_path: Path, lb: Runner, store_url: str, extra: str = "") -> tuple[Path, Store]:
    """Runner A: r0 and r1 built and uploaded to ``store_url``."""
    a = _chain(tmp_path, n=2)
    with open(a / "conf/local.conf", "a") as fh:
        fh.write(f'SSTATE_UPLOAD = "{store_url}"\n{extra}')
    status, _, err = lb("-B", str(a), "r1")
    assert status == 0, err
    return a, open_store(store_url)


def _key(store: Store, pn: str, task: str) -> str:
    return next(k for k in _objects(store) if k.endswith(f"_{task}.tar.zst") and f"sstate:{pn}:" in k)


@pytest.mark.slow
def test_corrupt_and_truncated_objects_are_refused_and_their_tasks_run(store_url: str, tmp_path: Path,
                                                                       lb: Runner) -> None:
    a, store = _uploaded(tmp_path, lb, store_url)
    corrupt, truncated = _key(store, "r1", "do_package_write_deb"), _key(store, "r1", "do_populate_sysroot")
    for key, change in ((corrupt, lambda b: bytes(x ^ 0xFF for x in b)), (truncated, lambda b: b[: len(b) // 2])):
        assert store.get(key, str(tmp_path / "obj"))
        store.set_record(key, change((tmp_path / "obj").read_bytes()))  # replaced behind the siginfo's back
    b = _runner(tmp_path, "b", a, f'SSTATE_MIRRORS = "file://.* {store_url}/PATH"\n')
    status, _, err = lb("-B", str(b), "r1")
    assert status == 0, err
    for key in (corrupt, truncated):
        assert f"WARNING: {key.split(':')[1]}:do_{key.rsplit('_do_', 1)[1][:-8]}: sstate object {key} from " \
               f"{store_url} is corrupt (checksum mismatch); running the task instead" in err, err
        assert not (b / "sstate-cache" / key).exists() or \
            hashlib.sha256((b / "sstate-cache" / key).read_bytes()).hexdigest() != \
            hashlib.sha256((tmp_path / "obj").read_bytes()).hexdigest()
    ran = _ran(b)
    assert "r1:do_package_write_deb" in ran and "r1:do_populate_sysroot" in ran and "r1:do_compile" in ran
    assert (b / "tmp/deploy/fake-debs/r1.txt").read_text() == "r1 hello 1\n"


def _keypair(directory: Path, name: str) -> tuple[Path, Path]:
    private, public = directory / f"{name}.pem", directory / f"{name}.pub"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(private)], check=True)
    subprocess.run(["openssl", "pkey", "-in", str(private), "-pubout", "-out", str(public)], check=True)
    return private, public


@pytest.mark.slow
def test_signed_objects_verify_and_wrong_or_missing_signatures_are_refused(nginx_dav: tuple[str, Path],
                                                                           tmp_path: Path, lb: Runner) -> None:
    store_url = f"{nginx_dav[0]}/{tmp_path.name}"
    forget_stores()
    good, good_pub = _keypair(tmp_path, "good")
    _other, other_pub = _keypair(tmp_path, "other")
    a, store = _uploaded(tmp_path, lb, store_url, f'SSTATE_SIG_KEY = "{good}"\n')
    signed = [k for k in _objects(store) if k.endswith(".tar.zst")]
    assert signed and all(store.get_record(k + ".sig") for k in signed)
    verify = f'SSTATE_MIRRORS = "file://.* {store_url}/PATH"\nSSTATE_VERIFY_SIG = "1"\n'
    wrong = _runner(tmp_path, "wrong", a, verify + f'SSTATE_VALID_SIGS = "{other_pub}"\n')
    status, _, err = lb("-B", str(wrong), "r1")
    assert status == 0, err
    assert err.count("has a signature no key of SSTATE_VALID_SIGS verifies; running the task instead") >= 2, err
    assert "r0:do_compile" in _ran(wrong) and not list((wrong / "sstate-cache").rglob("*.sig"))
    right = _runner(tmp_path, "right", a, verify + f'SSTATE_VALID_SIGS = "{other_pub} {good_pub}"\n')
    status, _, err = lb("-B", str(right), "r1")
    assert status == 0 and _ran(right) == [], err
    unsigned = _key(store, "r1", "do_package_write_deb")
    store.delete(unsigned + ".sig")
    fresh = _runner(tmp_path, "unsigned", a, verify + f'SSTATE_VALID_SIGS = "{good_pub}"\n')
    status, _, err = lb("-B", str(fresh), "r1")
    assert status == 0, err
    assert f"sstate object {unsigned} from {store_url} is not signed (SSTATE_VERIFY_SIG is set)" in err, err
    assert _ran(fresh) == ["r1:do_package_write_deb"] or "r1:do_package_write_deb" in _ran(fresh)


@pytest.mark.slow
def test_a_dead_or_silent_mirror_is_one_warning_and_the_build_goes_on_quickly(tmp_path: Path, lb: Runner) -> None:
    with socket.socket() as silent, socket.socket() as dead:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)  # takes connections, never answers
        dead.bind(("127.0.0.1", 0))  # refuses them
        urls = [f"http://127.0.0.1:{s.getsockname()[1]}/sstate" for s in (silent, dead)]
        build = _chain(tmp_path, n=2)
        with open(build / "conf/local.conf", "a") as fh:
            fh.write(f'SSTATE_MIRRORS = "file://.* {urls[0]}/PATH file://.* {urls[1]}/PATH"\n'
                     f'SSTATE_UPLOAD = "{urls[0]}"\nBB_MIRROR_TIMEOUT = "0.5"\n')
        forget_stores()
        start = time.monotonic()
        status, _, err = lb("-B", str(build), "r1")
        elapsed = time.monotonic() - start
    assert status == 0, err
    for url in urls:
        assert err.count(f"WARNING: sstate mirror {url}: {url} is unavailable") == 1, err
    assert "r1:do_compile" in _ran(build)
    baseline = _chain(tmp_path / "baseline", n=2)
    start = time.monotonic()
    assert lb("-B", str(baseline), "r1")[0] == 0
    assert elapsed - (time.monotonic() - start) < 6, (elapsed, err)  # one timeout per store, not one per object


def test_a_bad_mirror_url_is_one_error_line(tmp_path: Path, lb: Runner) -> None:
    build = _chain(tmp_path, n=1)
    local = build / "conf/local.conf"
    line = len(local.read_text().splitlines()) + 1
    local.write_text(local.read_text() + 'SSTATE_MIRRORS = "file://.* ftp://host/sstate/PATH"\n')
    status, _, err = lb("-B", str(build), "r0")
    assert status == 1
    assert err.strip() == (f"{local}:{line}: error: ftp://host/sstate: not a store URL "
                           "(known: file://, http://, https://, s3://)"), err


def test_missing_credentials_are_one_error_line(tmp_path: Path, lb: Runner, no_aws_credentials: None) -> None:
    forget_stores()
    build = _chain(tmp_path, n=1)
    local = build / "conf/local.conf"
    line = len(local.read_text().splitlines()) + 1
    local.write_text(local.read_text() + 'SSTATE_UPLOAD = "s3://bucket/sstate"\n')
    status, _, err = lb("-B", str(build), "r0")
    assert status == 1
    assert err.strip() == (f"{local}:{line}: error: s3://bucket/sstate: no AWS credentials (set AWS_ACCESS_KEY_ID "
                           "and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with ~/.aws/credentials)"), err


@pytest.mark.slow
def test_a_hostile_object_on_a_mirror_writes_nothing_outside(nginx_dav: tuple[str, Path], tmp_path: Path,
                                                             lb: Runner) -> None:
    """A checksum-consistent object whose members climb out (``..``) or lead out through a link gets the
    checks of source archives: refused, the canary directory outside stays empty, the task runs."""
    import io
    import tarfile

    import zstandard
    store_url = f"{nginx_dav[0]}/{tmp_path.name}"
    forget_stores()
    a, store = _uploaded(tmp_path, lb, store_url)
    outside = tmp_path / "outside"
    outside.mkdir()
    for n, members in enumerate((
            [("file", f"dir0/{'../' * 40}{str(outside).lstrip('/')}/canary", "")],
            [("link", "dir0/esc", f"{'../' * 40}{str(outside).lstrip('/')}"), ("file", "dir0/esc/canary", "")])):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tar:
            for kind, name, target in members:
                info = tarfile.TarInfo(name)
                if kind == "link":
                    info.type, info.linkname = tarfile.SYMTYPE, target
                    tar.addfile(info)
                else:
                    info.size = 3
                    tar.addfile(info, io.BytesIO(b"bad"))
        data = zstandard.ZstdCompressor().compress(raw.getvalue())
        key = _key(store, "r1", "do_package_write_deb")
        store.set_record(key, data)
        store.set_record(key + ".siginfo", json.dumps({"sha256": hashlib.sha256(data).hexdigest()}).encode())
        b = _runner(tmp_path, f"b{n}", a, f'SSTATE_MIRRORS = "file://.* {store_url}/PATH"\n')
        status, _, err = lb("-B", str(b), "r1")
        assert status == 0, err
        assert os.listdir(outside) == []
        assert re.search(rf"sstate object \S+{re.escape(key)} cannot be unpacked: "
                         r"(entry '.*' is not below a dirN directory|symbolic link 'dir0/esc' -> '.*' points outside "
                         r"its tree); running the task instead", err), err
        assert "r1:do_package_write_deb" in _ran(b)
        assert (b / "tmp/deploy/fake-debs/r1.txt").read_text() == "r1 hello 1\n"


@pytest.mark.slow
def test_downloads_are_published_with_dl_upload_and_fetched_through_a_store_premirror(
        nginx_dav: tuple[str, Path], s3_server: str, tmp_path: Path, lb: Runner) -> None:
    from conftest import make_layer
    base, root = nginx_dav
    payload = b"source tarball " * 100
    origin = root / tmp_path.name / "payload.txt"
    origin.parent.mkdir(parents=True)
    origin.write_bytes(payload)
    recipe = (f'SRC_URI = "{base}/{tmp_path.name}/payload.txt"\n'
              f'SRC_URI[sha256sum] = "{hashlib.sha256(payload).hexdigest()}"\nINHIBIT_DEFAULT_DEPS = "1"\n')
    layer = make_layer(tmp_path, "dl", {"recipes/dl/dl_1.0.bb": recipe})
    store = f"s3://mirror/{tmp_path.name}-dl"
    forget_stores()
    a = make_build(tmp_path / "a", [layer], local=f'DL_UPLOAD = "{store}"\n')
    status, _, err = lb("-B", str(a), "-c", "fetch", "dl")
    assert status == 0, err
    assert open_store(store).get_record("payload.txt") == payload
    origin.unlink()  # only the store has it now
    b = make_build(tmp_path / "b", [layer], local=f'PREMIRRORS = "https?://.*/.* {store}/"\n')
    status, _, err = lb("-B", str(b), "-c", "fetch", "dl")
    assert status == 0, err
    assert (b / "downloads/payload.txt").read_bytes() == payload
    # the wrong bytes on the store are refused as any mirror's are
    open_store(store).set_record("payload.txt", b"tampered")
    c = make_build(tmp_path / "c", [layer], local=f'PREMIRRORS = "https?://.*/.* {store}/"\n')
    status, _, err = lb("-B", str(c), "-c", "fetch", "dl")
    assert status == 1 and "sha256 mismatch" in err and not (c / "downloads/payload.txt").exists()
