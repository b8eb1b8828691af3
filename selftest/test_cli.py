"""Whole commands: exit statuses, no tracebacks, the default build directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import CORE, make_build, make_layer


def _cmd(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "layerbuild.cli", *args], cwd=cwd, text=True,
                          capture_output=True, env=dict(os.environ, PYTHONPATH=CORE))


def test_no_setup_creates_build_directory_from_templates(tmp_path: Path) -> None:
    r = _cmd("-p", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"Created build directory {tmp_path / 'build'}" in r.stderr
    bblayers = (tmp_path / "build/conf/bblayers.conf").read_text()
    assert CORE in bblayers and "##COREBASE##" not in bblayers
    r = _cmd("-e", "hello", cwd=tmp_path / "build")
    assert r.returncode == 0, r.stderr
    assert 'PN="hello"' in r.stdout.splitlines()


def test_usage_error_exits_2(tmp_path: Path) -> None:
    r = _cmd("--no-such-flag", cwd=tmp_path)
    assert r.returncode == 2
    r = _cmd("-B", str(tmp_path / "b"), cwd=tmp_path)
    assert r.returncode == 2 and "nothing to do" in r.stderr


def test_user_error_exits_1_without_traceback_unless_debug(tmp_path: Path) -> None:
    layer = make_layer(tmp_path, "bad", {"recipes/foo/foo_1.0.bb": "A = x\n"})
    build = make_build(tmp_path, [layer])
    r = _cmd("-B", str(build), "-p", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.startswith(f"{layer}/recipes/foo/foo_1.0.bb:1: error: unparsed line: 'A = x'")
    assert "Traceback" not in r.stderr
    r = _cmd("-B", str(build), "-p", "--debug", cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" in r.stderr
