"""How each process ends for an exception: the console scripts, the task worker, the runqueue's child that
publishes shared state, the boot daemon and the subhost's init each report a user error and an unexpected
error the same way, as real processes.

An unexpected error cannot come from input (each one would be a bug to fix), so those cases inject one: the
process is started with one function replaced by one that raises, and everything else runs as it does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import CORE, make_build, make_layer

from layerbuild.util.errors import UsageError
from layerbuild.util.exits import exit_for

ENV = dict(os.environ, PYTHONPATH=CORE)
ENV.pop("LAYERBUILD_DEBUG", None)
HINT = " (run with --debug for a traceback)"


def _python(code: str, *args: str, inject: str = "", env: dict[str, str] | None = None, input: bytes | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """``python3 -c CODE ARGS`` with ``inject`` run first (it may replace functions of layerbuild)."""
    program = f"import sys\n{textwrap.dedent(inject)}\n{textwrap.dedent(code)}"
    return subprocess.run([sys.executable, "-c", program, *args], capture_output=True, env=env or ENV, input=input,
                          cwd=cwd, timeout=300)


def _raising(target: str, exc: str = 'RuntimeError("boom")') -> str:
    """Code that replaces ``module:attribute`` (``attribute`` may be ``Class.method``) by a function raising ``exc``."""
    module, attr = target.split(":")
    owner, _, name = attr.rpartition(".")
    where = f"_m.{owner}" if owner else "_m"
    extra = ", layerbuild.engine.runqueue" if "runqueue" in exc else ""
    return (f"import errno{extra}, {module} as _m\n"
            f"def _boom(*args, **kwargs):\n    raise {exc}\n"
            f"setattr({where}, {name!r}, _boom)\n")


def _layerbuild(*args: str, inject: str = "", cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return _python("from layerbuild.cli import main\nsys.exit(main(sys.argv[1:]))", *args, inject=inject, cwd=cwd)


def _err(result: subprocess.CompletedProcess[bytes]) -> str:
    return result.stderr.decode()


def _errors(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("ERROR:")]


# -- the console scripts -----------------------------------------------------------------------------------

@pytest.fixture
def bad_recipe(tmp_path: Path) -> tuple[Path, Path]:
    layer = make_layer(tmp_path, "bad", {"recipes/foo/foo_1.0.bb": "A = x\n"})
    return make_build(tmp_path, [layer]), layer / "recipes/foo/foo_1.0.bb"


def test_a_user_error_is_its_located_line_and_status_1(tmp_path: Path, bad_recipe: tuple[Path, Path]) -> None:
    build, recipe = bad_recipe
    r = _layerbuild("-B", str(build), "-p", cwd=tmp_path)
    message = f"{recipe}:1: error: unparsed line: 'A = x'\n  hint: values must be quoted: VAR = \"value\"\n"
    assert (r.returncode, _err(r)) == (1, message)
    r = _layerbuild("-B", str(build), "-p", "--debug", cwd=tmp_path)
    text = _err(r)
    assert r.returncode == 1 and text.startswith("Traceback (most recent call last):\n"), text
    assert text.endswith(f"\n{message}"), text


def test_a_usage_error_names_the_command_and_is_status_2(tmp_path: Path) -> None:
    r = _layerbuild("-B", str(tmp_path / "b"), cwd=tmp_path)
    assert r.returncode == 2
    assert _err(r).splitlines()[-1].startswith("layerbuild: error: nothing to do"), _err(r)


def test_an_unexpected_error_is_one_line_and_a_traceback_under_debug(tmp_path: Path) -> None:
    boom = _raising("layerbuild.session:run")
    build = make_build(tmp_path, [])
    r = _layerbuild("-B", str(build), "hello", inject=boom, cwd=tmp_path)
    assert (r.returncode, _err(r)) == (1, f"error: internal error: RuntimeError: boom{HINT}\n")
    r = _layerbuild("-B", str(build), "--debug", "hello", inject=boom, cwd=tmp_path)
    text = _err(r)
    assert r.returncode == 1 and text.startswith("Traceback (most recent call last):\n"), text
    assert text.endswith("\nRuntimeError: boom\n") and "internal error" not in text, text


@pytest.mark.parametrize(("exc", "status", "message"), [
    ("KeyboardInterrupt()", 130, "Interrupted.\n"),
    ("layerbuild.engine.runqueue.Terminated(15)", 143, "Terminated (SIGTERM).\n"),
    ("layerbuild.engine.runqueue.Terminated(1)", 129, "Terminated (SIGHUP).\n"),
])
def test_a_stopped_command_exits_128_plus_the_signal(tmp_path: Path, exc: str, status: int, message: str) -> None:
    r = _layerbuild("-B", str(make_build(tmp_path, [])), "hello", inject=_raising("layerbuild.session:run", exc),
                    cwd=tmp_path)
    assert (r.returncode, _err(r)) == (status, message)


def test_a_full_disk_is_the_users_not_an_internal_error(tmp_path: Path) -> None:
    full = _raising("layerbuild.session:run", 'OSError(errno.ENOSPC, "No space left on device", "/srv/out/x.dot")')
    r = _layerbuild("-B", str(make_build(tmp_path, [])), "hello", inject=full, cwd=tmp_path)
    assert (r.returncode, _err(r)) == (1, "error: no space left on device: cannot write /srv/out/x.dot\n")


def test_a_closed_stdout_ends_quietly_but_another_broken_pipe_is_an_error(tmp_path: Path) -> None:
    build = make_build(tmp_path, [])
    code = "from layerbuild.cli import main\nsys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen([sys.executable, "-c", f"import sys\n{code}", "-B", str(build), "-e", "hello"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, cwd=tmp_path)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"#")
    proc.stdout.close()  # as `| head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and err == "", err
    # a broken pipe the command met elsewhere (its stdout is fine) is no reason to report success
    r = _layerbuild("-B", str(build), "hello", inject=_raising("layerbuild.session:run", "BrokenPipeError(32, 'Broken pipe')"),
                    cwd=tmp_path)
    assert (r.returncode, _err(r)) == (1, f"error: internal error: BrokenPipeError: [Errno 32] Broken pipe{HINT}\n")


@pytest.mark.parametrize(("exc", "status", "message"), [
    (SystemExit(), 0, ""), (SystemExit(3), 3, ""), (SystemExit("why"), 1, "why"),
    (UsageError("nothing to do"), 2, "layerbuild: error: nothing to do"),
])
def test_a_requested_exit_and_a_usage_error(exc: BaseException, status: int, message: str) -> None:
    end = exit_for(exc, prog="layerbuild")
    assert (end.status, end.message) == (status, message)
