"""The record of a running subhost under ``/run/layerbuild-boot/NAME/``: what was set up, so that
``--stop`` (or the next boot) can take it down again even after the boot process was killed.

Every resource is written into the record *before* it is acquired, so a crash between the two leaves a
record of something that may not exist, which teardown tolerates, and never the other way round.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

from layerbuild.util.errors import LayerbuildError
from layerbuild.util.fsutil import atomic_write

RUN_DIR = "/run/layerbuild-boot"


@dataclass(frozen=True)
class Proc:
    """A process by pid and start time (so a recycled pid is never taken for it)."""

    pid: int
    start: int

    @classmethod
    def of(cls, pid: int) -> Proc | None:
        start = start_time(pid)
        return None if start is None else cls(pid, start)

    def alive(self) -> bool:
        return start_time(self.pid) == self.start


def start_time(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks after boot, or None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2:].split()
    if fields[0] in (b"Z", b"X"):
        return None  # a zombie has already let go of everything but its pid
    return int(fields[19])


@dataclass
class State:
    name: str
    directory: str
    log: str
    supervisor: Proc | None = None
    init: Proc | None = None
    pidns: str = ""
    mntns: str = ""
    ready: bool = False
    netns: bool = False
    cables: list[str] = field(default_factory=list)
    loops: list[tuple[str, str]] = field(default_factory=list)  # (device, backing file)
    upper_program: str | None = None
    upper: str = ""
    live: str = ""
    lower: str = ""

    @property
    def path(self) -> str:
        return os.path.join(self.directory, "state.json")

    def save(self) -> None:
        atomic_write(self.path, json.dumps(asdict(self), indent=1, sort_keys=True) + "\n")

    @classmethod
    def load(cls, directory: str) -> State:
        try:
            with open(os.path.join(directory, "state.json"), encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError) as exc:
            raise LayerbuildError(f"cannot read the subhost record {directory}/state.json: {exc}") from None
        for key in ("supervisor", "init"):
            data[key] = Proc(**data[key]) if data.get(key) else None
        data["loops"] = [tuple(x) for x in data.get("loops", [])]
        return cls(**data)

    def status(self) -> str:
        if self.init is not None and self.init.alive():
            return "running" if self.ready else "booting"
        if self.supervisor is not None and self.supervisor.alive():
            return "starting" if not self.ready else "stopping"
        return "stale"


def state_dir(name: str, run_dir: str = RUN_DIR) -> str:
    return os.path.join(run_dir, name)


def running(run_dir: str = RUN_DIR) -> list[State]:
    """The records of every subhost set up on this machine, by name."""
    try:
        names = sorted(os.listdir(run_dir))
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        directory = os.path.join(run_dir, name)
        if os.path.isfile(os.path.join(directory, "state.json")):
            found.append(State.load(directory))
    return found


def find(name: str, run_dir: str = RUN_DIR) -> State:
    directory = state_dir(name, run_dir)
    if not os.path.isfile(os.path.join(directory, "state.json")):
        raise LayerbuildError(f"no subhost named {name} is running", hint="layerbuild-boot --list shows them")
    return State.load(directory)
