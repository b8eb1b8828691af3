"""Running one task, in a worker process of its own.

The worker parses the recipe again (from the configuration and statements it inherited when it was
forked), then honours ``[cleandirs]``, ``[dirs]``, ``[lockfiles]``, ``[prefuncs]`` and ``[postfuncs]``
and runs the task function: a shell function as a ``temp/run.do_X.PID`` script (exported variables,
the shell functions it calls, ``set -e``, ``cd`` to its directory, re-runnable by hand) and a python
function with ``d``. All output goes to ``temp/log.do_X.PID``; ``log.do_X`` and ``run.do_X`` point at
the newest. The worker tells the build where its log is, and why it failed when it could not even
start the task, as :class:`WorkerResult` messages (JSON lines) on a pipe.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import io
import json
import logging
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from layerbuild.engine.codeparse import shell_words
from layerbuild.engine.config import Configuration
from layerbuild.engine.datastore import DataStore
from layerbuild.engine.datastore.pycode import compile_function, python_location, system_exit_message
from layerbuild.engine.envdump import emit_var
from layerbuild.engine.evaluate import export_problem
from layerbuild.engine.taskgraph import TaskId
from layerbuild.taskapi import short_task_name
from layerbuild.util.errors import DEBUG_ENV, BuildError, LayerbuildError, Location
from layerbuild.util.exits import Exit, guard
from layerbuild.util.fsutil import atomic_symlink, directory_error, directory_problem
from layerbuild.util.proc import run


@dataclass(frozen=True)
class TaskJob:
    tid: TaskId
    appends: tuple[str, ...]
    layername: str
    taskhash: str
    label: str
    #: the unihash the task runs as (BB_UNIHASH): its taskhash, unless hash equivalence gave another
    unihash: str = ""


@dataclass(frozen=True, slots=True)
class WorkerResult:
    """What a task worker reports: its log, as soon as it has one, and why it failed when it has no log.

    A worker sends one or more of these; a later message's fields add to an earlier one's
    (see :func:`read_results`).
    """

    log: str | None = None
    error: str | None = None
    #: lines for the build's summary (:meth:`TaskContext.result`), in the order the task gave them
    results: tuple[str, ...] = ()
    #: where the error points (the function of a failing shell task, the line of a ``bb.fatal``)
    file: str | None = None
    line: int = 0
    #: what publishing the task's shared state reported: the unihash its output took and its output hash
    unihash: str | None = None
    outhash: str | None = None
    #: what went wrong without failing the task (a hash equivalence store that is down)
    warnings: tuple[str, ...] = ()

    def encode(self) -> bytes:
        return json.dumps(dataclasses.asdict(self), sort_keys=True).encode() + b"\n"


def read_results(data: bytes) -> WorkerResult:
    """The messages a worker sent, merged; a line cut short by a dying worker is left out."""
    log, error, file, lineno, unihash, outhash = None, None, None, 0, None, None
    results: list[str] = []
    warnings: list[str] = []
    for line in data.splitlines():
        try:
            fields = json.loads(line)
            msg = WorkerResult(**fields)
        except (ValueError, TypeError):
            continue
        log = msg.log or log
        error = msg.error or error
        if msg.file:
            file, lineno = msg.file, msg.line
        results.extend(str(r) for r in msg.results)
        unihash = msg.unihash or unihash
        outhash = msg.outhash or outhash
        warnings.extend(str(w) for w in msg.warnings)
    return WorkerResult(log, error, tuple(results), file, lineno, unihash, outhash, tuple(warnings))


class _Results(logging.Handler):
    """Keeps what a task logs for the build's summary; the worker sends it when the task ends."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


class ShellFailed(BuildError):
    pass


class PythonTaskFailed(BuildError):
    """A python task function raised: located at the metadata line of the failing statement."""


def _symlink(target: str, link: str) -> None:
    atomic_symlink(os.path.basename(target), link)


def shell_functions_needed(d: DataStore, func: str) -> list[str]:
    """``func`` and every shell function it calls, directly or not, in a stable order."""
    funcs = {k for k in d.keys() if d.getVarFlag(k, "func", False) and not d.getVarFlag(k, "python", False)}
    seen: list[str] = []
    todo = [func]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.append(name)
        body = d.getVar(name, False) or ""
        todo.extend(sorted((shell_words(body) & funcs) - set(seen), reverse=True))
    return sorted(seen)


def shell_script(d: DataStore, func: str, cwd: str) -> str:
    out = io.StringIO()
    out.write("#!/bin/sh\n\n# Generated by layerbuild; run it by hand to repeat the task step.\n")
    out.write("bb_sh_exit_handler() {\n    ret=$?\n    if [ \"$ret\" != 0 ]; then\n"
              "        echo \"WARNING: exit code $ret from a shell command.\"\n    fi\n    exit $ret\n}\n")
    out.write("trap 'bb_sh_exit_handler' 0\nset -e\n")
    for var in sorted(k for k in d.keys() if not k.startswith("__")):
        if d.getVarFlag(var, "func", False):
            continue
        emit_var(d, var, out, all_vars=False)
    for name in shell_functions_needed(d, func):
        emit_var(d, name, out, all_vars=False)
    out.write(f"\ncd '{cwd}'\n{func}\n\n# cleanup\nret=$?\ntrap '' 0\nexit $ret\n")
    return out.getvalue()


class TaskRunner:
    """Runs the functions of one task of a parsed recipe."""

    def __init__(self, d: DataStore, task: str) -> None:
        self.d = d
        self.task = task
        self.tempdir = d.getVar("T") or "."
        self.pid = os.getpid()

    def cwd_for(self, func: str) -> str:
        dirs = (self.d.getVarFlag(func, "dirs") or "").split()
        return dirs[-1] if dirs else (self.d.getVar("B") or self.tempdir)

    def prepare_dirs(self, func: str) -> None:
        for directory in (self.d.getVarFlag(func, "cleandirs") or "").split():
            shutil.rmtree(directory, ignore_errors=True)
            os.makedirs(directory, exist_ok=True)
        for directory in (self.d.getVarFlag(func, "dirs") or "").split():
            os.makedirs(directory, exist_ok=True)

    def exec_func(self, func: str, d: DataStore | None = None) -> None:
        d = d or self.d
        body = d.getVar(func, False)
        if body is None:
            # as in BitBake: a task without a function body does nothing
            logging.getLogger("layerbuild.task").warning("function %s does not exist", func)
            return
        if d.getVarFlag(func, "filename", False) == "autogenerated":
            problem = export_problem(d, func)
            if problem is not None:
                raise problem
        self.prepare_dirs(func)
        cwd = self.cwd_for(func)
        os.makedirs(cwd, exist_ok=True)
        if d.getVarFlag(func, "python", False):
            filename = d.getVarFlag(func, "filename", False) or "<metadata>"
            lineno = int(d.getVarFlag(func, "lineno", False) or 1)
            code = compile_function(func, d.getVar(func, False), filename, lineno)
            env = dict(d.pyglobals)
            exec(code, env)
            previous = os.getcwd()
            os.chdir(cwd)
            try:
                env[func](d)
            except LayerbuildError as exc:
                if exc.location is None:  # bb.fatal(): the line that called it
                    exc.location = python_location(exc, Location(filename, lineno))
                raise
            except SystemExit as exc:
                raise PythonTaskFailed(f"{func} called {system_exit_message(exc)}",
                                       python_location(exc, Location(filename, lineno)),
                                       hint='stop a task with bb.fatal("why")') from exc
            except Exception as exc:
                raise PythonTaskFailed(f"{func} failed: {type(exc).__name__}: {exc}",
                                       python_location(exc, Location(filename, lineno))) from exc
            finally:
                os.chdir(previous)
            return
        script = os.path.join(self.tempdir, f"run.{func}.{self.pid}")
        with open(script, "w", encoding="utf-8") as fh:
            fh.write(shell_script(d, func, cwd))
        os.chmod(script, 0o755)
        _symlink(script, os.path.join(self.tempdir, f"run.{func}"))
        sys.stdout.flush()
        sys.stderr.flush()
        # the worker's stdout and stderr are the task log already: the script inherits them
        with open(os.devnull, "rb") as devnull:
            result = run(["/bin/sh", script], cwd=cwd, input=devnull, check=False)
        if result.returncode != 0:
            raise ShellFailed(f"{func} exited with status {result.returncode} (script {script})",
                              location_of(d, func))

    @contextlib.contextmanager
    def locks(self) -> Iterator[None]:
        handles = []
        try:
            for path in sorted((self.d.getVarFlag(self.task, "lockfiles") or "").split()):
                try:
                    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
                    fh = open(path, "a+")  # noqa: SIM115 - held until the task ends
                except OSError as exc:
                    what = "is a directory" if isinstance(exc, IsADirectoryError) else \
                        (exc.strerror or str(exc)).lower()
                    raise BuildError(f"{self.task}[lockfiles] names {path}, which cannot be a lock file: {what}",
                                     self.d.flag_location(self.task, "lockfiles") or location_of(self.d, self.task),
                                     hint="name a file, such as ${TMPDIR}/my.lock") from None
                fcntl.flock(fh, fcntl.LOCK_EX)
                handles.append(fh)
            yield
        finally:
            for fh in handles:
                fh.close()

    def run(self) -> None:
        d = self.d
        d.exec_hook = lambda func, dd: self.exec_func(func, dd)
        check_task_directories(d, self.task)
        with self.locks():
            for func in (d.getVarFlag(self.task, "prefuncs") or "").split():
                self.exec_func(func)
            self.exec_func(self.task)
            for func in (d.getVarFlag(self.task, "postfuncs") or "").split():
                self.exec_func(func)


#: The flags that name directories a task writes below: its functions' own, and the shared-state
#: directories its output is staged in and published into.
WRITE_FLAGS = ("dirs", "cleandirs", "sstate-inputdirs", "sstate-outputdirs")
_ROOT = re.compile(r"\$\{([a-zA-Z0-9\-_+./~:]+)\}")


def written_directories(d: DataStore, task: str) -> set[str]:
    """The directory variables (recipe.DIRECTORY_VARS) the task writes below beyond every task's: those
    the paths of its WRITE_FLAGS start with, through the variables they start with in turn. Unexpanded
    values: an empty DL_DIR still shows that do_fetch[dirs] = "${DL_DIR}" writes below it."""
    from layerbuild.engine.recipe import DIRECTORY_VARS, EVERY_TASK_WRITES

    funcs = [*(d.getVarFlag(task, "prefuncs") or "").split(), task, *(d.getVarFlag(task, "postfuncs") or "").split()]
    todo = [m.group(1) for func in funcs for flag in WRITE_FLAGS
            for word in str(d.getVarFlag(func, flag, False) or "").split() if (m := _ROOT.match(word))]
    seen: set[str] = set(EVERY_TASK_WRITES)
    found: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in DIRECTORY_VARS:
            found.add(name)  # (checked itself: where a valid one lies does not matter)
            continue
        todo.extend(m.group(1) for word in str(d.getVar(name, False) or "").split() if (m := _ROOT.match(word)))
    return found


def check_task_directories(d: DataStore, task: str) -> None:
    """Before ``task`` runs: each directory variable it writes below (:func:`written_directories`) is
    absolute, non-empty and not ``/``, else an error at the line that set it, or naming it unset."""
    for var in sorted(written_directories(d, task)):
        problem = directory_problem(d.getVar(var))
        if problem:
            local = os.path.join(str(d.getVar("TOPDIR") or ""), "conf", "local.conf")
            raise directory_error(var, problem, d.location(var) or Location(local),
                                  f"{d.getVar('PN')}:{task}")


def open_log(d: DataStore, task: str) -> str:
    tempdir = d.getVar("T")
    if not tempdir:
        raise BuildError("T is not set: nowhere to write the task log")
    os.makedirs(tempdir, exist_ok=True)
    log = os.path.join(tempdir, f"log.{task}.{os.getpid()}")
    # O_APPEND: commands a task runs append to the same file through descriptors of their own
    # (proc.run), and a write through one that kept its old offset would overwrite their output
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    # whatever sys.stdout/sys.stderr were in the parent (a terminal, a test's capture), here they are the log
    sys.stdout = open(1, "w", buffering=1, closefd=False, encoding="utf-8", errors="replace")  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False, encoding="utf-8", errors="replace")  # noqa: SIM115
    _symlink(log, os.path.join(tempdir, f"log.{task}"))
    return log


def _die_with_parent() -> None:
    """Ask the kernel to kill this worker if the build process dies (so no orphan publishes anything)."""
    import ctypes
    import signal
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


class _Worker:
    """What a worker knows about its task while it runs: its log, once open, and what the task gave for the
    build's summary; it tells the build how the task ended."""

    def __init__(self, result_fd: int) -> None:
        self.result_fd = result_fd
        self.log = ""
        self.results = _Results()

    def run(self, config: Configuration, job: TaskJob, publish: Callable[[], WorkerResult | None] | None) -> int:
        from layerbuild.engine.recipe import parse_recipe
        task = job.tid.task
        d = parse_recipe(config.d, config.evaluator, job.tid.fn, job.appends, job.layername)
        d.setVar("BB_TASKHASH", job.taskhash)
        d.setVar("BB_UNIHASH", job.unihash or job.taskhash)
        d.setVar("BB_CURRENT_TASK", short_task_name(task))
        # BitBake's task override, lowest priority: T:task-clean keeps do_clean's log out of the WORKDIR it removes
        overrides = d.getVar("OVERRIDES", False)
        d.setVar("OVERRIDES", f"task-{short_task_name(task).replace('_', '-')}" + (f":{overrides}" if overrides else ""))
        self.log = open_log(d, task)
        os.write(self.result_fd, WorkerResult(log=self.log).encode())
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        root = logging.getLogger("layerbuild")
        root.handlers[:] = [handler]
        root.setLevel(logging.DEBUG)
        logging.getLogger("layerbuild.task.result").handlers[:] = [self.results]
        sys.stderr.write(f"DEBUG: Executing task {job.label} ({job.taskhash})\n")
        TaskRunner(d, task).run()
        if publish is not None:
            published = publish()
            if published is not None:
                os.write(self.result_fd, published.encode())
        sys.stdout.flush()
        sys.stderr.flush()
        return 0

    def output(self) -> str | None:
        """What the worker was writing when an OSError names no file: its log, once open."""
        return f"the task log {self.log}" if self.log else None

    def tell(self, end: Exit) -> None:
        """The traceback (under --debug) and the ``ERROR:`` line go to the task log; before the log is open
        stderr is still the build's console, where the build reports the failure itself. The build is
        told why in any case: the log may be on a full disk."""
        with contextlib.suppress(OSError):
            sys.stderr.write(end.traceback)
            if self.log and end.summary:
                sys.stderr.write(f"ERROR: {end.summary}\n")
        if end.summary:
            where = end.error.location if end.error is not None else None
            os.write(self.result_fd, WorkerResult(error=end.summary, file=where.path if where else None,
                                                  line=where.line if where else 0).encode())


def worker_main(config: Configuration, job: TaskJob, result_fd: int,
                publish: Callable[[], WorkerResult | None] | None = None) -> int:
    """Body of a task's worker process: runs the task, then ``publish`` (its shared state) when the task
    succeeded. Returns the exit status (:func:`layerbuild.util.exits.guard`: a worker reports, it never hangs
    or leaks a traceback to the console) and sends :class:`WorkerResult` messages to ``result_fd``."""
    os.setpgrp()
    _die_with_parent()
    worker = _Worker(result_fd)
    try:
        return guard(lambda: worker.run(config, job, publish), debug=bool(os.environ.get(DEBUG_ENV)),
                     tell=worker.tell, output=worker.output)
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        if worker.results.lines:
            with contextlib.suppress(OSError):
                os.write(result_fd, WorkerResult(results=tuple(worker.results.lines)).encode())


#: how much of the end of a log :func:`tail` reads
TAIL_BYTES = 16384


def tail(path: str | None, lines: int = 20) -> tuple[str, ...]:
    """The last ``lines`` whole lines of the log at ``path``."""
    if not path:
        return ()
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            start = max(0, fh.tell() - TAIL_BYTES)
            fh.seek(start)
            data = fh.read()
    except OSError:
        return ()
    if start > 0:  # the read began inside a line: that piece is no line of the log
        data = data.partition(b"\n")[2]
    return tuple(data.decode("utf-8", "replace").splitlines()[-lines:])


def location_of(d: DataStore, func: str) -> Location | None:
    filename = d.getVarFlag(func, "filename", False)
    if filename:
        return Location(filename, int(d.getVarFlag(func, "lineno", False) or 0))
    return None
