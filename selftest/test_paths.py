"""No name from metadata writes outside the directory it belongs under: fsutil.join_under, the directory
variables checked before any task runs, PN/PV/PR, SRC_URI subdir=/destsuffix= and file:// names, and zip
archives checked whole before anything is created."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
from conftest import Runner, make_build, make_layer
from test_fetch import datastore, fetch_and_unpack, write

from layerbuild.fetch import UnpackError
from layerbuild.fetch.unpack import ArchiveProblem, extract_zip
from layerbuild.util.fsutil import PathEscape, join_under

# -- the helper ---------------------------------------------------------------------------------------


def test_join_under_keeps_names_below_their_root() -> None:
    assert join_under("/b/tmp", "work", "x86_64", "foo", "1.0-r0") == "/b/tmp/work/x86_64/foo/1.0-r0"
    assert join_under("/b/tmp", "a/./b/../c") == "/b/tmp/a/c"
    assert join_under("/", "etc") == "/etc"


@pytest.mark.parametrize(("root", "name", "message"), [
    ("/b/tmp", "..", "would leave /b/tmp"),
    ("/b/tmp", "a/../../etc", "would leave /b/tmp"),
    ("/b/tmp", ".", "would leave /b/tmp"),  # the root itself is no name below it
    ("/b/tmp", "", "would leave /b/tmp"),
    ("/b/tmp", "/etc/passwd", "is an absolute path"),
    ("", "stamps", "has no directory to go under"),
])
def test_join_under_refuses_what_leaves_its_root(root: str, name: str, message: str) -> None:
    with pytest.raises(PathEscape, match=message):
        join_under(root, name)


# -- directory variables and names, checked before anything is written --------------------------------

def _build(tmp_path: Path, local: str = "", recipe: str = 'LICENSE = "MIT"\n', name: str = "foo_1.0.bb") -> Path:
    layer = make_layer(tmp_path, "paths", {f"recipes/foo/{name}": recipe})
    return make_build(tmp_path, [layer], local=local)


@pytest.mark.parametrize(("setting", "problem"), [
    ('TMPDIR = ""', "TMPDIR is empty"),
    ('TMPDIR = "tmp"', "TMPDIR is 'tmp', a relative path"),
    ('CACHE = "/"', "CACHE is '/', the root directory"),
], ids=["empty", "relative", "cache-root"])
def test_a_bad_directory_the_parse_writes_below_is_an_error_at_its_line(tmp_path: Path, lb: Runner, setting: str,
                                                                         problem: str) -> None:
    build = _build(tmp_path, local=f"\n{setting}\n")
    before = set(os.listdir("/"))
    for args in (("foo",), ("-p",), ("-e", "foo")):
        status, _out, err = lb("-B", str(build), *args)
        local = build / "conf" / "local.conf"
        line = local.read_text().splitlines().index(setting) + 1
        assert status == 1
        assert err.splitlines()[0] == f"{local}:{line}: error: {problem}: it must be an absolute directory other than /"
        assert "Traceback" not in err
        assert set(os.listdir("/")) == before  # no /stamps, /work, /deploy, /cache
        assert sorted(os.listdir(build)) == ["conf"]


@pytest.mark.parametrize(("setting", "problem", "task", "before_any"), [
    ('SSTATE_DIR = "/"', "SSTATE_DIR is '/', the root directory", "do_package", True),
    ('DEPLOY_DIR = "  "', "DEPLOY_DIR is empty", "do_package_write_deb", True),
    ('DL_DIR = "//"', "DL_DIR is '//', the root directory", "do_fetch", False),
    ('DL_DIR = "downloads"', "DL_DIR is 'downloads', a relative path", "do_fetch", False),
    ("unset DL_DIR", "DL_DIR is not set", "do_fetch", False),
], ids=["sstate-root", "deploy-blank", "dl-root-twice", "dl-relative", "dl-unset"])
def test_a_bad_directory_is_an_error_when_a_task_that_writes_below_it_is_to_run(
        tmp_path: Path, lb: Runner, setting: str, problem: str, task: str, before_any: bool) -> None:
    # BitBake needs none of these to parse: -p and -e read such a configuration
    build = _build(tmp_path, local=f"\n{setting}\n", recipe='LICENSE = "MIT"\nINHIBIT_DEFAULT_DEPS = "1"\n')
    before = set(os.listdir("/"))
    status, out, err = lb("-B", str(build), "-p")
    assert status == 0 and "0 errors" in out, err
    status, out, _err = lb("-B", str(build), "-e", "foo")
    assert status == 0 and 'PN="foo"' in out.splitlines()
    status, _out, err = lb("-B", str(build), "-j", "1", "foo")
    local = build / "conf" / "local.conf"
    line = local.read_text().splitlines().index(setting) + 1
    where = f"{local}:{line}" if "unset" not in setting else str(local)
    message = f"{where}: error: {problem}: foo:{task} writes below it, so it must be an absolute directory other than /"
    assert status == 1
    if before_any:  # a shared-state task: before any task runs
        assert err.splitlines()[0] == message, err
        assert not (build / "tmp" / "work").exists()
    else:  # a task's own [dirs]: when the task is about to run, before it writes anything
        assert f"ERROR: Task foo:{task} failed: {message}" in err.splitlines(), err
        assert not list((build / "tmp" / "stamps").rglob(f"*.{task}.*"))
    assert "Traceback" not in err
    assert set(os.listdir("/")) == before
    assert not (build / "downloads").exists() and not (tmp_path / "downloads").exists()


def test_a_task_does_not_clean_a_bad_directory_its_cleandirs_name(tmp_path: Path, lb: Runner,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # do_install[cleandirs] = "${D}": a relative D would be cleaned in the directory the build runs in
    build = _build(tmp_path, recipe='LICENSE = "MIT"\nINHIBIT_DEFAULT_DEPS = "1"\nD = "image"\n')
    canary = tmp_path / "image" / "canary"
    canary.parent.mkdir()
    canary.write_text("still here")
    monkeypatch.chdir(tmp_path)
    status, _out, err = lb("-B", str(build), "-j", "1", "foo:do_install")
    recipe = tmp_path / "meta-paths/recipes/foo/foo_1.0.bb"
    assert status == 1
    assert f"ERROR: Task foo:do_install failed: {recipe}:3: error: D is 'image', a relative path: foo:do_install " \
        "writes below it, so it must be an absolute directory other than /" in err.splitlines(), err
    assert canary.read_text() == "still here"


def test_tasks_that_write_below_no_bad_directory_run(tmp_path: Path, lb: Runner) -> None:
    # up to do_install nothing is written below SSTATE_DIR or DEPLOY_DIR, and do_fetch[dirs] names DL_DIR
    build = _build(tmp_path, local='\nSSTATE_DIR = "/"\nDEPLOY_DIR = ""\n',
                   recipe='LICENSE = "MIT"\nINHIBIT_DEFAULT_DEPS = "1"\n')
    before = set(os.listdir("/"))
    status, _out, err = lb("-B", str(build), "foo:do_install")
    assert status == 0, err
    assert next((build / "tmp" / "work").glob("*/foo/1.0-r0/temp/log.do_install")).is_file()
    assert (build / "downloads").is_dir()
    assert set(os.listdir("/")) == before


def test_a_recipe_that_points_workdir_at_the_root_is_refused_before_any_task(tmp_path: Path, lb: Runner) -> None:
    build = _build(tmp_path, recipe='LICENSE = "MIT"\nWORKDIR = "/"\n')
    status, _out, err = lb("-B", str(build), "foo")
    recipe = tmp_path / "meta-paths/recipes/foo/foo_1.0.bb"
    assert status == 1
    assert err.splitlines()[0].startswith(f"{recipe}:2: error: WORKDIR is '/', the root directory: foo:do_")
    assert not (build / "tmp" / "stamps").exists()


@pytest.mark.parametrize(("recipe", "line", "problem"), [
    ('LICENSE = "MIT"\nPN = ".."\n', 2, "PN is '..'"),
    ('LICENSE = "MIT"\nPV = "1/../../../../../escape"\n', 2, "PV is '1/../../../../../escape', which contains '/'"),
    ('LICENSE = "MIT"\nPR = "r0/../../.."\n', 2, "PR is 'r0/../../..', which contains '/'"),
], ids=["pn", "pv", "pr"])
def test_pn_pv_pr_are_one_path_component(tmp_path: Path, lb: Runner, recipe: str, line: int, problem: str) -> None:
    build = _build(tmp_path, recipe=recipe)
    status, _out, err = lb("-B", str(build), "-c", "fetch", "foo" if "PN" not in recipe else "..")
    path = tmp_path / "meta-paths/recipes/foo/foo_1.0.bb"
    assert status == 1, err
    assert err.splitlines()[0].startswith(f"{path}:{line}: error: {problem}"), err
    assert not (tmp_path / "escape").exists()
    assert not (build / "tmp" / "work").exists()


# -- SRC_URI names -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("src_uri", "message"), [
    ("file://a.txt;subdir=../../escape", "subdir '../../escape' would leave"),
    ("file://a.txt;subdir={tmp}/escape", "subdir '{tmp}/escape' is an absolute path"),
    ("file://../../x/a.txt", "file name '../../x/a.txt' would leave"),
], ids=["subdir", "subdir-absolute", "file-dotdot"])
def test_src_uri_names_stay_in_the_unpack_directory(tmp_path: Path, src_uri: str, message: str) -> None:
    write(tmp_path / "recipes/foo/files/a.txt", "a")
    write(tmp_path / "recipes/x/a.txt", "outside")  # what file://../../x/a.txt finds from recipes/foo/files
    with pytest.raises(UnpackError) as info:
        fetch_and_unpack(datastore(tmp_path, src_uri.format(tmp=tmp_path)))
    assert message.format(tmp=tmp_path) in info.value.format().splitlines()[0]
    assert not (tmp_path / "escape").exists()
    assert not (tmp_path / "sources").exists() or os.listdir(tmp_path / "sources") == []


def test_src_uri_subdir_error_names_the_recipe_line(tmp_path: Path, lb: Runner) -> None:
    recipe = 'LICENSE = "MIT"\nSRC_URI = "file://a.txt;subdir=../../../escape"\n'
    build = _build(tmp_path, recipe=recipe)
    write(tmp_path / "meta-paths/recipes/foo/files/a.txt", "a")
    status, _out, err = lb("-B", str(build), "-c", "unpack", "foo")
    assert status == 1
    assert "subdir '../../../escape' would leave" in err
    assert f"{tmp_path / 'meta-paths/recipes/foo/foo_1.0.bb'}:2: error:" in err
    assert "Traceback" not in err
    assert not list(tmp_path.rglob("escape"))


# -- zip archives ------------------------------------------------------------------------------------

def _zip(path: Path, entries: list[tuple[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in entries:
            zf.writestr(name, text)
    return path


def test_zip_is_checked_whole_before_any_directory_is_created(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "a.zip", [("deep/dir/a.txt", "a"), ("../evil", "x")])
    with pytest.raises(ArchiveProblem, match=r"entry '../evil' would escape"):
        extract_zip(str(archive), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()  # not even deep/dir
    assert not (tmp_path / "evil").exists()


def test_zip_file_directory_clash_in_the_archive_is_an_error(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "a.zip", [("x", "file"), ("x/y", "below a file")])
    with pytest.raises(ArchiveProblem, match=r"entry 'x/y' needs 'x' to be a directory, but the archive has it as "
                                             r"a file"):
        extract_zip(str(archive), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_zip_clash_with_the_unpack_directory_is_a_located_error(tmp_path: Path) -> None:
    _zip(tmp_path / "recipes/foo/files/a.zip", [("x/y", "y")])
    write(tmp_path / "sources" / "x", "a file where the archive wants a directory")
    with pytest.raises(UnpackError) as info:
        fetch_and_unpack(datastore(tmp_path, "file://a.zip"))
    first = info.value.format().splitlines()[0]
    assert "cannot unpack file://a.zip" in first and "entry 'x/y' clashes with what is already in the unpack " \
        "directory" in first, first
