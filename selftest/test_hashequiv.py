"""Hash equivalence: a change that leaves a shared-state task's output as it was stops at that task; what
depends on it keeps its hash. The output hash, the record stores (SQLite, a directory) with their
first-writer-wins rule under concurrent writers, the builds with and without BB_HASHSERVE, diffsigs and
-S showing the replacement, and a store that fails being a warning."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import re
import socket
import sqlite3
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import CORE, Runner, make_build, make_layer
from test_tasks import LOGTASKS, _ran, _reset_log

from layerbuild.cli import diffsigs_main
from layerbuild.engine.hashequiv import Equivalence, output_header, report_output
from layerbuild.util.hashing import output_hash
from layerbuild.util.objectstore import forget_stores
from layerbuild.util.recordstore import (
    DirectoryRecords,
    ObjectRecords,
    SqliteRecords,
    StoreUnavailable,
    open_store,
)

EVENTS_SCHEMA = json.loads((Path(__file__).parent.parent / "docs" / "events.schema.json").read_text())

# ------------------------------------------------------------------------------------------------------------
# the output hash


def _tree(root: Path) -> Path:
    (root / "usr/lib").mkdir(parents=True)
    (root / "usr/lib/libx.so.1").write_bytes(b"\x7fELF library")
    (root / "usr/lib/libx.so").symlink_to("libx.so.1")
    (root / "usr/share").mkdir()
    (root / "usr/share/x.txt").write_text("text\n")
    return root


def test_output_hash_is_independent_of_mtimes_and_of_where_the_tree_is(tmp_path: Path) -> None:
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "elsewhere/b")
    for path in b.rglob("*"):
        os.utime(path, (1, 1), follow_symlinks=False)
    header = output_header("x", "x86_64", "1.0", "r0", "do_populate_sysroot")
    assert output_hash([str(a)], header, True) == output_hash([str(b)], header, True)


@pytest.mark.parametrize("change", ["content", "mode", "link", "owner", "new file", "task"])
def test_output_hash_changes_with_content_modes_links_owners_and_the_task(tmp_path: Path, change: str) -> None:
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    header = output_header("x", "x86_64", "1.0", "r0", "do_populate_sysroot")
    other = header
    if change == "content":
        (b / "usr/share/x.txt").write_text("txet\n")
    elif change == "mode":
        (b / "usr/share/x.txt").chmod(0o755)
    elif change == "link":
        (b / "usr/lib/libx.so").unlink()
        (b / "usr/lib/libx.so").symlink_to("libx.so.2")
    elif change == "owner":
        if os.geteuid() != 0:
            pytest.skip("changing an owner needs root")
        os.chown(b / "usr/share/x.txt", 1000, 1000)
    elif change == "new file":
        (b / "usr/share/empty").write_text("")
    else:
        other = output_header("x", "x86_64", "1.0", "r0", "do_package")
    assert output_hash([str(a)], header, True) != output_hash([str(b)], other, True)


# ------------------------------------------------------------------------------------------------------------
# record stores


def _writer(kind: str, where: str, worker: int, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    store = SqliteRecords(where) if kind == "sqlite" else DirectoryRecords(where)
    won = []
    for i in range(60):
        key = f"unihash/m/{i % 20:02x}/{i:064x}"
        if store.put_if_absent(key, f"{worker}".encode()):
            won.append(key)
        assert store.get(key) is not None
    results.put((worker, won))


def _race(target: Any, args: list[tuple[Any, ...]]) -> list[Any]:
    """Run ``target(*a, results)`` for each of ``args`` in forked processes at once; what each put."""
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*a, results)) for a in args]
    for proc in procs:
        proc.start()
    got = [results.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    return got


@pytest.mark.parametrize("kind", ["sqlite", "directory"])
def test_concurrent_writers_each_key_has_one_winner_whose_record_everybody_reads(tmp_path: Path, kind: str) -> None:
    where = str(tmp_path / ("hashserv.db" if kind == "sqlite" else "records"))
    got = _race(_writer, [(kind, where, n) for n in range(4)])
    winners: dict[str, int] = {}
    for worker, keys in got:
        for key in keys:
            assert key not in winners, f"{key} written twice"
            winners[key] = worker
    assert len(winners) == 60
    store = SqliteRecords(where) if kind == "sqlite" else DirectoryRecords(where)
    for key, worker in winners.items():
        assert store.get(key) == str(worker).encode()
    if kind == "sqlite":
        with sqlite3.connect(where) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    else:
        assert not [p for p in Path(where).rglob("*.tmp")]


def _object_writer(url: str, worker: int, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    store = open_store(url, "/nonexistent")
    assert store is not None
    won = [key for i in range(12) if store.put_if_absent(key := f"outhash/m/{i:02x}/{i:064x}", f"{worker}".encode())]
    results.put((worker, won, [store.get(f"outhash/m/{i:02x}/{i:064x}") for i in range(12)]))


def test_records_in_an_object_store_have_one_writer_each_and_an_equivalent_output_finds_them(
        store_url: str, tmp_path: Path) -> None:
    """BB_HASHSERVE naming a directory, a WebDAV (nginx) or an S3 (moto) store: writers racing in separate processes agree
    on one record per key, and a second taskhash with the same output takes the first one's unihash."""
    got = _race(_object_writer, [(store_url, n) for n in range(3)])
    winners = {key: worker for worker, keys, _seen in got for key in keys}
    assert len(winners) == 12 and sum(len(keys) for _w, keys, _s in got) == 12
    for _worker, _keys, seen in got:  # every writer reads the winner's record
        assert seen == [str(winners[f"outhash/m/{i:02x}/{i:064x}"]).encode() for i in range(12)]
    store = open_store(store_url, str(tmp_path))
    assert store is not None and store.get("unihash/m/00/" + "0" * 64) is None
    out = tmp_path / "out"
    out.mkdir()
    (out / "f").write_text("same")
    header = output_header("x", "all", "1", "r0", "do_populate_sysroot")
    assert report_output(store, "1" * 64, "1" * 64, [str(out)], header, False).unihash == "1" * 64
    again = report_output(store, "2" * 64, "2" * 64, [str(out)], header, False)
    assert again.unihash == "1" * 64 and again.problem is None
    assert Equivalence(store).unihash("2" * 64) == ("1" * 64, again.outhash)


def test_an_object_store_that_does_not_answer_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    forget_stores()
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = open_store(f"http://127.0.0.1:{port}/records", str(tmp_path))
    assert store is not None
    out = tmp_path / "out"
    out.mkdir()
    outcome = report_output(store, "1" * 64, "1" * 64, [str(out)], "h", False)
    assert outcome.unihash == "1" * 64 and "unavailable" in (outcome.problem or "")
    forget_stores()


def test_open_store_names(tmp_path: Path, no_aws_credentials: None) -> None:
    assert open_store("", str(tmp_path)) is None
    auto = open_store("auto", str(tmp_path))
    assert isinstance(auto, SqliteRecords) and auto.path == str(tmp_path / "cache/hashserv.db")
    assert auto.get("unihash/m/00/" + "0" * 64) is None
    assert not (tmp_path / "cache").exists()  # reading makes no database
    directory = open_store(f"file://{tmp_path}/records", str(tmp_path))
    assert isinstance(directory, DirectoryRecords) and directory.root == str(tmp_path / "records")
    with pytest.raises(ValueError, match="no AWS credentials"):
        open_store("s3://bucket/records", str(tmp_path))
    assert isinstance(open_store("https://mirror.invalid/records", str(tmp_path)), ObjectRecords)
    for bad in ("unix:///run/hashserve.sock", "localhost:8686", "file://relative/x", "file:///", "s3://"):
        with pytest.raises(ValueError, match="BB_HASHSERVE|file://|record store|s3 store"):
            open_store(bad, str(tmp_path))


def test_the_first_taskhash_with_an_output_gives_it_its_unihash(tmp_path: Path) -> None:
    store = DirectoryRecords(str(tmp_path / "records"))
    out = tmp_path / "out"
    out.mkdir()
    (out / "f").write_text("same")
    header = output_header("x", "all", "1", "r0", "do_populate_sysroot")
    first, second, third = "1" * 64, "2" * 64, "3" * 64
    assert report_output(store, first, first, [str(out)], header, False).unihash == first
    same = report_output(store, second, second, [str(out)], header, False)
    assert same.unihash == first and same.problem is None
    eq = Equivalence(store)
    assert eq.unihash(second) == (first, same.outhash)
    (out / "f").write_text("different")
    assert report_output(store, third, third, [str(out)], header, False).unihash == third
    assert eq.unihash("4" * 64) == ("4" * 64, None)  # never reported: its own taskhash


def test_a_store_that_fails_leaves_the_taskhash_and_says_why(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = DirectoryRecords(str(blocker / "records"))
    with pytest.raises(StoreUnavailable):
        store.put_if_absent("unihash/m/00/" + "0" * 64, b"{}")
    out = tmp_path / "out"
    out.mkdir()
    outcome = report_output(store, "1" * 64, "1" * 64, [str(out)], "h", False)
    assert outcome.unihash == "1" * 64 and "unavailable" in (outcome.problem or "")
    eq = Equivalence(store)
    assert eq.unihash("2" * 64) == ("2" * 64, None)
    assert eq.store is None and eq.problem and "unavailable" in eq.problem


# ------------------------------------------------------------------------------------------------------------
# builds: r1 depends on r0; NOTE changes r0's task code, not its output; MSG changes its output

RECIPES = {
    "recipes/r0/r0_1.0.bb": 'inherit logtasks\nMSG = "hello"\nNOTE ?= "first"\n'
                            'do_compile:append() {\n    echo "${NOTE}" > /dev/null\n}\n',
    "recipes/r1/r1_1.0.bb": 'inherit logtasks\nDEPENDS = "r0"\nMSG = "world"\n',
}
#: what runs again after a change of do_compile's code
R0_CHANGED = ["r0:do_compile", "r0:do_install", "r0:do_populate_sysroot", "r0:do_package"]


def _build(tmp_path: Path, local: str = "") -> Path:
    layer = make_layer(tmp_path, "equiv", {"classes/logtasks.bbclass": LOGTASKS, **RECIPES})
    return make_build(tmp_path, [layer], local=local)


def _set_local(build: Path, text: str) -> None:
    conf = build / "conf/local.conf"
    conf.write_text(conf.read_text() + text)


def _sigdata(build: Path, recipe: str, task: str) -> list[Path]:
    stamps = build / "tmp/stamps"
    files = list(stamps.glob(f"*/{recipe}/*.{task}.sigdata.*"))
    return sorted(files, key=lambda p: p.stat().st_mtime_ns)


def _equivalent_rebuild(tmp_path: Path, lb: Runner) -> tuple[Path, dict[str, str], str]:
    """r1 built, then r0's do_compile code changed: the build directory, the new sigdata of
    r0:do_populate_sysroot, and what "unihash ... (equivalent of ...)" says for it."""
    build = _build(tmp_path)
    status, _, err = lb("-B", str(build), "r1")
    assert status == 0, err
    assert (build / "cache/hashserv.db").is_file()
    _reset_log(build)
    _set_local(build, 'NOTE:pn-r0 = "second"\n')
    log = tmp_path / "events.jsonl"
    status, _, err = lb("-B", str(build), "--log-format", "json", "--log-file", str(log), "r1")
    assert status == 0, err
    ran = _ran(build)
    # r0 runs up to the tasks whose output is unchanged; nothing of r1 runs (it is up to date)
    assert sorted(ran) == sorted(R0_CHANGED), ran
    assert "r0:do_populate_sysroot: unihash" in err and "equivalent of taskhash" in err
    assert "not needed (equivalent outputs)" in err
    old, new = (json.loads(p.read_text()) for p in _sigdata(build, "r0", "do_populate_sysroot"))
    assert new["taskhash"] != old["taskhash"] and new["unihash"] == old["unihash"] == old["taskhash"]
    assert new["outhash"] == old["outhash"]
    line = f"unihash {new['unihash']} (equivalent of taskhash {new['taskhash']}, output hash {new['outhash']})"
    # the event stream says the same, each event valid against docs/events.schema.json
    events = [json.loads(text) for text in log.read_text().splitlines()]
    for event in events:
        jsonschema.validate(event, EVENTS_SCHEMA)
    same = [e for e in events if e["event"] == "hash_equivalent"]
    assert {e["task"] for e in same} >= {"r0:do_populate_sysroot"}
    sysroot = next(e for e in same if e["task"] == "r0:do_populate_sysroot")
    assert (sysroot["taskhash"], sysroot["unihash"], sysroot["outhash"]) == \
        (new["taskhash"], new["unihash"], new["outhash"])
    finished = next(e for e in events if e["event"] == "build_finished")
    assert finished["covered"] > 0 and finished["ran"] == len(R0_CHANGED)
    return build, new, line


def test_a_change_that_keeps_the_output_stops_at_the_task_and_diffsigs_says_so(tmp_path: Path, lb: Runner) -> None:
    build, _new, line = _equivalent_rebuild(tmp_path, lb)
    a, b = _sigdata(build, "r0", "do_populate_sysroot")
    status, out = _diffsigs(a, b)
    assert status == 0
    assert line in out and "task dependency r0:do_install changed its hash" in out


@pytest.mark.slow
def test_s_shows_the_replacement_and_a_real_output_change_rebuilds_downstream(tmp_path: Path, lb: Runner) -> None:
    build, _new, line = _equivalent_rebuild(tmp_path, lb)
    status, out, err = lb("-B", str(build), "-S", "r0:do_populate_sysroot")
    assert status == 0, err
    assert line in out and "task dependency r0:do_install changed its hash" in out

    _reset_log(build)
    _set_local(build, 'MSG:pn-r0 = "changed"\n')
    status, _, err = lb("-B", str(build), "r1")
    assert status == 0, err
    assert {"r1:do_configure", "r1:do_compile", "r1:do_populate_sysroot"} <= set(_ran(build))
    assert "r0:do_populate_sysroot: unihash" not in err


def _diffsigs(a: Path, b: Path) -> tuple[int, str]:
    buf = io.StringIO()
    with redirect_stdout(buf):
        status = diffsigs_main([str(a), str(b)])
    return status, buf.getvalue()


@pytest.mark.slow
def test_without_bb_hashserve_the_whole_chain_rebuilds(tmp_path: Path, lb: Runner) -> None:
    build = _build(tmp_path, 'BB_HASHSERVE = ""\n')
    assert lb("-B", str(build), "r1")[0] == 0
    _reset_log(build)
    _set_local(build, 'NOTE:pn-r0 = "second"\n')
    status, _, err = lb("-B", str(build), "r1")
    assert status == 0, err
    assert {"r0:do_compile", "r1:do_configure", "r1:do_compile", "r1:do_populate_sysroot"} <= set(_ran(build))
    assert "equivalent" not in err
    assert not (build / "cache/hashserv.db").exists()


@pytest.mark.slow
@pytest.mark.parametrize("sharing", ["sstate_dir", "mirror"])
def test_a_second_runner_restores_what_follows_an_equivalent_output_from_the_shared_state(
        tmp_path: Path, lb: Runner, sharing: str) -> None:
    """Two build directories share a file:// record store and SSTATE_DIR (or each has its own SSTATE_DIR,
    the first uploads to a store that is the second's SSTATE_MIRRORS), as CI runners share a mirror: the
    second builds r0 with other task code, its output takes the first runner's unihash, and r1 is restored
    from the shared state under it (looked up on the mirror by that unihash) instead of built."""
    records, sstate, store = tmp_path / "records", tmp_path / "sstate", tmp_path / "store"
    shared = f'BB_HASHSERVE = "file://{records}"\n'
    if sharing == "sstate_dir":
        one = two = shared + f'SSTATE_DIR = "{sstate}"\n'
    else:
        one = shared + f'SSTATE_UPLOAD = "file://{store}"\n'
        two = shared + f'SSTATE_MIRRORS = "file://.* file://{store}/PATH"\n'
    first = _build(tmp_path / "one", one)
    second = _build(tmp_path / "two", two + 'NOTE:pn-r0 = "second"\n')
    assert lb("-B", str(first), "r1")[0] == 0
    assert list(records.rglob("outhash/*/*/*"))
    status, _, err = lb("-B", str(second), "r1")
    assert status == 0, err
    assert "r0:do_populate_sysroot: unihash" in err
    assert "Restored r1:do_populate_sysroot from sstate" in err
    # (r1's fetch, unpack and patch need nothing of r0: they may have started before r0 reported)
    assert not {"r1:do_configure", "r1:do_compile", "r1:do_install", "r1:do_populate_sysroot"} & set(_ran(second))
    one = json.loads(_sigdata(first, "r1", "do_populate_sysroot")[-1].read_text())
    two = json.loads(_sigdata(second, "r1", "do_populate_sysroot")[-1].read_text())
    assert one["taskhash"] == two["taskhash"]
    assert (second / "tmp/sysroots-components/r1/usr/share/r1/out.txt").read_text() == "world\n"
    if sharing == "mirror":  # the object came from the mirror, under the name the first runner gave it
        name = next(store.rglob(f"sstate:r1:*:{one['unihash']}_do_populate_sysroot.tar.zst")).name
        assert next((second / "sstate-cache").rglob(name)).is_file()
        assert re.search(rf"\b\d+ from file://{re.escape(str(store))}\b", err), err


@pytest.mark.slow
@pytest.mark.parametrize("broken", ["directory", "sqlite"])
def test_a_store_that_fails_is_a_warning_and_the_build_goes_on(tmp_path: Path, lb: Runner, broken: str) -> None:
    if broken == "directory":
        blocker = tmp_path / "blocker"
        blocker.write_text("a file where the store's directory should be")
        build = _build(tmp_path, f'BB_HASHSERVE = "file://{blocker}/records"\n')
    else:
        build = _build(tmp_path)
        (build / "cache").mkdir()
        (build / "cache/hashserv.db").write_bytes(b"this is not an SQLite database" * 100)
    status, _, err = lb("-B", str(build), "r1")
    assert status == 0, err
    assert "WARNING: hash equivalence store" in err and "building without hash equivalence" in err
    assert err.count("WARNING: hash equivalence store") == 1
    assert "r1:do_populate_sysroot" in _ran(build)


def test_a_bb_hashserve_that_names_no_store_is_an_error_at_its_line(tmp_path: Path, lb: Runner) -> None:
    build = _build(tmp_path, 'BB_HASHSERVE = "unix:///run/hashserve.sock"\n')
    status, _, err = lb("-B", str(build), "r1")
    assert status == 1
    local = build / "conf/local.conf"
    line = local.read_text().splitlines().index('BB_HASHSERVE = "unix:///run/hashserve.sock"') + 1
    assert f"{local}:{line}: error: BB_HASHSERVE: 'unix:///run/hashserve.sock' is no record store" in err
    assert "Traceback" not in err


# ------------------------------------------------------------------------------------------------------------
# real C: libgreet (a shared library), greet (links it) and extending-image (a system extension holding both)

LIBGREET_C = Path(CORE, "recipes/recipes-example/libgreet/files/greet.c")


def _started(err: str) -> list[str]:
    """The tasks a build ran, from its "Running task N of M (label)" lines."""
    return re.findall(r"^NOTE: Running task \d+ of \d+ \((\S+)\)$", err, re.M)


@pytest.mark.slow
def test_a_comment_in_libgreet_rebuilds_libgreet_up_to_its_package_step_and_nothing_downstream(
        tmp_path: Path, lb: Runner) -> None:
    source = tmp_path / "meta-greetsrc/recipes/libgreet/files/greet.c"
    layer = make_layer(tmp_path, "greetsrc", {"recipes/libgreet/libgreet_1.0.bbappend":
                                              'FILESEXTRAPATHS:prepend := "${THISDIR}/files:"\n'})
    source.parent.mkdir(parents=True)
    source.write_text(LIBGREET_C.read_text())
    build = make_build(tmp_path, [layer])
    status, _, err = lb("-B", str(build), "extending-image")
    assert status == 0, err
    raw = build / "tmp/deploy/images/genericx86-64/extending-image.raw"
    first_raw = raw.read_bytes()

    # a comment (on a line of its own: no line number in the debug information moves)
    text = source.read_text()
    assert '#include "greet.h"\n' in text
    source.write_text(text.replace('#include "greet.h"\n', '#include "greet.h" /* the library\'s API */\n'))
    status, _, err = lb("-B", str(build), "extending-image")
    assert status == 0, err
    ran = _started(err)
    # (libgreet's SPDX document records its sources' sha256: the image's SBOM, and what follows it, is
    # made again; nothing that links or installs libgreet runs)
    outside = {label for label in ran if not label.startswith("libgreet:")}
    assert ran and outside <= {"extending-image:do_create_image_sbom_spdx", "extending-image:do_image_complete",
                               "extending-image:do_build"}, err
    assert {"libgreet:do_compile", "libgreet:do_package", "libgreet:do_populate_sysroot"} <= set(ran)
    assert "libgreet:do_package_write_deb" not in ran
    assert "libgreet:do_package: unihash" in err and "libgreet:do_populate_sysroot: unihash" in err
    old, new = (json.loads(p.read_text()) for p in _sigdata(build, "libgreet", "do_package"))
    assert new["outhash"] == old["outhash"] and new["unihash"] == old["taskhash"] != new["taskhash"]
    assert raw.read_bytes() == first_raw

    # a change of what the library does: its packages and the image are built again with it
    source.write_text(source.read_text().replace('"Hello, %s!"', '"Howdy, %s!"'))
    status, _, err = lb("-B", str(build), "extending-image")
    assert status == 0, err
    ran = _started(err)
    assert {"libgreet:do_package_write_deb", "extending-image:do_rootfs"} <= set(ran), ran
    debs = list((build / "tmp/deploy/deb").glob("*/libgreet_1.0-r0_*.deb"))
    assert len(debs) == 1
    unpacked = tmp_path / "deb"
    subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(unpacked)], check=True)
    assert b"Howdy, %s!" in next(unpacked.glob("usr/lib/libgreet.so.1*")).read_bytes()
    assert raw.read_bytes() != first_raw


@pytest.mark.slow
def test_two_builds_at_once_share_one_sqlite_database(tmp_path: Path) -> None:
    """Two build directories whose cache/ is one directory build at once: both report the same taskhashes
    to one database; each taskhash gets one unihash, both builds use it, and the database is whole."""
    first = _build(tmp_path / "one", 'TASK_SLEEP = "0.2"\n')
    second = _build(tmp_path / "two", 'TASK_SLEEP = "0.2"\n')
    (first / "cache").mkdir()
    (second / "cache").symlink_to(first / "cache")
    procs = [subprocess.Popen([sys.executable, "-m", "layerbuild.cli", "-B", str(build), "-j", "2", "r1"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for build in (first, second)]
    results = [proc.communicate(timeout=300) for proc in procs]
    for proc, (_out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert "WARNING" not in err
    db = first / "cache/hashserv.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = dict(conn.execute("SELECT key, data FROM records WHERE key LIKE 'unihash/%'").fetchall())
    one, two = (json.loads(_sigdata(b, "r0", "do_populate_sysroot")[-1].read_text()) for b in (first, second))
    assert one["taskhash"] == two["taskhash"] and one["unihash"] == two["unihash"]
    key = f"unihash/layerbuild.OutputHashBasic/{one['taskhash'][:2]}/{one['taskhash']}"
    assert json.loads(rows[key])["unihash"] == one["unihash"]
