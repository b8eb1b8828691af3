"""Typed events the scheduler emits; reporters turn them into output. The scheduler never prints.

A task's events carry its :class:`~layerbuild.engine.taskgraph.TaskId` and, for reporters, its human ``label``
(``pn:do_task``).
"""

from __future__ import annotations

from dataclasses import dataclass

from layerbuild.engine.taskgraph import TaskId
from layerbuild.util.errors import Location


@dataclass(frozen=True, slots=True)
class BuildStarted:
    total: int
    setscene: int
    uptodate: int


@dataclass(frozen=True, slots=True)
class SetsceneRestored:
    tid: TaskId
    label: str


@dataclass(frozen=True, slots=True)
class SetsceneFailed:
    tid: TaskId
    label: str
    reason: str


@dataclass(frozen=True, slots=True)
class TaskStarted:
    tid: TaskId
    label: str
    number: int
    total: int
    log: str | None


@dataclass(frozen=True, slots=True)
class TaskSucceeded:
    tid: TaskId
    label: str
    seconds: float
    #: what the task gave for the build's summary (a test run's counts and report)
    results: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TaskFailed:
    tid: TaskId
    label: str
    log: str | None
    tail: tuple[str, ...]
    reason: str
    results: tuple[str, ...] = ()
    #: how long the task ran (0 when it failed before it started: a full disk at its stamp)
    seconds: float = 0.0
    #: the metadata line the error points at, when it names one (``bb.fatal``, a failing python statement)
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class TaskSkipped:
    tid: TaskId
    label: str
    reason: str


@dataclass(frozen=True, slots=True)
class BuildFinished:
    ran: int
    restored: int
    failed: int
    skipped: int
    uptodate: int
    interrupted: bool = False


Event = (BuildStarted | SetsceneRestored | SetsceneFailed | TaskStarted | TaskSucceeded | TaskFailed | TaskSkipped
         | BuildFinished)
