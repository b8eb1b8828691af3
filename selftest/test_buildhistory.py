"""buildhistory: an image build's record in OE's layout, one git commit per build, and
``layerbuild-buildhistory-diff`` saying what changed between two builds."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import BuildDir, Runner, make_build, make_layer

from layerbuild.buildhistory import repo
from layerbuild.cli import buildhistory_diff_main

IMAGE = "images/genericx86_64/glibc/hist-image"


def _record(top: Path, packages: dict[str, tuple[str, int]], files: dict[str, int]) -> None:
    image = top / IMAGE
    image.mkdir(parents=True, exist_ok=True)
    (image / "installed-package-info.txt").write_text(
        "".join(f"{name} {name} {version} {size}\n" for name, (version, size) in sorted(packages.items())))
    (image / "files-in-image.txt").write_text(
        "".join(f"-rw-r--r-- 0 0 {size} .{path}\n" for path, size in sorted(files.items())))


def test_diff_says_what_changed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    top = tmp_path / "buildhistory"
    _record(top, {"greet": ("1.0-r0", 10240), "libbar": ("2.0-r0", 4096)},
            {"/usr/bin/greet": 10240, "/usr/bin/bar": 4096})
    first = repo.commit(str(top), "first build", "buildhistory <buildhistory@lbdistro>", 1577836800)
    _record(top, {"greet": ("1.1-r0", 12390), "libfoo": ("1.0-r0", 3072)},
            {"/usr/bin/greet": 12390, "/usr/lib/libfoo.so.1": 3072})
    second = repo.commit(str(top), "second build", "buildhistory <buildhistory@lbdistro>", 1577836800)
    assert first and second and first != second
    log = subprocess.run(["git", "-C", str(top), "log", "--format=%an <%ae> %at %s"], capture_output=True,
                         text=True, check=True).stdout
    assert log == ("buildhistory <buildhistory@lbdistro> 1577836800 second build\n"
                   "buildhistory <buildhistory@lbdistro> 1577836800 first build\n")
    capsys.readouterr()
    assert buildhistory_diff_main(["-p", str(top)]) == 0
    assert capsys.readouterr().out == (
        f"{IMAGE}:\n"
        "  greet: 1.0-r0 -> 1.1-r0, size +2.1 KiB\n"
        "  libbar removed (was 2.0-r0, 4.0 KiB)\n"
        "  libfoo added (1.0-r0, 3.0 KiB)\n"
        "  image size +1.1 KiB\n"
        "  /usr/lib/libfoo.so.1 added\n"
        "  /usr/bin/bar removed\n")
    # the other way round, by the names of the two commits
    assert buildhistory_diff_main(["-p", str(top), second, first]) == 0
    assert "  greet: 1.1-r0 -> 1.0-r0, size -2.1 KiB\n" in capsys.readouterr().out
    assert buildhistory_diff_main(["-p", str(top), "HEAD", "HEAD"]) == 0
    assert capsys.readouterr().out == "No changes between HEAD and HEAD.\n"


def test_diff_of_a_revision_that_is_not_there(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    top = tmp_path / "buildhistory"
    _record(top, {"greet": ("1.0-r0", 1)}, {})
    repo.commit(str(top), "only build", "buildhistory <buildhistory@lbdistro>", 0)
    assert buildhistory_diff_main(["-p", str(top)]) == 1  # one build: there is no HEAD^
    assert "error: " in capsys.readouterr().err
    assert buildhistory_diff_main(["-p", str(tmp_path / "nothing")]) == 1
    assert "is no buildhistory repository" in capsys.readouterr().err


RECIPE = """\
SUMMARY = "{name}"
LICENSE = "MIT"
INHIBIT_DEFAULT_DEPS = "1"
inherit allarch
do_install() {{
    install -d ${{D}}${{datadir}}/{name}
    echo {name}-${{PV}} > ${{D}}${{datadir}}/{name}/{payload}
}}
FILES:${{PN}} += "${{datadir}}/{name}"
"""


@pytest.mark.slow
def test_two_builds_and_their_diff(tmp_path: Path, lb: Runner) -> None:
    """Two real builds of an image: a recipe's new version and an added package are what the diff names."""
    layer = make_layer(tmp_path, "hist", {
        "recipes/histdata/histdata_1.0.bb": RECIPE.format(name="histdata", payload="data"),
        "recipes/histextra/histextra_1.0.bb": RECIPE.format(name="histextra", payload="extra"),
        "recipes/images/hist-image.bb": 'inherit image\nIMAGE_INSTALL = "histdata ${HIST_EXTRA}"\nHIST_EXTRA ?= ""\n',
    })
    build = BuildDir(make_build(tmp_path, [layer], local='INHERIT += "buildhistory"\n'))
    build.run("hist-image")
    record = build.top / "buildhistory" / IMAGE
    assert (record / "installed-package-names.txt").read_text() == "histdata\n"
    assert "./usr/share/histdata/data" in (record / "files-in-image.txt").read_text()
    assert (record / "depends.dot").read_text().startswith("digraph depends {")
    assert "IMAGE_INSTALL = histdata" in (record / "image-info.txt").read_text()
    # the second build: histdata 1.1 (a bigger file), histextra added
    old = layer / "recipes" / "histdata" / "histdata_1.0.bb"
    old.rename(old.with_name("histdata_1.1.bb"))
    old.with_name("histdata_1.1.bb").write_text(RECIPE.format(name="histdata", payload="data2"))
    with (build.top / "conf" / "local.conf").open("a") as fh:
        fh.write('HIST_EXTRA = "histextra"\n')
    build.run("hist-image")
    commits = subprocess.run(["git", "-C", str(build.top / "buildhistory"), "rev-list", "HEAD"], capture_output=True,
                             text=True, check=True).stdout.split()
    assert len(commits) == 2
    status, out, err = lb("-p", str(build.top / "buildhistory"), tool="buildhistory-diff")
    assert status == 0, err
    assert out.startswith(f"{IMAGE}:\n")
    assert "  histdata: 1.0-r0 -> 1.1-r0\n" in out
    assert "  histextra added (1.0-r0, 0.0 KiB)\n" in out
    assert "  /usr/share/histdata/data2 added\n" in out and "  /usr/share/histdata/data removed\n" in out
