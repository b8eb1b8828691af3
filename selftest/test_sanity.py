"""The build host, checked before any task runs: HOSTTOOLS on PATH, the compiler's target architecture."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import CORE, Runner, make_build, make_layer

RECIPE = {"recipes/foo/foo_1.0.bb": 'LICENSE = "MIT"\nINHIBIT_DEFAULT_DEPS = "1"\n'}
#: an AArch64 machine of one's own, as a user adapting the sample layer writes it
BOARD = ('#@NAME: my board\nTARGET_ARCH = "aarch64"\nTUNE_PKGARCH = "aarch64"\nDPKG_ARCH = "arm64"\n'
         'SYSTEMD_ARCHITECTURE = "arm64"\n')


def _path_without(tmp_path: Path, tool: str) -> str:
    """A directory of links to every program on PATH except ``tool``."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for directory in os.environ["PATH"].split(":"):
        if not os.path.isdir(directory):
            continue
        for name in sorted(os.listdir(directory)):
            target = os.path.join(directory, name)
            if name != tool and not (bindir / name).exists() and os.access(target, os.X_OK):
                (bindir / name).symlink_to(target)
    assert shutil.which(tool, path=str(bindir)) is None and shutil.which("make", path=str(bindir))
    return str(bindir)


def _hosttools_line() -> int:
    lines = (Path(CORE) / "conf/layerbuild.conf").read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.startswith("HOSTTOOLS"))


def test_missing_host_tool_is_one_error_before_any_task(tmp_path: Path, lb: Runner,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    build = make_build(tmp_path, [make_layer(tmp_path, "s", RECIPE)])
    monkeypatch.setenv("PATH", _path_without(tmp_path, "gcc"))
    monkeypatch.chdir(tmp_path)  # where -g writes its files
    status, _out, err = lb("-B", str(build), "foo")
    assert status == 1
    assert err == (f"{CORE}/conf/layerbuild.conf:{_hosttools_line()}: error: this tool HOSTTOOLS lists is not "
                   "on PATH: gcc (Debian package gcc)\n  hint: apt-get install gcc\n")
    assert not (build / "tmp/work").exists()  # no task ran
    # only a build checks: parsing, the environment, the task graph and a dry run need no host tools
    for args in (["-p"], ["-e", "foo"], ["-g", "foo"], ["-n", "foo"]):
        status, _out, err = lb("-B", str(build), *args)
        assert status == 0, (args, err)


def test_several_missing_tools_are_one_error_with_their_packages(tmp_path: Path, lb: Runner,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    build = make_build(tmp_path, [make_layer(tmp_path, "s", RECIPE)],
                       local='HOSTTOOLS += "objdump no-such-tool-here"\n')
    monkeypatch.setenv("PATH", _path_without(tmp_path, "objdump"))
    status, _out, err = lb("-B", str(build), "foo")
    assert status == 1
    assert err == (f"{build}/conf/local.conf:3: error: these tools HOSTTOOLS lists are not on PATH: objdump "
                   "(Debian package binutils), no-such-tool-here\n"
                   "  hint: apt-get install binutils; install what provides no-such-tool-here\n")


def test_a_board_of_ones_own_builds_with_the_cross_toolchain(tmp_path: Path, lb: Runner) -> None:
    """An AArch64 machine that names no toolchain gets the external toolchain of its architecture
    (aarch64-linux-gnu-gcc), not the host's compiler."""
    layer = make_layer(tmp_path, "s", {**RECIPE, "conf/machine/myboard.conf": BOARD})
    build = make_build(tmp_path, [layer], local='MACHINE = "myboard"\n')
    status, out, err = lb("-B", str(build), "-e", "foo")
    assert status == 0, err
    assert 'export CC="aarch64-linux-gnu-gcc --sysroot=' in out
    assert 'export STRIP="aarch64-linux-gnu-strip"' in out
    assert 'TARGET_SYS="aarch64-oe-linux"' in out


@pytest.mark.skipif(shutil.which("aarch64-linux-gnu-gcc") is None, reason="needs gcc-aarch64-linux-gnu")
def test_a_machine_the_compiler_cannot_build_for_is_one_error(tmp_path: Path, lb: Runner) -> None:
    layer = make_layer(tmp_path, "s", {**RECIPE, "conf/machine/myboard.conf": BOARD + 'CC = "gcc"\n'})
    build = make_build(tmp_path, [layer], local='MACHINE = "myboard"\n')
    status, _out, err = lb("-B", str(build), "foo")
    assert status == 1
    assert err == (f"{layer}/conf/machine/myboard.conf:2: error: MACHINE myboard builds for aarch64 (TARGET_ARCH), "
                   "but the compiler (gcc) builds for x86_64 (x86_64-linux-gnu)\n"
                   "  hint: layerbuild compiles with CC, the machine's toolchain (${TARGET_PREFIX}gcc): choose a "
                   "machine for x86_64, or set TARGET_PREFIX or CC to a compiler for aarch64\n")
    assert not (build / "tmp/work").exists()
    status, _out, err = lb("-B", str(build), "-n", "foo")
    assert status == 0, err


def test_a_missing_cross_toolchain_is_one_error_naming_its_packages(tmp_path: Path, lb: Runner) -> None:
    """A machine whose toolchain is not installed: one error before any task runs, naming the Debian
    packages, no traceback."""
    board = BOARD + 'TARGET_PREFIX = "lbnone-linux-gnu-"\n'
    layer = make_layer(tmp_path, "s", {**RECIPE, "conf/machine/myboard.conf": board})
    build = make_build(tmp_path, [layer], local='MACHINE = "myboard"\n')
    status, _out, err = lb("-B", str(build), "foo")
    assert status == 1
    line = next(n for n, text in enumerate((Path(CORE) / "conf/layerbuild.conf").read_text().splitlines(), 1)
                if text.startswith("export CC ="))
    assert err == (f"{CORE}/conf/layerbuild.conf:{line}: error: the toolchain of MACHINE myboard is not on PATH: "
                   "CC (lbnone-linux-gnu-gcc), LD (lbnone-linux-gnu-ld), AR (lbnone-linux-gnu-ar), "
                   "AS (lbnone-linux-gnu-as), NM (lbnone-linux-gnu-nm), RANLIB (lbnone-linux-gnu-ranlib), "
                   "STRIP (lbnone-linux-gnu-strip), OBJCOPY (lbnone-linux-gnu-objcopy), "
                   "OBJDUMP (lbnone-linux-gnu-objdump), READELF (lbnone-linux-gnu-readelf); install Debian packages "
                   "binutils-lbnone-linux-gnu gcc-lbnone-linux-gnu\n"
                   "  hint: apt-get install binutils-lbnone-linux-gnu gcc-lbnone-linux-gnu\n")
    assert "Traceback" not in err
    assert not (build / "tmp/work").exists()


def test_genericarm64_without_its_toolchain_names_the_package(tmp_path: Path, lb: Runner,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    build = make_build(tmp_path, [make_layer(tmp_path, "s", RECIPE)], local='MACHINE = "genericarm64"\n')
    monkeypatch.setenv("PATH", _path_without(tmp_path, "aarch64-linux-gnu-gcc"))
    status, _out, err = lb("-B", str(build), "foo")
    assert status == 1
    assert "error: the toolchain of MACHINE genericarm64 is not on PATH: CC (aarch64-linux-gnu-gcc); " \
           "install Debian package gcc-aarch64-linux-gnu\n  hint: apt-get install gcc-aarch64-linux-gnu\n" in err
    assert err.count("\n") == 2 and not (build / "tmp/work").exists()


def _counting_compiler(tmp_path: Path, triplet: str) -> tuple[Path, Path]:
    """A compiler that reports ``triplet`` for -dumpmachine (counting the questions) and is gcc otherwise."""
    asked = tmp_path / "asked"
    cc = tmp_path / "tools" / "mycc"
    cc.parent.mkdir()
    cc.write_text(f'#!/bin/sh\nif [ "$1" = -dumpmachine ]; then echo asked >> {asked}; echo {triplet}; exit 0; fi\n'
                  'exec gcc "$@"\n')
    cc.chmod(0o755)
    return cc, asked


def test_the_compiler_is_asked_once_until_it_changes(tmp_path: Path, lb: Runner) -> None:
    cc, asked = _counting_compiler(tmp_path, "x86_64-linux-gnu")
    build = make_build(tmp_path, [make_layer(tmp_path, "s", RECIPE)], local=f'CC = "{cc}"\n')
    for _ in range(2):
        status, _out, err = lb("-B", str(build), "foo:do_fetch")
        assert status == 0, err
    assert asked.read_text() == "asked\n"
    cache = json.loads((build / "tmp/cache/host.json").read_text())
    assert list(cache["compilers"].values()) == ["x86_64-linux-gnu"]
    os.utime(cc, ns=(1, 1))  # another compiler at the same path (an upgrade) is asked again
    status, _out, err = lb("-B", str(build), "foo:do_fetch")
    assert status == 0, err
    assert asked.read_text() == "asked\nasked\n"
