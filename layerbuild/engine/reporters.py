"""Reporters: a rich progress display on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
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


def equivalence_note(ev: HashEquivalent) -> str:
    return (f"{ev.label}: unihash {ev.unihash} (equivalent of taskhash {ev.taskhash}, output hash {ev.outhash}); "
            "what depends on it keeps its hash")


def _summary(ev: BuildFinished, results: list[str]) -> str:
    """The build's last words: the counts, then what the tasks gave for it (test results) in task order."""
    state = "interrupted" if ev.interrupted else ("failed" if ev.failed else "succeeded")
    sstate = f" ({ev.sstate.describe()})" if ev.sstate is not None else ""
    line = (f"Build {state}: {ev.ran} tasks run, {ev.restored} restored from sstate{sstate}, {ev.uptodate} up to date, "
            f"{ev.failed} failed" + (f", {ev.skipped} not run" if ev.skipped else "")
            + (f", {ev.covered} not needed (equivalent outputs)" if ev.covered else "") + ".")
    return "\n".join([line, *results])


def _failure(ev: TaskFailed) -> str:
    lines = [f"ERROR: Task {ev.label} failed: {ev.reason}"]
    if ev.tail:
        lines.append("Log data follows (last lines):")
        lines.extend(f"| {line}" for line in ev.tail)
    if ev.log:
        lines.append(f"Logfile of failure stored in: {ev.log}")
    return "\n".join(lines)


class PlainReporter:
    """One line per event, for logs and pipes."""

    def __init__(self, out: TextIO = sys.stderr) -> None:
        self.out = out
        self.results: list[str] = []

    def __call__(self, ev: Event) -> None:
        if isinstance(ev, BuildStarted):
            self.out.write(f"NOTE: Executing tasks: {ev.total} to run, {ev.setscene} to restore from sstate, "
                           f"{ev.uptodate} up to date\n")
        elif isinstance(ev, SetsceneRestored):
            self.out.write(f"NOTE: Restored {ev.label} from sstate\n")
        elif isinstance(ev, SetsceneFailed):
            self.out.write(f"WARNING: {ev.label}: {ev.reason}; running the task instead\n")
        elif isinstance(ev, BuildWarning):
            self.out.write(f"WARNING: {ev.message}\n")
        elif isinstance(ev, HashEquivalent):
            self.out.write(f"NOTE: {equivalence_note(ev)}\n")
        elif isinstance(ev, TaskStarted):
            self.out.write(f"NOTE: Running task {ev.number} of {ev.total} ({ev.label})\n")
        elif isinstance(ev, TaskSucceeded):
            self.results.extend(ev.results)
            self.out.write(f"NOTE: Task {ev.label} done ({ev.seconds:.1f}s)\n")
        elif isinstance(ev, TaskFailed):
            self.results.extend(ev.results)
            self.out.write(_failure(ev) + "\n")
        elif isinstance(ev, TaskSkipped):
            self.out.write(f"NOTE: Not running {ev.label}: {ev.reason}\n")
        elif isinstance(ev, BuildFinished):
            self.out.write(_summary(ev, self.results) + "\n")
        self.out.flush()


class RichReporter:
    """A live progress bar with the running tasks and their elapsed time."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        self.console = Console(stderr=True)
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("{task.fields[running]}"), console=self.console,
                                 transient=False)
        self.task: Any = None
        self.running: dict[TaskId, tuple[str, float]] = {}
        self.restored = 0
        self.results: list[str] = []

    def _running_text(self) -> str:
        now = time.monotonic()
        return ", ".join(f"{label} ({now - start:.0f}s)" for label, start in sorted(self.running.values()))

    def _refresh(self) -> None:
        if self.task is not None:
            self.progress.update(self.task, running=self._running_text())

    def __call__(self, ev: Event) -> None:
        if isinstance(ev, BuildStarted):
            self.progress.start()
            self.task = self.progress.add_task("Tasks", total=ev.total + ev.setscene, running="")
        elif isinstance(ev, SetsceneRestored):
            self.restored += 1
            self.progress.advance(self.task)
        elif isinstance(ev, SetsceneFailed):
            self.console.print(f"[yellow]WARNING:[/] {ev.label}: {ev.reason}; running the task instead")
        elif isinstance(ev, BuildWarning):
            self.console.print(f"WARNING: {ev.message}", style="yellow", markup=False, highlight=False)
        elif isinstance(ev, HashEquivalent):
            self.console.print(f"NOTE: {equivalence_note(ev)}", markup=False, highlight=False)
        elif isinstance(ev, TaskStarted):
            self.running[ev.tid] = (ev.label, time.monotonic())
            self._refresh()
        elif isinstance(ev, TaskSucceeded):
            self.results.extend(ev.results)
            self.running.pop(ev.tid, None)
            self.progress.advance(self.task)
            self._refresh()
        elif isinstance(ev, TaskFailed):
            self.results.extend(ev.results)
            self.running.pop(ev.tid, None)
            self.progress.advance(self.task)
            self.console.print(_failure(ev), markup=False, highlight=False)
            self._refresh()
        elif isinstance(ev, TaskSkipped):
            self.progress.advance(self.task)
        elif isinstance(ev, BuildFinished):
            if self.task is not None:
                self.progress.update(self.task, running="")
                self.progress.stop()
            self.console.print(_summary(ev, self.results), markup=False, highlight=False)


def make_reporter(stream: TextIO = sys.stderr) -> Any:
    return RichReporter() if stream.isatty() else PlainReporter(stream)


def reporters(*each: Callable[[Event], None] | None) -> Callable[[Event], None]:
    """One reporter that tells every given one (None for one that is off), in order."""
    chosen = [reporter for reporter in each if reporter is not None]
    if len(chosen) == 1:
        return chosen[0]

    def tell(ev: Event) -> None:
        for reporter in chosen:
            reporter(ev)
    return tell
