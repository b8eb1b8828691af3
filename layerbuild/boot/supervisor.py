"""Booting, supervising and tearing down a subhost, on the host side.

:func:`boot` reads top to bottom: claim the record, run the UPPER program, resolve LOWER, create the network
namespace and the cables, start the namespace init (:mod:`layerbuild.boot.nsinit`) and wait until it is
ready; then wait for it to end (or for SIGTERM/SIGINT/SIGHUP) and tear everything down. :func:`teardown`
works from the record alone, so ``--stop`` can finish the job after the boot process was killed.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from layerbuild.boot import network, wire
from layerbuild.boot.config import BootConfig
from layerbuild.boot.nsinit import Plan
from layerbuild.boot.state import RUN_DIR, Proc, State, state_dir
from layerbuild.util import proc
from layerbuild.util.errors import LayerbuildError
from layerbuild.util.fsutil import atomic_write, sha256_file
from layerbuild.util.tarzst import extract_tar_zst

BOOT_TIMEOUT = 120.0
STOP_GRACE = 5.0
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


class _Stop:
    """A stop request from a signal, noted by the handler and acted on by the supervising loop."""

    def __init__(self) -> None:
        self.signum = 0

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.signum = self.signum or signum


class _InitRunner(threading.Thread):
    """Runs the namespace init through :func:`layerbuild.util.proc.run`, which waits for it, in a thread."""

    def __init__(self, argv: list[str], env: dict[str, str], report_fd: int, log: Path) -> None:
        super().__init__(name="subhost-init", daemon=True)
        self.argv, self.env, self.report_fd, self.log = argv, env, report_fd, log
        self.returncode: int | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.returncode = proc.run(self.argv, env=self.env, stdout=self.report_fd, log=self.log,
                                       check=False).returncode
        except BaseException as exc:  # reported by the supervisor
            self.error = exc


def boot(config: BootConfig, *, on_ready: Callable[[State], None] | None = None, run_dir: str = RUN_DIR,
         stop_grace: float = STOP_GRACE) -> int:
    """Boot the subhost of ``config`` and supervise it until it ends or is stopped; returns its init's status.

    ``on_ready`` is called once everything runs. A failure anywhere during setup undoes what was set up and
    raises; so does teardown trouble after a normal end.
    """
    state = _claim(config, run_dir)
    stop = _Stop()
    previous = _install_handlers(stop)
    try:
        try:
            runner = _setup(config, state, stop, stop_grace)
        except BaseException:
            teardown(state, stop_grace, quiet=True)
            raise
        if on_ready is not None:
            on_ready(state)
        status = _supervise(runner, state, stop, stop_grace)
        teardown(state, stop_grace)
        return status
    finally:
        _restore_handlers(previous)


def _claim(config: BootConfig, run_dir: str) -> State:
    directory = state_dir(config.name, run_dir)
    os.makedirs(run_dir, exist_ok=True)
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        raise LayerbuildError(f"a subhost named {config.name} is already set up ({directory})", config.where("NAME"),
                              hint=f"stop it with layerbuild-boot --stop {config.name}") from None
    state = State(name=config.name, directory=directory, log=config.log, supervisor=Proc.of(os.getpid()),
                  live=config.live, lower=config.lower)
    state.save()
    return state


def _setup(config: BootConfig, state: State, stop: _Stop, stop_grace: float) -> _InitRunner:
    log = Path(config.log)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as fh:
        fh.write(f"== layerbuild-boot {config.name}: {config.source} ==\n")
    upper = _upper(config, state, log)
    lower_dir, lower_image = _lower(config)
    if config.overlay:
        for path in (upper, config.work, config.live):
            os.makedirs(path, exist_ok=True)
        if os.stat(upper).st_dev != os.stat(config.work).st_dev:
            raise LayerbuildError(f"WORK {config.work} is not on the file system of the upper directory {upper}",
                                  config.where("WORK"))
    elif not os.path.isdir(config.live):
        raise LayerbuildError(f"LIVE {config.live} is not a directory", config.where("LIVE"))
    if network.netns_exists(config.name):
        raise LayerbuildError(f"a network namespace named {config.name} exists already", config.where("NAME"),
                              hint=f"ip netns delete {config.name}, or choose another NAME")
    state.netns = True
    state.save()
    network.add_netns(config.name, log)
    for cable in config.cables:
        network.check_cable(config.name, cable, config.where("CABLES"))  # before it is ours to remove
        state.cables.append(cable.host_end(config.name))
        state.save()
        network.add_cable(config.name, cable, log)
    mount_dir = os.path.join(state.directory, "mnt")
    os.mkdir(mount_dir)
    plan = Plan(config=config, lower_dir=lower_dir, lower_image=lower_image, upper=upper, mount_dir=mount_dir,
                stop_grace=stop_grace)
    plan_path = os.path.join(state.directory, "plan.json")
    atomic_write(plan_path, plan.to_json())
    argv = ["setsid", "nsenter", f"--net={network.netns_path(config.name)}", "--",
            "unshare", "--mount", "--uts", "--ipc", "--pid", "--fork", "--propagation", "private", "--",
            sys.executable, "-m", "layerbuild.boot.nsinit", plan_path]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
    read_fd, write_fd = os.pipe()
    runner = _InitRunner(argv, env, write_fd, log)
    runner.start()
    try:
        _wait_ready(runner, read_fd, state, stop, config)
    finally:
        threading.Thread(target=_close_after, args=(runner, write_fd), daemon=True).start()
        os.close(read_fd)
    return runner


def _close_after(runner: threading.Thread, fd: int) -> None:
    runner.join()
    os.close(fd)


def _upper(config: BootConfig, state: State, log: Path) -> str:
    if not config.upper_is_program:
        state.upper = config.upper
        return config.upper
    state.upper_program = config.upper
    state.save()
    env = {**os.environ, "ACTION": "setup", "NAME": config.name, "BASE": config.base}
    try:
        out = proc.run([config.upper], env=env, stdout=subprocess.PIPE, log=log, cwd=config.base).stdout or b""
    except proc.CommandError as exc:
        what = f"exited with status {exc.returncode}" if exc.returncode is not None else \
            f"could not be run: {exc.message.rsplit(': ', 1)[-1]}"
        raise LayerbuildError(f"the UPPER program {config.upper} {what} (ACTION=setup)", config.where("UPPER"),
                              notes=(f"log: {log}",)) from None
    lines = [line.strip() for line in out.decode(errors="replace").splitlines() if line.strip()]
    upper = os.path.join(config.base, lines[-1]) if lines else ""
    if not upper or not os.path.isdir(upper):
        raise LayerbuildError(f"the UPPER program {config.upper} printed {lines[-1] if lines else 'nothing'!r}, "
                              "not an upper directory", config.where("UPPER"))
    problem = config.upper_problem(upper, from_program=True)
    if problem:
        real = os.path.realpath(upper)
        via = "" if real == os.path.normpath(upper) else f"leads to {real} and "
        raise LayerbuildError(f"the UPPER program {config.upper} printed {lines[-1]!r}, which {via}{problem}",
                              config.where("UPPER"), hint=f"an UPPER program prints a directory below BASE "
                              f"({config.base}) for the subhost's writes, such as $BASE/upper")
    state.upper = upper
    state.save()
    return upper


def _lower(config: BootConfig) -> tuple[str | None, str | None]:
    """``(directory, image)``: LOWER as a directory (a .tar.zst unpacked once into BASE) or an image to mount."""
    lower = config.lower
    if os.path.isdir(lower):
        return lower, None
    with open(lower, "rb") as fh:
        head = fh.read(1028)
    if head[:4] == b"hsqs" or head[1024:1028] == b"\xe2\xe1\xf5\xe0":
        return None, lower
    if head[:4] == b"\x28\xb5\x2f\xfd" and ".tar" in os.path.basename(lower):
        return _unpacked(config), None
    raise LayerbuildError(f"LOWER {lower} is not a directory, a .tar.zst or a squashfs/erofs image",
                          config.where("LOWER"))


def _unpacked(config: BootConfig) -> str:
    cache = os.path.join(config.base, "lower-cache")
    target = os.path.join(cache, sha256_file(config.lower)[:32])
    if os.path.isdir(target):
        return target
    os.makedirs(cache, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".unpack-", dir=cache)
    try:
        extract_tar_zst(config.lower, tmp)
        os.chmod(tmp, 0o755)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _wait_ready(runner: _InitRunner, read_fd: int, state: State, stop: _Stop, config: BootConfig) -> None:
    deadline = time.monotonic() + BOOT_TIMEOUT
    buffer = b""
    while True:
        if stop.signum:
            if stop.signum == signal.SIGINT:
                raise KeyboardInterrupt
            raise LayerbuildError(f"subhost {config.name}: stopped by signal {stop.signum} while booting")
        alive = runner.is_alive()
        ready, _, _ = select.select([read_fd], [], [], 0.05)
        if ready:
            buffer += os.read(read_fd, 65536)
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            message = wire.decode(line)
            event = message.get("event")
            if event == "pid":
                pid = int(str(message["pid"]))
                state.init = Proc.of(pid)
                state.pidns, state.mntns = str(message["pidns"]), str(message["mntns"])
                state.save()
            elif event == "loop":
                state.loops.append((str(message["device"]), str(message["backing"])))
                state.save()
            elif event == "ready":
                state.ready = True
                state.save()
                return
            elif event == "error":
                raise wire.decode_error(message)
        if not alive and not ready:
            if runner.error is not None:
                raise runner.error
            raise LayerbuildError(f"subhost {config.name}: its init exited with status {runner.returncode} before it "
                                  "was ready", notes=(f"log: {config.log}",))
        if time.monotonic() > deadline:
            raise LayerbuildError(f"subhost {config.name}: not ready after {BOOT_TIMEOUT:.0f} s",
                                  notes=(f"log: {config.log}",))


def _supervise(runner: _InitRunner, state: State, stop: _Stop, grace: float) -> int:
    signalled_at = 0.0
    while runner.is_alive():
        runner.join(0.1)
        if stop.signum and not signalled_at:
            signalled_at = time.monotonic()
            _signal(state.init, signal.SIGTERM)
        elif signalled_at and time.monotonic() - signalled_at > grace + 2:
            _signal(state.init, signal.SIGKILL)
    if runner.error is not None:
        raise runner.error
    return 130 if stop.signum == signal.SIGINT else runner.returncode or 0


def _signal(target: Proc | None, sig: int) -> None:
    if target is not None and target.alive():
        with contextlib.suppress(ProcessLookupError):
            os.kill(target.pid, sig)


def _install_handlers(stop: _Stop) -> dict[int, object]:
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}


def _restore_handlers(previous: dict[int, object]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)  # type: ignore[arg-type]


def teardown(state: State, grace: float = STOP_GRACE, quiet: bool = False) -> None:
    """Stop the subhost's processes and remove everything its record names; the record goes last.

    Each step runs even when an earlier one failed; the failures are raised together at the end (unless
    ``quiet``, on the failure path of a boot, where the boot's own error is the one to show).
    """
    log = Path(state.log)
    problems: list[str] = []

    def step(what: str, action: Callable[[], None]) -> None:
        try:
            action()
        except (LayerbuildError, OSError) as exc:
            problems.append(f"{what}: {exc}")

    step("stopping the init", lambda: _end_init(state, grace))
    step("killing leftover processes", lambda: _kill_members(state))
    step("releasing loop devices", lambda: _release_loops(state, log))
    for ifname in reversed(state.cables):
        step(f"removing cable {ifname}", lambda ifname=ifname: network.delete_link(ifname, log))  # type: ignore[misc]
    if state.netns:
        step("removing the network namespace", lambda: network.delete_netns(state.name, log))
    if state.upper_program:
        program = state.upper_program
        env = {**os.environ, "ACTION": "teardown", "NAME": state.name, "UPPER": state.upper}

        def upper_teardown() -> None:
            proc.run([program], env=env, log=log, stdout=subprocess.DEVNULL)

        step("the UPPER program's teardown", upper_teardown)
    step("removing the record", lambda: shutil.rmtree(state.directory))
    if problems and not quiet:
        raise LayerbuildError(f"subhost {state.name}: teardown was not clean", notes=tuple(problems))


def _end_init(state: State, grace: float) -> None:
    init = state.init
    if init is None or not init.alive():
        return
    _signal(init, signal.SIGTERM)
    if not _wait(lambda: not init.alive(), grace + 2):
        _signal(init, signal.SIGKILL)
        if not _wait(lambda: not init.alive(), 10):
            raise LayerbuildError(f"the subhost's init (pid {init.pid}) does not end")


def _members(state: State) -> list[int]:
    """Processes still in the subhost's PID or mount namespace (e.g. nsenter parents of --exec)."""
    found = []
    wanted = {state.pidns, state.mntns} - {""}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            for ns in ("pid", "mnt"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{entry}/ns/{ns}") in wanted:
                        found.append(int(entry))
                        break
    return found


def _kill_members(state: State) -> None:
    if not state.pidns and not state.mntns:
        return
    for pid in _members(state):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if not _wait(lambda: not [p for p in _members(state) if Proc.of(p)], 10):
        raise LayerbuildError("processes of the subhost are left: " + " ".join(map(str, _members(state))))


def _release_loops(state: State, log: Path) -> None:
    """Loop devices auto-clear when their mount namespace goes; wait for that, detach what is left."""
    def attached(device: str, backing: str) -> bool:
        try:
            with open(f"/sys/block/{os.path.basename(device)}/loop/backing_file") as fh:
                return os.path.realpath(fh.read().strip()) == os.path.realpath(backing)
        except OSError:
            return False

    if _wait(lambda: not any(attached(d, b) for d, b in state.loops), 5):
        return
    for device, backing in state.loops:
        if attached(device, backing):
            proc.run(["losetup", "-d", device], log=log, check=False)
    if not _wait(lambda: not any(attached(d, b) for d, b in state.loops), 5):
        raise LayerbuildError("loop devices are still attached: " + " ".join(d for d, b in state.loops
                                                                             if attached(d, b)))


def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    delay = 0.01
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
    return True


def stop(state: State, grace: float = STOP_GRACE, timeout: float = 60.0) -> None:
    """Stop a subhost: ask its boot process to tear it down, or tear it down here when that process is gone."""
    supervisor = state.supervisor
    if supervisor is not None and supervisor.pid != os.getpid() and supervisor.alive():
        _signal(supervisor, signal.SIGTERM)
        if _wait(lambda: not supervisor.alive() or not os.path.exists(state.path), timeout):
            _wait(lambda: not supervisor.alive(), 5)
        if not os.path.exists(state.path):
            return
        if supervisor.alive():
            raise LayerbuildError(f"subhost {state.name}: its boot process (pid {supervisor.pid}) did not stop it "
                                  f"within {timeout:.0f} s")
        state = State.load(state.directory)
    teardown(state, grace)
