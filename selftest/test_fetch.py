"""Fetching, unpacking and patching: each fetcher on a DataStore, the errors users meet, and real builds
of ``do_patch`` through the ``fetcher`` class. Everything is local: http sources come from a server on
127.0.0.1, git sources from repositories made in the test.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import Runner, make_build, make_layer

from layerbuild.engine.datastore import DataStore
from layerbuild.engine.signatures import read_sigdata
from layerbuild.fetch import (
    ChecksumError,
    Fetch,
    FetchError,
    LocalFileNotFound,
    NetworkAccess,
    NoChecksumError,
    ParameterError,
    UnpackError,
    UnreachableError,
    get_checksum_file_list,
)
from layerbuild.fetch.mirrors import uri_replace
from layerbuild.fetch.url import decodeurl
from layerbuild.fetch.urldata import mirror_pairs


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def datastore(tmp: Path, src_uri: str = "", **values: str) -> DataStore:
    recipe_dir = tmp / "recipes" / "foo"
    d = DataStore()
    defaults = {"PN": "foo", "BPN": "foo", "PV": "1.0", "BP": "foo-1.0", "FILE": str(recipe_dir / "foo_1.0.bb"),
                "FILESPATH": f"{recipe_dir}/foo-1.0:{recipe_dir}/foo:{recipe_dir}/files",
                "OVERRIDES": "linux:x86-64:pn-foo:genericx86-64:lbdistro:class-target:forcevariable",
                "DL_DIR": str(tmp / "downloads"), "UNPACKDIR": str(tmp / "sources"), "SRC_URI": src_uri}
    defaults.update(values)
    for name, value in defaults.items():
        d.setVar(name, value)
    return d


def fetch_and_unpack(d: DataStore) -> Path:
    fetcher = Fetch(None, d)
    fetcher.download()
    fetcher.unpack(d.getVar("UNPACKDIR"))
    return Path(d.getVar("UNPACKDIR"))


def write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def make_tar(path: Path, entries: dict[str, str | tuple[str, str]], mode: str = "w:gz") -> Path:
    """A tarball: name -> file content, or ("symlink"|"hardlink", target)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, mode) as tar:  # type: ignore[call-overload]
        for name, content in entries.items():
            info = tarfile.TarInfo(name)
            if isinstance(content, tuple):
                info.type = tarfile.SYMTYPE if content[0] == "symlink" else tarfile.LNKTYPE
                info.linkname = content[1]
                tar.addfile(info)
            else:
                data = content.encode()
                info.size = len(data)
                info.mode = 0o755 if name.endswith(".sh") else 0o644
                tar.addfile(info, io.BytesIO(data))
    return path


# -- file:// -----------------------------------------------------------------------------------------


def test_local_file_and_directory_with_subdir(tmp_path: Path) -> None:
    files = tmp_path / "recipes/foo/files"
    write(files / "hello.c", "int main(void) { return 0; }\n")
    write(files / "conf/a.conf", "a\n")
    write(files / "conf/sub/b.conf", "b\n")
    d = datastore(tmp_path, "file://hello.c file://conf;subdir=etc")
    out = fetch_and_unpack(d)
    assert (out / "hello.c").read_text().startswith("int main")
    assert (out / "etc/conf/a.conf").read_text() == "a\n"
    assert (out / "etc/conf/sub/b.conf").read_text() == "b\n"
    assert Fetch(None, d).localpath("file://hello.c") == str(files / "hello.c")


def test_filespath_overrides_and_filesextrapaths(tmp_path: Path) -> None:
    recipe = tmp_path / "recipes/foo"
    write(recipe / "files/a.txt", "plain\n")
    write(recipe / "files/genericx86-64/a.txt", "machine\n")
    write(recipe / "files/lbdistro/a.txt", "distro\n")  # right of the machine in OVERRIDES: wins
    write(recipe / "foo/b.txt", "bpn\n")
    write(recipe / "files/b.txt", "files\n")
    extra = tmp_path / "meta-extra/recipes/foo/files"
    write(extra / "c.txt", "extra\n")
    write(recipe / "files/c.txt", "recipe\n")
    d = datastore(tmp_path, "file://a.txt file://b.txt file://c.txt", FILESEXTRAPATHS=f"{extra}:")
    out = fetch_and_unpack(d)
    assert (out / "a.txt").read_text() == "distro\n"
    assert (out / "b.txt").read_text() == "bpn\n"
    assert (out / "c.txt").read_text() == "extra\n"
    d.setVar("FILESOVERRIDES", "genericx86-64")  # FILESOVERRIDES, when set, replaces OVERRIDES
    assert Fetch(["file://a.txt"], d).localpath("file://a.txt") == str(recipe / "files/genericx86-64/a.txt")


def test_local_name_with_an_at_sign(tmp_path: Path) -> None:
    """file://dropbear@.service names a file, as BitBake reads it (OE's dropbear recipe has one)."""
    unit = write(tmp_path / "recipes/foo/files/dropbear@.service", "[Service]\n")
    assert decodeurl("file://dropbear@.service;subdir=units") == ("file", "", "dropbear@.service", "", "",
                                                                    {"subdir": "units"})
    assert decodeurl("https://user:secret@example.com/x.tar.gz")[3:5] == ("user", "secret")
    out = fetch_and_unpack(datastore(tmp_path, "file://dropbear@.service;subdir=units"))
    assert (out / "units/dropbear@.service").read_text() == unit.read_text()


def test_missing_local_file_names_every_directory(tmp_path: Path) -> None:
    d = datastore(tmp_path, "file://nothere.patch", OVERRIDES="linux:lbdistro")
    with pytest.raises(LocalFileNotFound) as info:
        Fetch(None, d).download()
    text = info.value.format()
    recipe = tmp_path / "recipes/foo"
    assert "recipe foo: file://nothere.patch: 'nothere.patch' not found in any of the 9 directories" in text
    for directory in ("foo-1.0/lbdistro", "foo/linux", "files", "foo-1.0"):
        assert f"searched {recipe / directory}\n" in text + "\n"
    assert text.index("files/lbdistro") < text.index("files/linux") < text.index(f"searched {recipe}/files\n")
    # the signature still watches the file, where it would be found first
    assert get_checksum_file_list(d) == f"{recipe}/foo-1.0/lbdistro/nothere.patch:False"


# -- archives over http -----------------------------------------------------------------------------


def test_tarball_over_http_with_checksum(tmp_path: Path, server: tuple[str, Path]) -> None:
    base, www = server
    tarball = make_tar(www / "good-1.0.tar.gz", {"good-1.0/src/main.c": "main\n", "good-1.0/run.sh": "#!/bin/sh\n"})
    d = datastore(tmp_path, f"{base}/good-1.0.tar.gz")
    d.setVarFlag("SRC_URI", "sha256sum", sha256(tarball))
    out = fetch_and_unpack(d)
    assert (out / "good-1.0/src/main.c").read_text() == "main\n"
    assert os.access(out / "good-1.0/run.sh", os.X_OK)
    dl = tmp_path / "downloads"
    assert (dl / "good-1.0.tar.gz.done").read_text().strip() == sha256(tarball)
    # fetched once: a second download needs no server
    d.setVar("BB_NO_NETWORK", "1")
    Fetch(None, d).download()


def test_checksum_mismatch_keeps_nothing_in_dl_dir(tmp_path: Path, server: tuple[str, Path]) -> None:
    base, www = server
    tarball = make_tar(www / "bad-1.0.tar.xz", {"bad-1.0/x": "x\n"}, "w:xz")
    d = datastore(tmp_path, f"{base}/bad-1.0.tar.xz;name=bad")
    d.setVarFlag("SRC_URI", "bad.sha256sum", "0" * 64)
    with pytest.raises(ChecksumError) as info:
        Fetch(None, d).download()
    first = info.value.format().splitlines()[0]
    assert f"recipe foo: sha256 mismatch for {base}/bad-1.0.tar.xz;name=bad: expected {'0' * 64}, " \
           f"got {sha256(tarball)}" in first
    assert sorted(p.name for p in (tmp_path / "downloads").iterdir()) == ["bad-1.0.tar.xz.lock"]


def test_missing_checksum_for_remote_url(tmp_path: Path, server: tuple[str, Path]) -> None:
    base, www = server
    tarball = make_tar(www / "nosum.tar.bz2", {"nosum/x": "x\n"}, "w:bz2")
    d = datastore(tmp_path, f"{base}/nosum.tar.bz2")
    with pytest.raises(NoChecksumError) as info:
        Fetch(None, d).download()
    assert f"recipe foo: {base}/nosum.tar.bz2 has no checksum: SRC_URI[sha256sum] is not set" in str(info.value)
    assert f'add SRC_URI[sha256sum] = "{sha256(tarball)}"' in str(info.value)
    assert not (tmp_path / "downloads/nosum.tar.bz2").exists()


def test_zip_single_files_unpack0_downloadfilename_striplevel(tmp_path: Path, server: tuple[str, Path]) -> None:
    base, www = server
    with zipfile.ZipFile(www / "z.zip", "w") as zf:
        info = zipfile.ZipInfo("z/tool.sh")
        info.external_attr = 0o100755 << 16
        zf.writestr(info, "#!/bin/sh\n")
        zf.writestr("z/doc/readme", "read me\n")
    (www / "data.txt.gz").write_bytes(gzip.compress(b"data\n"))
    make_tar(www / "deep.tar", {"a/b/c.txt": "c\n"}, "w")
    import zstandard
    tarball = make_tar(tmp_path / "z.tar", {"zst/f": "zstd\n"}, "w")
    (www / "z.tar.zst").write_bytes(zstandard.ZstdCompressor().compress(tarball.read_bytes()))
    entries = {"z": f"{base}/z.zip", "data": f"{base}/data.txt.gz", "deep": f"{base}/deep.tar;striplevel=1;subdir=deep",
               "copy": f"{base}/z.zip;unpack=0;downloadfilename=copy.zip", "zst": f"{base}/z.tar.zst"}
    d = datastore(tmp_path, " ".join(f"{url};name={name}" for name, url in entries.items()))
    for name, file in (("z", "z.zip"), ("data", "data.txt.gz"), ("deep", "deep.tar"), ("copy", "z.zip"),
                       ("zst", "z.tar.zst")):
        d.setVarFlag("SRC_URI", f"{name}.sha256sum", sha256(www / file))
    out = fetch_and_unpack(d)
    assert os.access(out / "z/tool.sh", os.X_OK) and (out / "z/doc/readme").read_text() == "read me\n"
    assert (out / "data.txt").read_text() == "data\n"
    assert (out / "deep/b/c.txt").read_text() == "c\n"
    assert (out / "copy.zip").read_bytes() == (www / "z.zip").read_bytes()
    assert (tmp_path / "downloads/copy.zip.done").exists()
    assert (out / "zst/f").read_text() == "zstd\n"


def test_unreachable_url(tmp_path: Path, server: tuple[str, Path]) -> None:
    base, _ = server
    d = datastore(tmp_path, f"{base}/missing-1.0.tar.gz")
    d.setVarFlag("SRC_URI", "sha256sum", "0" * 64)
    with pytest.raises(UnreachableError) as info:
        Fetch(None, d).download()
    text = str(info.value)
    assert f"recipe foo: cannot fetch {base}/missing-1.0.tar.gz: no source could deliver it" in text
    assert f"tried {base}/missing-1.0.tar.gz: HTTP 404" in text


# -- mirrors and BB_NO_NETWORK ------------------------------------------------------------------------


def test_uri_replace_like_bitbake() -> None:
    url = "https://example.com/releases/foo/foo-1.0.tar.gz"
    assert uri_replace(url, "foo-1.0.tar.gz", "https?://.*/.*", "file:///mirror/") == "file:///mirror/foo-1.0.tar.gz"
    assert uri_replace(url, "foo-1.0.tar.gz", "https?://.*/.*", "file:///mirror/PATH") \
        == "file:///mirror/releases/foo/foo-1.0.tar.gz"
    assert uri_replace(url, "foo-1.0.tar.gz", "https://example.com/.*", "http://m.example.org/BASENAME") \
        == "http://m.example.org/foo-1.0.tar.gz"
    assert uri_replace(url, "foo-1.0.tar.gz", "http://.*/.*", "file:///mirror/") is None
    assert uri_replace("git://host/a/b.git;protocol=https;branch=main", None, "git://host/.*",
                       "git:///srv/git/BASENAME;protocol=file") == "git:///srv/git/b.git;protocol=file;branch=main"
    assert mirror_pairs("a b \\n c d\n") == [("a", "b"), ("c", "d")]


def test_premirrors_mirrors_and_no_network(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    tarball = make_tar(mirror / "m-1.0.tar.gz", {"m-1.0/f": "from mirror\n"})
    upstream = "http://127.0.0.1:9/pub/m-1.0.tar.gz"  # the discard port: nothing answers
    d = datastore(tmp_path, upstream, PREMIRRORS=f"http://.*/.* file://{mirror}/ \\n")
    d.setVarFlag("SRC_URI", "sha256sum", sha256(tarball))
    d.setVar("BB_NO_NETWORK", "1")  # a file:// mirror needs no network
    assert (fetch_and_unpack(d) / "m-1.0/f").read_text() == "from mirror\n"

    d = datastore(tmp_path / "2", upstream, MIRRORS=f"https?://.*/.* file://{mirror}/PATH\nhttp://.*/.* file://{mirror}/")
    d.setVarFlag("SRC_URI", "sha256sum", sha256(tarball))
    Fetch(None, d).download()  # upstream refused, the first mirror has no /pub/..., the second has it
    assert (tmp_path / "2/downloads/m-1.0.tar.gz.done").exists()

    d = datastore(tmp_path / "3", upstream, MIRRORS=f"http://.*/.* file://{tmp_path}/empty/", BB_NO_NETWORK="1")
    d.setVarFlag("SRC_URI", "sha256sum", sha256(tarball))
    with pytest.raises(NetworkAccess) as info:
        Fetch(None, d).download()
    text = str(info.value)
    assert f"recipe foo: cannot fetch {upstream}: BB_NO_NETWORK is set" in text
    assert f"not tried (needs network): {upstream}" in text
    assert f"tried file://{tmp_path}/empty/m-1.0.tar.gz: No such file or directory" in text


# -- unpacking safely -------------------------------------------------------------------------------


@pytest.mark.parametrize(("entries", "message"), [
    ({"ok/a": "a", "../evil": "x"}, "entry '../evil' would escape the unpack directory ('..')"),
    ({"ok/a": "a", "ok/../../evil": "x"}, "entry 'ok/../../evil' would escape the unpack directory"),
    ({"/etc/evil": "x"}, "entry '/etc/evil' has an absolute path"),
    ({"link": ("symlink", "/etc")}, "symbolic link 'link' -> '/etc' points outside the unpack directory"),
    ({"d/link": ("symlink", "../../x")}, "symbolic link 'd/link' -> '../../x' points outside"),
    ({"p": ("symlink", "q/.."), "q": ("symlink", ".")}, "symbolic link 'p' -> 'q/..' resolves outside"),
    ({"h": ("hardlink", "../outside")}, "hard link 'h' -> '../outside' points outside"),
], ids=["dotdot", "inner-dotdot", "absolute", "symlink-absolute", "symlink-relative", "symlink-chain",
        "hardlink"])
def test_unpack_refuses_escapes(tmp_path: Path, entries: dict[str, str | tuple[str, str]], message: str) -> None:
    make_tar(tmp_path / "recipes/foo/files/evil.tar.gz", entries)
    d = datastore(tmp_path, "file://evil.tar.gz")
    with pytest.raises(UnpackError) as info:
        fetch_and_unpack(d)
    first = info.value.format().splitlines()[0]
    assert "recipe foo: cannot unpack file://evil.tar.gz" in first
    assert message in first
    assert not (tmp_path / "evil").exists() and not (tmp_path / "x").exists()


def test_zip_escape_refused(tmp_path: Path) -> None:
    path = tmp_path / "recipes/foo/files/evil.zip"
    path.parent.mkdir(parents=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("../evil", "x")
    with pytest.raises(UnpackError, match=r"entry '../evil' would escape"):
        fetch_and_unpack(datastore(tmp_path, "file://evil.zip"))


# -- git ----------------------------------------------------------------------------------------------


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": "/dev/null"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], str]:
    """A repository with two commits on main and one on a side branch: (path, main commits, side commit)."""
    path = tmp_path_factory.mktemp("repo") / "proj.git"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    commits = []
    for version in ("1", "2"):
        (path / "version").write_text(version + "\n")
        git(path, "add", "version")
        git(path, "commit", "-q", "-m", f"version {version}")
        commits.append(git(path, "rev-parse", "HEAD"))
    git(path, "checkout", "-q", "-b", "side", commits[0])
    (path / "side").write_text("side\n")
    git(path, "add", "side")
    git(path, "commit", "-q", "-m", "side")
    side = git(path, "rev-parse", "HEAD")
    git(path, "checkout", "-q", "main")
    return path, commits, side


def test_git_local_repository_at_srcrev(tmp_path: Path, repo: tuple[Path, list[str], str]) -> None:
    path, commits, side = repo
    d = datastore(tmp_path, f"git://{path};branch=main;protocol=file", SRCREV=commits[0])
    out = fetch_and_unpack(d)
    assert (out / "git/version").read_text() == "1\n"
    assert git(out / "git", "rev-parse", "HEAD") == commits[0]
    assert git(out / "git", "rev-parse", "--abbrev-ref", "HEAD") == "main"
    mirror = tmp_path / "downloads/git2" / str(path).lstrip("/").replace("/", ".")
    assert (mirror / "HEAD").exists() and Fetch(None, d).localpaths() == [str(mirror)]
    # a newer SRCREV fetches into the existing mirror; git:///path works without protocol=
    d = datastore(tmp_path, f"git://{path};branch=side;destsuffix=src/", SRCREV=side)
    out = fetch_and_unpack(d)
    assert (out / "src/side").read_text() == "side\n"


def test_git_branch_and_srcrev_errors(tmp_path: Path, repo: tuple[Path, list[str], str]) -> None:
    path, commits, side = repo
    url = f"git://{path};branch=main"
    with pytest.raises(ParameterError, match=rf"commit {side} is not on branch 'main'"):
        Fetch(None, datastore(tmp_path, url, SRCREV=side)).download()
    out = fetch_and_unpack(datastore(tmp_path, url + ";nobranch=1", SRCREV=side))
    assert (out / "git/side").exists()
    with pytest.raises(ParameterError, match=r"recipe foo: git://.*: SRCREV is not set"):
        Fetch(None, datastore(tmp_path, url))
    with pytest.raises(ParameterError, match=r"SRCREV is AUTOREV, which layerbuild does not support"):
        Fetch(None, datastore(tmp_path, url, SRCREV="AUTOINC"))
    with pytest.raises(ParameterError, match=r'SRCREV = "main" is not a full commit id'):
        Fetch(None, datastore(tmp_path, url, SRCREV="main"))
    with pytest.raises(UnreachableError, match=r"the repository has no commit f{40}"):
        Fetch(None, datastore(tmp_path / "x", url, SRCREV="f" * 40)).download()
    with pytest.raises(NetworkAccess):
        Fetch(None, datastore(tmp_path, "git://example.com/x.git;protocol=https;branch=main",
                              SRCREV=commits[0], BB_NO_NETWORK="1")).download()


# -- patches and the fetcher class in real builds ----------------------------------------------------

HELLO = "line 1\nline 2\nline 3\n"


def diff(old: str, new: str, name: str, strip: str = "a/") -> str:
    import difflib
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"{strip}{name}",
                                        f"{strip.replace('a', 'b')}{name}"))


@pytest.fixture
def lbt(lb: Runner) -> Runner:
    """``lb`` with sys.stderr on fd 2 while it runs: task workers write their log through sys.stderr after
    pointing fd 2 at the log file, and capsys's replacement stream would swallow it."""

    def run(*args: str) -> tuple[int, str, str]:
        saved = sys.stderr
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        try:
            return lb(*args)
        finally:
            sys.stderr.flush()
            sys.stderr = saved

    return run


def build_with(tmp_path: Path, recipe: str, files: dict[str, str]) -> Path:
    layer = make_layer(tmp_path, "fetch", {"recipes/foo/foo_1.0.bb": recipe, **files})
    return make_build(tmp_path, [layer])


def unpackdir(build: Path) -> Path:
    return next((build / "tmp/work").glob("*/foo/1.0-r0")) / "sources"


def task_log(build: Path, task: str) -> str:
    return (unpackdir(build).parent / "temp" / f"log.{task}").read_text()


def test_patches_in_a_build(tmp_path: Path, lbt: Runner) -> None:
    files = {
        "recipes/foo/files/foo-1.0/hello.txt": HELLO,
        "recipes/foo/files/foo-1.0/sub/other.txt": HELLO,
        "recipes/foo/files/0001-first.patch": diff(HELLO, HELLO.replace("line 1", "first"), "hello.txt"),
        "recipes/foo/files/0002-p0.diff": diff(HELLO, HELLO.replace("line 2", "second"), "sub/other.txt", ""),
        "recipes/foo/files/0003-skipped.patch": "this is not a patch\n",
        "recipes/foo/files/fix.txt": diff(HELLO, HELLO.replace("line 3", "third"), "other.txt"),
    }
    recipe = """
        LICENSE = "MIT"
        SRC_URI = "file://foo-1.0 file://0001-first.patch file://0002-p0.diff;striplevel=0 \\
                   file://0003-skipped.patch;apply=no file://fix.txt;apply=yes;patchdir=sub"
    """
    build = build_with(tmp_path, recipe, files)
    status, _, err = lbt("-B", str(build), "foo:do_patch")
    assert status == 0, err
    out = unpackdir(build)
    assert (out / "foo-1.0/hello.txt").read_text() == HELLO.replace("line 1", "first")
    assert (out / "foo-1.0/sub/other.txt").read_text() == HELLO.replace("line 2", "second").replace("line 3", "third")
    assert (out / "0003-skipped.patch").exists()


def test_failing_patch_names_patch_and_hunk(tmp_path: Path, lbt: Runner) -> None:
    files = {
        "recipes/foo/files/foo-1.0/hello.txt": HELLO,
        "recipes/foo/files/bad.patch": diff("other 1\nother 2\n", "other 1\nchanged\n", "hello.txt"),
        "recipes/foo/files/wrong-strip.patch": diff(HELLO, HELLO.replace("line 1", "x"), "hello.txt", "a/b/"),
    }
    build = build_with(tmp_path, 'LICENSE = "MIT"\nSRC_URI = "file://foo-1.0 file://bad.patch"\n', files)
    assert lbt("-B", str(build), "foo:do_patch")[0] == 1
    log = task_log(build, "do_patch")
    assert "ERROR: " in log and "recipe foo: patch bad.patch does not apply: hello.txt: Hunk #1 FAILED at 1" in log
    assert (unpackdir(build) / "foo-1.0/hello.txt").read_text() == HELLO  # the dry run left it untouched
    assert not list(unpackdir(build).rglob("*.rej"))

    (build.parent / "meta-fetch/recipes/foo/foo_1.0.bb").write_text(
        'LICENSE = "MIT"\nSRC_URI = "file://foo-1.0 file://wrong-strip.patch"\n')
    assert lbt("-B", str(build), "foo:do_patch")[0] == 1
    log = task_log(build, "do_patch")
    assert "patch wrong-strip.patch does not apply: can't find file to patch: a/b/hello.txt" in log
    assert "check striplevel= (now 1)" in log


def test_patchdir_may_leave_s_for_workdir_but_not_workdir(tmp_path: Path, lbt: Runner) -> None:
    files = {
        "recipes/foo/files/foo-1.0/hello.txt": HELLO,
        "recipes/foo/files/up.patch": diff(HELLO, HELLO.replace("line 1", "from above"), "foo-1.0/hello.txt"),
    }
    # OE recipes say patchdir=.. when S is a directory inside the unpacked tree
    build = build_with(tmp_path, 'LICENSE = "MIT"\nSRC_URI = "file://foo-1.0 file://up.patch;patchdir=.."\n', files)
    status, _, err = lbt("-B", str(build), "foo:do_patch")
    assert status == 0, err
    assert (unpackdir(build) / "foo-1.0/hello.txt").read_text() == HELLO.replace("line 1", "from above")

    (build.parent / "meta-fetch/recipes/foo/foo_1.0.bb").write_text(
        'LICENSE = "MIT"\nSRC_URI = "file://foo-1.0 file://up.patch;patchdir=../../../../../.."\n')
    assert lbt("-B", str(build), "foo:do_patch")[0] == 1
    log = task_log(build, "do_patch")
    assert "recipe foo: file://up.patch;patchdir=../../../../../..: patchdir=../../../../../.. is " in log
    assert "outside S (" in log and "a patch may change only the recipe's tree" in log


def test_bbappend_filesextrapaths_and_signature(tmp_path: Path, lbt: Runner) -> None:
    recipe = 'LICENSE = "MIT"\nSRC_URI = "file://a.txt"\nS = "${UNPACKDIR}"\n'
    layer = make_layer(tmp_path, "fetch", {"recipes/foo/foo_1.0.bb": recipe, "recipes/foo/files/a.txt": "base\n"})
    extra = make_layer(tmp_path, "extra", {
        "recipes/foo/foo_%.bbappend": 'FILESEXTRAPATHS:prepend := "${THISDIR}/files:"\n',
        "recipes/foo/files/a.txt": "from the bbappend\n"}, priority=7)
    build = make_build(tmp_path, [layer, extra])
    assert lbt("-B", str(build), "foo:do_unpack")[0] == 0
    assert (unpackdir(build) / "a.txt").read_text() == "from the bbappend\n"
    sigdata = read_sigdata(str(next((build / "tmp/stamps").glob("*/foo/1.0-r0.do_fetch.sigdata.*"))))
    assert list(sigdata["files"]) == [str(extra / "recipes/foo/files/a.txt")]


def test_editing_a_local_file_refetches(tmp_path: Path, lbt: Runner) -> None:
    recipe = 'LICENSE = "MIT"\nSRC_URI = "file://a.txt"\nS = "${UNPACKDIR}"\n'
    build = build_with(tmp_path, recipe, {"recipes/foo/files/a.txt": "one\n"})
    assert lbt("-B", str(build), "foo:do_unpack")[0] == 0
    (tmp_path / "meta-fetch/recipes/foo/files/a.txt").write_text("two\n")
    assert lbt("-B", str(build), "foo:do_unpack")[0] == 0
    assert (unpackdir(build) / "a.txt").read_text() == "two\n"


def test_missing_file_in_a_build(tmp_path: Path, lbt: Runner) -> None:
    build = build_with(tmp_path, 'LICENSE = "MIT"\nSRC_URI = "file://gone.c"\n', {})
    assert lbt("-B", str(build), "foo:do_fetch")[0] == 1
    log = task_log(build, "do_fetch")
    assert "meta-fetch/recipes/foo/foo_1.0.bb:2: " in log
    assert "recipe foo: file://gone.c: 'gone.c' not found in any of the" in log
    assert f"searched {build.parent}/meta-fetch/recipes/foo/files\n" in log


def test_bb_fetch2_is_imported_lazily() -> None:
    code = ("import sys, layerbuild.engine.evaluate as e, layerbuild.builtins as b; "
            "assert 'layerbuild.fetch' not in sys.modules; bb = e.new_datastore(hooks=b.HOOKS).pyglobals['bb']; "
            "assert bb.fetch2.Fetch.__name__ == 'Fetch'; assert issubclass(bb.fetch2.FetchError, Exception)")
    subprocess.run([sys.executable, "-c", code], check=True)


# -- cleaning (do_cleanall) ---------------------------------------------------------------------------


def test_clean_removes_downloads_and_an_unpack_fetches_a_vanished_one_again(
        tmp_path: Path, server: tuple[str, Path], repo: tuple[Path, list[str], str]) -> None:
    base, www = server
    tarball = make_tar(www / "gone-1.0.tar.gz", {"gone-1.0/a": "a\n"})
    path, commits, _ = repo
    write(tmp_path / "recipes/foo/files/local.txt", "mine\n")
    urls = f"{base}/gone-1.0.tar.gz git://{path};branch=main;protocol=file file://local.txt"
    d = datastore(tmp_path, urls, SRCREV=commits[1])
    d.setVarFlag("SRC_URI", "sha256sum", sha256(tarball))
    fetch_and_unpack(d)
    dl = tmp_path / "downloads"
    mirror = dl / "git2" / str(path).lstrip("/").replace("/", ".")
    write(dl / "another-recipe.tar.gz", "not ours\n")
    Fetch(None, d).clean()
    assert sorted(p.name for p in dl.iterdir()) == ["another-recipe.tar.gz", "git2", "gone-1.0.tar.gz.lock"]
    assert not mirror.exists() and (tmp_path / "recipes/foo/files/local.txt").read_text() == "mine\n"
    # another recipe with the same download, whose do_fetch ran before: its unpack fetches it again
    Fetch(None, d).unpack(d.getVar("UNPACKDIR"))
    out = Path(d.getVar("UNPACKDIR"))
    assert (out / "gone-1.0/a").read_text() == "a\n" and (out / "git/version").read_text() == "2\n"
    assert (dl / "gone-1.0.tar.gz.done").read_text().strip() == sha256(tarball)
    # never through a link out of DL_DIR
    canary = tmp_path / "canary"
    canary.mkdir()
    write(canary / mirror.name / "HEAD", "host file\n")
    shutil.rmtree(dl / "git2")
    (dl / "git2").symlink_to(canary)
    with pytest.raises(FetchError, match=rf"not removing {mirror}: {dl}/git2 leads outside {dl} through a"):
        Fetch(None, d).clean()
    assert (canary / mirror.name / "HEAD").read_text() == "host file\n"

