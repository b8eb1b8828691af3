"""The one place subprocesses start.

Every external command goes through :func:`run`, so a failure always reads the same way: the
copy-pasteable command line, its exit status and where its output went.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from layerbuild.util.errors import LayerbuildError

#: What a command reads on stdin: bytes, an open binary file, or a function that writes the stream
#: to the command's stdin (run in a thread, so a producer never has to hold the whole stream).
Input = bytes | IO[bytes] | Callable[[IO[bytes]], None]


class CommandError(LayerbuildError):
    """An external command could not start or exited with a failure status."""

    def __init__(self, argv: list[str], returncode: int | None, log: Path | None = None,
                 detail: str | None = None) -> None:
        command = shlex.join(argv)
        if returncode is None:
            message = f"cannot run {command}: {detail}"
        else:
            message = f"command failed with exit status {returncode}: {command}"
        notes = (f"log: {log}",) if log is not None else ()
        if detail and returncode is not None:
            notes = (detail, *notes)
        super().__init__(message, notes=notes)
        self.argv = list(argv)
        self.returncode = returncode
        self.log = log


def run(argv: list[str], *, cwd: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None,
        input: Input | None = None, stdout: int | IO[bytes] | None = None, log: Path | None = None,
        check: bool = True, merged: bool = False,
        stderr: int | IO[bytes] | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` and wait for it.

    ``stdout`` is passed to :class:`subprocess.Popen` (``subprocess.PIPE`` captures it); when it is
    ``None`` and ``log`` is given, stdout goes to the log, which always receives stderr (appended, so
    one log can hold several commands). Without a log both streams are inherited.
    With ``merged`` stdout and stderr are captured together (in ``stdout`` of the result) and, with
    a log, copied to it afterwards. ``stderr`` (``subprocess.PIPE`` captures it, in ``stderr`` of the
    result) takes stderr from the log. With ``check`` a non-zero exit raises :class:`CommandError`
    (carrying the merged output as its detail).
    """
    argv = [os.fspath(a) for a in argv]
    logfh: IO[bytes] | None = None
    writer: Callable[[IO[bytes]], None] | None = None
    stdin: int | IO[bytes] | None = None
    if isinstance(input, bytes):
        stdin = subprocess.PIPE
    elif callable(input):
        stdin = subprocess.PIPE
        writer = input
    elif input is not None:
        stdin = input
    try:
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            logfh = open(log, "ab")
            logfh.write(f"$ {shlex.join(argv)}\n".encode())
            logfh.flush()
        out = subprocess.PIPE if merged else (stdout if stdout is not None else logfh)
        err: int | IO[bytes] | None = subprocess.STDOUT if merged else (stderr if stderr is not None else logfh)
        if writer is not None and err == subprocess.PIPE:
            raise ValueError("proc.run: a streamed input and a captured stderr together could deadlock")
        try:
            proc = subprocess.Popen(argv, cwd=cwd, env=None if env is None else dict(env), stdin=stdin,
                                    stdout=out, stderr=err)
        except OSError as exc:
            raise CommandError(argv, None, log, exc.strerror or str(exc)) from exc
        err_data: bytes | None = None
        with proc:
            feeder_error: list[BaseException] = []
            if writer is not None:
                assert proc.stdin is not None
                pipe = proc.stdin

                def feed() -> None:
                    try:
                        writer(pipe)
                    except BrokenPipeError:
                        pass  # the command stopped reading; its exit status tells why
                    except BaseException as exc:  # re-raised in the caller's thread
                        feeder_error.append(exc)
                    finally:
                        try:
                            pipe.close()
                        except BrokenPipeError:
                            pass

                thread = threading.Thread(target=feed, name="proc-input", daemon=True)
                thread.start()
                out_data = proc.stdout.read() if proc.stdout is not None else None
                thread.join()
                proc.stdin = None  # already closed by the feeder
            else:
                out_data, err_data = proc.communicate(input if isinstance(input, bytes) else None)
            returncode = proc.wait()
        if merged and logfh is not None and out_data:
            logfh.write(out_data)
        if feeder_error:
            raise feeder_error[0]
    finally:
        if logfh is not None:
            logfh.close()
    result = subprocess.CompletedProcess(argv, returncode, out_data, err_data)
    if check and returncode != 0:
        detail = None
        if merged and out_data:
            detail = out_data.decode("utf-8", "replace").strip()[-4000:] or None
        raise CommandError(argv, returncode, log, detail)
    return result
