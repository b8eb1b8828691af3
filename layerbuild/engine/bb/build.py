"""``bb.build``: running functions and the recipe's tasks, as metadata sees them while parsing.

``addtask``/``deltask`` are the statements of the same names; ``listtasks``, ``preceedtask`` and
``tasksbetween`` read the task list and the ``deps`` flags those statements leave. The task events
carry BitBake's names for handlers that test for them.
"""

from __future__ import annotations

import time
from typing import Any

from layerbuild.engine.bb.event import Event, getName
from layerbuild.engine.bb.messages import fatal
from layerbuild.engine.evaluatorcalls import evaluator_calls


def exec_func(func: str, d: Any, dirs: Any = None, **_kw: Any) -> Any:
    """Run the python function ``func`` of ``d`` (a shell function only inside a task)."""
    return d.exec_func(func)


def addtask(task: str, before: str | None, after: str | None, d: Any) -> None:
    """The ``addtask`` statement, from Python (anonymous functions)."""
    evaluator_calls().add_task(d, task, before, after, d.current_location)


def deltask(task: str, d: Any) -> None:
    """The ``deltask`` statement, from Python."""
    evaluator_calls().del_task(d, task)


#: the task flags ``add_tasks`` keeps for each task in ``_task_deps``, in BitBake's order
TASK_DEPS_FLAGS = ("mcdepends", "depends", "rdepends", "deptask", "rdeptask", "recrdeptask", "recideptask",
                   "nostamp", "fakeroot", "noexec", "umask")


def add_tasks(tasklist: list[str], d: Any) -> None:
    """Make each task of ``tasklist`` (its name expanded) a task and record, in the variable ``_task_deps``,
    the list of tasks, the dependency flags each sets (expanded) and the tasks each comes after, as
    BitBake's finalisation leaves them for its cache and for metadata that reads them."""

    def expand(value: Any) -> Any:
        # most names and flags hold no ${...}: skip the datastore's expansion for them
        return d.expand(value) if isinstance(value, str) and "${" in value else value

    task_deps = d.getVar("_task_deps", False) or {}
    tasks = task_deps.setdefault("tasks", [])
    parents = task_deps.setdefault("parents", {})
    if tasklist:
        recorded = {flag: task_deps.setdefault(flag, {}) for flag in TASK_DEPS_FLAGS}
    for name in tasklist:
        task = expand(name)
        d.setVarFlag(task, "task", 1)
        if task not in tasks:
            tasks.append(task)
        flags = d.getVarFlags(task) or {}
        for flag, found in recorded.items():
            if flag in flags:
                found[task] = expand(flags[flag])
        parents[task] = [expand(dep) for dep in flags.get("deps") or ()]
    d.setVar("_task_deps", task_deps)


def listtasks(d: Any) -> tuple[str, ...]:
    """The tasks of the recipe, in the order they were added."""
    return tuple(d.getVar("__BBTASKS", False) or ())


def preceedtask(task: str, with_recrdeptasks: bool, d: Any) -> set[str]:
    """The tasks ``task`` comes after (its ``after`` and the tasks naming it in their ``before``), and with
    ``with_recrdeptasks`` those of its ``[recrdeptask]``."""
    preceding: set[str] = set()
    if task not in (d.getVar("__BBTASKS", False) or ()):
        return preceding
    preceding.update(d.getVarFlag(task, "deps") or ())
    if with_recrdeptasks:
        preceding.update((d.getVarFlag(task, "recrdeptask") or "").split())
    return preceding


def tasksbetween(task_start: str, task_end: str, d: Any) -> list[str]:
    """The tasks on the dependency chains from ``task_start`` up to ``task_end`` (both included), in the
    order the chains reach them."""
    tasks = [k for k in d.keys_with_flag("task") if d.getVarFlag(k, "task")]
    # each task's [deps], read once: the walk visits a task once per chain that reaches it
    deps = {other: d.getVarFlag(other, "deps", False) or () for other in tasks}
    found: list[str] = []

    def follow(task: str, chain: list[str]) -> None:
        if task in chain:
            fatal(f"Circular task dependencies as {task} depends on itself via the chain {' -> '.join(chain)}")
        chain.append(task)
        if task == task_end:
            if any(other != task for other in tasks):
                found.extend(t for t in chain if t not in found)
        else:
            for other in tasks:
                if other != task and task in deps[other]:
                    follow(other, chain)
        chain.pop()

    follow(task_start, [])
    return found


def write_taint(task: str, d: Any) -> None:
    raise NotImplementedError("bb.build.write_taint: a task is forced to run again with layerbuild -f -c TASK")


class TaskBase(Event):
    """A task's event: ``task``, ``taskfile``, ``pn``, ``pv`` and the log it writes to."""

    def __init__(self, t: str, fn: str, logfile: str | None, d: Any) -> None:
        super().__init__()
        self._task = t
        self._fn = fn
        self._package = d.getVar("PF")
        self._mc = d.getVar("BB_CURRENT_MC")
        self.taskfile = d.getVar("FILE")
        self.taskname = t
        self.logfile = logfile
        self.time = time.time()
        self.pn = d.getVar("PN")
        self.pv = d.getVar("PV")
        self._message = f"recipe {self._package}: task {t}: {self.getDisplayName()}"

    @property
    def task(self) -> str:
        return self._task

    @task.setter
    def task(self, value: str) -> None:
        self._task = value

    def getDisplayName(self) -> str:
        return getName(self)[4:]


class TaskStarted(TaskBase):
    def __init__(self, t: str, fn: str, logfile: str | None, taskflags: dict[str, Any], d: Any) -> None:
        super().__init__(t, fn, logfile, d)
        self.taskflags = taskflags


class TaskSucceeded(TaskBase):
    pass


class TaskFailed(TaskBase):
    def __init__(self, task: str, fn: str, logfile: str | None, metadata: Any, errprinted: bool = False) -> None:
        self.errprinted = errprinted
        super().__init__(task, fn, logfile, metadata)


class TaskFailedSilent(TaskBase):
    pass


class TaskInvalid(TaskBase):
    def __init__(self, task: str, fn: str, metadata: Any) -> None:
        super().__init__(task, fn, None, metadata)
        self._message = f"No such task '{task}'"


class TaskProgress(Event):
    def __init__(self, progress: float, rate: str | None = None) -> None:
        super().__init__()
        self.progress = progress
        self.rate = rate
