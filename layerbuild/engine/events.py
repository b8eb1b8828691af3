"""Typed events the scheduler emits; reporters turn them into output. The scheduler never prints.

A task's events carry its :class:`~layerbuild.engine.taskgraph.TaskId` and, for reporters, its human ``label``
(``pn:do_task``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from layerbuild.engine.taskgraph import TaskId
from layerbuild.util.errors import Location
from layerbuild.util.sizes import human_size


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


class SstateStats:
    """What the shared state gave a build: objects restored from each mirror, the bytes fetched, and how
    many shared-state tasks were wanted (restored or run) and restored (the hit rate)."""

    def __init__(self) -> None:
        self.mirrors: dict[str, int] = {}
        self.transferred = 0
        self.wanted = 0
        self.restored = 0
        self._lock = threading.Lock()

    def restored_from(self, url: str, size: int) -> None:
        with self._lock:
            self.mirrors[url] = self.mirrors.get(url, 0) + 1
            self.transferred += size

    def describe(self) -> str:
        """``38 from s3://bucket/sstate, 1.2 MiB transferred; hit rate 95%``."""
        rate = f"hit rate {100 * self.restored // self.wanted if self.wanted else 100}%"
        if not self.mirrors:
            return rate
        sources = ", ".join(f"{n} from {url}" for url, n in sorted(self.mirrors.items()))
        return f"{sources}, {human_size(self.transferred)} transferred; {rate}"


@dataclass(frozen=True, slots=True)
class HashEquivalent:
    """A task's output was already known: the task takes the unihash that output was first given, and what
    depends on it is planned again with it."""
    tid: TaskId
    label: str
    taskhash: str
    unihash: str
    outhash: str


@dataclass(frozen=True, slots=True)
class BuildWarning:
    """Something the build works around (a hash equivalence store that is down)."""
    message: str


@dataclass(frozen=True, slots=True)
class BuildFinished:
    ran: int
    restored: int
    failed: int
    skipped: int
    uptodate: int
    interrupted: bool = False
    #: shown in the summary when the build has mirrors, or restored anything
    sstate: SstateStats | None = None
    #: tasks planned to run that hash equivalence made unneeded (what needed them was restored or up to date)
    covered: int = 0


Event = (BuildStarted | SetsceneRestored | SetsceneFailed | TaskStarted | TaskSucceeded | TaskFailed | TaskSkipped
         | HashEquivalent | BuildWarning | BuildFinished)
