"""The object stores behind mirrors, against real servers on 127.0.0.1: moto's S3 server, nginx with
WebDAV, and a directory. Each store gets, heads, publishes if absent, keeps first-writer-wins records,
and lists only for pruning; a dead or silent server is unavailable within its timeout."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from pathlib import Path

import pytest

from layerbuild.util.objectstore import (
    StoreConfigError,
    StoreError,
    StoreUnavailable,
    check_key,
    forget_stores,
    open_store,
)


def test_get_head_put_if_absent_records_and_listing(store_url: str, tmp_path: Path) -> None:
    store = open_store(store_url)
    source = tmp_path / "object"
    source.write_bytes(b"first" * 1000)
    key = "ab/cd/sstate:zlib:core2-64:1.3:r0:abcd_populate_sysroot.tar.zst"
    assert store.head(key) is None
    assert store.get(key, str(tmp_path / "absent")) is False
    assert store.put(str(source), key) is True
    other = tmp_path / "other"
    other.write_bytes(b"second")
    assert store.put(str(other), key) is False  # the first writer's object stays
    entry = store.head(key)
    assert entry is not None and entry.size == 5000 and abs(entry.mtime - time.time()) < 120
    assert store.get(key, str(tmp_path / "got")) is True
    assert (tmp_path / "got").read_bytes() == b"first" * 1000
    assert store.put_record("records/one", b"A") is True
    assert store.put_record("records/one", b"B") is False
    assert store.get_record("records/one") == b"A"
    assert store.get_record("records/none") is None
    store.set_record("records/one", b"C")
    assert store.get_record("records/one") == b"C"
    assert sorted(e.key for e in store.entries()) == [key, "records/one"]
    store.delete("records/one")
    assert store.get_record("records/one") is None
    assert [e.key for e in store.entries()] == [key]


def test_concurrent_writers_leave_one_whole_object(store_url: str, tmp_path: Path) -> None:
    store = open_store(store_url)
    sources = []
    for i in range(6):
        path = tmp_path / f"src{i}"
        path.write_bytes(bytes([i]) * (3 << 20))
        sources.append(path)
    results: list[bool] = []
    threads = [threading.Thread(target=lambda p=p: results.append(store.put(str(p), "x/object"))) for p in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 6 and any(results)
    store.get("x/object", str(tmp_path / "got"))
    got = (tmp_path / "got").read_bytes()
    assert hashlib.sha256(got).hexdigest() in {hashlib.sha256(p.read_bytes()).hexdigest() for p in sources}
    assert [e.key for e in store.entries()] == ["x/object"]  # no temporary upload left visible


def test_keys_never_leave_the_store() -> None:
    for bad in ("../x", "/etc/passwd", "a/../../b", "a//b", ""):
        with pytest.raises(StoreError, match="not a plain relative path"):
            check_key(bad)


def test_bad_urls_are_one_clear_error() -> None:
    with pytest.raises(StoreConfigError, match=r"^error: ftp://x/y: not a store URL \(known: file://, http://"):
        open_store("ftp://x/y")
    with pytest.raises(StoreConfigError, match="s3://BUCKET/PREFIX"):
        open_store("s3:///prefix")
    with pytest.raises(StoreConfigError, match="needs a host"):
        open_store("http:///dir")
    with pytest.raises(StoreConfigError, match="absolute path"):
        open_store("file://relative/dir")


def test_s3_without_credentials_is_one_clear_error(no_aws_credentials: None) -> None:
    forget_stores()
    with pytest.raises(StoreConfigError, match=r"^error: s3://b/p: no AWS credentials \(set AWS_ACCESS_KEY_ID"):
        open_store("s3://b/p")


@pytest.mark.parametrize("scheme", ["http", pytest.param("s3", marks=pytest.mark.slow)])
def test_dead_and_silent_servers_are_unavailable_within_the_timeout(scheme: str, monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    with socket.socket() as silent, socket.socket() as dead:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # accepts connections, never answers
        dead.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        for sock in (silent, dead):
            port = sock.getsockname()[1]
            forget_stores()
            if scheme == "s3":
                monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
                url = "s3://bucket/p"
            else:
                url = f"http://127.0.0.1:{port}/p"
            store = open_store(url, timeout=0.5, retries=1)
            start = time.monotonic()
            with pytest.raises(StoreUnavailable, match="is unavailable"):
                store.get_record("a/b")
            first = time.monotonic() - start
            assert first < 3, first
            start = time.monotonic()
            with pytest.raises(StoreUnavailable):  # known down: no second wait
                store.head("a/c")
            assert time.monotonic() - start < 0.1
    forget_stores()
