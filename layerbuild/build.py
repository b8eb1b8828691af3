"""What a build needs around the pipeline of :mod:`layerbuild.session`: the build-directory lock, reaping
what a killed build left running, and printing plans and signature differences."""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO

from layerbuild.engine.plan import Plan, stamp_base
from layerbuild.engine.runqueue import WORKERS_DIR
from layerbuild.engine.signatures import Signatures, read_sigdata
from layerbuild.engine.taskgraph import TaskGraph, TaskId
from layerbuild.util.errors import UsageError

if TYPE_CHECKING:
    from layerbuild.engine.hashequiv import Equivalence


@contextlib.contextmanager
def build_lock(topdir: str, out: TextIO | None = None) -> Iterator[None]:
    """One build per build directory: a second one waits, saying for whom."""
    out = out or sys.stderr
    path = os.path.join(topdir, "layerbuild.lock")
    os.makedirs(topdir, exist_ok=True)
    fh = open(path, "a+")  # noqa: SIM115 - held for the whole build
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            out.write(f"NOTE: Another layerbuild (pid {holder}) is using {topdir}; waiting for it to finish\n")
            out.flush()
            fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        yield
    finally:
        with contextlib.suppress(OSError):
            fh.seek(0)
            fh.truncate()
        fh.close()


def reap_orphans(topdir: str) -> None:
    """Kill what is left of task workers of a build that was killed (their process groups)."""
    import signal
    directory = os.path.join(topdir, WORKERS_DIR)
    try:
        names = os.listdir(directory)
    except OSError:
        return
    top = os.path.realpath(topdir) + os.sep
    for name in names:
        with contextlib.suppress(ValueError, OSError):
            pgid = int(name)
            members = []
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                with contextlib.suppress(OSError):
                    with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
                        fields = fh.read().rsplit(")", 1)[1].split()
                    if int(fields[2]) == pgid:
                        members.append(int(pid))
            # only a group whose processes work inside this build directory is ours
            if members and any(os.path.realpath(f"/proc/{p}/cwd").startswith(top) for p in members):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(directory, name))


def print_plan(tg: TaskGraph, plan: Plan, out: TextIO) -> None:
    out.write(f"Dry run: {len(plan.run)} tasks would run, {len(plan.setscene) + len(plan.deferred)} would be "
              f"restored from sstate, {len(plan.uptodate)} are up to date.\n")
    for tid in plan.order:
        if tid in plan.setscene:
            out.write(f"  restore  {tg.label(tid)}\n")
        elif tid in plan.deferred:
            out.write(f"  restore  {tg.label(tid)} (after {tg.label(plan.deferred[tid])})\n")
        elif tid in plan.run:
            out.write(f"  run      {tg.label(tid)}\n")


def _sigfiles(tg: TaskGraph, tid: TaskId) -> list[str]:
    files = glob.glob(glob.escape(stamp_base(tg, tid)) + ".sigdata.*")
    return sorted(files, key=lambda p: os.stat(p).st_mtime_ns)


def dump_signatures(tg: TaskGraph, signatures: Signatures, out: TextIO, equivalence: Equivalence | None = None) -> int:
    """For each target task: why its signature differs from the one its last build recorded."""
    from layerbuild.engine.plan import compute_hashes, sigdata_of
    from layerbuild.engine.sigdiff import equivalence_lines
    hashes = compute_hashes(tg, signatures, equivalence)
    plan = Plan(hashes.order, signatures, hashes.taskhashes, hashes.unihashes, hashes.outhashes)

    def sigdata(tid: TaskId, h: str) -> dict[str, Any] | None:
        if h == plan.unihashes[tid]:
            return sigdata_of(tg, plan, tid)
        path = f"{stamp_base(tg, tid)}.sigdata.{h}"
        return read_sigdata(path) if os.path.exists(path) else None

    if equivalence is not None and equivalence.problem:
        out.write(f"WARNING: {equivalence.problem}\n")
    for tid in tg.targets:
        # (the current signature's own file is named by its taskhash, which is its unihash unless an
        # equivalent output replaced it: then the file named by the unihash is the earlier signature)
        files = [f for f in _sigfiles(tg, tid) if not f.endswith("." + plan.hashes[tid])]
        current = sigdata_of(tg, plan, tid)
        if not files:
            out.write(f"{tg.label(tid)}: no earlier signature to compare with\n")
            out.writelines(f"  {line}\n" for line in equivalence_lines(current))
            continue
        old = read_sigdata(files[-1])
        out.write(f"{tg.label(tid)}: {files[-1]} -> current metadata:\n")
        for line in explain(tg, tid, old, current, sigdata):
            out.write(f"  {line}\n")
    return 0


def explain(tg: TaskGraph, tid: TaskId, old: dict[str, Any], new: dict[str, Any], sigdata: Any,
            depth: int = 0) -> list[str]:
    """diff_sigdata in words, following changed task dependencies down to the first real change."""
    from layerbuild.engine.sigdiff import (  # only -S and diffsigs compare signatures
        DependencyChanged,
        describe,
        diff_sigdata,
    )
    out = []
    for diff in diff_sigdata(old, new):
        out.append(describe(diff))
        if depth > 30 or not isinstance(diff, DependencyChanged) or not tg.graph.has_edge(diff.tid, tid):
            continue
        a = sigdata(diff.tid, diff.old)
        b = sigdata(diff.tid, diff.new)
        if a is not None and b is not None:
            out.extend("  " + sub for sub in explain(tg, diff.tid, a, b, sigdata, depth + 1))
        else:
            missing = diff.old if a is None else diff.new
            out.append(f"  (no signature of {diff.label} {missing[:12]} is recorded in this build directory)")
    return out


def diffsigs(a: str, b: str, out: TextIO) -> int:
    """``layerbuild-diffsigs A B``: why signature A became B."""
    from layerbuild.engine.sigdiff import describe, diff_sigdata
    try:
        old, new = read_sigdata(a), read_sigdata(b)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read signature data: {exc}") from exc
    for diff in diff_sigdata(old, new):
        out.write(describe(diff) + "\n")
    return 0


def commit_buildhistory(d: Any, targets: tuple[str, ...], out: TextIO) -> None:
    """With buildhistory inherited, the build's one commit of what its images recorded (buildhistory.bbclass);
    ``d`` is the configuration."""
    from layerbuild.util.values import Typed
    if "buildhistory" not in (d.getVar("INHERIT") or "").split():
        return
    typed = Typed(d)
    if not typed.bool("BUILDHISTORY_COMMIT", True):
        return
    from layerbuild.buildhistory.repo import commit
    directory = typed.path("BUILDHISTORY_DIR")
    rev = commit(directory, "layerbuild " + " ".join(targets), d.getVar("BUILDHISTORY_COMMIT_AUTHOR") or "",
                 typed.epoch("SOURCE_DATE_EPOCH"))
    if rev is not None:
        out.write(f"NOTE: buildhistory: committed {rev[:12]} in {directory}\n")
