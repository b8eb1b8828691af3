"""The squashfs writer, checked by independent readers: unsquashfs, sqfsdiff and (as root) the kernel."""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerbuild.cli import mksquashfs_main as cli_main
from layerbuild.image.squashfs import SquashfsOptions, write_image
from layerbuild.util import fstree as M
from layerbuild.util import proc
from layerbuild.util.errors import SquashfsError
from layerbuild.util.fstree import Entry, EntryType, Manifest

needs_tools = pytest.mark.skipif(not (shutil.which("unsquashfs") and shutil.which("mksquashfs")),
                                 reason="squashfs-tools not installed")
needs_sqfsdiff = pytest.mark.skipif(not shutil.which("sqfsdiff"), reason="squashfs-tools-ng not installed")
IS_ROOT = os.geteuid() == 0
COMPRESSORS = ["zstd", "xz", "gzip", "none"]
BS = 4096  # small blocks keep boundary tests small


# ---------------------------------------------------------------- independent readers

LINE = re.compile(rb"^(\S{10}) (\d+)/(\d+) +(\d+|\d+, *\d+) (\d{4}-\d\d-\d\d \d\d:\d\d) squashfs-root(.*)$", re.S)
TYPES = {"-": EntryType.FILE, "d": EntryType.DIR, "l": EntryType.SYMLINK, "c": EntryType.CHARDEV,
         "b": EntryType.BLOCKDEV, "p": EntryType.FIFO, "s": EntryType.SOCKET}


def unsquashfs_listing(image: Path) -> dict[str, tuple]:
    """path -> (type, mode, uid, gid, size or (major, minor), minute, link target) from ``unsquashfs -lln``."""
    out = subprocess.run(["unsquashfs", "-lln", str(image)], check=True, stdout=subprocess.PIPE,
                         env={**os.environ, "TZ": "UTC"}).stdout
    result: dict[str, tuple] = {}
    for line in out.split(b"\n")[:-1]:  # names may hold \r and other line breaks but \n
        m = LINE.match(line)
        assert m, line
        perms, uid, gid, size, minute, rest = m.groups()
        target = None
        if perms.startswith(b"l"):
            rest, _, raw = rest.partition(b" -> ")
            target = os.fsdecode(raw)
        path = os.fsdecode(rest[1:])
        kind = TYPES[perms[:1].decode()]
        if b"," in size:
            major, minor = (int(x) for x in size.split(b","))
            size_or_dev: object = (major, minor)
        else:
            size_or_dev = int(size)
        result[path] = (kind, _perm_bits(perms.decode()), int(uid), int(gid), size_or_dev, minute.decode(), target)
    return result


def _perm_bits(text: str) -> int:
    mode = 0
    for i, ch in enumerate(text[1:]):
        bit = 1 << (8 - i)
        if ch in "rwx":
            mode |= bit
        elif ch in "sSt T":
            if ch in "st":
                mode |= bit
            mode |= {2: 0o4000, 5: 0o2000, 8: 0o1000}[i]
    return mode


def expected_listing(manifest: Manifest) -> dict[str, tuple]:
    result = {}
    for entry in manifest:
        owner = manifest.resolve(entry)
        if owner.type is EntryType.FILE:
            size: object = len(_content(owner))
        elif owner.type in (EntryType.CHARDEV, EntryType.BLOCKDEV):
            size = (owner.major, owner.minor)
        elif owner.type is EntryType.SYMLINK:
            size = len(os.fsencode(owner.target or ""))
        else:
            size = None
        minute = time.strftime("%Y-%m-%d %H:%M", time.gmtime(owner.mtime))
        result[entry.path] = (owner.type, owner.mode, owner.uid, owner.gid, size, minute,
                              owner.target if owner.type is EntryType.SYMLINK else None)
    return result


def check_listing(image: Path, manifest: Manifest) -> None:
    got = unsquashfs_listing(image)
    want = expected_listing(manifest)
    assert set(got) == set(want)
    for path, w in want.items():
        g = got[path]
        assert g[:4] == w[:4], path
        if w[4] is not None:
            assert g[4] == w[4], path
        assert g[5:] == w[5:], path


def _content(entry: Entry) -> bytes:
    return entry.source if isinstance(entry.source, bytes) else Path(entry.source or "").read_bytes()


def check_contents(image: Path, manifest: Manifest, tmp: Path) -> None:
    dest = tmp / "extract"
    shutil.rmtree(dest, ignore_errors=True)
    # Without root, device nodes cannot be made; unsquashfs then complains but extracts the rest.
    subprocess.run(["unsquashfs", "-q", "-n", "-no-xattrs", "-d", str(dest), str(image)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if os.geteuid() != 0:  # without root, modes such as 0o000 would lock us out of what we extracted
        subprocess.run(["chmod", "-R", "u+rwX", str(dest)], check=True)
    for entry in manifest:
        owner = manifest.resolve(entry)
        if owner.type is EntryType.FILE:
            got = (dest / entry.path).read_bytes()
            assert hashlib.sha256(got).digest() == hashlib.sha256(_content(owner)).digest(), entry.path


def sqfsdiff(a: Path, b: Path) -> str:
    r = subprocess.run(["sqfsdiff", "-a", str(a), "-b", str(b)], stdout=subprocess.PIPE, text=True,
                       errors="replace")
    assert r.returncode in (0, 1), r.stdout
    return r.stdout


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- fixtures

def rich_manifest(devices: bool = True) -> Manifest:
    """Every entry type and the awkward sizes around block and fragment boundaries."""
    rnd = random.Random(5)
    blob = rnd.randbytes(3 * BS + 17)
    entries = [
        M.directory("", 0o755, mtime=1000),
        M.directory("bin", 0o755, uid=0, gid=0, mtime=2000),
        M.file("bin/tool", blob, 0o4755, mtime=3000, uid=1000, gid=100),
        M.file("bin/tool-copy", blob, 0o755, mtime=3000),
        M.hardlink("bin/tool-link", "bin/tool"),
        M.symlink("bin/sh", "tool"),
        M.symlink("bin/long", "x" * 4000),
        M.directory("data", 0o2775, uid=5, gid=6, mtime=0),
        M.directory("empty", 0o700, mtime=2**32 - 1),
        M.file("data/empty", b"", 0o600),
        M.file("data/sparse", bytes(2 * BS) + b"end" + bytes(BS), 0o644),
        M.file("data/zeros", bytes(BS // 2), 0o644),
        M.file("data/text", b"hello world\n" * 1000, 0o644, xattrs=(("user.comment", b"\x00\xffbinary"),)),
        M.file("data/secure", b"s", 0o600, xattrs=(("security.selinux", b"system_u:object_r:bin_t:s0\0"),
                                                  ("trusted.x", b""))),
        Entry("data/fifo", EntryType.FIFO, 0o644, mtime=7),
        Entry("data/sock", EntryType.SOCKET, 0o755, mtime=8),
    ]
    for size in (1, BS - 1, BS, BS + 1, 2 * BS - 1, 2 * BS, 2 * BS + 1):
        entries.append(M.file(f"sizes/f{size}", rnd.randbytes(size), 0o644, mtime=size))
    entries.append(M.directory("sizes"))
    if devices:
        entries += [Entry("dev/null", EntryType.CHARDEV, 0o666, major=1, minor=3),
                    Entry("dev/sda1", EntryType.BLOCKDEV, 0o660, gid=6, major=8, minor=1),
                    M.directory("dev")]
    return Manifest(tuple(entries))


@contextlib.contextmanager
def mounted(image: Path, where: Path) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "squashfs", "-o", "loop,ro", str(image), str(where)],
                       stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot loop-mount: {r.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


# ---------------------------------------------------------------- format, checked by unsquashfs

@needs_tools
@pytest.mark.parametrize("comp", COMPRESSORS)
def test_listing_and_contents_match_manifest(tmp_path: Path, comp: str) -> None:
    manifest = rich_manifest()
    image = tmp_path / "img.sqfs"
    info = write_image(manifest, image, SquashfsOptions(compression=comp, block_size=BS))
    assert info.size % 4096 == 0 and info.duplicates == 1
    check_listing(image, manifest)
    check_contents(image, manifest, tmp_path)


@needs_tools
def test_superblock_fields(tmp_path: Path) -> None:
    image = tmp_path / "img.sqfs"
    write_image(rich_manifest(), image, SquashfsOptions(compression="xz", block_size=BS, mkfs_time=12345))
    out = subprocess.run(["unsquashfs", "-s", str(image)], check=True, stdout=subprocess.PIPE, text=True,
                         env={**os.environ, "TZ": "UTC"}).stdout
    assert "Compression xz" in out and f"Block size {BS}" in out
    assert "exportable via NFS" in out and "Thu Jan  1 03:25:45 1970" in out


def _make_tree(top: Path, devices: bool) -> None:
    rnd = random.Random(7)
    (top / "a/b/c").mkdir(parents=True)
    (top / "a/empty").mkdir()
    (top / "a/file").write_bytes(rnd.randbytes(300_000))
    (top / "a/b/dup").write_bytes((top / "a/file").read_bytes())
    (top / "a/b/c/small").write_text("small\n")
    os.link(top / "a/b/c/small", top / "a/hard")
    os.symlink("../a/file", top / "a/b/link")
    (top / "zero").write_bytes(bytes(200_000))
    os.mkfifo(top / "a/fifo")
    big = top / "big"
    big.mkdir()
    for i in range(3000):
        (big / f"entry-{i:05d}-{'x' * (i % 40)}").write_bytes(str(i).encode())
    if devices:
        os.mknod(top / "a/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        os.mknod(top / "a/disk", 0o660 | stat.S_IFBLK, os.makedev(259, 70000))
    for p in sorted(top.rglob("*")):
        os.utime(p, (1_700_000_000, 1_700_000_000), follow_symlinks=False)


@needs_tools
@needs_sqfsdiff
@pytest.mark.parametrize("comp", COMPRESSORS)
def test_sqfsdiff_against_mksquashfs(tmp_path: Path, comp: str) -> None:
    tree = tmp_path / "tree"
    _make_tree(tree, devices=IS_ROOT)
    ours, ref = tmp_path / "ours.sqfs", tmp_path / "ref.sqfs"
    write_image(M.from_directory(tree), ours, SquashfsOptions(compression=comp))
    ref_args = ["-noI", "-noD", "-noF", "-noX"] if comp == "none" else ["-comp", comp]
    subprocess.run(["mksquashfs", str(tree), str(ref), "-noappend", "-quiet", "-no-progress", *ref_args],
                   check=True, stdout=subprocess.DEVNULL)
    assert sqfsdiff(ours, ref) == ""
    r = subprocess.run(["sqfsdiff", "-T", "-a", str(ours), "-b", str(ref)], stdout=subprocess.PIPE, text=True)
    assert r.returncode == 0, r.stdout


@needs_tools
@needs_sqfsdiff
def test_mksquashfs_backend_matches_python(tmp_path: Path) -> None:
    manifest = Manifest(tuple(e for e in rich_manifest(devices=IS_ROOT) if e.type is not EntryType.SOCKET))
    ours, theirs = tmp_path / "py.sqfs", tmp_path / "mk.sqfs"
    write_image(manifest, ours, SquashfsOptions(block_size=BS))
    write_image(manifest, theirs, SquashfsOptions(block_size=BS), backend="mksquashfs")
    # mksquashfs marks sparse files from a tar stream as extended inodes, and 4.5.1 gives the root
    # directory the caller's ownership whatever -root-uid says; contents still agree.
    diff = [line for line in sqfsdiff(ours, theirs).splitlines()
            if not line.endswith("type") and line != "/ has different ownership"]
    assert diff == []
    check_contents(theirs, manifest, tmp_path)


def test_mksquashfs_backend_refuses_sockets(tmp_path: Path) -> None:
    with pytest.raises(SquashfsError, match="sockets"):
        write_image(rich_manifest(devices=False), tmp_path / "x.sqfs", backend="mksquashfs")
    assert not (tmp_path / "x.sqfs").exists()


# ---------------------------------------------------------------- determinism

def test_same_image_for_any_thread_count_and_entry_order(tmp_path: Path) -> None:
    base = rich_manifest()
    shuffled = list(base.entries)
    random.Random(3).shuffle(shuffled)
    digests = set()
    for n, entries in ((1, base.entries), (2, tuple(shuffled)), (4, tuple(reversed(base.entries)))):
        image = tmp_path / f"img{n}.sqfs"
        write_image(Manifest(entries), image, SquashfsOptions(block_size=BS, processors=n))
        digests.add(sha256(image))
    assert len(digests) == 1


def test_same_image_for_trees_created_in_different_orders(tmp_path: Path) -> None:
    names = [f"d{i % 7}/f{i}" for i in range(200)]
    digests = set()
    for seed in (1, 2):
        top = tmp_path / f"t{seed}"
        order = names[:]
        random.Random(seed).shuffle(order)
        for name in order:
            (top / name).parent.mkdir(parents=True, exist_ok=True)
            (top / name).write_text(name * 50)
        for p in top.rglob("*"):
            os.utime(p, (5, 5))
        os.utime(top, (5, 5))
        image = tmp_path / f"t{seed}.sqfs"
        write_image(M.from_directory(top, all_root=True), image)
        digests.add(sha256(image))
    assert len(digests) == 1


def test_source_date_epoch_clamps_and_all_root(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t/f").write_text("x")
    os.utime(tmp_path / "t/f", (2_000_000_000, 2_000_000_000))
    manifest = M.from_directory(tmp_path / "t", all_root=True, source_date_epoch=1_600_000_000)
    entry = manifest.get("f")
    assert entry is not None and entry.mtime == 1_600_000_000 and (entry.uid, entry.gid) == (0, 0)


# ---------------------------------------------------------------- errors

def test_name_too_long(tmp_path: Path) -> None:
    manifest = Manifest((M.file("n" * 256, b"x"),))
    with pytest.raises(SquashfsError, match="longer than 255 bytes"):
        write_image(manifest, tmp_path / "x.sqfs")
    assert list(tmp_path.iterdir()) == []


def test_vanished_file_leaves_no_image(tmp_path: Path) -> None:
    src = tmp_path / "gone"
    src.write_text("x")
    manifest = Manifest((M.file("gone", src),))
    src.unlink()
    out = tmp_path / "out" / "x.sqfs"
    with pytest.raises(SquashfsError, match="gone: file vanished"):
        write_image(manifest, out)
    assert list(out.parent.iterdir()) == []


def test_unsupported_xattr_namespace(tmp_path: Path) -> None:
    manifest = Manifest((M.file("f", b"x", xattrs=(("system.posix_acl_access", b"\2"),)),))
    with pytest.raises(SquashfsError, match="system.posix_acl_access cannot be stored"):
        write_image(manifest, tmp_path / "x.sqfs")


@pytest.mark.parametrize("bad, message", [
    ((M.file("a/b", b"x"),), "parent directory a is not in the manifest"),
    ((M.file("a", b"x"), M.file("a", b"y")), "appears twice"),
    ((M.directory("d"), M.hardlink("h", "d")), "hard link to a directory"),
    ((Entry("f", EntryType.FILE, 0o100644, source=b""),), "bits beyond 0o7777"),
])
def test_manifest_errors(bad: tuple[Entry, ...], message: str) -> None:
    with pytest.raises(M.ManifestError, match=message):
        Manifest(bad)


def test_bad_options(tmp_path: Path) -> None:
    for options, message in ((SquashfsOptions(block_size=3000), "power of two"),
                             (SquashfsOptions(compression="lz4"), "unknown compressor"),
                             (SquashfsOptions(compression="gzip", level=12), "out of range")):
        with pytest.raises(SquashfsError, match=message):
            write_image(Manifest(()), tmp_path / "x.sqfs", options)


@pytest.mark.root
@pytest.mark.skipif(not IS_ROOT, reason="needs root to mount a small tmpfs")
def test_disk_full(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(small)], check=True)
    try:
        manifest = Manifest((M.file("f", random.Random(1).randbytes(500_000)),))
        with pytest.raises(SquashfsError, match="no space left"):
            write_image(manifest, small / "x.sqfs", SquashfsOptions(compression="none"))
        assert list(small.iterdir()) == []
    finally:
        subprocess.run(["umount", str(small)], check=True)


# ---------------------------------------------------------------- command line and proc

def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    tree = tmp_path / "tree"
    (tree / "d").mkdir(parents=True)
    (tree / "d/f").write_text("data")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1000")
    out = tmp_path / "out.sqfs"
    assert cli_main([str(tree), str(out), "--comp", "gzip", "--level", "6", "--block-size", "64K",
                     "--all-root", "--processors", "1"]) == 0
    again = tmp_path / "again.sqfs"
    assert cli_main([str(tree), str(again), "--comp", "gzip", "--level", "6", "--block-size", "65536",
                     "--all-root"]) == 0
    assert sha256(out) == sha256(again)
    assert cli_main([str(tmp_path / "missing"), str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "missing: No such file or directory" in err and "Traceback" not in err
    assert cli_main([str(tree)]) == 2
    assert cli_main([str(tree), str(out), "--comp", "lzo"]) == 2
    assert cli_main([str(tree), str(out), "--level", "99"]) == 1
    assert "zstd level 99 out of range" in capsys.readouterr().err


def test_proc_run_failure_names_command_and_log(tmp_path: Path) -> None:
    log = tmp_path / "log"
    with pytest.raises(proc.CommandError) as info:
        proc.run(["sh", "-c", "echo oops >&2; exit 3", "arg with space"], log=log)
    text = str(info.value)
    assert "exit status 3" in text and "'arg with space'" in text and str(log) in text
    assert "oops" in log.read_text()
    assert proc.run(["cat"], input=b"abc", stdout=subprocess.PIPE).stdout == b"abc"
    assert proc.run(["cat"], input=lambda f: f.write(b"x" * 100_000), stdout=subprocess.PIPE).stdout == b"x" * 100_000
    with pytest.raises(proc.CommandError, match="cannot run no-such-tool"):
        proc.run(["no-such-tool"])



# ---------------------------------------------------------------- the command never destroys what it should not

def _small_tree(root: Path) -> Path:
    tree = root / "tree"
    tree.mkdir()
    (tree / "f").write_text("data")
    return tree


def _devices_untouched(node: Path, before: os.stat_result) -> None:
    after = os.lstat(node)
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def _device(tmp_path: Path) -> Path:
    """A character device to aim at: one made in ``tmp_path`` as root (as /dev/full), else /dev/null,
    which a user who is not root cannot replace even if the command regressed."""
    if not IS_ROOT:
        return Path("/dev/null")
    node = tmp_path / "full"
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    return node


def test_cli_refuses_a_device_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A device node is never renamed over: the image can only replace a regular file."""
    tree = _small_tree(tmp_path)
    device = _device(tmp_path)
    before = os.lstat(device)
    assert cli_main([str(tree), str(device)]) == 1
    err = capsys.readouterr().err
    assert f"error: {device}: is a character device; the image can only replace a regular file" in err
    _devices_untouched(device, before)
    assert not [n for n in os.listdir(device.parent) if n.endswith(".tmp")]
    # through a symlink too
    (tmp_path / "link").symlink_to(device)
    assert cli_main([str(tree), str(tmp_path / "link")]) == 1
    assert "is a character device" in capsys.readouterr().err
    assert (tmp_path / "link").is_symlink()
    _devices_untouched(device, before)
    # and the library refuses it as well
    with pytest.raises(SquashfsError, match="is a character device"):
        write_image(M.from_directory(tree), device)
    _devices_untouched(device, before)


@pytest.mark.parametrize("kind, message", [("dir", "is a directory"), ("fifo", "is a FIFO"),
                                           ("socket", "is a socket")])
def test_cli_refuses_other_non_regular_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               kind: str, message: str) -> None:
    import socket
    tree = _small_tree(tmp_path)
    out = tmp_path / "out"
    sock = None
    if kind == "dir":
        out.mkdir()
        (out / "keep").write_text("kept")
    elif kind == "fifo":
        os.mkfifo(out)
    else:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(out))
    try:
        before = os.lstat(out)
        assert cli_main([str(tree), str(out)]) == 1
        assert f"out: {message}" in capsys.readouterr().err
        after = os.lstat(out)
        assert (stat.S_IFMT(after.st_mode), after.st_ino) == (stat.S_IFMT(before.st_mode), before.st_ino)
        assert sorted(os.listdir(tmp_path)) == ["out", "tree"]
        if kind == "dir":
            assert os.listdir(out) == ["keep"]
        # the library refuses it as well, with either backend
        with pytest.raises(SquashfsError, match=message):
            write_image(M.from_directory(tree), out)
    finally:
        if sock is not None:
            sock.close()


def test_cli_replaces_a_regular_file_and_writes_through_a_symlink(tmp_path: Path) -> None:
    tree = _small_tree(tmp_path)
    out = tmp_path / "out.sqfs"
    out.write_text("old")
    assert cli_main([str(tree), str(out)]) == 0
    assert out.read_bytes()[:4] == b"hsqs"
    target = tmp_path / "target.sqfs"
    target.write_text("old")
    (tmp_path / "link.sqfs").symlink_to("target.sqfs")
    assert cli_main([str(tree), str(tmp_path / "link.sqfs")]) == 0
    assert (tmp_path / "link.sqfs").is_symlink() and sha256(target) == sha256(out)


def test_cli_does_not_create_missing_directories(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = _small_tree(tmp_path)
    assert cli_main([str(tree), str(tmp_path / "no" / "such" / "x.sqfs")]) == 1
    err = capsys.readouterr().err
    assert f"x.sqfs: directory {tmp_path}/no/such does not exist" in err and "hint: create it first" in err
    assert not (tmp_path / "no").exists()
    (tmp_path / "file").write_text("")
    assert cli_main([str(tree), str(tmp_path / "file" / "x.sqfs")]) == 1
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["soon", "-5", "1e9"])
def test_cli_names_a_bad_environment_epoch(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """The build's SOURCE_DATE_EPOCH parser, with an error that names the environment variable."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    assert cli_main([str(_small_tree(tmp_path)), str(tmp_path / "x.sqfs")]) == 1
    assert capsys.readouterr().err == (
        f"error: the environment variable SOURCE_DATE_EPOCH is not a whole number of seconds since 1970: '{value}'\n"
        "  hint: write the time as date +%s prints it: seconds since 1970-01-01 UTC, such as 1577836800 (2020-01-01)\n")
    assert not (tmp_path / "x.sqfs").exists()


def test_cli_warns_about_mtimes_squashfs_cannot_store(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    tree = _small_tree(tmp_path)
    (tree / "old").write_text("")
    (tree / "future").write_text("")
    os.utime(tree / "old", (-100, -100))
    os.utime(tree / "future", (2**33, 2**33))
    out = tmp_path / "out.sqfs"
    assert cli_main([str(tree), str(out), "--mkfs-time", "0"]) == 0
    err = capsys.readouterr().err
    assert f"WARNING: {tree}/old: mtime -100 is outside what an image can store (0 to 4294967295); " \
           "stored as 0" in err
    assert f"WARNING: {tree}/future: mtime 8589934592 is outside what an image can store (0 to 4294967295); " \
           "stored as 4294967295" in err
    assert f"{tree}/f:" not in err
    # SOURCE_DATE_EPOCH brings the future back into range: that clamp is the reproducible one, no warning
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1000")
    assert cli_main([str(tree), str(out)]) == 0
    err = capsys.readouterr().err
    assert "future" not in err and f"WARNING: {tree}/old: mtime -100" in err


def _spawn_writer(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """A layerbuild-mksquashfs that needs seconds (40 MB of noise through xz on one thread)."""
    big = tmp_path / "big"
    big.mkdir()
    (big / "noise").write_bytes(random.Random(7).randbytes(40_000_000))
    outdir = tmp_path / "out"
    outdir.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from layerbuild.cli import mksquashfs_main as m; "
                             "sys.exit(m(sys.argv[1:]))", str(big), str(outdir / "x.sqfs"), "--comp", "xz",
                             "--processors", "1"], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not [n for n in os.listdir(outdir) if n.endswith(".tmp")]:
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "the temporary image never appeared"
        time.sleep(0.02)
    # once the writing is under way: between mkstemp and its try block, atomic_output itself would
    # leave the file behind
    time.sleep(0.3)
    assert proc.poll() is None
    return proc, outdir


@pytest.mark.parametrize("sig, message", [(signal.SIGTERM, "Terminated (SIGTERM)."),
                                          (signal.SIGHUP, "Terminated (SIGHUP)."), (signal.SIGINT, "Interrupted.")])
def test_cli_signal_removes_the_temporary_image(tmp_path: Path, sig: signal.Signals, message: str) -> None:
    """As a build does: stopped by a signal, the command exits with 128 + its number, leaving nothing."""
    proc, outdir = _spawn_writer(tmp_path)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + sig, err.decode()
    assert err.decode().strip() == message
    assert os.listdir(outdir) == []


# ---------------------------------------------------------------- generated trees

_NAME = st.binary(min_size=1, max_size=40).filter(lambda b: b"/" not in b and b"\0" not in b
                                                  and b"\n" not in b and b" -> " not in b
                                                  and b not in (b".", b".."))
BLOCK_SIZES = [4096, 8192, 16384, 32768, 65536, 131072, 262144, 524288, 1048576]


@st.composite
def trees(draw: st.DrawFn) -> tuple[Manifest, int]:
    bs = draw(st.sampled_from(BLOCK_SIZES))
    sizes = st.sampled_from([0, 1, bs - 1, bs, bs + 1, 2 * bs - 1, 2 * bs + 1]) | st.integers(0, 3 * bs)
    dirs = [""]
    entries: list[Entry] = []
    files: list[str] = []
    used: set[str] = {""}
    contents: list[bytes] = []
    for _ in range(draw(st.integers(1, 25))):
        parent = draw(st.sampled_from(dirs))
        name = os.fsdecode(draw(_NAME))
        path = f"{parent}/{name}" if parent else name
        if path in used:
            continue
        used.add(path)
        common = {"uid": draw(st.integers(0, 2**32 - 1) | st.integers(0, 3)), "gid": draw(st.integers(0, 40)),
                  "mtime": draw(st.sampled_from([0, 1, 2**31, 2**32 - 1]) | st.integers(0, 2**32 - 1))}
        kind = draw(st.sampled_from(["file", "file", "dir", "symlink", "hardlink", "dup"]))
        if kind == "dir":
            entries.append(M.directory(path, draw(st.integers(0, 0o7777)), **common))
            dirs.append(path)
        elif kind == "symlink":
            target = os.fsdecode(draw(st.binary(min_size=1, max_size=4095).filter(
                lambda b: b"\0" not in b and b"\n" not in b)))
            entries.append(M.symlink(path, target, **common))
        elif kind == "hardlink" and files:
            entries.append(M.hardlink(path, draw(st.sampled_from(files))))
        else:
            if kind == "dup" and contents:
                data = draw(st.sampled_from(contents))
            else:
                size = draw(sizes)
                seed = draw(st.integers(0, 3))
                data = bytes(size) if seed == 0 else random.Random(seed).randbytes(size)
            contents.append(data)
            entries.append(M.file(path, data, draw(st.integers(0, 0o7777)), **common))
            files.append(path)
    return Manifest(tuple(entries)), bs


@needs_tools
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(tree=trees(), comp=st.sampled_from(COMPRESSORS))
def test_generated_trees(tmp_path_factory: pytest.TempPathFactory, tree: tuple[Manifest, int], comp: str) -> None:
    manifest, bs = tree
    tmp = tmp_path_factory.mktemp("gen")
    image = tmp / "img.sqfs"
    write_image(manifest, image, SquashfsOptions(compression=comp, level=1 if comp == "zstd" else None,
                                                 block_size=bs, processors=2))
    check_listing(image, manifest)
    check_contents(image, manifest, tmp)
    again = tmp / "again.sqfs"
    write_image(Manifest(tuple(reversed(manifest.entries))), again,
                SquashfsOptions(compression=comp, level=1 if comp == "zstd" else None, block_size=bs, processors=1))
    assert sha256(image) == sha256(again)
    shutil.rmtree(tmp)


def big_directory_manifest(count: int = 10_000) -> Manifest:
    rnd = random.Random(11)
    entries = [M.directory("big")]
    for i in range(count):
        name = f"{rnd.randbytes(rnd.randint(1, 30)).hex()}-{i}"
        entries.append(M.file(f"big/{name}", str(i).encode(), uid=i % 300, gid=i % 50, mtime=i))
    entries.append(M.file("after", b"after"))
    return Manifest(tuple(entries))


@needs_tools
def test_large_directory_and_many_ids(tmp_path: Path) -> None:
    manifest = big_directory_manifest()
    image = tmp_path / "big.sqfs"
    write_image(manifest, image)
    check_listing(image, manifest)
    check_contents(image, manifest, tmp_path)


# ---------------------------------------------------------------- the kernel

@pytest.mark.root
@pytest.mark.skipif(not IS_ROOT, reason="needs root")
@pytest.mark.skipif(not os.path.exists("/dev/loop-control"), reason="no loop devices")
@pytest.mark.parametrize("comp", COMPRESSORS)
def test_kernel_reads_everything(tmp_path: Path, comp: str) -> None:
    entries = list(rich_manifest().entries) + [e for e in big_directory_manifest(3000).entries if e.path]
    entries.append(Entry("dev/big", EntryType.CHARDEV, 0o600, major=300, minor=70000))
    manifest = Manifest(tuple(entries))
    image = tmp_path / "img.sqfs"
    write_image(manifest, image, SquashfsOptions(compression=comp, block_size=BS))
    with mounted(image, tmp_path / "mnt") as mnt:
        seen = {"": mnt}
        for entry in manifest:
            path = mnt / entry.path
            st_ = os.lstat(path)
            owner = manifest.resolve(entry)
            assert stat.S_IMODE(st_.st_mode) == owner.mode, entry.path
            assert (st_.st_uid, st_.st_gid, int(st_.st_mtime)) == (owner.uid, owner.gid, owner.mtime), entry.path
            if owner.type is EntryType.FILE:
                assert path.read_bytes() == _content(owner), entry.path
            elif owner.type is EntryType.SYMLINK:
                assert os.readlink(path) == owner.target
            elif owner.type in (EntryType.CHARDEV, EntryType.BLOCKDEV):
                assert (os.major(st_.st_rdev), os.minor(st_.st_rdev)) == (owner.major, owner.minor)
            if entry.type is EntryType.HARDLINK:
                assert os.lstat(mnt / owner.path).st_ino == st_.st_ino and st_.st_nlink == 2
            if owner.type is not EntryType.SYMLINK:
                assert sorted(os.listxattr(path)) == sorted(n for n, _ in owner.xattrs)
                for name, value in owner.xattrs:
                    assert os.getxattr(path, name) == value
            seen[entry.path] = path
        names = sorted(os.listdir(mnt / "big"))
        assert names == sorted(e.name for e in manifest if e.parent == "big")
        assert not (mnt / "big" / "zz-not-there").exists()


@pytest.mark.root
def test_systemd_dissect_recognises_sysext(tmp_path: Path) -> None:
    if not IS_ROOT or not shutil.which("systemd-dissect"):
        pytest.skip("needs root and systemd-dissect (Debian package systemd-container)")
    manifest = Manifest((
        M.directory("usr"), M.directory("usr/lib"), M.directory("usr/lib/extension-release.d"),
        M.file("usr/lib/extension-release.d/extension-release.demo", b"ID=_any\n"),
        M.file("usr/lib/hello", b"hello\n")))
    image = tmp_path / "demo.raw"
    write_image(manifest, image)
    r = subprocess.run(["systemd-dissect", "--json=short", str(image)], stdout=subprocess.PIPE, text=True)
    if r.returncode != 0:
        pytest.skip("systemd-dissect cannot open images here")
    assert '"extensionRelease":["ID=_any"]' in r.stdout and '"useSystemExtension":true' in r.stdout
