"""``bitbake-getvar`` / ``layerbuild-getvar``: one variable with its history as ``-e`` prints it, or only its
value, of a recipe or of the global configuration, as BitBake's ``bitbake-getvar``."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Runner, make_build, make_layer

from layerbuild.cli import bitbake_getvar_main, getvar_main

RECIPE = """\
SUMMARY = "demo"
LICENSE = "MIT"
FOO = "a"
FOO += "${BAR}"
BAR = "b"
FOO[doc] = "about ${BAR}"
"""


@pytest.fixture
def build(tmp_path: Path) -> Path:
    layer = make_layer(tmp_path, "gv", {"recipes/foo/foo_1.0.bb": RECIPE})
    return make_build(tmp_path, [layer], local='GLOBALVAR = "g"\nGLOBALVAR:append = "h"\n')


def _getvar(capsys: pytest.CaptureFixture[str], build: Path, *args: str, entry=getvar_main) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    capsys.readouterr()
    try:
        status = entry(["-B", str(build), *args])
    except SystemExit as exc:
        status = int(exc.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


def _block(env: str, var: str) -> str:
    """The comment block and value line of ``var`` in ``-e`` output."""
    start = env.index(f"#\n# ${var}")
    end = env.index(f"\n{var}=", start)
    return env[start:env.index("\n", end + 1) + 1]


def test_history_is_the_block_of_minus_e(build: Path, lb: Runner, capsys: pytest.CaptureFixture[str]) -> None:
    status, env, err = lb("-B", str(build), "-e", "foo")
    assert status == 0, err
    status, out, err = _getvar(capsys, build, "-r", "foo", "FOO", entry=bitbake_getvar_main)
    assert (status, err) == (0, "")
    assert out == _block(env, "FOO")
    assert out.endswith('FOO="a b"\n') and "#   append " in out
    status, env, err = lb("-B", str(build), "-e")
    status, out, err = _getvar(capsys, build, "GLOBALVAR")
    assert out == _block(env, "GLOBALVAR")


def test_value_flag_and_unexpanded(build: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _getvar(capsys, build, "-r", "foo", "--value", "FOO") == (0, "a b\n", "")
    assert _getvar(capsys, build, "-r", "foo", "--value", "-u", "FOO") == (0, "a ${BAR}\n", "")
    assert _getvar(capsys, build, "-r", "foo", "--value", "-f", "doc", "FOO") == (0, "about b\n", "")
    assert _getvar(capsys, build, "-r", "foo", "--value", "-u", "-f", "doc", "FOO") == (0, "about ${BAR}\n", "")
    assert _getvar(capsys, build, "--value", "GLOBALVAR") == (0, "gh\n", "")
    assert _getvar(capsys, build, "--value", "MACHINE") == (0, "genericx86-64\n", "")


def test_errors(build: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _getvar(capsys, build, "--value", "NOPE") == (1, "", "error: The variable 'NOPE' is not defined\n")
    assert _getvar(capsys, build, "--value", "--ignore-undefined", "NOPE") == (0, "\n", "")
    assert _getvar(capsys, build, "-r", "foo", "--value", "-f", "nope", "FOO") == (
        1, "", "error: The flag 'nope' is not defined for variable 'FOO'\n")
    status, out, err = _getvar(capsys, build, "-u", "FOO")
    assert (status, err) == (2, "layerbuild-getvar: error: --unexpand only makes sense with --value\n")
    status, out, err = _getvar(capsys, build, "-f", "doc", "FOO", entry=bitbake_getvar_main)
    assert (status, err) == (2, "bitbake-getvar: error: --flag only makes sense with --value\n")
    status, out, err = _getvar(capsys, build, "-r", "nosuch", "FOO")
    assert status == 1 and "nosuch" in err and out == ""
