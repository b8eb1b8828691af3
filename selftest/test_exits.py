"""How each process ends for an exception: the console scripts, the task worker, the runqueue's child that
publishes shared state, the boot daemon and the subhost's init each report a user error and an unexpected
error the same way, as real processes.

An unexpected error cannot come from input (each one would be a bug to fix), so those cases inject one: the
process is started with one function replaced by one that raises, and everything else runs as it does.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import CORE, make_build, make_layer
from test_tasks import LOGTASKS

from layerbuild.util.errors import UsageError

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
    from layerbuild.util.exits import exit_for  # here, so that the other tests run on code without it
    end = exit_for(exc, prog="layerbuild")
    assert (end.status, end.message) == (status, message)


# -- the task worker ---------------------------------------------------------------------------------------

PYTHON_TASK = """\
SUMMARY = "foo"
python do_x() {
    names = d.getVar("FOO_NAMES")
    first = names.split()[0]
}
addtask do_x
python do_y() {
    bb.fatal("no FOO_NAMES given")
}
addtask do_y
python do_wait() {
    import time
    time.sleep(60)
}
addtask do_wait
"""


@pytest.fixture
def foo(tmp_path: Path) -> tuple[Path, Path]:
    layer = make_layer(tmp_path, "t", {"recipes/foo/foo_1.0.bb": PYTHON_TASK})
    return make_build(tmp_path, [layer]), layer / "recipes/foo/foo_1.0.bb"


def _log(build: Path, task: str) -> str:
    return next((build / "tmp/work").glob(f"*/foo/*/temp/log.{task}")).read_text()


def test_a_task_error_is_one_located_line_in_the_log_and_on_the_console(tmp_path: Path, foo: tuple[Path, Path]) -> None:
    build, recipe = foo
    r = _layerbuild("-B", str(build), "foo:do_x", cwd=tmp_path)
    line = f"{recipe}:4: error: do_x failed: AttributeError: 'NoneType' object has no attribute 'split'"
    assert r.returncode == 1
    assert _errors(_err(r)) == [f"ERROR: Task foo:do_x failed: {line}"], _err(r)
    log = _log(build, "do_x")
    assert _errors(log) == [f"ERROR: {line}"] and "Traceback" not in log, log


def test_an_unexpected_task_error_is_an_internal_error_in_the_log(tmp_path: Path, foo: tuple[Path, Path]) -> None:
    build, _recipe = foo
    boom = _raising("layerbuild.engine.tasks:TaskRunner.run")
    r = _layerbuild("-B", str(build), "foo:do_x", inject=boom, cwd=tmp_path)
    assert r.returncode == 1
    assert _errors(_err(r)) == [f"ERROR: Task foo:do_x failed: internal error: RuntimeError: boom{HINT}"], _err(r)
    log = _log(build, "do_x")
    assert _errors(log) == [f"ERROR: internal error: RuntimeError: boom{HINT}"] and "Traceback" not in log, log


def test_under_debug_the_log_has_the_traceback_and_no_advice_to_use_debug(tmp_path: Path,
                                                                          foo: tuple[Path, Path]) -> None:
    build, recipe = foo
    r = _layerbuild("-B", str(build), "--debug", "foo:do_y", cwd=tmp_path)
    assert r.returncode == 1
    log = _log(build, "do_y")
    # bb.fatal raised no other exception: its own traceback names the metadata line that called it
    assert "Traceback (most recent call last):" in log, log
    assert f'File "{recipe}", line 8, in do_y\n' in log, log
    assert _errors(log) == [f"ERROR: {recipe}:8: error: no FOO_NAMES given"], log
    r = _layerbuild("-B", str(build), "--debug", "foo:do_x", inject=_raising("layerbuild.engine.tasks:TaskRunner.run"),
                    cwd=tmp_path)
    assert r.returncode == 1
    log = _log(build, "do_x")
    assert "Traceback (most recent call last):" in log and "\nRuntimeError: boom\n" in log, log
    assert _errors(log) == ["ERROR: internal error: RuntimeError: boom"], log
    assert _errors(_err(r)) == ["ERROR: Task foo:do_x failed: internal error: RuntimeError: boom"], _err(r)


def test_a_worker_failing_before_its_log_says_it_once(tmp_path: Path, foo: tuple[Path, Path]) -> None:
    """With no log yet, the worker tells the build why; the console shows that once, as for any failed task."""
    build, _recipe = foo
    with open(build / "conf/local.conf", "a") as fh:
        fh.write('T:pn-foo = ""\n')
    r = _layerbuild("-B", str(build), "foo:do_x", cwd=tmp_path)
    assert r.returncode == 1
    assert _errors(_err(r)) == ["ERROR: Task foo:do_x failed: T is not set: nowhere to write the task log"], _err(r)
    r = _layerbuild("-B", str(build), "foo:do_x", inject=_raising("layerbuild.engine.tasks:open_log"), cwd=tmp_path)
    assert r.returncode == 1
    assert _errors(_err(r)) == [f"ERROR: Task foo:do_x failed: internal error: RuntimeError: boom{HINT}"], _err(r)


def test_an_interrupted_worker_says_so(tmp_path: Path, foo: tuple[Path, Path]) -> None:
    build, _recipe = foo
    proc = subprocess.Popen([sys.executable, "-m", "layerbuild.cli", "-B", str(build), "foo:do_wait"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, cwd=tmp_path)
    workers = build / "tmp/.workers"
    deadline = time.monotonic() + 120
    while not (workers.is_dir() and any(workers.iterdir())):
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    log = build / "tmp/work"
    while not list(log.glob("*/foo/*/temp/log.do_wait")):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)  # into the task's sleep
    pid = int(next(workers.iterdir()).name)
    os.kill(pid, signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert _errors(err.decode()) == ["ERROR: Task foo:do_wait failed: Interrupted."], err.decode()
    assert _errors(_log(build, "do_wait")) == ["ERROR: Interrupted."]


# -- the runqueue's child, which publishes a task's shared state ---------------------------------------------

@pytest.fixture
def publisher(tmp_path: Path) -> Path:
    layer = make_layer(tmp_path, "pub", {
        "classes/logtasks.bbclass": LOGTASKS,
        "recipes/b/b_1.0.bb": 'inherit logtasks\nMSG = "from b"\ndo_package_write_deb:append() {\n'
                              '    mkdir -p ${WORKDIR}/deploy-debs/sub\n    echo b > ${WORKDIR}/deploy-debs/sub/b.txt\n}\n'})
    return make_build(tmp_path, [layer])


def test_publishing_shared_state_reports_a_user_error_once(tmp_path: Path, publisher: Path) -> None:
    deploy = publisher / "tmp/deploy/fake-debs"
    deploy.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, deploy / "sub")
    r = _layerbuild("-B", str(publisher), "b:do_package_write_deb", cwd=tmp_path)
    assert r.returncode == 1
    assert os.listdir(outside) == []
    line = (f"publishing shared state failed: refusing to install the directory {deploy}/sub: a symbolic link to "
            f"{outside} is there, which this task did not install")
    assert _errors(_err(r)) == [f"ERROR: Task b:do_package_write_deb failed: {line}"], _err(r)


@pytest.mark.parametrize(("exc", "reason"), [
    ('RuntimeError("boom")', f"internal error: RuntimeError: boom{HINT}"),
    ('PermissionError(errno.EACCES, "Permission denied", "/srv/sstate")',
     "publishing shared state failed: [Errno 13] Permission denied: '/srv/sstate'"),
])
def test_publishing_shared_state_reports_an_unexpected_error_as_one(tmp_path: Path, publisher: Path, exc: str,
                                                                    reason: str) -> None:
    r = _layerbuild("-B", str(publisher), "b:do_package", inject=_raising("layerbuild.engine.sstate:Sstate.store", exc),
                    cwd=tmp_path)
    assert r.returncode == 1
    assert _errors(_err(r)) == [f"ERROR: Task b:do_package failed: {reason}"], _err(r)


# -- the boot daemon and the subhost's init -------------------------------------------------------------------

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def _boot_config(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "base").mkdir(exist_ok=True)
    (tmp_path / "root/etc").mkdir(parents=True, exist_ok=True)
    (tmp_path / "root/etc/os-release").write_text("ID=lbtest\nVERSION_ID=1.0\n")
    conf = tmp_path / "sub.conf"
    conf.write_text(f"NAME=lbexit\nBASE={tmp_path}/base\nLOWER={tmp_path}/root\nLOG={tmp_path}/boot.log\n{extra}")
    return conf


def _daemon(tmp_path: Path, request: bytes, inject: str = "",
            env: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
    """Run the boot daemon (as ``python3 -m layerbuild.boot.daemon``) on ``request``: (status, its answer)."""
    r = _python("import runpy\nrunpy.run_module('layerbuild.boot.daemon', run_name='__main__')", inject=inject,
                input=request, env=env)
    answer = r.stdout.split(b"\n", 1)[0]
    return r.returncode, json.loads(answer) if answer else {"stderr": r.stderr.decode()}


def _request(tmp_path: Path, run_dir: Path, **changes: object) -> bytes:
    from layerbuild.boot.config import load_config
    config = load_config(_boot_config(tmp_path))
    return json.dumps({"config": config.to_json(), "run_dir": str(run_dir), "stop_grace": 1.0, **changes}).encode()


def test_the_boot_daemon_answers_a_user_error_located(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    (run_dir / "lbexit").mkdir(parents=True)  # a subhost of that name is set up already
    status, answer = _daemon(tmp_path, _request(tmp_path, run_dir))
    conf = tmp_path / "sub.conf"
    assert status == 0
    assert answer == {"event": "error", "message": f"a subhost named lbexit is already set up ({run_dir}/lbexit)",
                      "location": [str(conf), 1], "hint": "stop it with layerbuild-boot --stop lbexit", "notes": []}
    _wait_for(tmp_path / "boot.log", f"{conf}:1: error: a subhost named lbexit is already set up ({run_dir}/lbexit)\n"
                                     "  hint: stop it with layerbuild-boot --stop lbexit\n")


def _wait_for(log: Path, text: str) -> str:
    """The log once it holds ``text`` (the boot process writes it after it answered)."""
    deadline = time.monotonic() + 10
    while not (log.exists() and text in log.read_text()):
        assert time.monotonic() < deadline, log.read_text() if log.exists() else "no log"
        time.sleep(0.05)
    return log.read_text()


def test_the_boot_daemon_answers_an_unexpected_error_as_one(tmp_path: Path) -> None:
    boom = _raising("layerbuild.boot.supervisor:boot")
    status, answer = _daemon(tmp_path, _request(tmp_path, tmp_path / "run"), inject=boom)
    assert status == 0
    assert answer == {"event": "error", "message": "internal error: RuntimeError: boom", "location": None,
                      "hint": None, "notes": []}
    log = _wait_for(tmp_path / "boot.log", f"error: internal error: RuntimeError: boom{HINT}\n")
    assert "Traceback" not in log
    (tmp_path / "boot.log").unlink()
    _daemon(tmp_path, _request(tmp_path, tmp_path / "run"), inject=boom, env=dict(ENV, LAYERBUILD_DEBUG="1"))
    log = _wait_for(tmp_path / "boot.log", "\nRuntimeError: boom\n")
    assert log.startswith("Traceback (most recent call last):\n") and "internal error" not in log, log


def test_the_boot_daemon_answers_even_when_the_request_is_broken(tmp_path: Path) -> None:
    status, answer = _daemon(tmp_path, b"{}")
    assert status == 1
    assert answer == {"event": "error", "message": "internal error: KeyError: 'config'", "location": None,
                      "hint": None, "notes": []}


def _nsinit(tmp_path: Path, conf: Path, inject: str = "",
            env: dict[str, str] | None = None) -> tuple[int, list[dict[str, object]], str]:
    """Run the subhost's init on a plan of ``conf`` in a mount namespace of its own: (status, its messages, log)."""
    from layerbuild.boot.config import load_config
    from layerbuild.boot.nsinit import Plan
    config = load_config(conf)
    plan = tmp_path / "plan.json"
    plan.write_text(Plan(config, None, None, str(tmp_path / "upper"), str(tmp_path / "mnt")).to_json())
    code = (f"import runpy\nsys.argv = ['nsinit', {str(plan)!r}]\n"
            "runpy.run_module('layerbuild.boot.nsinit', run_name='__main__')")
    program = f"import sys\n{textwrap.dedent(inject)}\n{code}"
    with open(config.log, "ab") as log:  # as the supervisor starts it: stderr goes to the subhost's log
        r = subprocess.run(["unshare", "--mount", "--propagation", "private", "--", sys.executable, "-c", program],
                           stdout=subprocess.PIPE, stderr=log, env=env or ENV, timeout=60)
    messages = [json.loads(line) for line in r.stdout.splitlines()]
    return r.returncode, [m for m in messages if m["event"] != "pid"], Path(config.log).read_text()


@needs_root
@pytest.mark.root
def test_the_subhosts_init_reports_a_user_error_located(tmp_path: Path) -> None:
    ext = tmp_path / "ext"
    (ext / "usr/lib/extension-release.d").mkdir(parents=True)
    (ext / "usr/lib/extension-release.d/extension-release.ext").write_text("ID=other\n")
    conf = _boot_config(tmp_path, f"LIVE={tmp_path}/root\nEXTENSIONS={ext}\n")
    status, messages, log = _nsinit(tmp_path, conf)
    message = "Extension 'ext' is for OS 'other', but deployed on top of 'lbtest'; refusing to merge it"
    assert status == 1
    assert messages == [{"event": "error", "message": message, "location": [str(conf), 6],
                         "hint": "build the extension against this base image", "notes": []}]
    assert log == f"{conf}:6: error: {message}\n  hint: build the extension against this base image\n"


@needs_root
@pytest.mark.root
def test_the_subhosts_init_reports_an_unexpected_error_as_one(tmp_path: Path) -> None:
    conf = _boot_config(tmp_path, f"LIVE={tmp_path}/root\n")
    boom = _raising("layerbuild.boot.extensions:os_release_of")
    status, messages, log = _nsinit(tmp_path, conf, inject=boom)
    assert status == 1
    assert messages == [{"event": "error", "message": "subhost init: internal error: RuntimeError: boom",
                         "location": None, "hint": None, "notes": []}]
    assert log == f"error: internal error: RuntimeError: boom{HINT}\n"
    (tmp_path / "boot.log").unlink()
    status, messages, log = _nsinit(tmp_path, conf, inject=boom, env=dict(ENV, LAYERBUILD_DEBUG="1"))
    assert status == 1 and messages[0]["message"] == "subhost init: internal error: RuntimeError: boom"
    assert log.startswith("Traceback (most recent call last):\n") and log.endswith("\nRuntimeError: boom\n"), log
