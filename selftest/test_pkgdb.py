"""The pkgdb snapshot: deterministic writing, a safe round trip, and what BaseInfo reads from it."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest
import zstandard

from layerbuild.image.pkgdb import BasePackage, PkgdbError, unpack_snapshot, write_snapshot

SDE = 1_650_000_000

STATUS = """Package: base-files
Status: install ok installed
Priority: required
Architecture: x86-64
Version: 3.0-r0
Description: base files
 with a continuation line

Package: libc6
Status: install ok installed
Architecture: x86-64
Version: 2.36-r1
Description: C runtime

Package: gone
Status: deinstall ok config-files
Architecture: x86-64
Version: 1.0
Description: removed

Package: hello
Status: install ok installed
Architecture: x86-64
Version: 1.0-r0
Depends: libc6 (>= 2.36)
Description: hello
"""

LISTS = {
    "base-files": ["/.", "/etc", "/usr", "/usr/lib", "/usr/lib/os-release", "/etc/os-release"],
    "libc6": ["/.", "/usr", "/usr/lib", "/usr/lib/libc.so.6", "/usr/lib/ld-linux-x86-64.so.2"],
    "hello": ["/.", "/usr", "/usr/bin", "/usr/bin/hello"],
}


def make_rootfs(root: Path, mtime: int) -> Path:
    dpkg = root / "var/lib/dpkg"
    (dpkg / "info").mkdir(parents=True)
    (dpkg / "updates").mkdir()
    (dpkg / "status").write_text(STATUS)
    (dpkg / "available").write_text("")
    (dpkg / "arch").write_text("x86-64\n")
    for name, lines in LISTS.items():
        (dpkg / "info" / f"{name}.list").write_text("\n".join(lines) + "\n")
    (dpkg / "info" / "hello.postinst").write_text("#!/bin/sh\nexit 0\n")
    os.chmod(dpkg / "info" / "hello.postinst", 0o755)
    (root / "usr/lib").mkdir(parents=True)
    (root / "usr/bin").mkdir()
    (root / "usr/bin/hello").write_text("not in the snapshot")
    (root / "usr/lib/os-release").write_text('ID=lbdistro\nVERSION_ID="1.0"\nNAME="LB Distro"\n')
    (root / "etc").mkdir()
    os.symlink("../usr/lib/os-release", root / "etc/os-release")
    (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            os.utime(os.path.join(dirpath, name), (mtime, mtime), follow_symlinks=False)
    return root


def listing(archive: Path) -> list[tuple[str, str, int, int, int]]:
    with open(archive, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as zr, \
            tarfile.open(fileobj=zr, mode="r|") as tar:  # type: ignore[call-overload]
        return [(m.name, m.type.decode(), m.uid, m.gid, m.mtime) for m in tar]


def test_snapshot_holds_exactly_the_database_and_os_release(tmp_path: Path) -> None:
    rootfs = make_rootfs(tmp_path / "rootfs", SDE + 500)
    out = tmp_path / "snap.tar.zst"
    write_snapshot(rootfs, out, SDE)
    names = [n for n, *_ in listing(out)]
    assert names == [".", "etc", "etc/os-release", "usr", "usr/lib", "usr/lib/os-release", "var", "var/lib",
                     "var/lib/dpkg", "var/lib/dpkg/arch", "var/lib/dpkg/available", "var/lib/dpkg/info",
                     "var/lib/dpkg/info/base-files.list", "var/lib/dpkg/info/hello.list",
                     "var/lib/dpkg/info/hello.postinst", "var/lib/dpkg/info/libc6.list",
                     "var/lib/dpkg/status", "var/lib/dpkg/updates"]
    assert all(uid == 0 and gid == 0 and mtime == SDE for _, _, uid, gid, mtime in listing(out))
    kinds = {n: t for n, t, *_ in listing(out)}
    assert kinds["etc/os-release"] == "2" and kinds["usr/lib/os-release"] == "0"


def test_snapshot_is_reproducible(tmp_path: Path) -> None:
    one = make_rootfs(tmp_path / "a" / "rootfs", SDE + 10)
    two = make_rootfs(tmp_path / "b" / "c" / "other", SDE + 99999)
    write_snapshot(one, tmp_path / "1.tar.zst", SDE)
    write_snapshot(two, tmp_path / "2.tar.zst", SDE)
    assert hashlib.sha256((tmp_path / "1.tar.zst").read_bytes()).digest() == \
        hashlib.sha256((tmp_path / "2.tar.zst").read_bytes()).digest()


def test_round_trip(tmp_path: Path) -> None:
    rootfs = make_rootfs(tmp_path / "rootfs", SDE + 500)
    out = tmp_path / "snap.tar.zst"
    write_snapshot(rootfs, out, SDE)
    staging = tmp_path / "staging"
    base = unpack_snapshot(out, staging)
    assert dict(base.os_release) == {"ID": "lbdistro", "VERSION_ID": "1.0", "NAME": "LB Distro"}
    assert dict(base.packages) == {
        "base-files": BasePackage("base-files", "3.0-r0", "x86-64"),
        "hello": BasePackage("hello", "1.0-r0", "x86-64"),
        "libc6": BasePackage("libc6", "2.36-r1", "x86-64"),
    }
    assert base.architectures == {"x86-64"} and base.native_architecture == "x86-64"
    assert base.owners["usr/lib/libc.so.6"] == "libc6"
    assert base.owners["usr/bin/hello"] == "hello"
    assert base.owners["usr/lib"] == "base-files"  # first in name order
    assert "usr/bin/hello" not in base.snapshot_paths and "var/lib/dpkg/status" in base.snapshot_paths
    assert {"etc/os-release", "usr/lib/os-release"} <= base.snapshot_paths
    assert not (staging / "usr/bin").exists() and not (staging / "etc/passwd").exists()
    assert os.readlink(staging / "etc/os-release") == "../usr/lib/os-release"
    # the real dpkg reads the unpacked database
    out_q = subprocess.run(["dpkg-query", f"--admindir={staging}/var/lib/dpkg", "-W",
                            "-f=${Package} ${Version} ${db:Status-Abbrev}\n"],
                           check=True, capture_output=True, text=True).stdout
    assert out_q.splitlines() == ["base-files 3.0-r0 ii ", "gone 1.0 rc ", "hello 1.0-r0 ii ",
                                  "libc6 2.36-r1 ii "]


def test_os_release_link_to_a_file_is_recorded_as_a_file(tmp_path: Path) -> None:
    rootfs = make_rootfs(tmp_path / "rootfs", SDE)
    real = rootfs / "usr/lib/os-release"
    (rootfs / "usr/lib/os-release.d").mkdir()
    os.replace(real, rootfs / "usr/lib/os-release.d/real")
    os.symlink("/usr/lib/os-release.d/real", real)
    write_snapshot(rootfs, tmp_path / "s.tar.zst", SDE)
    kinds = {n: t for n, t, *_ in listing(tmp_path / "s.tar.zst")}
    assert kinds["usr/lib/os-release"] == "0" and "usr/lib/os-release.d/real" not in kinds
    base = unpack_snapshot(tmp_path / "s.tar.zst", tmp_path / "st")
    assert base.os_release["ID"] == "lbdistro"


def test_missing_database_or_os_release(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(PkgdbError, match=r"no package database \(var/lib/dpkg/\)"):
        write_snapshot(tmp_path / "empty", tmp_path / "x", SDE)
    rootfs = make_rootfs(tmp_path / "r", SDE)
    (rootfs / "etc/os-release").unlink()
    (rootfs / "usr/lib/os-release").unlink()
    with pytest.raises(PkgdbError, match="no os-release"):
        write_snapshot(rootfs, tmp_path / "x", SDE)


def _evil(tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    path = tmp_path / "evil.tar.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(buf.getvalue()))
    return path


def _info(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info


@pytest.mark.parametrize(("members", "reason"), [
    ([_info("../escape")], "it leaves the staging root"),
    ([_info("var/lib/dpkg/../../../../escape")], "it leaves the staging root"),
    ([_info("/var/lib/dpkg/status")], "it leaves the staging root"),
    ([_info("usr/bin/extra")], "a pkgdb snapshot holds only var/lib/dpkg/ and os-release"),
    ([_info("var/lib/dpkg/info", tarfile.SYMTYPE, "/"), _info("var/lib/dpkg/info/x")],
     "unexpected symbolic link"),
    ([_info("var/lib/dpkg/null", tarfile.CHRTYPE)], "not a file, directory or link"),
    ([_info("var/lib/dpkg/h", tarfile.LNKTYPE, "etc/os-release")], "hard link to etc/os-release, which is outside var/lib/dpkg/"),
])
def test_refuses_escaping_entries(tmp_path: Path, members: list[tarfile.TarInfo], reason: str) -> None:
    archive = _evil(tmp_path, [(m, b"x") for m in members])
    staging = tmp_path / "staging"
    with pytest.raises(PkgdbError) as exc:
        unpack_snapshot(archive, staging)
    assert reason in str(exc.value)
    assert not (tmp_path / "escape").exists()


def test_staging_root_must_be_empty(tmp_path: Path) -> None:
    rootfs = make_rootfs(tmp_path / "rootfs", SDE)
    write_snapshot(rootfs, tmp_path / "s.tar.zst", SDE)
    with pytest.raises(PkgdbError, match="must be an empty directory"):
        unpack_snapshot(tmp_path / "s.tar.zst", rootfs)


def test_not_a_snapshot(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.tar.zst"
    bogus.write_bytes(b"not zstd at all")
    with pytest.raises(PkgdbError, match="not a readable pkgdb snapshot"):
        unpack_snapshot(bogus, tmp_path / "st")


@pytest.mark.parametrize(("old", "new", "message"), [
    ("Version: 1.0-r0\nDepends: libc6 (>= 2.36)", "Version: !!!bad version@@\nDepends: libc6 (>= 2.36)",
     "package hello: Version: version '!!!bad version@@' contains a space"),
    ("Depends: libc6 (>= 2.36)", "Depends: libc6 (>= 2.36), Bad_Name",
     "package hello: Depends: 'Bad_Name' contains 'B', 'N', '_': a package name may hold only lower-case letters, "
     "digits and '+', '-', '.'"),
    ("Depends: libc6 (>= 2.36)", "Depends: libc6 (=> 2.36)",
     "package hello: Depends: '=>' in '(=> 2.36)' of libc6 is not a version operator; did you mean '>='?"),
    ("Depends: libc6 (>= 2.36)", "Depends: libc6 (>= 2.36)\nProvides: hi (>= 1)",
     "package hello: Provides: '>=' in '(>= 1)' of hi is not allowed here (only =)"),
    ("Depends: libc6 (>= 2.36)", "Depends: libc6 (>= 2.36)\nConflicts: a | b",
     "package hello: Conflicts: 'a | b': Conflicts takes no alternatives ('|')"),
    ("Depends: libc6 (>= 2.36)", "Depends: libc6 (>= 2.36) bash",
     "package hello: cannot read Depends 'libc6 (>= 2.36) bash' near 'libc6 (>= 2.36) bash'"),
])
def test_snapshot_stanzas_follow_dpkgs_grammar(tmp_path: Path, old: str, new: str, message: str) -> None:
    rootfs = make_rootfs(tmp_path / "rootfs", SDE)
    status = rootfs / "var/lib/dpkg/status"
    status.write_text(status.read_text().replace(old, new))
    snapshot = tmp_path / "base-pkgdb.rootfs.tar.zst"
    write_snapshot(rootfs, snapshot, SDE)
    with pytest.raises(PkgdbError) as exc:
        unpack_snapshot(snapshot, tmp_path / "staging")
    assert exc.value.format() == f"error: {snapshot}: var/lib/dpkg/status:21: {message}"


def test_snapshot_stanzas_dpkg_accepts_are_read(tmp_path: Path) -> None:
    """Alternatives, architecture qualifiers, epochs and tildes are dpkg's grammar too."""
    rootfs = make_rootfs(tmp_path / "rootfs", SDE)
    status = rootfs / "var/lib/dpkg/status"
    status.write_text(status.read_text().replace(
        "Depends: libc6 (>= 2.36)", "Version: 1:2.0~rc1+git-1\nDepends: libc6:any (>= 2.36) | musl, sh\n"
        "Provides: hi (= 1)\nBreaks: old (<< 1)").replace("Version: 1.0-r0\n", ""))
    write_snapshot(rootfs, tmp_path / "s.tar.zst", SDE)
    base = unpack_snapshot(tmp_path / "s.tar.zst", tmp_path / "staging")
    assert base.packages["hello"].version == "1:2.0~rc1+git-1"
