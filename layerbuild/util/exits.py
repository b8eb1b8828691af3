"""How a process ends when an exception reaches its entry: one mapping from the exception to the exit status
and the words the user reads, used by every process layerbuild runs (the console scripts, a task's worker,
which also publishes the task's shared state, the boot daemon and a subhost's init).

Exit status: 0 success (also when the reader of standard output went away: ``| head``), 1 a user error, a
failed build or an internal error, 2 a usage error, 128 + the signal's number when stopped by one (130
Ctrl-C, 143 SIGTERM, 129 SIGHUP). A user error is its ``path:line: error: message``, with its traceback
only under ``--debug``; so is a full disk, which is the user's to fix. Any other exception is a bug: one
``internal error`` line naming it, or under ``--debug`` its traceback.

Each process says it where its user reads it (:func:`guard`'s ``tell``): a console script on stderr, a
worker in its task log and to the build, a boot process in the subhost's log and to the command that
started it.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from layerbuild.util.errors import LayerbuildError, UsageError
from layerbuild.util.fsutil import DISK_FULL

#: what an internal error's line adds when the traceback was left out
DEBUG_HINT = " (run with --debug for a traceback)"


@dataclass(frozen=True, slots=True)
class Exit:
    """How a process ends for an exception: its status and what it tells the user."""

    status: int
    #: the words for the user ("" when there is nothing to say: a closed stdout, an internal error whose
    #: traceback says it under --debug)
    message: str
    #: the error as a caller or a log line carries it on; None when the process was stopped by a signal or
    #: asked to exit (``sys.exit``), or when stdout went away
    error: LayerbuildError | None = None
    #: under --debug, the traceback shown before the message
    traceback: str = ""
    #: whether it was a bug (an unexpected exception), not the user's
    internal: bool = False

    @property
    def text(self) -> str:
        """What a console shows: the traceback under --debug, then the message."""
        return self.traceback + (f"{self.message}\n" if self.message else "")

    @property
    def summary(self) -> str:
        """The message as a line of a log reads it after ``ERROR: ``: ``path:line: error: message`` where the
        error has a place, the bare message where it has none."""
        words = self.message or (self.error.format() if self.error is not None else "")
        return words.removeprefix("error: ")


def exit_for(exc: BaseException, *, debug: bool = False, prog: str | None = None,
             output: str | None = None) -> Exit:
    """The exit status and message for ``exc``, which ended a process's work.

    ``prog`` names the command a usage error is about; ``output`` is what the process writes that an
    ``OSError`` naming no file was about (a worker's task log).
    """
    if isinstance(exc, SystemExit):  # asked for (argparse after a usage message, --help, --version)
        code = exc.code
        if code is None or isinstance(code, int):
            return Exit(code or 0, "")
        return Exit(1, str(code))
    if isinstance(exc, KeyboardInterrupt):
        # Ctrl-C, or SIGTERM/SIGHUP during a build (runqueue.Terminated carries the signal)
        signum = int(getattr(exc, "signum", signal.SIGINT))
        words = "Interrupted." if signum == signal.SIGINT else f"Terminated ({signal.Signals(signum).name})."
        return Exit(128 + signum, words)
    if isinstance(exc, BrokenPipeError) and _stdout_gone():
        return Exit(0, "")  # the reader went away (``| head``): nothing more to say
    tb = "".join(traceback.format_exception(exc)) if debug else ""
    if isinstance(exc, UsageError):
        return Exit(2, f"{prog}: {exc.format()}" if prog else exc.format(), exc)
    if isinstance(exc, LayerbuildError):
        return Exit(1, exc.format(), exc, tb)
    if isinstance(exc, OSError) and exc.errno in DISK_FULL:
        full = LayerbuildError(f"no space left on device: cannot write {exc.filename or output or 'a file'}")
        return Exit(1, full.format(), full, tb)
    bug = LayerbuildError(f"internal error: {type(exc).__name__}: {exc}")
    # under --debug the traceback ends with the exception already
    return Exit(1, "" if debug else bug.format() + DEBUG_HINT, bug, tb, internal=True)


def _stdout_gone() -> bool:
    """Whether standard output is a pipe or socket whose reader has closed it."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), 0)
        return any(events & (select.POLLERR | select.POLLHUP) for _fd, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def tell_console(end: Exit) -> None:
    sys.stderr.write(end.text)
    sys.stderr.flush()


def guard(body: Callable[[], int], *, debug: bool, tell: Callable[[Exit], None] = tell_console,
          prog: str | None = None, output: Callable[[], str | None] | None = None) -> int:
    """Run a process's work, ``body``; any exception that ends it becomes :func:`exit_for`'s exit, told by
    ``tell``. Returns the exit status."""
    try:
        return body()
    except BaseException as exc:
        end = exit_for(exc, debug=debug, prog=prog, output=output() if output is not None else None)
        if isinstance(exc, BrokenPipeError) and end.status == 0:
            # keep Python from complaining at exit when it flushes the closed stdout
            with contextlib.suppress(OSError, ValueError, AttributeError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        tell(end)
        return end.status
