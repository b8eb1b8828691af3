"""fsutil: atomic publishing, file hashes, tree copies, sorted walks and mtime clamping."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from layerbuild.util.fsutil import (
    atomic_output,
    atomic_write,
    clamp_mtime,
    copy_tree,
    sha256_file,
    sorted_walk,
)


def test_atomic_write_publishes_with_the_mode_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "new" / "dir" / "file"
    atomic_write(target, "text", mode=0o600)
    assert target.read_text() == "text"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    atomic_write(target, b"\x00bytes")
    assert target.read_bytes() == b"\x00bytes"
    assert os.listdir(target.parent) == ["file"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "published"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half")
        assert tmp.parent == target.parent and tmp != target
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["published"]


def test_atomic_output_replaces_in_one_rename(tmp_path: Path) -> None:
    target = tmp_path / "obj"
    target.write_text("old")
    inode = target.stat().st_ino
    with atomic_output(target, durable=True) as tmp:
        tmp.write_text("new")
        assert target.read_text() == "old"  # readers see the old content until the rename
    assert target.read_text() == "new" and target.stat().st_ino != inode


def test_sha256_file_reads_in_blocks(tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 17)
    path = tmp_path / "big"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert sha256_file(empty) == hashlib.sha256(b"").hexdigest()


def test_copy_tree_keeps_links_modes_times_and_owners(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "bin").mkdir(parents=True)
    tool = src / "bin" / "tool"
    tool.write_text("#!/bin/sh\n")
    if os.geteuid() == 0:
        os.lchown(tool, 123, 456)
    tool.chmod(0o4755)  # after the chown, which clears set-id bits
    os.utime(tool, (1_000_000, 1_000_000))
    (src / "bin" / "link").symlink_to("tool")
    (src / "dangling").symlink_to("/nowhere")
    dst = tmp_path / "dst"
    (dst / "bin").mkdir(parents=True)
    (dst / "bin" / "other").write_text("kept")
    copy_tree(src, dst)
    copied = dst / "bin" / "tool"
    assert copied.read_text() == "#!/bin/sh\n"
    assert stat.S_IMODE(copied.stat().st_mode) == 0o4755 and copied.stat().st_mtime == 1_000_000
    assert os.readlink(dst / "bin" / "link") == "tool" and os.readlink(dst / "dangling") == "/nowhere"
    assert (dst / "bin" / "other").read_text() == "kept"
    if os.geteuid() == 0:
        assert (copied.stat().st_uid, copied.stat().st_gid) == (123, 456)


def test_sorted_walk_is_in_byte_order(tmp_path: Path) -> None:
    for name in ("b", "a", "C", "a/z", "a/y", "_"):
        (tmp_path / name).mkdir()
    for name in ("b/2", "b/10", "a/Z", "top"):
        (tmp_path / name).write_text("")
    walked = [(os.path.relpath(root, tmp_path), dirs, files) for root, dirs, files in sorted_walk(tmp_path)]
    assert walked == [
        (".", ["C", "_", "a", "b"], ["top"]),
        ("C", [], []), ("_", [], []),
        ("a", ["y", "z"], ["Z"]), ("a/y", [], []), ("a/z", [], []),
        ("b", [], ["10", "2"]),
    ]


def test_clamp_mtime() -> None:
    assert clamp_mtime(2000.9, 1000) == 1000
    assert clamp_mtime(500.9, 1000) == 500
    assert clamp_mtime(2000.9, None) == 2000
    assert clamp_mtime(1000, 1000) == 1000


def test_a_killed_writers_temporary_is_removed_and_a_live_ones_kept(tmp_path: Path) -> None:
    import subprocess
    import sys

    from layerbuild.util.fsutil import atomic_output, remove_stale_temporaries

    target = tmp_path / "object.tar.zst"
    # a writer killed with SIGKILL in the middle of its write
    code = ("import os, signal, sys; from layerbuild.util.fsutil import atomic_output\n"
            f"with atomic_output({str(target)!r}) as tmp:\n"
            "    tmp.write_bytes(b'half')\n    os.kill(os.getpid(), signal.SIGKILL)\n")
    subprocess.run([sys.executable, "-c", code], check=False)
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".object.tar.zst.") and left[0].endswith(".tmp")
    with atomic_output(target) as mine:
        mine.write_bytes(b"whole")
        assert remove_stale_temporaries(target) == left  # the dead writer's, not this live one's
        assert mine.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["object.tar.zst"]


def test_a_symlink_writer_killed_before_its_rename_leaves_what_the_next_one_removes(tmp_path: Path) -> None:
    import subprocess
    import sys

    from layerbuild.util.fsutil import atomic_symlink

    link = tmp_path / "log.do_compile"
    # killed after making its temporary link and before renaming it over the real one
    code = ("import os, signal; import layerbuild.util.fsutil as f\n"
            "real = os.replace\n"
            "def replace(a, b):\n    os.kill(os.getpid(), signal.SIGKILL)\n"
            "f.os.replace = replace\n"
            f"f.atomic_symlink('log.do_compile.1', {str(link)!r})\n")
    subprocess.run([sys.executable, "-c", code], check=False)
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".log.do_compile.") and left[0].endswith(".tmp")
    atomic_symlink("log.do_compile.2", link)
    assert [p.name for p in tmp_path.iterdir()] == ["log.do_compile"]
    assert link.readlink() == Path("log.do_compile.2")


def test_remove_under_never_follows_a_link_out_of_its_root(tmp_path: Path) -> None:
    from layerbuild.util.fsutil import PathEscape, remove_under

    root, canary = tmp_path / "root", tmp_path / "canary"
    (root / "tree/sub").mkdir(parents=True)
    canary.mkdir()
    (canary / "host-file").write_text("keep\n")
    (root / "tree/sub/file").write_text("x")
    (root / "tree/to-canary").symlink_to(canary)
    (root / "tree/sub/to-file").symlink_to(canary / "host-file")
    (root / "link-dir").symlink_to(canary)
    (root / "link-file").symlink_to(canary / "host-file")
    assert remove_under(root, root / "tree")  # the links inside are removed, not followed
    assert remove_under(root, root / "link-dir") and remove_under(root, root / "link-file")  # the links themselves
    assert not remove_under(root, root / "gone")
    assert os.listdir(root) == [] and (canary / "host-file").read_text() == "keep\n"
    # a link on the way out of the root, or a path that is not below it, is refused
    (root / "out").symlink_to(canary)
    with pytest.raises(PathEscape, match="leads outside"):
        remove_under(root, root / "out/host-file")
    for outside in (root, tmp_path / "canary/host-file", root / "../canary"):
        with pytest.raises(PathEscape, match="is not below"):
            remove_under(root, outside)
    assert (canary / "host-file").read_text() == "keep\n"
