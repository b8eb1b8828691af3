"""``bb.process``: running a command from metadata and getting its output, as BitBake does.

Commands start through ``layerbuild.util.proc`` like every other; ``run`` returns ``(stdout, stderr)``
as text and raises ``ExecutionError`` (with both) when the command fails, ``NotFoundError`` when it
does not exist. A string is run by the shell.
"""

from __future__ import annotations

import shlex
import subprocess
from typing import Any

from layerbuild.util.proc import CommandError
from layerbuild.util.proc import run as _run


class CmdError(RuntimeError):
    def __init__(self, command: Any, msg: Any = None) -> None:
        super().__init__(command, msg)
        self.command = command
        self.msg = msg

    def __str__(self) -> str:
        cmd = self.command if isinstance(self.command, str) else shlex.join(str(c) for c in self.command)
        return f"Execution of '{cmd}' failed" + (f": {self.msg}" if self.msg else "")


class NotFoundError(CmdError):
    def __str__(self) -> str:
        return super().__str__() + ": command not found"


class ExecutionError(CmdError):
    def __init__(self, command: Any, exitcode: int, stdout: str | None = None, stderr: str | None = None) -> None:
        super().__init__(command)
        self.exitcode = exitcode
        self.stdout = stdout
        self.stderr = stderr
        self.extra_message: str | None = None

    def __str__(self) -> str:
        output = (self.stderr or "") + (self.stdout or "")
        return (f"{super().__str__()} with exit code {self.exitcode}" + (f":\n{output}" if output else "")
                + (self.extra_message or ""))


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8")


def run(cmd: Any, input: str | bytes | None = None, log: Any = None, extrafiles: Any = None,
        **options: Any) -> tuple[str | None, str | None]:
    """Run ``cmd`` (a list, or a string for the shell) and return its ``(stdout, stderr)``.

    Takes ``cwd``, ``env``, ``shell``, ``executable`` (the shell) and ``stderr=subprocess.STDOUT`` (then
    stderr is ``None`` and its text is in stdout) as BitBake's ``run`` does; ``log`` (a file) also
    receives the output."""
    shell = options.pop("shell", isinstance(cmd, str))
    executable = options.pop("executable", None)
    if shell:
        argv = [executable or "/bin/sh", "-c", cmd if isinstance(cmd, str) else shlex.join(cmd)]
    else:
        argv = [cmd] if isinstance(cmd, str) else [str(c) for c in cmd]
    merged = options.pop("stderr", subprocess.PIPE) == subprocess.STDOUT
    stdin = input.encode() if isinstance(input, str) else (input if input is not None else b"")
    try:
        result = _run(argv, cwd=options.get("cwd"), env=options.get("env"), input=stdin, stdout=subprocess.PIPE,
                      stderr=None if merged else subprocess.PIPE, merged=merged, check=False)
    except CommandError as exc:
        if isinstance(exc.__cause__, FileNotFoundError):
            raise NotFoundError(cmd) from None
        raise CmdError(cmd, exc.__cause__ or exc) from None
    stdout, stderr = _text(result.stdout), _text(result.stderr)
    if log is not None:
        log.write(stdout or "")
        log.write(stderr or "")
    if result.returncode != 0:
        if log is not None:
            raise ExecutionError(cmd, result.returncode)
        raise ExecutionError(cmd, result.returncode, stdout, stderr)
    return stdout, stderr
