"""The detached boot process: ``layerbuild-boot --detach`` and :class:`~layerbuild.boot.subhost.Subhost` boot a
subhost in a background process of its own and return once it is up.

:func:`start_detached` starts ``python3 -m layerbuild.boot.daemon`` through :func:`layerbuild.util.proc.run`, handing
it the config on stdin. That fresh, single-threaded process forks the boot process into a session of its own
(whatever threads the caller has), waits until the subhost is ready or has failed, answers on stdout with
one :mod:`~layerbuild.boot.wire` message and exits; the boot process lets go of stdin, stdout and stderr, so
nothing of the caller's is held open while the subhost runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from layerbuild.boot import wire
from layerbuild.boot.config import BootConfig
from layerbuild.boot.state import RUN_DIR, State, state_dir
from layerbuild.boot.supervisor import STOP_GRACE, boot
from layerbuild.util import proc
from layerbuild.util.errors import DEBUG_ENV, LayerbuildError
from layerbuild.util.exits import Exit, guard

_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


def start_detached(config: BootConfig, *, run_dir: str = RUN_DIR, stop_grace: float = STOP_GRACE) -> State:
    """Boot the subhost in a background process; return its record once it is ready, or raise the boot's error."""
    request = json.dumps({"config": config.to_json(), "run_dir": run_dir, "stop_grace": stop_grace}).encode()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
    result = proc.run([sys.executable, "-m", "layerbuild.boot.daemon"], input=request, stdout=subprocess.PIPE,
                      env=env, check=False)
    answer = (result.stdout or b"").split(b"\n", 1)[0]
    message = wire.decode(answer) if answer else {}
    if message.get("event") == "ready":
        return State.load(state_dir(config.name, run_dir))
    if message.get("event") == "error":
        raise wire.decode_error(message)
    raise LayerbuildError(f"subhost {config.name}: the boot process ended (status {result.returncode}) before the "
                          "subhost was ready", notes=(f"log: {config.log}",))


def main() -> int:
    """Start the boot process and relay its answer; a failure of either is an error answer on stdout."""
    debug = bool(os.environ.get(DEBUG_ENV))

    def answer(end: Exit) -> None:  # the command that started the daemon reports it
        sys.stderr.write(end.traceback)
        sys.stdout.buffer.write(wire.encode_exit(end))
        sys.stdout.flush()

    return guard(lambda: _relay(debug), debug=debug, tell=answer)


def _relay(debug: bool) -> int:
    request = json.loads(sys.stdin.buffer.read())
    config = BootConfig.from_json(request["config"])
    read_fd, write_fd = os.pipe()
    if os.fork() == 0:  # the boot process, in a session of its own; it never returns
        status = 1
        try:
            os.close(read_fd)
            os.setsid()
            if os.fork():
                os._exit(0)
            devnull = os.open(os.devnull, os.O_RDWR)
            log = os.open(config.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            for fd, target in ((0, devnull), (1, log), (2, log)):
                os.dup2(target, fd)
            os.close(devnull)
            os.close(log)
            channel = [write_fd]

            def tell(message: bytes) -> None:
                if channel:
                    os.write(channel[0], message)
                    os.close(channel.pop())

            def failed(end: Exit) -> None:  # in the subhost's log, and to the command that asked for the boot
                sys.stderr.write(end.text)
                sys.stderr.flush()
                tell(wire.encode_exit(end))

            status = guard(lambda: boot(config, on_ready=lambda state: tell(wire.encode("ready")),
                                        run_dir=request["run_dir"], stop_grace=float(request["stop_grace"])),
                           debug=debug, tell=failed)
        finally:
            os._exit(status)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as fh:
        answer = fh.read()
    sys.stdout.buffer.write(answer or wire.encode_error(LayerbuildError("the boot process ended without an answer")))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
