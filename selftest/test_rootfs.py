"""Root file systems from a .deb feed: resolver, installer, maintainer scripts, dpkg database.

The oracle test installs the same packages with the real dpkg and compares the two roots.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest
import zstandard

from layerbuild.packaging.deb import write_deb
from layerbuild.rootfs.assemble import build_rootfs
from layerbuild.rootfs.dpkgdb import Database
from layerbuild.rootfs.feed import Feed
from layerbuild.rootfs.manifest import manifest_text, write_manifest
from layerbuild.rootfs.resolve import Request, Wanted
from layerbuild.rootfs.scripts import RUNNER, RUNNER_SCRIPT
from layerbuild.util.errors import BuildError, Location

CLAMP = 1_700_000_000
ROOT = os.geteuid() == 0
HAVE_DPKG = shutil.which("dpkg") is not None
needs_dpkg = pytest.mark.skipif(not HAVE_DPKG, reason="needs dpkg")
LOC = Location("conf/local.conf", 3)

File = str | bytes | tuple[str, ...]


def make_deb(feed: Path, name: str, version: str = "1.0", files: dict[str, File] | None = None, *,
             arch: str = "amd64", scripts: dict[str, str] | None = None, conffiles: list[str] | None = None,
             modes: dict[str, int] | None = None, owners: dict[str, tuple[int, int]] | None = None,
             **fields: str) -> Path:
    """Write NAME_VERSION_ARCH.deb into ``feed``.

    ``files`` maps a path to its content (str/bytes), ``("dir",)``, ``("link", target)`` or
    ``("hardlink", other_path)``.
    """
    staging = feed.parent / f".staging-{name}-{version}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    items = sorted((files or {}).items(), key=lambda kv: (isinstance(kv[1], tuple) and kv[1][0] == "hardlink", kv[0]))
    for path, content in items:
        full = staging / path
        full.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, tuple):
            if content[0] == "dir":
                full.mkdir(exist_ok=True)
            elif content[0] == "link":
                full.symlink_to(content[1])
            else:
                os.link(staging / content[1], full)
        else:
            full.write_bytes(content.encode() if isinstance(content, str) else content)
    for path, mode in (modes or {}).items():
        os.chmod(staging / path, mode)
    for path, (uid, gid) in (owners or {}).items():
        os.lchown(staging / path, uid, gid)
    control = {"Package": name, "Version": version, "Architecture": arch, "Maintainer": "Dev <dev@example.org>"}
    control.update({k.replace("_", "-"): v for k, v in fields.items()})
    info = write_deb(str(staging), str(feed), control, f"the {name} package", "", scripts or {}, conffiles or [],
                     CLAMP)
    shutil.rmtree(staging)
    return Path(info.path)


def req(*names: str, **policy: object) -> Request:
    return Request(tuple(Wanted(n, "IMAGE_INSTALL", LOC) for n in names), **policy)  # type: ignore[arg-type]


def build(root: Path, feed: Path, *names: str, **policy: object) -> object:
    return build_rootfs(str(root), [str(feed)], req(*names, **policy), native_arch="amd64",
                        log=root.parent / "rootfs.log", clamp=CLAMP)


def error_of(root: Path, feed: Path, *names: str, **policy: object) -> str:
    with pytest.raises(BuildError) as exc:
        build(root, feed, *names, **policy)
    return exc.value.format()


def new_names(result: object) -> list[str]:
    return list(result.new_names)  # type: ignore[attr-defined]


# -- the oracle ------------------------------------------------------------------------------------

def oracle_feed(feed: Path) -> None:
    make_deb(feed, "base-files", "3.1-r0", {
        "etc/": ("dir",), "etc/hostname": "layerbuild\n", "etc/issue": "Welcome\n", "usr/bin/": ("dir",),
        "usr/lib/": ("dir",), "var/": ("dir",), "tmp/": ("dir",), "root/": ("dir",), "bin": ("link", "usr/bin"),
    }, modes={"tmp": 0o1777, "root": 0o700}, conffiles=["/etc/hostname", "/etc/issue"],
        Section="base", Priority="required", Essential="yes")
    make_deb(feed, "libc6", "2.36-r1", {
        "usr/lib/libc.so.6": b"\x7fELF libc" + bytes(range(256)), "usr/lib/ld.so": ("hardlink", "usr/lib/libc.so.6"),
        "usr/lib/libc.so": ("link", "libc.so.6"), "usr/share/doc/libc6/": ("dir",),
    }, Depends="base-files", Provides="libc (= 2.36), libc6-any",
        scripts={"postinst": '#!/bin/sh\nset -e\necho "configured $1" > "$D/var/libc6-post"\n'})
    make_deb(feed, "libgreet", "1.2-r0", {"usr/lib/libgreet.so.1": "greet lib\n"},
             Depends="libc6 (>=2.36)", Source="greet")
    make_deb(feed, "greet", "1.2-r0", {
        "usr/bin/greet": "#!/bin/sh\necho hello\n", "usr/bin/hello": ("hardlink", "usr/bin/greet"),
        "etc/greet.conf": "greeting=hello\n", "usr/share/greet/data": "d" * 5000,
        "usr/libexec/greet/helper": "helper\n", "usr/sbin/greetd": "daemon\n",
    }, modes={"usr/bin/greet": 0o755, "usr/sbin/greetd": 0o4755, "usr/libexec/greet": 0o750},
        owners={"usr/share/greet/data": (1234, 100), "usr/libexec/greet": (0, 50)} if ROOT else None,
        conffiles=["/etc/greet.conf"], Depends="libgreet (= 1.2-r0), libc6 (>= 2.30) | libc-alt",
        Recommends="greet-doc", Homepage="https://example.org/greet",
        scripts={"preinst": '#!/bin/sh\nset -e\n[ "$1" = install ]\nmkdir -p "$D/var/lib/greet"\n',
                 "postinst": '#!/bin/sh\nset -e\ntest -f "$D/usr/lib/libgreet.so.1"\n'
                             'echo "$DPKG_MAINTSCRIPT_PACKAGE $1" > "$D/var/lib/greet/state"\n',
                 "prerm": "#!/bin/sh\nexit 0\n"})
    make_deb(feed, "greet-doc", "1.2-r0", {"usr/share/doc/greet/README": "read me\n"}, arch="all",
             Section="doc")
    # an older greet must lose to the newer one
    make_deb(feed, "greet", "1.1-r0", {"usr/bin/greet": "old\n"})
    # busybox ships /usr/bin/sh; dash Replaces it and is installed after it (name order), so dash wins
    make_deb(feed, "busybox", "1.36", {"usr/bin/sh": "busybox sh\n", "usr/bin/vi": "vi\n"}, Depends="libc6")
    make_deb(feed, "dash", "0.5.12", {"usr/bin/sh": "dash\n", "usr/share/man/man1/dash.1": "man\n"},
             Depends="libc6", Replaces="busybox (<< 2)")
    # zlib ships a file the already-unpacked coreutils has, and coreutils Replaces zlib: coreutils keeps it
    make_deb(feed, "coreutils", "9.1", {"usr/bin/ls": "ls\n", "usr/share/common": "from coreutils\n"},
             Replaces="zlib")
    make_deb(feed, "zlib", "1.3", {"usr/lib/libz.so.1": "z\n", "usr/share/common": "from zlib\n"},
             Depends="coreutils")


RICH_CONTROL = """Package: rich
Source: rich-src (2.0)
Version: 0:2.0-1
Architecture: all
Maintainer: Dev <dev@example.org>
Installed-Size: 4
Depends: libc6(>=2.0)|libc-alt, base-files (< 4)
Suggests: greet
Breaks: nothing-at-all (<< 1)
Enhances: greet
Essential: yes
Multi-Arch: foreign
Priority: optional
Section: misc
Built-Using: foo (= 1)
X-Custom-Field: value
Homepage: https://example.org
Description: a package with every field
 dpkg orders these fields its own way.
 .
 And keeps this text verbatim.
"""


def rich_deb(feed: Path) -> Path:
    """A package with the fields packaging never writes, built by hand."""
    return _raw_deb(feed, "rich", [_entry("./", tarfile.DIRTYPE), _entry("./usr/", tarfile.DIRTYPE),
                                   _entry("./usr/share/", tarfile.DIRTYPE), _entry("./usr/share/rich"),
                                   _entry("./usr/share/b-rich"), _entry("./usr/share/a-link", tarfile.LNKTYPE,
                                                                        "./usr/share/rich")], RICH_CONTROL)


def tree(root: Path, skip: tuple[str, ...] = ()) -> dict[str, tuple[object, ...]]:
    out: dict[str, tuple[object, ...]] = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            if rel in skip:
                continue
            st = os.lstat(full)
            kind = stat.S_IFMT(st.st_mode)
            extra: object = None
            if stat.S_ISLNK(st.st_mode):
                extra = os.readlink(full)
            elif stat.S_ISREG(st.st_mode):
                extra = hashlib.sha256(Path(full).read_bytes()).hexdigest()
            out[rel] = (kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_nlink if kind != stat.S_IFDIR
                        else None, extra)
    return out


def dpkg_install(root: Path, debs: list[str]) -> None:
    admin = root / "var/lib/dpkg"
    admin.mkdir(parents=True)
    for name in ("available", "diversions", "statoverride"):
        (admin / name).write_text("")
    (admin / "arch").write_text("amd64\n")
    env = dict(os.environ, D=str(root))
    common = ["dpkg", f"--root={root}", "--force-script-chrootless", "--force-not-root", "--log=/dev/null"]
    subprocess.run([*common, "--unpack", *debs], check=True, env=env, capture_output=True)
    subprocess.run([*common, "--configure", "-a"], check=True, env=env, capture_output=True)


def query(root: Path) -> str:
    return subprocess.run(["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W", "-f",
                           "${Package} ${Version} ${Status}\n"], check=True, capture_output=True, text=True).stdout


@needs_dpkg
def test_oracle_matches_dpkg(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    oracle_feed(feed)
    rich_deb(feed)
    mine = tmp_path / "mine"
    result = build(mine, feed, "greet", "dash", "busybox", "zlib", "rich")
    order = new_names(result)
    assert order == ["base-files", "coreutils", "greet-doc", "libc6", "busybox", "dash", "libgreet", "greet",
                     "rich", "zlib"]
    scanned = Feed.scan([str(feed)], "amd64")
    paths = {name: scanned.best(name).path for name in order}  # type: ignore[union-attr]
    theirs = tmp_path / "theirs"
    dpkg_install(theirs, [str(paths[name]) for name in order])
    skip = ("var/lib/dpkg/status-old",)
    a, b = tree(mine, skip), tree(theirs, skip)
    assert sorted(set(a) ^ set(b)) == []
    assert {k: v for k, v in a.items() if b[k] != v} == {}
    assert (mine / "var/lib/dpkg/status").read_text() == (theirs / "var/lib/dpkg/status").read_text()
    assert query(mine) == query(theirs)
    assert "greet 1.2-r0 install ok installed" in query(mine)
    # the reader gives back dpkg's own stanzas verbatim
    records = Database.read(str(theirs)).records
    assert "".join(records[n].stanza + "\n" for n in sorted(records)) == \
        (theirs / "var/lib/dpkg/status").read_text()
    assert (mine / "usr/bin/sh").read_text() == "dash\n"
    assert (mine / "usr/share/common").read_text() == "from coreutils\n"
    assert (mine / "var/lib/greet/state").read_text() == "greet configure\n"
    audit = subprocess.run(["dpkg", f"--root={mine}", "--audit"], capture_output=True, text=True)
    assert audit.returncode == 0 and audit.stdout == ""
    verify = subprocess.run(["dpkg", f"--root={mine}", "-V"], capture_output=True, text=True)
    assert verify.returncode == 0 and verify.stdout == "", verify.stdout


def test_database_files(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    oracle_feed(feed)
    root = tmp_path / "root"
    result = build(root, feed, "greet")
    admin = root / "var/lib/dpkg"
    assert (admin / "info/greet.list").read_text().splitlines() == [
        "/.", "/etc", "/etc/greet.conf", "/usr", "/usr/bin", "/usr/bin/greet", "/usr/bin/hello", "/usr/libexec",
        "/usr/libexec/greet", "/usr/libexec/greet/helper", "/usr/sbin", "/usr/sbin/greetd", "/usr/share",
        "/usr/share/greet", "/usr/share/greet/data"]
    assert (admin / "info/greet.conffiles").read_text() == "/etc/greet.conf\n"
    md5 = hashlib.md5(b"greeting=hello\n").hexdigest()  # noqa: S324
    assert f"{md5}  etc/greet.conf\n" in (admin / "info/greet.md5sums").read_text()
    for script in ("preinst", "postinst", "prerm"):
        assert stat.S_IMODE((admin / f"info/greet.{script}").stat().st_mode) == 0o755
    assert (admin / "arch").read_text() == "amd64\n"
    for name in ("available", "diversions", "statoverride", "lock", "lock-frontend", "triggers/Lock",
                 "triggers/Unincorp"):
        assert (admin / name).read_bytes() == b""
    assert stat.S_IMODE((admin / "lock").stat().st_mode) == 0o640
    assert (admin / "info/format").read_text() == "1\n"
    status = (admin / "status").read_text()
    stanza = status.split("Package: greet\n")[1].split("\n\n")[0]
    assert stanza.splitlines() == [
        "Status: install ok installed", "Installed-Size: 17", "Maintainer: Dev <dev@example.org>",
        "Architecture: amd64", "Version: 1.2-r0", "Depends: libgreet (= 1.2-r0), libc6 (>= 2.30) | libc-alt",
        "Recommends: greet-doc", "Conffiles:", f" /etc/greet.conf {md5}", "Description: the greet package",
        "Homepage: https://example.org/greet"]
    assert "Depends: libc6 (>= 2.36)" in status
    names = [line.split()[1] for line in status.splitlines() if line.startswith("Package:")]
    assert names == sorted(names)
    db = Database.read(str(root))
    assert db.packages["greet"].version == "1.2-r0" and db.packages["greet-doc"].arch == "all"
    assert "/usr/bin/hello" in db.files("greet")
    owners = result.owners()  # type: ignore[attr-defined]
    assert owners["/usr/bin/hello"] == "greet" and owners["/usr/lib/libc.so.6"] == "libc6"
    assert (root / "usr/bin/greet").stat().st_ino == (root / "usr/bin/hello").stat().st_ino
    assert stat.S_IMODE((root / "usr/sbin/greetd").stat().st_mode) == 0o4755
    assert stat.S_IMODE((root / "tmp").stat().st_mode) == 0o1777
    assert os.readlink(root / "usr/lib/libc.so") == "libc.so.6"
    assert (root / "usr/bin/greet").stat().st_mtime == CLAMP
    if ROOT:
        st = (root / "usr/share/greet/data").stat()
        assert (st.st_uid, st.st_gid) == (1234, 100)


def test_manifest(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    oracle_feed(feed)
    root = tmp_path / "root"
    result = build(root, feed, "libgreet")
    out = tmp_path / "img.manifest"
    write_manifest(out, result.packages)  # type: ignore[attr-defined]
    assert out.read_text() == "base-files amd64 3.1-r0\nlibc6 amd64 2.36-r1\nlibgreet amd64 1.2-r0\n"
    assert manifest_text(result.packages) == out.read_text()  # type: ignore[attr-defined]


@needs_dpkg
@pytest.mark.parametrize("compression", ["xz", "gzip", "none", "zstd"])
def test_reads_packages_built_by_dpkg_deb(tmp_path: Path, compression: str) -> None:
    src = tmp_path / "src"
    (src / "DEBIAN").mkdir(parents=True)
    (src / "DEBIAN/control").write_text("Package: built\nVersion: 2:1.0-3\nArchitecture: amd64\n"
                                        "Maintainer: x <x@example.org>\nDescription: built by dpkg-deb\n")
    (src / "DEBIAN/postinst").write_text('#!/bin/sh\necho "$1" > "$D/configured"\n')
    (src / "DEBIAN/postinst").chmod(0o755)
    long_dir = src / ("usr/share/" + "d" * 120)
    long_dir.mkdir(parents=True)
    (long_dir / ("f" * 120)).write_text("long name\n")
    (src / "usr/bin").mkdir()
    (src / "usr/bin/tool").write_text("tool\n")
    os.link(src / "usr/bin/tool", src / "usr/bin/tool2")
    (src / "usr/bin/link").symlink_to("tool")
    feed = tmp_path / "feed"
    feed.mkdir()
    subprocess.run(["dpkg-deb", "--root-owner-group", f"-Z{compression}", "--build", str(src),
                    str(feed / "built.deb")], check=True, capture_output=True)
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    result = build(mine, feed, "built")
    assert [(p.name, p.version) for p in result.packages] == [("built", "2:1.0-3")]  # type: ignore[attr-defined]
    dpkg_install(theirs, [str(feed / "built.deb")])
    skip = ("var/lib/dpkg/status-old",)
    assert tree(mine, skip) == tree(theirs, skip)
    assert query(mine) == query(theirs)


# -- the resolver ----------------------------------------------------------------------------------

def small_feed(feed: Path) -> None:
    make_deb(feed, "libc6", "2.36", {"usr/lib/libc.so.6": "libc\n"})
    make_deb(feed, "libc6-dev", "2.36", {"usr/include/stdio.h": "h\n"}, Depends="libc6")
    make_deb(feed, "libgreet", "1.0", {"usr/lib/libgreet.so.1": "g\n"}, Depends="libc6 (>= 2.36)")
    make_deb(feed, "greet", "1.0", {"usr/bin/greet": "greet\n"}, Depends="libgreet")


def test_missing_dependency_names_the_chain(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    make_deb(feed, "libc6-dev", "2.36", {"usr/include/stdio.h": "h\n"})
    make_deb(feed, "libgreet", "1.0", {"usr/lib/libgreet.so.1": "g\n"}, Depends="libc6 (>= 2.36)")
    make_deb(feed, "greet", "1.0", {"usr/bin/greet": "greet\n"}, Depends="libgreet")
    assert error_of(tmp_path / "r", feed, "greet") == (
        "conf/local.conf:3: error: greet (IMAGE_INSTALL) -> libgreet -> libc6 (>= 2.36): nothing provides libc6\n"
        "  hint: did you mean libc6-dev?")
    assert error_of(tmp_path / "r", feed, "gret") == (
        "conf/local.conf:3: error: gret (IMAGE_INSTALL): nothing provides gret\n  hint: did you mean greet, libgreet?")
    assert error_of(tmp_path / "r", feed, "zzzz") == (
        "conf/local.conf:3: error: zzzz (IMAGE_INSTALL): nothing provides zzzz")
    assert not (tmp_path / "r/var/lib/dpkg/status").exists()


def test_version_too_old(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    make_deb(feed, "libc6", "2.35", {"usr/lib/libc.so.6": "libc\n"})
    make_deb(feed, "libgreet", "1.0", {"usr/lib/libgreet.so.1": "g\n"}, Depends="libc6 (>= 2.36)")
    assert error_of(tmp_path / "r", feed, "libgreet") == (
        "conf/local.conf:3: error: libgreet (IMAGE_INSTALL) -> libc6 (>= 2.36): nothing provides "
        "libc6 (>= 2.36) (available: libc6 2.35)")


@pytest.mark.parametrize(("op", "version", "ok"), [
    ("<<", "2.0", True), ("<<", "1.5", False), ("<=", "1.5", True), ("<=", "1.4", False), ("=", "1.5", True),
    ("=", "1.5-r0", False), (">=", "1.5", True), (">=", "1.5.1", False), (">>", "1.4", True), (">>", "1.5", False),
    ("<=", "1.5~rc1", False), (">=", "1:0.1", False),
])
def test_version_constraints(tmp_path: Path, op: str, version: str, ok: bool) -> None:
    feed = tmp_path / "feed"
    make_deb(feed, "lib", "1.5", {"usr/lib/lib": "l\n"})
    make_deb(feed, "app", "1.0", {"usr/bin/app": "a\n"}, Depends=f"lib ({op} {version})")
    if ok:
        assert new_names(build(tmp_path / "r", feed, "app")) == ["lib", "app"]
    else:
        assert "nothing provides lib" in error_of(tmp_path / "r", feed, "app")


def test_alternatives_and_provides(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    make_deb(feed, "exim", "4.0", {"usr/sbin/exim": "e\n"}, Provides="mta")
    make_deb(feed, "postfix", "3.0", {"usr/sbin/postfix": "p\n"}, Provides="mta")
    make_deb(feed, "sh-b", "1.0", {"usr/bin/sh-b": "b\n"})
    make_deb(feed, "mailer", "1.0", {"usr/bin/mail": "m\n"}, Depends="mta, sh-a | sh-b")
    make_deb(feed, "foo-ng", "3.0", {"usr/bin/foo": "f\n"}, Provides="foo (= 2.5)")
    make_deb(feed, "foo-old", "1.0", {"usr/bin/foo-old": "f\n"}, Provides="foo")
    make_deb(feed, "usesfoo", "1.0", {"usr/bin/usesfoo": "u\n"}, Depends="foo (>= 2)")
    make_deb(feed, "anyfoo", "1.0", {"usr/bin/anyfoo": "u\n"}, Depends="foo")
    # a virtual name resolves to its first provider by name; a missing alternative falls to the next
    assert new_names(build(tmp_path / "r1", feed, "mailer")) == ["exim", "sh-b", "mailer"]
    # a provider asked for earlier is used
    assert new_names(build(tmp_path / "r2", feed, "postfix", "mailer")) == ["postfix", "sh-b", "mailer"]
    # an excluded provider gives way to the next
    assert new_names(build(tmp_path / "r3", feed, "mailer", exclude=frozenset({"exim"}))) == [
        "postfix", "sh-b", "mailer"]
    # only a versioned Provides meets a versioned dependency
    assert new_names(build(tmp_path / "r4", feed, "usesfoo")) == ["foo-ng", "usesfoo"]
    assert new_names(build(tmp_path / "r5", feed, "anyfoo")) == ["foo-ng", "anyfoo"]
    assert error_of(tmp_path / "r6", feed, "usesfoo", exclude=frozenset({"foo-ng"})) == (
        "conf/local.conf:3: error: usesfoo (IMAGE_INSTALL) -> foo (>= 2) -> foo-ng: foo-ng is excluded by "
        "PACKAGE_EXCLUDE")


def test_exclude(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    small_feed(feed)
    assert error_of(tmp_path / "r", feed, "greet", exclude=frozenset({"libgreet"})) == (
        "conf/local.conf:3: error: greet (IMAGE_INSTALL) -> libgreet: libgreet is excluded by PACKAGE_EXCLUDE")
    assert error_of(tmp_path / "r", feed, "greet", exclude=frozenset({"greet"})) == (
        "conf/local.conf:3: error: greet (IMAGE_INSTALL): greet is excluded by PACKAGE_EXCLUDE")


def test_conflicts(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    make_deb(feed, "sysvinit", "3.0", {"sbin/init": "s\n"}, Conflicts="systemd")
    make_deb(feed, "systemd", "254", {"lib/systemd/systemd": "s\n"}, Provides="init-system")
    make_deb(feed, "app", "1.0", {"usr/bin/app": "a\n"}, Depends="init-system")
    _raw_deb(feed, "brk", [_entry("./", tarfile.DIRTYPE)],
             "Package: brk\nVersion: 1.0\nArchitecture: amd64\nBreaks: systemd (<< 255)\nDescription: b\n")
    assert error_of(tmp_path / "r", feed, "sysvinit", "app") == (
        "conf/local.conf:3: error: app (IMAGE_INSTALL) -> init-system -> systemd: systemd 254 conflicts with "
        "sysvinit 3.0 (wanted by sysvinit (IMAGE_INSTALL))")
    assert error_of(tmp_path / "r", feed, "systemd", "brk") == (
        "conf/local.conf:3: error: brk (IMAGE_INSTALL): brk 1.0 conflicts with systemd 254 "
        "(wanted by systemd (IMAGE_INSTALL))")


def test_recommends(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    make_deb(feed, "doc", "1.0", {"usr/share/doc/app/README": "r\n"})
    make_deb(feed, "extra", "1.0", {"usr/lib/extra": "x\n"}, Depends="missing-thing")
    make_deb(feed, "app", "1.0", {"usr/bin/app": "a\n"}, Recommends="doc, extra, not-there")
    result = build(tmp_path / "r1", feed, "app")
    assert new_names(result) == ["app", "doc"]
    assert result.skipped_recommends == ("app -> extra", "app -> not-there")  # type: ignore[attr-defined]
    assert new_names(build(tmp_path / "r2", feed, "app", no_recommendations=True)) == ["app"]
    assert new_names(build(tmp_path / "r3", feed, "app", bad_recommendations=frozenset({"doc"}))) == ["app"]


def test_install_order_and_highest_version(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    old = tmp_path / "old"
    make_deb(feed, "c", "1.0", {"c": "c\n"})
    make_deb(feed, "b", "1.0", {"b": "b\n"}, Depends="c")
    make_deb(feed, "a", "2.0", {"a": "a2\n"}, Depends="b, c")
    make_deb(old, "a", "10.0~rc1", {"a": "a-old\n"})
    make_deb(old, "a", "1:0.1", {"a": "a-epoch\n"}, Depends="b, c")
    make_deb(feed, "z", "1.0", {"z": "z\n"})
    make_deb(feed, "cyc1", "1.0", {"cyc1": "1\n"}, Depends="cyc2")
    make_deb(feed, "cyc2", "1.0", {"cyc2": "2\n"}, Depends="cyc1")
    result = build_rootfs(str(tmp_path / "r"), [str(feed), str(old)], req("z", "a", "cyc2"), native_arch="amd64",
                          log=None, clamp=None)
    assert list(result.new_names) == ["c", "b", "a", "z", "cyc1", "cyc2"]
    assert {p.name: p.version for p in result.packages}["a"] == "1:0.1"
    assert (tmp_path / "r/a").read_text() == "a-epoch\n"


def test_other_architecture_ignored(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    make_deb(feed, "tool", "1.0", {"usr/bin/tool": "arm\n"}, arch="arm64")
    assert "nothing provides tool" in error_of(tmp_path / "r", feed, "tool")


# -- an existing database (extension images) --------------------------------------------------------

def snapshot(base: Path, staging: Path) -> None:
    """What a pkgdb snapshot holds: only var/lib/dpkg."""
    shutil.copytree(base / "var/lib/dpkg", staging / "var/lib/dpkg", symlinks=True)


def test_install_against_existing_database(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    small_feed(feed)
    base = tmp_path / "base"
    build(base, feed, "libc6")
    staging = tmp_path / "staging"
    snapshot(base, staging)
    result = build(staging, feed, "greet")
    assert new_names(result) == ["libgreet", "greet"]
    assert not (staging / "usr/lib/libc.so.6").exists()
    assert [p.name for p in result.packages] == ["greet", "libc6", "libgreet"]  # type: ignore[attr-defined]
    assert (staging / "usr/bin/greet").read_text() == "greet\n"
    db = Database.read(str(staging))
    assert sorted(db.packages) == ["greet", "libc6", "libgreet"]
    # asking again installs nothing
    assert new_names(build(staging, feed, "greet")) == []


def test_upgrade_refused_and_allowed(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    small_feed(feed)
    make_deb(feed, "libc6", "2.35", {"usr/lib/libc.so.6": "old libc\n", "usr/lib/gone.so": "old only\n",
                                     "etc/libc.conf": "a=1\n"}, conffiles=["/etc/libc.conf"],
             scripts={"postrm": '#!/bin/sh\necho "$1 $2" > "$D/postrm-ran"\n'})
    base_feed = tmp_path / "base-feed"
    shutil.move(str(feed / "libc6_2.35_amd64.deb"), base_feed / "libc6_2.35_amd64.deb") if base_feed.mkdir() \
        is None else None
    base = tmp_path / "base"
    build(base, base_feed, "libc6")
    assert (base / "usr/lib/gone.so").exists()
    make_deb(feed, "libc6", "2.36", {"usr/lib/libc.so.6": "new libc\n", "etc/libc.conf": "a=2\n"},
             conffiles=["/etc/libc.conf"])
    assert error_of(base, feed, "greet") == (
        "conf/local.conf:3: error: greet (IMAGE_INSTALL) -> libgreet -> libc6 (>= 2.36): libc6 is installed at "
        "2.35 but the feed has 2.36\n  hint: add libc6 to SYSEXT_ALLOW_UPGRADE to upgrade it")
    result = build(base, feed, "greet", allow_upgrade=frozenset({"libc6"}))
    assert new_names(result) == ["libc6", "libgreet", "greet"]
    assert result.new[0].upgraded_from == "2.35"  # type: ignore[attr-defined]
    assert (base / "usr/lib/libc.so.6").read_text() == "new libc\n"
    assert not (base / "usr/lib/gone.so").exists()
    assert (base / "etc/libc.conf").read_text() == "a=2\n"
    assert (base / "postrm-ran").read_text() == "upgrade 2.36\n"
    assert Database.read(str(base)).packages["libc6"].version == "2.36"
    assert "/usr/lib/gone.so" not in (base / "var/lib/dpkg/info/libc6.list").read_text()
    assert not (base / "var/lib/dpkg/info/libc6.postrm").exists()
    if HAVE_DPKG:
        verify = subprocess.run(["dpkg", f"--root={base}", "-V"], capture_output=True, text=True)
        assert verify.returncode == 0 and verify.stdout == ""


@needs_dpkg
def test_upgrade_matches_dpkg(tmp_path: Path) -> None:
    old_feed, new_feed = tmp_path / "old", tmp_path / "new"
    make_deb(old_feed, "lib", "1.0", {"usr/lib/lib.so.1": "v1\n", "usr/lib/gone.so": "old only\n",
                                      "usr/share/lib/old/x": "x\n", "etc/lib.conf": "a=1\n",
                                      "etc/old.conf": "obsolete\n", "usr/lib/lib.so": ("link", "lib.so.1")},
             conffiles=["/etc/lib.conf", "/etc/old.conf"],
             scripts={"prerm": '#!/bin/sh\necho "prerm $*" >> "$D/var/lib-scripts"\n',
                      "postrm": '#!/bin/sh\necho "postrm $*" >> "$D/var/lib-scripts"\n'})
    make_deb(new_feed, "lib", "2.0", {"usr/lib/lib.so.2": "v2\n", "etc/lib.conf": "a=2\n",
                                      "usr/lib/lib.so": ("link", "lib.so.2")}, conffiles=["/etc/lib.conf"],
             scripts={"preinst": '#!/bin/sh\necho "preinst $*" >> "$D/var/lib-scripts"\n',
                      "postinst": '#!/bin/sh\necho "postinst $*" >> "$D/var/lib-scripts"\n'})
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    (mine / "var").mkdir(parents=True)
    build(mine, old_feed, "lib")
    build_rootfs(str(mine), [str(new_feed)], req("lib", allow_upgrade=frozenset({"lib"})), native_arch="amd64",
                 log=None, clamp=CLAMP)
    dpkg_install(theirs, [str(next(old_feed.glob("*.deb")))])
    env = dict(os.environ, D=str(theirs))
    common = ["dpkg", f"--root={theirs}", "--force-script-chrootless", "--force-not-root", "--log=/dev/null"]
    subprocess.run([*common, "--unpack", str(next(new_feed.glob("*.deb")))], check=True, env=env,
                   capture_output=True)
    subprocess.run([*common, "--configure", "-a"], check=True, env=env, capture_output=True)
    skip = ("var/lib/dpkg/status-old",)
    assert tree(mine, skip) == tree(theirs, skip)
    assert (mine / "var/lib/dpkg/status").read_text() == (theirs / "var/lib/dpkg/status").read_text()
    assert (mine / "var/lib-scripts").read_text() == (theirs / "var/lib-scripts").read_text()


def test_upgrade_keeps_changed_conffile(tmp_path: Path) -> None:
    feed, later = tmp_path / "feed", tmp_path / "later"
    make_deb(feed, "cfg", "1.0", {"etc/cfg.conf": "v1\n"}, conffiles=["/etc/cfg.conf"])
    make_deb(later, "cfg", "2.0", {"etc/cfg.conf": "v2\n"}, conffiles=["/etc/cfg.conf"])
    root = tmp_path / "r"
    build(root, feed, "cfg")
    (root / "etc/cfg.conf").write_text("edited\n")
    build_rootfs(str(root), [str(later)], req("cfg", allow_upgrade=frozenset({"cfg"})), native_arch="amd64",
                 log=None, clamp=CLAMP)
    assert (root / "etc/cfg.conf").read_text() == "edited\n"
    assert (root / "etc/cfg.conf.dpkg-dist").read_text() == "v2\n"


# -- maintainer scripts ----------------------------------------------------------------------------

def test_postinst_offline_and_deferred(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    make_deb(feed, "offline", "1.0", {"usr/bin/offline": "o\n"},
             scripts={"postinst": '#!/bin/sh\nset -e\ncd "$D/"\necho "$PWD $1" > "$D/offline-ran"\n'})
    make_deb(feed, "ontarget", "1.0", {"usr/bin/ontarget": "t\n"}, Depends="offline", scripts={
        "postinst": '#!/bin/sh\nif [ -n "$D" ]; then exit 1; fi\necho "first boot $1" > /tmp/ontarget-ran\n'})
    root = tmp_path / "r"
    result = build(root, feed, "ontarget")
    assert (root / "offline-ran").read_text() == f"{root} configure\n"
    assert result.deferred_postinsts == ("/etc/layerbuild-postinsts/000-ontarget",)  # type: ignore[attr-defined]
    saved = root / "etc/layerbuild-postinsts/000-ontarget"
    assert saved.read_text() == (root / "var/lib/dpkg/info/ontarget.postinst").read_text()
    assert stat.S_IMODE(saved.stat().st_mode) == 0o755
    runner = root / RUNNER
    assert runner.read_text() == RUNNER_SCRIPT and stat.S_IMODE(runner.stat().st_mode) == 0o755
    status = (root / "var/lib/dpkg/status").read_text()
    assert "Package: ontarget\nStatus: install ok unpacked\n" in status
    assert "Package: offline\nStatus: install ok installed\n" in status
    assert sorted(Database.read(str(root)).packages) == ["offline", "ontarget"]
    # the runner, pointed at this root, runs each script once without D, removes it and marks the package
    marker = tmp_path / "marker"
    script = RUNNER_SCRIPT.replace("/etc/layerbuild-postinsts", str(root / "etc/layerbuild-postinsts")) \
        .replace("/var/lib/dpkg/status", str(root / "var/lib/dpkg/status"))
    saved.write_text(saved.read_text().replace("/tmp/ontarget-ran", str(marker)))
    subprocess.run(["sh", "-c", script], check=True, env=dict(os.environ, D=str(root)))
    assert marker.read_text() == "first boot configure\n"
    assert not (root / "etc/layerbuild-postinsts").exists()
    assert (root / "var/lib/dpkg/status").read_text() == status.replace(
        "Package: ontarget\nStatus: install ok unpacked\n", "Package: ontarget\nStatus: install ok installed\n")


def test_failing_scripts(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    make_deb(feed, "bad", "1.0", {"usr/bin/bad": "b\n"}, scripts={"postinst": "#!/bin/sh\necho broken >&2\nexit 2\n"})
    make_deb(feed, "badpre", "1.0", {"usr/bin/badpre": "b\n"}, scripts={"preinst": "#!/bin/sh\nexit 1\n"})
    root = tmp_path / "r"
    log = root.parent / "rootfs.log"
    message = error_of(root, feed, "bad")
    assert message == f"error: bad: postinst script (configure) failed with exit status 2\n  log: {log}"
    assert "broken" in log.read_text()
    assert "bad" not in (root / "var/lib/dpkg/status").read_text()
    assert error_of(tmp_path / "r2", feed, "badpre").startswith(
        "error: badpre: preinst script (install) failed with exit status 1")
    assert not (tmp_path / "r2/usr/bin/badpre").exists()


def test_failure_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    small_feed(feed)
    make_deb(feed, "broken", "1.0", {"usr/bin/broken": "b\n"}, Depends="libgreet",
             scripts={"postinst": "#!/bin/sh\nexit 3\n"})
    root = tmp_path / "r"
    build(root, feed, "libc6")
    before = (root / "var/lib/dpkg/status").read_bytes()
    with pytest.raises(BuildError):
        build(root, feed, "broken")
    assert (root / "var/lib/dpkg/status").read_bytes() == before
    assert sorted(Database.read(str(root)).packages) == ["libc6"]


# -- files -----------------------------------------------------------------------------------------

def test_file_conflict(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    make_deb(feed, "one", "1.0", {"usr/bin/tool": "one\n", "usr/share/x/": ("dir",)})
    make_deb(feed, "two", "2.0", {"usr/bin/tool": "two\n", "usr/share/x/": ("dir",)})
    assert error_of(tmp_path / "r", feed, "one", "two") == (
        "error: two 2.0: trying to overwrite '/usr/bin/tool', which is also in package one 1.0\n"
        "  hint: one of the two packages must declare Replaces (RREPLACES) for the other")


def test_file_over_directory_of_base(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    make_deb(feed, "one", "1.0", {"usr/lib/plugins/a.so": "a\n"})
    make_deb(feed, "two", "2.0", {"usr/lib/plugins": "not a directory\n"})
    base = tmp_path / "base"
    build(base, feed, "one")
    staging = tmp_path / "staging"
    snapshot(base, staging)
    assert error_of(staging, feed, "two") == (
        "error: two 2.0: trying to overwrite directory '/usr/lib/plugins' of package one with a non-directory")


def test_file_conflict_with_base_database(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    make_deb(feed, "one", "1.0", {"usr/bin/tool": "one\n"})
    make_deb(feed, "two", "2.0", {"usr/bin/tool": "two\n"})
    base = tmp_path / "base"
    build(base, feed, "one")
    staging = tmp_path / "staging"
    snapshot(base, staging)
    assert "trying to overwrite '/usr/bin/tool', which is also in package one 1.0" in error_of(staging, feed, "two")


def _raw_deb(feed: Path, name: str, entries: list[tarfile.TarInfo], control_text: str | None = None) -> Path:
    """A package written by hand, for archives and control fields the writer never produces."""
    text = control_text or f"Package: {name}\nVersion: 1.0\nArchitecture: amd64\nMaintainer: x\nDescription: raw\n"
    control = text.encode()
    cinfo = tarfile.TarInfo("./control")
    cinfo.size = len(control)
    members = [(e, b"x" if e.isreg() else None) for e in entries]
    for info, data in members:
        if data is not None:
            info.size = len(data)
    feed.mkdir(parents=True, exist_ok=True)
    blob = b"!<arch>\n" + _ar_member("debian-binary", b"2.0\n", 0) + \
        _ar_member("control.tar.zst", _zst(_tar([(cinfo, control)])), 0) + \
        _ar_member("data.tar.gz", _gz(_tar(members)), 0)
    out = feed / f"{name}_1.0_amd64.deb"
    out.write_bytes(blob)
    return out


def _ar_member(name: str, data: bytes, mtime: int) -> bytes:
    header = f"{name:<16}{mtime:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode()
    return header + data + (b"\n" if len(data) % 2 else b"")


def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _zst(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=3).compress(data)


def _gz(data: bytes) -> bytes:
    import gzip
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()


def _entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info


@pytest.mark.parametrize(("entries", "message"), [
    ([_entry("./../evil")], "refusing entry './../evil' with a '..' component"),
    ([_entry("/etc/evil")], "refusing absolute entry '/etc/evil'"),
    ([_entry("./a/", tarfile.DIRTYPE), _entry("./a/link", tarfile.SYMTYPE, "../../.."), _entry("./a/link/lb-escape-probe")],
     "'/a/link' leads out of the root through a symbolic link"),
    ([_entry("./a/", tarfile.DIRTYPE), _entry("./a/link", tarfile.SYMTYPE, "/../../tmp"), _entry("./a/link/lb-escape-probe")],
     "'/a/link' leads out of the root through a symbolic link"),
    ([_entry("./h", tarfile.LNKTYPE, "/etc/passwd")], "refusing absolute hard link target '/etc/passwd'"),
    ([_entry("./h", tarfile.LNKTYPE, "./nothing")], "hard link '/h' points to '/nothing', which is not an earlier"),
])
def test_unsafe_archives(tmp_path: Path, entries: list[tarfile.TarInfo], message: str) -> None:
    feed = tmp_path / "feed"
    _raw_deb(feed, "evil", entries)
    assert message in error_of(tmp_path / "r", feed, "evil")
    assert not (tmp_path / "evil").exists() and not Path("/tmp/lb-escape-probe").exists()


def test_a_name_with_a_newline_is_refused(tmp_path: Path) -> None:
    """As dpkg refuses it: one such name would corrupt the package's .list and md5sums."""
    feed = tmp_path / "feed"
    _raw_deb(feed, "evil", [_entry("./usr/", tarfile.DIRTYPE), _entry("./usr/a\nb")])
    root = tmp_path / "r"
    assert error_of(root, feed, "evil") == ("error: evil 1.0: refusing './usr/a\\nb': a file name may not contain a "
                                            "newline (it would break the package's file lists; dpkg refuses it too)")
    assert not (root / "usr/a\nb").exists()


def test_existing_database_with_a_bad_stanza_is_refused(tmp_path: Path) -> None:
    """A database read into the installer gets dpkg's grammar: the stanza, the package and the field."""
    feed = tmp_path / "feed"
    small_feed(feed)
    root = tmp_path / "r"
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text(
        "Package: libc6\nStatus: install ok installed\nVersion: 2.36\nArchitecture: amd64\n\n"
        "Package: base\nStatus: install ok installed\nVersion: !!!bad version@@\nArchitecture: amd64\n")
    assert error_of(root, feed, "greet") == (f"error: {root}/var/lib/dpkg/status:6: package base: Version: version "
                                             "'!!!bad version@@' contains a space")


def test_symlinked_directories_inside_root(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    make_deb(feed, "usrmerge", "1.0", {"usr/lib/": ("dir",), "lib": ("link", "/usr/lib")})
    make_deb(feed, "oldstyle", "1.0", {"lib/libold.so": "old\n"}, Depends="usrmerge")
    root = tmp_path / "r"
    result = build(root, feed, "oldstyle")
    assert (root / "usr/lib/libold.so").read_text() == "old\n"
    assert os.readlink(root / "lib") == "/usr/lib"
    assert "/lib/libold.so" in result.owners()  # type: ignore[attr-defined]


def test_unprivileged(tmp_path: Path) -> None:
    """As an ordinary user: no owners are set, everything else is the same."""
    if not ROOT:
        root = tmp_path / "user-root"
        feed = tmp_path / "feed"
        small_feed(feed)
        build(root, feed, "greet")
        assert (root / "usr/bin/greet").exists()
        return
    work = Path(tempfile.mkdtemp(prefix="lb-rootfs-user-"))
    try:
        os.chmod(work, 0o755)
        feed = work / "feed"
        small_feed(feed)
        make_deb(feed, "owned", "1.0", {"usr/share/owned": "o\n"}, owners={"usr/share/owned": (1234, 100)},
                 scripts={"postinst": '#!/bin/sh\necho ran > "$D/postinst-ran"\n'})
        root = work / "user-root"
        root.mkdir()
        os.chown(root, 65534, 65534)
        os.setegid(65534)
        os.seteuid(65534)
        try:
            build_rootfs(str(root), [str(feed)], Request.of(["greet", "owned"]), native_arch="amd64", log=None,
                         clamp=None)
        finally:
            os.seteuid(0)
            os.setegid(0)
        st = (root / "usr/share/owned").stat()
        assert (st.st_uid, st.st_gid) == (65534, 65534)
        assert (root / "postinst-ran").read_text() == "ran\n"
        assert "Package: greet" in (root / "var/lib/dpkg/status").read_text()
    finally:
        shutil.rmtree(work)


def test_a_package_name_dpkg_refuses_is_refused(tmp_path: Path) -> None:
    """The name becomes file names in the database: info/NAME.list."""
    feed = tmp_path / "feed"
    _raw_deb(feed, "evil", [], control_text="Package: ../../../evil\nVersion: 1.0\nArchitecture: amd64\n"
                                            "Maintainer: x\nDescription: raw\n")
    message = error_of(tmp_path / "r", feed, "evil")
    assert message == (f"error: cannot read package {feed}/evil_1.0_amd64.deb: Package: '../../../evil' contains '/': "
                       "a package name may hold only lower-case letters, digits and '+', '-', '.'")
