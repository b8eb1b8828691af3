"""Hostile packages and snapshots never reach outside the root they are installed into.

Builds run as root, so every case plants a link from inside the root to a canary outside it (a file
or a directory of the host, with known content, mode and time) and checks that the canary is untouched
and that nothing of it was copied into the root. Each case is a crafted input given to the installer
(``build_rootfs``) or the snapshot reader (``unpack_snapshot``) directly; the packaging step's refusal
is checked end to end with an ordinary recipe whose ``do_install`` creates the link.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import zstandard
from conftest import make_build, make_layer
from test_rootfs import _entry, _raw_deb, build, error_of, make_deb

from layerbuild.image.pkgdb import PkgdbError, unpack_snapshot, write_snapshot
from layerbuild.rootfs.dpkgdb import Database
from layerbuild.util.errors import BuildError, LayerbuildError

TOKEN = b"host-secret-7f3a"
SECRET = TOKEN + b"\n"
HOST_TIME = 1_000_000_000


@dataclass
class Canary:
    """A file or directory outside the root that a hostile input must leave exactly as it was."""

    path: Path
    mode: int
    mtime: int
    ino: int

    @classmethod
    def file(cls, path: Path) -> Canary:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(SECRET)
        os.chmod(path, 0o600)
        os.utime(path, (HOST_TIME, HOST_TIME))
        st = path.stat()
        return cls(path, st.st_mode, int(st.st_mtime), st.st_ino)

    @classmethod
    def directory(cls, path: Path) -> Canary:
        path.mkdir(parents=True)
        os.chmod(path, 0o700)
        os.utime(path, (HOST_TIME, HOST_TIME))
        st = path.stat()
        return cls(path, st.st_mode, int(st.st_mtime), st.st_ino)

    def untouched(self) -> None:
        st = os.lstat(self.path)
        assert (st.st_mode, int(st.st_mtime), st.st_ino, st.st_uid) == (self.mode, self.mtime, self.ino, 0 if
                                                                         os.geteuid() == 0 else os.geteuid())
        if stat.S_ISDIR(st.st_mode):
            assert os.listdir(self.path) == []
        else:
            assert st.st_nlink == 1, "the host file got a hard link"
            assert self.path.read_bytes() == SECRET


def no_copy_in(root: Path) -> None:
    """Nothing under ``root`` holds the canary's content (status-old, say)."""
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            if not path.is_symlink():
                assert TOKEN not in path.read_bytes(), f"{path} holds the host file's content"


# -- crafted packages given to the installer ----------------------------------------------------------

def test_link_planted_for_a_control_file_is_refused(tmp_path: Path) -> None:
    """A package shipping info/PKG.postinst.lb-new as a link: writing the postinst once went through it."""
    canary = Canary.file(tmp_path / "host" / "passwd")
    feed = tmp_path / "feed"
    make_deb(feed, "evil", files={"var/lib/dpkg/info/evil.postinst.lb-new": ("link", str(canary.path))},
             scripts={"postinst": "#!/bin/sh\nexit 0\n"})
    message = error_of(tmp_path / "root", feed, "evil")
    # the first entry of the archive inside the database is named: its directory
    assert message == "error: evil 1.0: refusing '/var/lib/dpkg': a package may not ship anything in /var/lib/dpkg, " \
        "dpkg's database"
    canary.untouched()


@pytest.mark.parametrize("kind", ["absolute", "relative"])
def test_status_planted_as_a_link_is_refused(tmp_path: Path, kind: str) -> None:
    """The status writer once read the host file through the link and kept it as status-old."""
    canary = Canary.file(tmp_path / "host" / "shadow")
    root = tmp_path / "root"
    target = str(canary.path) if kind == "absolute" else os.path.relpath(canary.path, root / "var/lib/dpkg")
    feed = tmp_path / "feed"
    make_deb(feed, "evil", files={"var/lib/dpkg/status": ("link", target)})
    message = error_of(root, feed, "evil")
    assert "evil 1.0: refusing '/var/lib/dpkg': a package may not ship anything in /var/lib/dpkg" in message
    canary.untouched()
    no_copy_in(root)


def test_tmp_ci_planted_as_a_link_is_refused(tmp_path: Path) -> None:
    """The next package's preinst was once written into the host directory the link named, and run."""
    canary = Canary.directory(tmp_path / "host" / "spool")
    feed = tmp_path / "feed"
    make_deb(feed, "evil", files={"var/lib/dpkg/tmp.ci": ("link", str(canary.path))})
    make_deb(feed, "next", files={"usr/share/next": "n\n"}, Depends="evil",
             scripts={"preinst": "#!/bin/sh\ntouch \"$(dirname \"$0\")/ran\"\n"})
    message = error_of(tmp_path / "root", feed, "next")
    assert "evil 1.0: refusing '/var/lib/dpkg': a package may not ship anything in /var/lib/dpkg" in message
    canary.untouched()


def test_admin_directory_reached_through_a_link_is_refused(tmp_path: Path) -> None:
    """A link elsewhere in the root that leads into the database is the database too."""
    feed = tmp_path / "feed"
    _raw_deb(feed, "evil", [_entry("./usr/", tarfile.DIRTYPE), _entry("./usr/share/", tarfile.DIRTYPE),
                            _entry("./usr/share/db", tarfile.SYMTYPE, "/var/lib/dpkg"),
                            _entry("./usr/share/db/status")])
    root = tmp_path / "root"
    message = error_of(root, feed, "evil")
    assert message == ("error: evil 1.0: refusing '/usr/share/db/status': it is in /var/lib/dpkg, dpkg's database, "
                       "through a symbolic link")
    assert (root / "var/lib/dpkg/status").read_bytes() == b""


def test_crafted_archive_naming_a_database_file(tmp_path: Path) -> None:
    """An archive the package writer never produces: a database file without its directories."""
    canary = Canary.file(tmp_path / "host" / "passwd")
    feed = tmp_path / "feed"
    _raw_deb(feed, "evil", [_entry("./var/lib/dpkg/info/evil.postinst.lb-new", tarfile.SYMTYPE, str(canary.path))])
    assert error_of(tmp_path / "root", feed, "evil") == (
        "error: evil 1.0: refusing '/var/lib/dpkg/info/evil.postinst.lb-new': a package may not ship anything in "
        "/var/lib/dpkg, dpkg's database")
    canary.untouched()


# -- roots that already hold planted links (a maintainer script, a hand-made root) -------------------

@pytest.mark.parametrize("planted", ["var/lib/dpkg/status", "var/lib/dpkg/info", "var/lib/dpkg/tmp.ci",
                                     "var/lib/dpkg/arch", "var/lib/dpkg/triggers"])
def test_database_never_goes_through_a_planted_link(tmp_path: Path, planted: str) -> None:
    """Whatever put the link there, the installer neither reads nor writes through it."""
    host_file = Canary.file(tmp_path / "host" / "file")
    host_dir = Canary.directory(tmp_path / "host" / "dir")
    feed = tmp_path / "feed"
    make_deb(feed, "small", files={"usr/share/small": "s\n"}, scripts={"preinst": "#!/bin/sh\nexit 0\n",
                                                                        "postinst": "#!/bin/sh\nexit 0\n"})
    root = tmp_path / "root"
    (root / "var/lib/dpkg/info").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text("")
    path = root / planted
    if path.is_dir():
        path.rmdir()
    elif path.exists():
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    is_dir = planted.endswith(("info", "tmp.ci", "triggers"))
    path.symlink_to(host_dir.path if is_dir else host_file.path)
    try:
        build(root, feed, "small")
    except BuildError as exc:
        assert "Traceback" not in exc.format()
    host_file.untouched()
    host_dir.untouched()
    no_copy_in(root)


def test_database_read_refuses_a_status_link(tmp_path: Path) -> None:
    canary = Canary.file(tmp_path / "host" / "status")
    root = tmp_path / "root"
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").symlink_to(canary.path)
    with pytest.raises(LayerbuildError, match="var/lib/dpkg/status is a symbolic link"):
        Database.read(str(root))
    canary.untouched()


def test_admin_directory_link_is_followed_as_in_a_chroot(tmp_path: Path) -> None:
    """``var`` as an absolute link: inside the root it names the root's own directory, never the host's."""
    host = tmp_path / "host"
    canary = Canary.file(host / "lib/dpkg/status")
    feed = tmp_path / "feed"
    make_deb(feed, "small", files={"usr/share/small": "s\n"})
    root = tmp_path / "root"
    (root / str(host).lstrip("/")).mkdir(parents=True)
    (root / "var").symlink_to(host)
    build(root, feed, "small")
    canary.untouched()
    assert "Package: small" in (root / str(host).lstrip("/") / "lib/dpkg/status").read_text()


# -- crafted pkgdb snapshots ----------------------------------------------------------------------

def _snapshot(tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            info.size = len(data) if data is not None else 0
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    path = tmp_path / "evil-pkgdb.rootfs.tar.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(buf.getvalue()))
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "",
            data: bytes = b"") -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.mtime = 1_650_000_000
    return info, (data if kind == tarfile.REGTYPE else None)


STATUS = b"Package: base-files\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\n"


def _dirs(status: bytes = STATUS) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    return [_member(d, tarfile.DIRTYPE) for d in ("var", "var/lib", "var/lib/dpkg", "usr", "usr/lib")] + \
        [_member("usr/lib/os-release", data=b"ID=x\nVERSION_ID=1\n"), _member("var/lib/dpkg/status", data=status)]


@pytest.mark.parametrize("link", [
    "var/lib/dpkg/../../../../host/hostname",   # exactly as deep as the staging root: the host file
    "var/lib/dpkg/../../../../../host/hostname",  # one more: once a raw KeyError
    "var/lib/dpkg/../../../host/hostname",      # inside the staging root, outside the database
    "./var/lib/dpkg/../../../../host/hostname",
])
def test_snapshot_hard_link_out_of_the_root(tmp_path: Path, link: str) -> None:
    canary = Canary.file(tmp_path / "host" / "hostname")
    archive = _snapshot(tmp_path, [*_dirs(), _member("var/lib/dpkg/h", tarfile.LNKTYPE, link)])
    staging = tmp_path / "staging"
    with pytest.raises(PkgdbError) as exc:
        unpack_snapshot(archive, staging)
    assert exc.value.format() == (f"error: {archive}: refusing snapshot entry var/lib/dpkg/h: hard link to "
                                  f"{link}, which is outside var/lib/dpkg/")
    canary.untouched()


def test_snapshot_hard_link_to_nothing_names_the_snapshot(tmp_path: Path) -> None:
    archive = _snapshot(tmp_path, [*_dirs(), _member("var/lib/dpkg/h", tarfile.LNKTYPE, "var/lib/dpkg/nothing")])
    with pytest.raises(PkgdbError) as exc:
        unpack_snapshot(archive, tmp_path / "staging")
    assert exc.value.format() == (f"error: {archive}: refusing snapshot entry var/lib/dpkg/h: hard link to "
                                  "var/lib/dpkg/nothing, which is not an earlier file of the snapshot")


def test_snapshot_os_release_link_stays_in_the_root(tmp_path: Path) -> None:
    """etc/os-release, the one link a snapshot may hold, is read as the base would read it."""
    host = tmp_path / "host"
    canary = Canary.file(host / "os-release")
    archive = _snapshot(tmp_path, [*_dirs(), _member("etc", tarfile.DIRTYPE),
                                   _member("etc/os-release", tarfile.SYMTYPE, str(canary.path))])
    info = unpack_snapshot(archive, tmp_path / "staging")
    assert dict(info.os_release) == {"ID": "x", "VERSION_ID": "1"}  # usr/lib/os-release, as systemd falls back
    canary.untouched()


# -- end to end: a recipe that installs the link ---------------------------------------------------

def test_recipe_installing_into_the_database_fails_at_packaging(tmp_path: Path) -> None:
    canary = Canary.file(tmp_path / "host" / "secret")
    layer = make_layer(tmp_path, "evil", {
        "recipes/evil/evil_1.0.bb": (
            'LICENSE = "MIT"\nINHIBIT_DEFAULT_DEPS = "1"\nPACKAGE_ARCH = "all"\n'
            f"do_install() {{\n    install -d ${{D}}/var/lib/dpkg\n    ln -s {canary.path} ${{D}}/var/lib/dpkg/status\n}}\n"
            'FILES:${PN} += "/var"\n'),
        "recipes/images/evil-image.bb": (
            'inherit image\nIMAGE_INSTALL = "base-files evil"\nIMAGE_GEN_PKGDBFS = "1"\n'),
    })
    build_dir = make_build(tmp_path, [layer])
    result = subprocess.run(["python3", "-m", "layerbuild.cli", "-B", str(build_dir), "evil-image"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert (f"{layer}/recipes/evil/evil_1.0.bb:4: error: evil: package evil ships /var/lib/dpkg, dpkg's database, "
            "which only the image's package manager writes:\n|     /var/lib/dpkg/status\n") in result.stderr
    assert "Traceback" not in result.stderr
    canary.untouched()
    deploy = build_dir / "tmp/deploy/images"
    assert not deploy.exists() or not any(deploy.rglob("*.tar.zst"))
    shutil.rmtree(build_dir / "tmp", ignore_errors=True)


def test_snapshot_written_from_a_root_never_reads_the_host(tmp_path: Path) -> None:
    """The snapshot writer resolves os-release and the database inside the root."""
    canary = Canary.file(tmp_path / "host" / "os-release")
    root = tmp_path / "root"
    (root / "var/lib/dpkg/info").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text("")
    (root / "usr/lib").mkdir(parents=True)
    (root / "usr/lib/os-release").write_text("ID=base\nVERSION_ID=2\n")
    (root / "etc").symlink_to(canary.path.parent)  # root/etc/os-release on the host is the canary
    write_snapshot(root, tmp_path / "snap.tar.zst", 1_650_000_000)
    data = zstandard.ZstdDecompressor().stream_reader(open(tmp_path / "snap.tar.zst", "rb")).read()
    assert TOKEN not in data
    canary.untouched()


def test_image_feature_hooks_edit_the_root_not_the_host(tmp_path: Path) -> None:
    """empty-root-password rewrote etc/shadow through a package's ``etc`` link: the host's shadow file."""
    host = tmp_path / "host"
    shadow = host / "shadow"
    shadow.parent.mkdir()
    shadow.write_text("root:$6$host-secret-7f3a:19000:0:99999:7:::\n")
    os.chmod(shadow, 0o640)
    os.utime(shadow, (HOST_TIME, HOST_TIME))
    before = shadow.stat()
    layer = make_layer(tmp_path, "evil", {
        "recipes/evil/evil_1.0.bb": (
            'LICENSE = "MIT"\nINHIBIT_DEFAULT_DEPS = "1"\nPACKAGE_ARCH = "all"\nFILES:${PN} = "/etc"\n'
            f"do_install() {{\n    ln -s {host} ${{D}}/etc\n}}\n"),
        "recipes/images/evil-image.bb": (
            'inherit image\nIMAGE_INSTALL = "evil"\nIMAGE_FEATURES = "empty-root-password read-only-rootfs"\n'),
    })
    build_dir = make_build(tmp_path, [layer])
    result = subprocess.run(["python3", "-m", "layerbuild.cli", "-B", str(build_dir), "evil-image"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    after = shadow.stat()
    assert shadow.read_text() == "root:$6$host-secret-7f3a:19000:0:99999:7:::\n"
    assert (after.st_ino, after.st_mtime, after.st_mode) == (before.st_ino, before.st_mtime, before.st_mode)
    shutil.rmtree(build_dir / "tmp", ignore_errors=True)


# IMAGE_ROOTFS is build/tmp/work/ARCH/ext-evil/1.0-r0/rootfs: 3 + 7 levels up from var/lib/dpkg is tmp_path
@pytest.mark.parametrize("ups", [10, 11])  # 10 reaches the host file; 11 was a raw KeyError
def test_extension_against_a_hostile_snapshot_fails_at_the_recipe(tmp_path: Path, ups: int) -> None:
    canary = Canary.file(tmp_path / "host" / "hostname")
    link = "var/lib/dpkg/" + "../" * ups + "host/hostname"
    layer = make_layer(tmp_path, "evil", {
        "recipes/payload/payload_1.0.bb": (
            'LICENSE = "MIT"\nINHIBIT_DEFAULT_DEPS = "1"\nPACKAGE_ARCH = "all"\n'
            "do_install() {\n    install -d ${D}${datadir}/payload\n    echo p > ${D}${datadir}/payload/p\n}\n"),
        "recipes/images/tiny-base.bb": 'inherit image\nIMAGE_INSTALL = "base-files"\nIMAGE_GEN_PKGDBFS = "1"\n',
        "recipes/images/ext-evil.bb": ('inherit image-sysext\nIMAGE_BASE_PKGDB = "tiny-base"\n'
                                       'IMAGE_BASE_PKGDB_FILE = "${TOPDIR}/evil-pkgdb.rootfs.tar.zst"\n'
                                       'IMAGE_INSTALL = "payload"\n'),
    })
    build_dir = make_build(tmp_path, [layer])
    snapshot = _snapshot(tmp_path, [*_dirs(), _member("var/lib/dpkg/h", tarfile.LNKTYPE, link)])
    os.replace(snapshot, build_dir / "evil-pkgdb.rootfs.tar.zst")
    result = subprocess.run(["python3", "-m", "layerbuild.cli", "-B", str(build_dir), "ext-evil"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert (f"{layer}/recipes/images/ext-evil.bb:2: error: {build_dir}/evil-pkgdb.rootfs.tar.zst: refusing snapshot "
            f"entry var/lib/dpkg/h: hard link to {link}, which is outside var/lib/dpkg/") in result.stderr
    assert "Traceback" not in result.stderr and "KeyError" not in result.stderr
    canary.untouched()
    shutil.rmtree(build_dir / "tmp", ignore_errors=True)
