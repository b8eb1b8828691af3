"""Typed user-facing errors.

Library code raises these; only :mod:`layerbuild.util.exits` turns them into messages and exit codes.
Every error that stems from a file names it as ``path:line: error: message``.
"""

from __future__ import annotations

import re
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


class UnexpandedError(ExpansionError):
    """A value bound for a generated file (os-release, extension-release, a unit, a package's control
    file) still holds a ``${...}`` that expansion left as it was, because the variable is not set."""


_REFERENCE = re.compile(r"\$\{([A-Za-z0-9_+./:-]+)\}|\$\{")


def check_expanded(value: str, what: str, var: str | None = None, location: Location | None = None) -> None:
    """Refuse ``value`` for ``what`` (``the os-release field ID``) when it holds a literal ``${``.

    BitBake keeps ``${NAME}`` as it is when NAME is unset; written into os-release or a control file,
    systemd or dpkg would read it literally. ``var`` is the variable the value came from and
    ``location`` where that was set: the error names both.
    """
    match = _REFERENCE.search(value)
    if match is None:
        return
    name = match.group(1)
    if name is None:
        raise UnexpandedError(f"{var} holds a literal '${{', which must not go into {what}" if var
                              else f"{what} would hold a literal '${{'", location)
    if var:
        raise UnexpandedError(f"{var} holds ${{{name}}}, which would go literally into {what}: {name} is not set",
                              location, hint=f"set {name}, or leave it out of {var}")
    raise UnexpandedError(f"{what} would hold ${{{name}}} literally: {name} is not set", location,
                          hint=f"set {name}")


class PythonError(LayerbuildError):
    """Python code in metadata raised."""


class FatalError(LayerbuildError):
    """Raised by ``bb.fatal`` (and ``bb.error`` is only logged, as in BitBake)."""


class SkipRecipe(Exception):
    """Raised by metadata to skip a recipe (``bb.parse.SkipRecipe``)."""


class VariableError(LayerbuildError):
    """A variable whose value its type cannot read (``SOURCE_DATE_EPOCH = "soon"``)."""


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


class ErrorList(LayerbuildError):
    """Several errors found together (every recipe that failed to parse), reported one after another;
    an error several recipes share (a class they all inherit) once."""

    def __init__(self, errors: tuple[LayerbuildError, ...]) -> None:
        super().__init__(f"{len(errors)} errors", errors[0].location if errors else None)
        self.errors = errors

    def __reduce__(self) -> tuple[object, ...]:
        return (ErrorList, (self.errors,))

    def format(self) -> str:
        return "\n".join(dict.fromkeys(error.format() for error in self.errors))
