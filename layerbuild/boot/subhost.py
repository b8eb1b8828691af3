"""Running commands in a subhost, and :class:`Subhost`, the runtime that image tests drive."""

from __future__ import annotations

import os
import shlex
from types import TracebackType

from layerbuild.boot import supervisor
from layerbuild.boot.config import BootConfig
from layerbuild.boot.daemon import start_detached
from layerbuild.boot.state import RUN_DIR, State, find
from layerbuild.boot.units import DEFAULT_PATH
from layerbuild.util import proc
from layerbuild.util.errors import LayerbuildError


def exec_argv(state: State, argv: list[str]) -> list[str]:
    """``nsenter`` into every namespace of the running subhost and its root, then ``argv``."""
    if state.init is None or not state.ready or not state.init.alive():
        raise LayerbuildError(f"subhost {state.name} is not running ({state.status()})",
                              hint=f"layerbuild-boot --stop {state.name} cleans up a stale one")
    return ["nsenter", "-t", str(state.init.pid), "-m", "-u", "-i", "-n", "-p", "-r", "-w", "--", *argv]


def exec_env() -> dict[str, str]:
    """The environment a command in a subhost starts with (not the host's)."""
    return {"PATH": DEFAULT_PATH, "HOME": "/root", "TERM": os.environ.get("TERM", "dumb"), "LANG": "C.UTF-8"}


def exec_in(name: str, argv: list[str], run_dir: str = RUN_DIR) -> int:
    """Run ``argv`` in the subhost ``name`` with this process's stdin, stdout and stderr; returns its status."""
    if not argv:
        raise LayerbuildError("--exec needs a command after --")
    result = proc.run(exec_argv(find(name, run_dir), argv), env=exec_env(), check=False)
    return result.returncode if result.returncode >= 0 else 128 - result.returncode


class Subhost:
    """A subhost booted for the length of a ``with`` block::

        with Subhost(load_config("demo.conf")) as host:
            status, output = host.run("hello")
    """

    def __init__(self, config: BootConfig, *, run_dir: str = RUN_DIR, stop_grace: float = supervisor.STOP_GRACE):
        self.config, self.run_dir, self.stop_grace = config, run_dir, stop_grace
        self._state: State | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def state(self) -> State:
        if self._state is None:
            raise LayerbuildError(f"subhost {self.name} is not started")
        return self._state

    def start(self) -> Subhost:
        self._state = start_detached(self.config, run_dir=self.run_dir, stop_grace=self.stop_grace)
        return self

    def run(self, cmd: str, timeout: float | None = None) -> tuple[int, str]:
        """Run the shell command ``cmd`` (``/bin/sh -c``) in the subhost: ``(exit status, stdout+stderr)``.

        In a tree without ``/bin/sh``, ``cmd`` is split into words and run directly (no shell syntax).
        With ``timeout`` (seconds) the wait ends then with status 124, as timeout(1) reports it (what the
        command started may go on in the subhost until it stops).
        """
        state = self.state
        argv = ["/bin/sh", "-c", cmd] if self._has_shell(state) else shlex.split(cmd)
        if not argv:
            raise LayerbuildError("an empty command")
        argv = exec_argv(state, argv)
        if timeout is not None:
            argv = ["timeout", "--kill-after=2", f"{timeout:g}", *argv]
        result = proc.run(argv, env=exec_env(), input=b"", merged=True, check=False)
        status = result.returncode if result.returncode >= 0 else 128 - result.returncode
        return status, (result.stdout or b"").decode("utf-8", "replace")

    @staticmethod
    def _has_shell(state: State) -> bool:
        # through the init's root; lexists, because an absolute symlink would resolve on the host
        return state.init is not None and os.path.lexists(f"/proc/{state.init.pid}/root/bin/sh")

    def stop(self) -> None:
        if self._state is not None:
            state, self._state = self._state, None
            if os.path.exists(state.path):
                supervisor.stop(State.load(state.directory), self.stop_grace)

    def __enter__(self) -> Subhost:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
