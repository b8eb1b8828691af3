"""Typed user-facing errors.

Library code raises these; only the CLI turns them into messages and exit codes.
Every error that stems from a file names it as ``path:line: error: message``.
"""

from __future__ import annotations

from dataclasses import dataclass

#: set (to "1") by the command line under ``--debug``: errors then show their tracebacks, also in the
#: logs of task workers
DEBUG_ENV = "LAYERBUILD_DEBUG"


@dataclass(frozen=True, slots=True)
class Location:
    path: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


class LayerbuildError(Exception):
    """A user error or build failure with a clear one-line message."""

    def __init__(self, message: str, location: Location | None = None, hint: str | None = None,
                 notes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint
        self.notes = notes

    def __reduce__(self) -> tuple[object, ...]:
        # Keep location, hint and notes when an error crosses a process boundary.
        return (_rebuild, (type(self), self.message, self.location, self.hint, self.notes))

    def format(self) -> str:
        prefix = f"{self.location}: " if self.location else ""
        lines = [f"{prefix}error: {self.message}"]
        lines.extend(f"  {note}" for note in self.notes)
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


def _rebuild(cls: type[LayerbuildError], message: str, location: Location | None, hint: str | None,
             notes: tuple[str, ...]) -> LayerbuildError:
    return cls(message, location, hint, notes)


class ParseError(LayerbuildError):
    """Metadata that cannot be read: syntax, missing include/class, bad statement."""


class ExpansionError(LayerbuildError):
    """A ``${VAR}`` or ``${@...}`` expansion failed."""


class PythonError(LayerbuildError):
    """Python code in metadata raised."""


class LayerError(LayerbuildError):
    """A layer set that does not fit together."""


class TargetError(LayerbuildError):
    """An unknown target or task."""


class BuildError(LayerbuildError):
    """A task failed."""


class SquashfsError(LayerbuildError):
    """An image could not be written."""


class UsageError(LayerbuildError):
    """Bad command-line usage (exit status 2)."""
