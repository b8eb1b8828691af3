"""Peak memory of a command and every process it starts, daemons included, sampled from ``/proc``.

``getrusage(RUSAGE_CHILDREN)`` and ``time -v`` see only processes their caller waits for; BitBake's
server daemonises (its parser processes are its children), so it is found by a word of its command
line instead (the path of the build directory's ``bitbake.lock``). Two figures:

- the largest process: the highest ``VmHWM`` (the kernel's own peak resident set) of any process
  seen (new processes are looked for every second), the figure ``getrusage`` gives for a command without daemons;
- all processes together: the highest sum of ``Pss`` (shared pages divided among the processes that
  share them, so forked workers are not counted twice) over the samples, taken every 100 ms.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Peak:
    largest_kib: int
    total_kib: int
    processes: int
    #: user + system time of every process seen, up to its last sample
    cpu_seconds: float


def _status(pid: int) -> dict[str, str]:
    fields = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def _kib(value: str) -> int:
    return int(value.split()[0]) if value else 0


def _pss(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            if line.startswith("Pss:"):
                return _kib(line.split(":", 1)[1])
    return 0


def _cpu_ticks(pid: int) -> int:
    """utime + stime of the process itself (not of its children: they are sampled on their own)."""
    with open(f"/proc/{pid}/stat", "rb") as fh:
        stat = fh.read()
    fields = stat[stat.rindex(b")") + 2:].split()
    return int(fields[11]) + int(fields[12])


class Sampler:
    """Samples the process tree under ``root_pid`` and every process whose command line holds
    ``marker`` (and their children) until ``stop()``."""

    def __init__(self, root_pid: int, marker: str | None = None, interval: float = 0.1) -> None:
        self.root_pid = root_pid
        self.marker = marker.encode() if marker else None
        self.interval = interval
        self.hwm: dict[int, int] = {}
        self.cpu: dict[int, int] = {}
        self.total = 0
        self._pids: set[int] = set()
        self._tick = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> Peak:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._tick = 0
        self._sample()
        return Peak(max(self.hwm.values(), default=0), self.total, len(self.hwm),
                    sum(self.cpu.values()) / os.sysconf("SC_CLK_TCK"))

    def _tree(self) -> set[int]:
        parents: dict[int, int] = {}
        roots = {self.root_pid}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            pid = int(name)
            try:
                with open(f"/proc/{pid}/stat", "rb") as fh:
                    stat = fh.read()
                # the command name may hold spaces and parentheses: the fields start after the last ')'
                parents[pid] = int(stat[stat.rindex(b")") + 2:].split()[1])
                if self.marker is not None:
                    with open(f"/proc/{pid}/cmdline", "rb") as fh:
                        if self.marker in fh.read():
                            roots.add(pid)
            except (OSError, ValueError, IndexError):
                continue
        tree = {pid for pid in roots if pid in parents}
        grew = True
        while grew:
            grew = False
            for pid, ppid in parents.items():
                if ppid in tree and pid not in tree:
                    tree.add(pid)
                    grew = True
        return tree

    def _sample(self) -> None:
        # finding new processes reads all of /proc: every tenth sample only, to keep the sampler's
        # own CPU time small next to what it measures (BitBake's processes live long)
        if self._tick % 10 == 0 or not self._pids:
            self._pids = self._tree()
        self._tick += 1
        total = 0
        for pid in self._pids:
            try:
                hwm = _kib(_status(pid).get("VmHWM", ""))
                total += _pss(pid)
                ticks = _cpu_ticks(pid)
            except (OSError, ValueError, IndexError):
                continue
            self.hwm[pid] = max(self.hwm.get(pid, 0), hwm)
            self.cpu[pid] = max(self.cpu.get(pid, 0), ticks)
        self.total = max(self.total, total)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()
