"""Typed events the scheduler emits; reporters turn them into output. The scheduler never prints."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BuildStarted:
    total: int
    setscene: int
    uptodate: int


@dataclass(frozen=True, slots=True)
class SetsceneRestored:
    label: str


@dataclass(frozen=True, slots=True)
class SetsceneFailed:
    label: str
    reason: str


@dataclass(frozen=True, slots=True)
class TaskStarted:
    label: str
    number: int
    total: int
    log: str | None


@dataclass(frozen=True, slots=True)
class TaskSucceeded:
    label: str
    seconds: float


@dataclass(frozen=True, slots=True)
class TaskFailed:
    label: str
    log: str | None
    tail: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class TaskSkipped:
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
