"""RootDir: names resolved inside a root as a chroot resolves them, links never followed out of it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from layerbuild.util.rootdir import RootDir, RootPathError, parts_of


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """A root and, beside it, a host directory with a file the root's links name."""
    host = tmp_path / "host"
    host.mkdir()
    (host / "file").write_text("host\n")
    os.chmod(host / "file", 0o600)
    os.utime(host / "file", (1_000_000_000, 1_000_000_000))
    root = tmp_path / "root"
    (root / "usr/lib").mkdir(parents=True)
    return root, host


def _host_untouched(host: Path) -> None:
    st = (host / "file").stat()
    assert ((host / "file").read_text(), stat.S_IMODE(st.st_mode), st.st_mtime, st.st_nlink) == \
        ("host\n", 0o600, 1_000_000_000, 1)
    assert sorted(os.listdir(host)) == ["file"]


def test_links_are_followed_as_in_a_chroot(layout: tuple[Path, Path]) -> None:
    root, host = layout
    (root / "lib").symlink_to("/usr/lib")  # absolute: the root's /usr/lib
    (root / "usr/lib/rel").symlink_to("../lib")  # relative, through the first
    (root / "here").symlink_to(host)  # the host directory's name, read inside the root
    with RootDir(root) as top:
        assert top.resolve_dir("lib") == "usr/lib"
        assert top.resolve_dir("usr/lib/rel") == "usr/lib"
        top.write_bytes("lib/new", b"in the root\n")
        assert (root / "usr/lib/new").read_bytes() == b"in the root\n"
        with pytest.raises(FileNotFoundError):
            top.resolve_dir("here")
        (root / str(host.parent).lstrip("/")).mkdir(parents=True)
        assert top.makedirs("here/made") == f"{str(host).lstrip('/')}/made"
    assert (root / str(host).lstrip("/") / "made").is_dir()
    _host_untouched(host)


@pytest.mark.parametrize(("link", "message"), [
    ("../../host", "'/usr/out' leads out of the root through a symbolic link"),
    ("/../../..", "'/usr/out' leads out of the root through a symbolic link"),
    ("out", "too many levels of symbolic links at '/usr/out'"),
])
def test_links_that_leave_or_loop_are_refused(layout: tuple[Path, Path], link: str, message: str) -> None:
    root, host = layout
    (root / "usr/out").symlink_to(link)
    with RootDir(root) as top, pytest.raises(RootPathError) as exc:
        top.write_bytes("usr/out/file", b"x")
    assert exc.value.message == message
    _host_untouched(host)


def test_the_last_component_is_never_followed(layout: tuple[Path, Path]) -> None:
    root, host = layout
    (root / "usr/link").symlink_to(host / "file")
    with RootDir(root) as top:
        with pytest.raises(RootPathError, match="usr/link is a symbolic link"):
            top.read_bytes("usr/link")
        with pytest.raises(RootPathError, match="usr/link is a symbolic link"):
            top.open("usr/link", os.O_WRONLY | os.O_TRUNC)
        top.chmod("usr/link", 0o777)
        top.utime("usr/link", 1_500_000_000)
        if os.geteuid() == 0:
            top.chown("usr/link", 1234, 1234)
        _host_untouched(host)
        assert os.lstat(root / "usr/link").st_mtime == 1_500_000_000
        top.write_bytes("usr/link", b"replaced\n")  # the link is replaced, its target left alone
    assert (root / "usr/link").read_bytes() == b"replaced\n" and not (root / "usr/link").is_symlink()
    _host_untouched(host)


def test_reading_follows_links_inside_the_root_only(layout: tuple[Path, Path]) -> None:
    root, host = layout
    (root / "usr/lib/os-release").write_text("ID=root\n")
    (root / "etc").mkdir()
    (root / "etc/os-release").symlink_to("../usr/lib/os-release")
    (root / "etc/host-release").symlink_to(host / "file")
    with RootDir(root) as top:
        assert top.read_text("etc/os-release", follow=True) == "ID=root\n"
        with pytest.raises(FileNotFoundError):
            top.read_text("etc/host-release", follow=True)


def test_a_fifo_where_a_file_should_be_does_not_block(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    os.mkfifo(root / "usr/fifo")
    with RootDir(root) as top, pytest.raises(RootPathError, match="usr/fifo is not a regular file"):
        top.read_bytes("usr/fifo")


def test_names_with_dot_dot_are_refused() -> None:
    assert parts_of("/usr/./lib//x") == ["usr", "lib", "x"]
    with pytest.raises(RootPathError, match="'usr/../../etc' has a '..' component"):
        parts_of("usr/../../etc")


def test_a_directory_replaced_behind_the_cache_is_seen_after_forget(layout: tuple[Path, Path]) -> None:
    """Open directories are cached: a removed and re-made one is found again, never written into unseen."""
    root, host = layout
    with RootDir(root) as top:
        top.write_bytes("usr/lib/a", b"1")
        (root / "usr/lib/a").unlink()
        (root / "usr/lib").rmdir()
        (root / "usr/lib").symlink_to(host)  # what a maintainer script might do
        top.forget()
        with pytest.raises(FileNotFoundError):
            top.write_bytes("usr/lib/b", b"2")
        (root / "usr/lib").unlink()
        top.rmdir("usr")
        top.write_bytes("usr/lib/c", b"3")
    assert (root / "usr/lib/c").read_bytes() == b"3"
    _host_untouched(host)


def test_many_directories_keep_few_descriptors(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    before = len(os.listdir("/proc/self/fd"))
    with RootDir(root) as top:
        for i in range(600):
            top.write_bytes(f"d{i}/sub/file", str(i).encode())
        assert len(os.listdir("/proc/self/fd")) - before < 300
        assert top.read_bytes("d5/sub/file") == b"5"
    assert len(os.listdir("/proc/self/fd")) == before


def test_dot_dot_in_a_resolved_name_never_reaches_above_the_root(tmp_path: Path) -> None:
    """Names from a database's file lists reach resolve_dir: '..' there would be the host's directory."""
    root = tmp_path / "root"
    root.mkdir()
    with RootDir(root) as top:
        for name in ("..", "usr/..", "a//b", "."):
            with pytest.raises(RootPathError, match="is not a plain name below the root"):
                top.resolve_dir(name, create=True)
    assert sorted(os.listdir(tmp_path)) == ["root"]
