"""The machine-readable event stream (``--log-format json``): one JSON object a line for every scheduler
event, every message logged (notes, warnings, errors) and the command's exit.

The objects follow ``docs/events.schema.json`` (version :data:`SCHEMA_VERSION`, documented in
docs/events.md): each has ``schema``, ``event`` and ``time`` (seconds since the epoch), then the event's
own fields. A later version may add events and fields; it changes ``schema`` when it removes or changes
one.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from typing import Any, TextIO

from layerbuild.engine.events import (
    BuildFinished,
    BuildStarted,
    BuildWarning,
    Event,
    HashEquivalent,
    SetsceneFailed,
    SetsceneRestored,
    TaskFailed,
    TaskSkipped,
    TaskStarted,
    TaskSucceeded,
)
from layerbuild.engine.taskgraph import TaskId
from layerbuild.util.errors import LayerbuildError, Location

SCHEMA_VERSION = 1

#: a logged message that names its place as errors do: ``path:line: [warning: |error: ]message``
_PLACED = re.compile(r"(?P<file>[^\s:][^:\n]*):(?P<line>\d+): (?:(?:warning|error|note): )?(?P<message>.*)", re.S)

_LEVELS = ((logging.ERROR, "error"), (logging.WARNING, "warning"), (logging.INFO, "note"), (0, "debug"))


def _task(tid: TaskId, label: str) -> dict[str, Any]:
    return {"task": label, "recipe_file": tid.fn, "task_name": tid.task}


def _where(location: Location | None) -> dict[str, Any]:
    if location is None:
        return {}
    return {"file": location.path, "line": location.line} if location.line else {"file": location.path}


class EventStream:
    """Writes the events of one command to ``out`` as JSON lines; the reporter the run queue calls, the
    logging handler for messages and the place the command's end is said."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.results: list[str] = []
        self._lock = threading.Lock()

    def emit(self, event: str, **fields: Any) -> None:
        record = {"schema": SCHEMA_VERSION, "event": event, "time": round(time.time(), 3), **fields}
        line = json.dumps(record, sort_keys=True, ensure_ascii=False)
        with self._lock:
            self.out.write(line + "\n")
            self.out.flush()

    def __call__(self, ev: Event) -> None:
        if isinstance(ev, BuildStarted):
            self.emit("build_started", tasks=ev.total, setscene=ev.setscene, uptodate=ev.uptodate)
        elif isinstance(ev, SetsceneRestored):
            self.emit("setscene_restored", **_task(ev.tid, ev.label))
        elif isinstance(ev, SetsceneFailed):
            self.emit("setscene_failed", **_task(ev.tid, ev.label), reason=ev.reason)
        elif isinstance(ev, TaskStarted):
            self.emit("task_started", **_task(ev.tid, ev.label), number=ev.number, total=ev.total)
        elif isinstance(ev, TaskSucceeded):
            self.results.extend(ev.results)
            self.emit("task_succeeded", **_task(ev.tid, ev.label), seconds=round(ev.seconds, 3),
                      results=list(ev.results))
        elif isinstance(ev, TaskFailed):
            self.results.extend(ev.results)
            self.emit("task_failed", **_task(ev.tid, ev.label), seconds=round(ev.seconds, 3), log=ev.log,
                      reason=ev.reason, tail=list(ev.tail), results=list(ev.results), **_where(ev.location))
        elif isinstance(ev, TaskSkipped):
            self.emit("task_skipped", **_task(ev.tid, ev.label), reason=ev.reason)
        elif isinstance(ev, HashEquivalent):
            self.emit("hash_equivalent", **_task(ev.tid, ev.label), taskhash=ev.taskhash, unihash=ev.unihash,
                      outhash=ev.outhash)
        elif isinstance(ev, BuildWarning):
            self.message("warning", ev.message)
        elif isinstance(ev, BuildFinished):
            state = "interrupted" if ev.interrupted else ("failed" if ev.failed else "succeeded")
            self.emit("build_finished", status=state, ran=ev.ran, restored=ev.restored, failed=ev.failed,
                      skipped=ev.skipped, uptodate=ev.uptodate, covered=ev.covered, results=self.results)

    def message(self, level: str, text: str) -> None:
        """A logged message; one that starts with ``path:line:`` gives its place as ``file`` and ``line``."""
        placed = _PLACED.fullmatch(text)
        if placed is not None:
            self.emit(level, message=placed["message"], file=placed["file"], line=int(placed["line"]))
        else:
            self.emit(level, message=text)

    def error(self, error: LayerbuildError | None, message: str) -> None:
        """The error that ended the command (its place, hint and notes as fields of their own)."""
        if error is None:
            if message:
                self.emit("error", message=message)
            return
        fields: dict[str, Any] = {"message": error.message, **_where(error.location)}
        if error.hint:
            fields["hint"] = error.hint
        if error.notes:
            fields["notes"] = list(error.notes)
        self.emit("error", **fields)

    def exit(self, status: int) -> None:
        """The command's last line: its exit status."""
        self.emit("exit", status=status)


class EventLogHandler(logging.Handler):
    """Logging records as ``note``, ``warning``, ``error`` (and under --debug ``debug``) events."""

    def __init__(self, stream: EventStream) -> None:
        super().__init__(logging.DEBUG)
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        level = next(name for floor, name in _LEVELS if record.levelno >= floor)
        try:
            self.stream.message(level, record.getMessage())
        except Exception:  # a handler never raises into the code that logged
            self.handleError(record)
