"""tarzst: deterministic tar.zst archives (from a directory or a manifest) and extraction that stays inside.

Archives are checked with GNU tar and zstd, independently of the Python reader.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest
import zstandard

from layerbuild.util import fstree
from layerbuild.util.errors import LayerbuildError
from layerbuild.util.tarzst import extract_tar_zst, write_manifest_tar_zst, write_tar_zst


def _listing(archive: Path) -> list[str]:
    """``tar -tv`` through the zstd tool: mode, owner, size, date and name of each member."""
    r = subprocess.run(["tar", "--use-compress-program=zstd", "--numeric-owner", "--full-time", "-tvf", str(archive)],
                       capture_output=True, text=True, check=True, env={**os.environ, "TZ": "UTC"})
    return [" ".join(line.split()) for line in r.stdout.splitlines()]


def _name(line: str) -> str:
    return line.split()[5].rstrip("/")


def _tree(root: Path, mtime: int) -> Path:
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "usr" / "bin" / "tool").write_text("#!/bin/sh\necho hi\n")
    (root / "usr" / "bin" / "tool").chmod(0o755)
    (root / "etc" / "conf").write_text("a=1\n")
    os.link(root / "etc" / "conf", root / "etc" / "conf.hard")
    (root / "usr" / "bin" / "alias").symlink_to("tool")
    for dirpath, dirs, files in os.walk(root, topdown=False):
        for name in dirs + files:
            os.utime(os.path.join(dirpath, name), (mtime, mtime), follow_symlinks=False)
    os.utime(root, (mtime, mtime))
    return root


def test_same_tree_gives_the_same_bytes_and_clamps_times(tmp_path: Path) -> None:
    a = _tree(tmp_path / "a", 2_000_000_000)
    b = _tree(tmp_path / "b", 2_100_000_000)  # same content, later mtimes: clamped to the same value
    out_a, out_b = tmp_path / "a.tar.zst", tmp_path / "b.tar.zst"
    write_tar_zst(str(out_a), [(str(a), "")], clamp=1_600_000_000, root_owner=True)
    write_tar_zst(str(out_b), [(str(b), "")], clamp=1_600_000_000, root_owner=True)
    assert out_a.read_bytes() == out_b.read_bytes()
    listing = _listing(out_a)
    names = [_name(line) for line in listing]
    assert sorted(names) == [".", "etc", "etc/conf", "etc/conf.hard", "usr", "usr/bin", "usr/bin/alias",
                             "usr/bin/tool"]
    assert all(names.index(os.path.dirname(n) or ".") < names.index(n) for n in names[1:]), "a parent comes first"
    assert all(" 0/0 " in line and " 2020-09-13 12:26:40 " in line for line in listing), listing
    by_name = dict(zip(names, listing, strict=True))
    assert by_name["etc/conf.hard"].endswith("etc/conf.hard link to etc/conf")
    assert by_name["usr/bin/alias"].endswith("usr/bin/alias -> tool")
    assert by_name["usr/bin/tool"].startswith("-rwxr-xr-x")


def test_trees_go_under_their_prefixes(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    (one / "x").mkdir(parents=True)
    (two).mkdir()
    (one / "x" / "f").write_text("1")
    (two / "g").write_text("2")
    out = tmp_path / "out.tar.zst"
    write_tar_zst(str(out), [(str(one), "dir0"), (str(two), "dir1"), (str(tmp_path / "missing"), "dir2")])
    assert [_name(line) for line in _listing(out)] == ["dir0", "dir0/x", "dir0/x/f", "dir1", "dir1/g"]
    dest = tmp_path / "dest"
    assert extract_tar_zst(str(out), str(dest)) == ["dir0", "dir0/x", "dir0/x/f", "dir1", "dir1/g"]
    assert (dest / "dir0/x/f").read_text() == "1" and (dest / "dir1/g").read_text() == "2"


def test_manifest_archive_has_the_manifest_owners_modes_and_times(tmp_path: Path) -> None:
    content = tmp_path / "content"
    content.write_bytes(b"from a file\n")
    manifest = fstree.Manifest((
        fstree.directory("", mtime=100),
        fstree.directory("usr", mtime=100),
        fstree.file("usr/data", b"inline bytes\n", mode=0o600, uid=1000, gid=1001, mtime=200),
        fstree.file("usr/from-file", content, mode=0o644, mtime=300),
        fstree.symlink("usr/link", "data", mtime=100),
        fstree.hardlink("usr/hard", "usr/data"),
    ))
    out = tmp_path / "m.tar.zst"
    write_manifest_tar_zst(manifest, out)
    again = tmp_path / "m2.tar.zst"
    write_manifest_tar_zst(manifest, again)
    assert out.read_bytes() == again.read_bytes()
    listing = {_name(line): line for line in _listing(out)}
    assert listing["usr/data"].startswith("-rw------- 1000/1001 13 1970-01-01 00:03:20 ")
    assert " 12 1970-01-01 00:05:00 " in listing["usr/from-file"]
    assert listing["usr/hard"].endswith("usr/hard link to usr/data")
    dest = tmp_path / "dest"
    extract_tar_zst(str(out), str(dest))
    assert (dest / "usr/hard").read_bytes() == b"inline bytes\n"
    assert os.readlink(dest / "usr/link") == "data"


def test_a_socket_cannot_go_into_a_tar(tmp_path: Path) -> None:
    manifest = fstree.Manifest((fstree.directory(""), fstree.Entry("sock", fstree.EntryType.SOCKET)))
    with pytest.raises(LayerbuildError, match="sock: a socket cannot be stored"):
        write_manifest_tar_zst(manifest, tmp_path / "x.tar.zst")


def _archive(path: Path, members: list[tarfile.TarInfo]) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for info in members:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isreg() else None)
    path.write_bytes(zstandard.ZstdCompressor().compress(raw.getvalue()))


def test_extraction_refuses_entries_outside_the_destination(tmp_path: Path) -> None:
    evil = tarfile.TarInfo("../escaped")
    evil.size = 1
    archive = tmp_path / "evil.tar.zst"
    _archive(archive, [evil])
    with pytest.raises(LayerbuildError, match=r"refusing to extract \.\./escaped"):
        extract_tar_zst(str(archive), str(tmp_path / "dest"))
    assert not (tmp_path / "escaped").exists()

    link = tarfile.TarInfo("up")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc"
    through = tarfile.TarInfo("up/passwd")
    through.size = 1
    _archive(archive, [link, through])
    with pytest.raises(LayerbuildError, match="refusing to extract"):
        extract_tar_zst(str(archive), str(tmp_path / "dest2"))


def _hard_link(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = tarfile.LNKTYPE, target, 0o644
    return info


@pytest.mark.parametrize("target", ["d/../../host/canary", "../host/canary", "./d/../../host/canary",
                                    "d/../../../nowhere/x"])
def test_hard_link_targets_are_normalised_and_stay_inside(tmp_path: Path, target: str) -> None:
    """A hard link whose target climbs out with '..' once linked a host file and reset its owner and mode."""
    canary = tmp_path / "host" / "canary"
    canary.parent.mkdir()
    canary.write_text("host\n")
    os.chmod(canary, 0o600)
    directory = tarfile.TarInfo("d")
    directory.type, directory.mode = tarfile.DIRTYPE, 0o755
    archive = tmp_path / "evil.tar.zst"
    _archive(archive, [directory, _hard_link("d/h", target)])
    with pytest.raises(LayerbuildError) as exc:
        extract_tar_zst(str(archive), str(tmp_path / "dest"))
    assert exc.value.message == (f"{archive}: refusing d/h: hard link to {target}, which leaves the directory it is "
                                 "extracted into")
    st = canary.stat()
    assert (st.st_nlink, st.st_mode & 0o7777, canary.read_text()) == (1, 0o600, "host\n")


def test_hard_link_through_a_link_or_to_nothing_is_refused(tmp_path: Path) -> None:
    canary = tmp_path / "host" / "canary"
    canary.parent.mkdir()
    canary.write_text("host\n")
    out = tarfile.TarInfo("out")
    out.type, out.linkname = tarfile.SYMTYPE, str(canary.parent)
    to_link = tarfile.TarInfo("file-link")
    to_link.type, to_link.linkname = tarfile.SYMTYPE, str(canary)
    archive = tmp_path / "evil.tar.zst"
    for members, target in (([out, _hard_link("h", "out/canary")], "out/canary"),
                            ([to_link, _hard_link("h", "file-link")], "file-link"),
                            ([_hard_link("h", "nothing")], "nothing")):
        _archive(archive, members)
        dest = tmp_path / f"dest-{target.replace('/', '-')}"
        with pytest.raises(LayerbuildError) as exc:
            extract_tar_zst(str(archive), str(dest))
        assert exc.value.message == (f"{archive}: refusing h: hard link to {target}, which is not an earlier file "
                                     "of the archive")
        assert canary.stat().st_nlink == 1


def test_hard_links_inside_are_kept(tmp_path: Path) -> None:
    first = tarfile.TarInfo("d/f")
    first.size = 1
    archive = tmp_path / "a.tar.zst"
    _archive(archive, [first, _hard_link("d/g", "./d/../d/f")])
    extract_tar_zst(str(archive), str(tmp_path / "dest"))
    assert os.path.samefile(tmp_path / "dest/d/f", tmp_path / "dest/d/g")


def test_check_sees_every_member_and_may_refuse(tmp_path: Path) -> None:
    ok = tarfile.TarInfo("ok")
    ok.size = 1
    bad = tarfile.TarInfo("bad")
    bad.size = 1
    archive = tmp_path / "a.tar.zst"
    _archive(archive, [ok, bad])
    seen: list[str] = []

    def check(member: tarfile.TarInfo) -> None:
        seen.append(member.name)
        if member.name == "bad":
            raise LayerbuildError("bad member")

    with pytest.raises(LayerbuildError, match="bad member"):
        extract_tar_zst(str(archive), str(tmp_path / "dest"), check=check)
    assert seen == ["ok", "bad"] and (tmp_path / "dest" / "ok").exists() and not (tmp_path / "dest" / "bad").exists()


def test_a_socket_in_a_tree_is_left_out(tmp_path: Path) -> None:
    import socket
    tree = tmp_path / "t"
    tree.mkdir()
    (tree / "f").write_text("1")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tree / "sock"))
    try:
        out = tmp_path / "t.tar.zst"
        write_tar_zst(str(out), [(str(tree), "dir0")])
    finally:
        sock.close()
    assert [_name(line) for line in _listing(out)] == ["dir0", "dir0/f"]
