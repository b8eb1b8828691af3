"""Doing what the plan (:mod:`layerbuild.engine.plan`) decided: stamps, setscene from sstate, parallel execution.

Execution restores, then runs tasks in dependency order with up to ``jobs`` worker processes. Stamps
and sigdata are written only after a task and its sstate publishing succeeded, so an interrupted build
never leaves a stamp a later build would trust wrongly.

With hash equivalence, a shared-state task's worker reports its output hash and the unihash its output
took. When that is an earlier unihash than the task ran as, the tasks not yet started are planned again
with it: what is now up to date or in the shared state is not run, nor what only it needed.

An object that cannot be restored (it does not unpack, or its links leave its tree) is a warning: the
plan is made again without it and the task runs. A full disk is one task failure naming the task and
the directory; nothing half-written stays behind, so the next build resumes once there is space.
SIGTERM and SIGHUP reach the build as :class:`Terminated` (a ``KeyboardInterrupt``): running task
process groups are killed and the summary is reported, as for Ctrl-C.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import multiprocessing
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

import networkx as nx

from layerbuild.engine.config import Configuration
from layerbuild.engine.events import (
    BuildFinished,
    BuildStarted,
    BuildWarning,
    Event,
    HashEquivalent,
    SetsceneFailed,
    SetsceneRestored,
    SstateStats,
    TaskFailed,
    TaskSkipped,
    TaskStarted,
    TaskSucceeded,
)
from layerbuild.engine.plan import (
    Plan,
    is_sstate_task,
    make_plan,
    mirror_settings,
    sigdata_of,
    sstate_for,
    sstate_name,
    stamp_base,
    task_var,
)
from layerbuild.engine.recipe import DIRECTORY_VARS, EVERY_TASK_WRITES
from layerbuild.engine.signatures import write_sigdata
from layerbuild.engine.sstate import (
    ObjectSpec,
    Publication,
    Reporting,
    SstateObject,
    install_tree,
    manifest_path,
)
from layerbuild.engine.taskgraph import TaskGraph, TaskId
from layerbuild.engine.tasks import TaskJob, WorkerResult, read_results, tail, worker_main
from layerbuild.util.errors import BuildError, LayerbuildError, Location
from layerbuild.util.fsutil import dead_writers_temporary, directory_error, directory_problem, disk_full
from layerbuild.util.vartypes import flag_set

Reporter = Callable[[Event], None]
#: where running task workers are registered (below TOPDIR), so a killed build's leftovers can be reaped
WORKERS_DIR = "tmp/.workers"


class Terminated(KeyboardInterrupt):
    """The build was asked to stop by a signal (SIGTERM, SIGHUP); handled as Ctrl-C is."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


#: signals that stop a build as Ctrl-C does (what CI sends on cancel, and a closed terminal)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _terminate(signum: int, _frame: object) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """While the block runs, SIGTERM and SIGHUP raise :class:`Terminated` in the main thread."""
    import threading
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, _terminate) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def disk_full_reason(exc: BaseException) -> str:
    """The words for a full file system: which path could not be written."""
    err = exc
    while not (isinstance(err, OSError) and err.filename) and (err.__cause__ or err.__context__):
        err = err.__cause__ or err.__context__  # type: ignore[assignment]
    if isinstance(exc, LayerbuildError):
        return exc.message
    # shutil's copies name the source first and the file they could not write second
    path = str((err.filename2 or err.filename) if isinstance(err, OSError) and err.filename else "")
    return f"no space left on device while writing {os.path.dirname(path) if path else 'a file'}" + \
        (f" ({os.path.basename(path)})" if path else "")



def check_task_paths(tg: TaskGraph, tids: Iterable[TaskId], topdir: str) -> None:
    """Before the tasks ``tids`` run (or are restored from the shared state): the directory variables
    the build writes below for them are absolute, non-empty and not ``/``, else an error at the line that
    set it (or naming it unset) and the task. TOPDIR, TMPDIR and WORKDIR for every task (its stamp and
    log); SSTATE_DIR for a shared-state task, and DEPLOY_DIR when it publishes outside TMPDIR (where
    DEPLOY_DIR is, unless set elsewhere). What a task's own [dirs] and [cleandirs] name (DL_DIR for
    do_fetch, D, IMAGE_ROOTFS...), its worker checks before it runs (:func:`tasks.check_task_directories`)."""
    local = Location(os.path.join(topdir, "conf", "local.conf"))
    for tid in tids:
        info = tg.info(tid)
        kept = dict(info.variables)
        writes = set(EVERY_TASK_WRITES)
        if is_sstate_task(tg, tid):
            writes.add("SSTATE_DIR")
            tmpdir = os.path.join(os.path.normpath(kept.get("TMPDIR") or "/"), "")
            if any(not os.path.normpath(out).startswith(tmpdir) for out in _outputdirs(tg, tid)):
                writes.add("DEPLOY_DIR")
        for var in DIRECTORY_VARS:
            if var not in writes or var not in kept:
                continue  # not written for this task, or not recorded (an older parse cache)
            problem = directory_problem(kept[var])
            if problem:
                loc = info.location(var)
                raise directory_error(var, problem, Location(*loc) if loc else local, f"{info.pn}:{tid.task}")


def _outputdirs(tg: TaskGraph, tid: TaskId) -> list[str]:
    return str(tg.taskinfo(tid).flag("sstate-outputdirs") or "").split()


def _manifest(tg: TaskGraph, tid: TaskId, index: int) -> str:
    return manifest_path(task_var(tg, tid, "SSTATE_MANIFESTS"), task_var(tg, tid, "STAMP"), task_var(tg, tid, "PACKAGE_ARCH"),
                         tg.info(tid).pn, tid.task, index)


def restore(tg: TaskGraph, tid: TaskId, obj: SstateObject, plan: Plan) -> int:
    """Unpack an sstate object (fetched from its mirror first) into the task's output directories, then
    stamp the task; returns the bytes fetched."""
    sstate = sstate_for(tg, tid)
    fetched = sstate.fetch(obj)
    staging_root = os.path.join(task_var(tg, tid, "SSTATE_MANIFESTS") or task_var(tg, tid, "SSTATE_DIR"), "staging")
    dirs = sstate.unpack(obj, staging_root)
    try:
        outputs = _outputdirs(tg, tid)
        for i, target in enumerate(outputs):
            source = dirs[i] if i < len(dirs) else ""
            install_tree(source, target, _manifest(tg, tid, i))
    finally:
        if dirs:
            shutil.rmtree(os.path.dirname(dirs[0]), ignore_errors=True)
    write_stamp(tg, tid, plan)
    return fetched


class StampWriter:
    """Writes stamps and sigdata; lists each stamp directory once per build to drop a task's older stamps."""

    def __init__(self, tg: TaskGraph, plan: Plan) -> None:
        self.tg = tg
        #: the build's current plan (planned again when a task takes an equivalent unihash)
        self.plan = plan
        self._listing: dict[str, list[str]] = {}

    def __call__(self, tid: TaskId) -> None:
        tg, h = self.tg, self.plan.unihashes[tid]
        if tg.taskinfo(tid).flag("nostamp"):
            return  # as in BitBake: nothing would read it (do_clean would even leave its own behind)
        base = stamp_base(tg, tid)
        write_sigdata(f"{base}.sigdata.{self.plan.ran_as.get(tid, h)}", sigdata_of(tg, self.plan, tid))
        directory, prefix = os.path.split(base)
        prefix += "."
        names = self._listing.get(directory)
        if names is None:
            try:
                names = os.listdir(directory)
            except OSError:
                names = []
            self._listing[directory] = names
            # what a build killed while writing sigdata here left (its task has no stamp: it runs again)
            for name in names:
                if name.endswith(".tmp") and dead_writers_temporary(name):
                    with contextlib.suppress(OSError):
                        os.unlink(os.path.join(directory, name))
        # one stamp per task: older stamps of this task go, so "is it up to date" is one stat
        for name in names:
            if name.startswith(prefix) and len(name) == len(prefix) + len(h) and name != prefix + h:
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(directory, name))
        # a stamp is empty: creating it is atomic, and it comes after everything it vouches for
        with open(f"{base}.{h}", "w"):
            pass


def write_stamp(tg: TaskGraph, tid: TaskId, plan: Plan) -> None:
    StampWriter(tg, plan)(tid)


def _publish(publication: Publication) -> WorkerResult | None:
    """In the worker, after the task ran: archive its input directories and install them (sstate); what
    reporting the output for hash equivalence gave, for the build.

    What stops it (a full disk, a refused install, a file system that says no) fails the task as a build
    error naming the step; anything else is a bug, an internal error.
    """
    try:
        outcome = publication.publish()
    except Exception as exc:
        if disk_full(exc):
            raise BuildError(f"publishing shared state failed: {disk_full_reason(exc)}") from exc
        if isinstance(exc, LayerbuildError):
            raise BuildError(f"publishing shared state failed: {exc.message}", exc.location, exc.hint,
                             exc.notes) from exc
        if isinstance(exc, OSError):
            raise BuildError(f"publishing shared state failed: {exc}") from exc
        raise
    if outcome is None:
        return None
    return WorkerResult(unihash=outcome.unihash, outhash=outcome.outhash,
                        warnings=(outcome.problem,) if outcome.problem else ())


def _worker_entry(config: Configuration, job: TaskJob, fd: int, publication: Publication | None) -> None:
    for sig in STOP_SIGNALS:  # the build's handlers are not the worker's: a signal ends it
        signal.signal(sig, signal.SIG_DFL)
    publish = None if publication is None else functools.partial(_publish, publication)
    status = worker_main(config, job, fd, publish)
    os.close(fd)
    os._exit(status)


@dataclass
class _Running:
    process: Any
    tid: TaskId
    fd: int
    started: float


class RunQueue:
    def __init__(self, tg: TaskGraph, plan: Plan, config: Configuration, jobs: int, reporter: Reporter,
                 keep_going: bool = False, multiconfigs: Mapping[str, Configuration] | None = None) -> None:
        self.tg = tg
        self.plan = plan
        self.config = config
        #: the configuration of each multiconfig: a task runs in its own
        self.multiconfigs = dict(multiconfigs or {})
        self.jobs = max(1, jobs)
        self.report = reporter
        self.keep_going = keep_going
        self.ctx = multiprocessing.get_context("fork")
        self.stats = SstateStats()
        self._warned = False

    def _config(self, tid: TaskId) -> Configuration:
        return self.multiconfigs[tid.mc] if tid.mc else self.config

    def _job(self, tid: TaskId) -> TaskJob:
        return TaskJob(tid, self.tg.info(tid).appends, self._config(tid).layerset.layer_name(tid.fn),
                       self.plan.hashes[tid], self.tg.label(tid), self.plan.unihashes[tid])

    def _publication(self, tid: TaskId) -> Publication | None:
        if not is_sstate_task(self.tg, tid):
            return None
        tg, plan = self.tg, self.plan
        unihash = plan.unihashes[tid]
        outputs = _outputdirs(tg, tid)
        info = tg.info(tid)
        spec = ObjectSpec(info.pn, task_var(tg, tid, "PACKAGE_ARCH"), info.pv, info.pr, tid.task)
        store = plan.equivalence.store if plan.equivalence is not None else None
        return Publication(task_var(tg, tid, "SSTATE_DIR"), mirror_settings(tg, tid), spec.name(unihash),
                           tuple(str(tg.taskinfo(tid).flag("sstate-inputdirs") or "").split()), tuple(outputs),
                           tuple(_manifest(tg, tid, i) for i in range(len(outputs))), sigdata_of(tg, plan, tid),
                           None if store is None else Reporting(store, plan.hashes[tid], unihash, spec))

    def execute(self) -> bool:
        """Run the plan; SIGTERM and SIGHUP stop it as Ctrl-C does (see :class:`Terminated`)."""
        with stop_signals():
            return self._execute()

    def _plan_again(self, avoid: set[TaskId], finished: set[TaskId]) -> None:
        """Plan the tasks not ``finished`` again (with the unihashes learnt so far), avoiding ``avoid``'s objects."""
        before = self.plan
        self.plan = make_plan(self.tg, before.signatures, before.force, avoid=avoid, jobs=self.jobs,
                              remote=before.remote, equivalence=before.equivalence, before=before,
                              finished=finished)
        check_task_paths(self.tg, [tid for tid in self.plan.order if tid in self.plan.run], self.config.topdir)

    def _restore_all(self, finished: set[TaskId]) -> tuple[set[TaskId], dict[TaskId, str]]:
        """Restore from sstate; an object that fails to restore is planned again without it (it runs).
        Returns what was restored and the tasks that failed for a full disk (with the reason)."""
        restored: set[TaskId] = set()
        while True:
            done, broken, fatal = self._setscene()
            restored |= done
            if fatal or not broken:
                return restored, fatal
            for tid, reason in sorted(broken.items()):
                self.report(SetsceneFailed(tid, self.tg.label(tid), reason))
            self._plan_again(self.plan.avoid | set(broken), finished | restored)

    def _warn_store(self) -> None:
        """Say once that the hash equivalence store failed (the build goes on without it)."""
        eq = self.plan.equivalence
        if eq is not None and eq.problem and not self._warned:
            self._warned = True
            self.report(BuildWarning(eq.problem))

    def _execute(self) -> bool:
        plan, tg = self.plan, self.tg
        self.report(BuildStarted(len(plan.run), len(plan.setscene) + len(plan.deferred), len(plan.uptodate)))
        self._warn_store()
        for tid, reason in sorted(plan.corrupt.items()):
            self.report(SetsceneFailed(tid, tg.label(tid), reason))
        restored, fatal = self._restore_all(set())
        plan = self.plan
        writer = StampWriter(tg, plan)
        ran, failed, skipped, covered = 0, 0, 0, 0
        uptodate = set(plan.uptodate)
        for tid, reason in sorted(fatal.items()):
            failed += 1
            self.report(TaskFailed(tid, tg.label(tid), None, (), reason))
        if fatal:
            self.report(BuildFinished(0, len(restored), failed, len(plan.run), len(uptodate),
                                      sstate=self._sstate(restored)))
            return False

        def stamp(tid: TaskId) -> str | None:
            """Stamp ``tid``; the reason when the disk is full (the task then counts as failed)."""
            try:
                writer(tid)
            except OSError as exc:
                if not disk_full(exc):
                    raise
                return disk_full_reason(exc)
            return None

        done: set[TaskId] = set(plan.uptodate) | set(restored)
        index = {tid: i for i, tid in enumerate(plan.order)}
        left = {tid: sum(1 for p in tg.graph.predecessors(tid) if p not in done) for tid in plan.run}
        ready = [(index[tid], tid) for tid, n in left.items() if n == 0]
        heapq.heapify(ready)
        pending = set(plan.run) | set(plan.deferred)
        running: dict[int, _Running] = {}
        number = 0
        total = len(plan.run)
        stop = False
        waiting: dict[TaskId, list[TaskId]] = {}
        for tid, first in sorted(plan.deferred.items()):
            waiting.setdefault(first, []).append(tid)

        def plan_again() -> None:
            """A task took an equivalent unihash: what depends on it has other hashes now, and may be up to
            date or restored from sstate instead of run (BitBake's migrations after a unihash update)."""
            nonlocal plan, total, covered, failed, stop
            busy = {item.tid for item in running.values()}
            self._plan_again(self.plan.avoid, done | busy)
            got, full = self._restore_all(done | busy)
            plan = writer.plan = self.plan
            restored.update(got)
            uptodate.update(plan.uptodate)
            done.update(got | plan.uptodate)
            for tid, reason in sorted(full.items()):
                failed += 1
                self.report(TaskFailed(tid, tg.label(tid), None, (), reason))
                stop = stop or not self.keep_going
            # (a running task is still pending: it counts once it finishes)
            covered += len(pending - busy - plan.run - set(plan.deferred) - got - plan.uptodate - set(full))
            pending.clear()
            pending.update((plan.run | set(plan.deferred)) - set(full))
            waiting.clear()
            for later, first in sorted(plan.deferred.items()):
                waiting.setdefault(first, []).append(later)
            left.clear()
            left.update({tid: sum(1 for p in tg.graph.predecessors(tid) if p not in done)
                         for tid in pending - set(plan.deferred)})
            ready[:] = [(index[tid], tid) for tid, n in left.items() if n == 0]
            heapq.heapify(ready)
            total = number + len(pending - set(plan.deferred))

        def finished(tid: TaskId) -> None:
            nonlocal failed, skipped
            done.add(tid)
            pending.discard(tid)
            for succ in tg.graph.successors(tid):
                if succ in left:
                    left[succ] -= 1
                    if left[succ] == 0 and succ in pending:
                        heapq.heappush(ready, (index[succ], succ))
            for later in waiting.pop(tid, ()):
                if later not in pending:
                    continue
                problem = self._restore_deferred(later)
                if problem is None:
                    restored.add(later)
                    self.report(SetsceneRestored(later, tg.label(later)))
                    finished(later)
                else:
                    failed += 1
                    pending.discard(later)
                    self.report(TaskFailed(later, tg.label(later), None, (), problem))
                    skipped += self._skip_after(later, pending, index)

        def abandon(tid: TaskId) -> int:
            """The deferred tasks waiting for the failed ``tid``, and what needs them, are not run."""
            count = 0
            for later in waiting.pop(tid, ()):
                if later in pending:
                    pending.discard(later)
                    count += 1
                    self.report(TaskSkipped(later, tg.label(later), f"its shared state comes from {tg.label(tid)}, "
                                                                    "which failed"))
                    count += self._skip_after(later, pending, index)
            return count

        try:
            while True:
                while ready and len(running) < self.jobs and not stop:
                    _, tid = heapq.heappop(ready)
                    if tid not in pending:
                        continue
                    number += 1
                    label = tg.label(tid)
                    if flag_set(tg.taskinfo(tid).flag("noexec")):
                        self.report(TaskStarted(tid, label, number, total, None))
                        full = stamp(tid)
                        if full is None:
                            ran += 1
                            self.report(TaskSucceeded(tid, label, 0.0))
                            finished(tid)
                            continue
                        failed += 1
                        pending.discard(tid)
                        self.report(TaskFailed(tid, label, None, (), full))
                        skipped += self._skip_after(tid, pending, index) + abandon(tid)
                        stop = stop or not self.keep_going
                        continue
                    r, w = os.pipe()
                    proc = self.ctx.Process(target=_worker_entry,
                                            args=(self._config(tid), self._job(tid), w, self._publication(tid)))
                    proc.start()
                    os.close(w)
                    assert proc.pid is not None
                    self._register(proc.pid)
                    running[proc.sentinel] = _Running(proc, tid, r, time.monotonic())
                    self.report(TaskStarted(tid, label, number, total, None))
                if not running:
                    break
                for sentinel in wait(list(running)):
                    item = running.pop(sentinel)  # type: ignore[arg-type]
                    item.process.join()
                    self._unregister(item.process.pid)
                    result = self._read_result(item.fd)
                    log = result.log
                    label = tg.label(item.tid)
                    equivalent = item.process.exitcode == 0 and self._learn(item.tid, result)
                    full = stamp(item.tid) if item.process.exitcode == 0 else None
                    if item.process.exitcode == 0 and full is None:
                        ran += 1
                        self.report(TaskSucceeded(item.tid, label, time.monotonic() - item.started,
                                                  result.results))
                        finished(item.tid)
                        if equivalent:
                            plan_again()
                        continue
                    failed += 1
                    pending.discard(item.tid)
                    reason = full or ((_reason_from_log(log) if log else None) or result.error
                                      or f"exit status {item.process.exitcode}")
                    where = Location(result.file, result.line) if result.file and not full else None
                    self.report(TaskFailed(item.tid, label, log, tail(log), reason, result.results,
                                           time.monotonic() - item.started, where))
                    skipped += self._skip_after(item.tid, pending, index) + abandon(item.tid)
                    if not self.keep_going:
                        stop = True
            skipped += len(pending)
        except KeyboardInterrupt:
            self._kill(running)
            self.report(BuildFinished(ran, len(restored), failed, skipped + len(pending), len(uptodate), True,
                                      self._sstate(restored), covered))
            raise
        self.report(BuildFinished(ran, len(restored), failed, skipped, len(uptodate), sstate=self._sstate(restored),
                                  covered=covered))
        return failed == 0

    def _restore_deferred(self, tid: TaskId) -> str | None:
        """Restore a deferred task from the object the task it waited for published; why not, if not."""
        tg = self.tg
        sstate = sstate_for(tg, tid)
        name = sstate_name(tg, tid, self.plan.unihashes[tid])
        obj = sstate.find(name)
        if obj is None or not sstate.verify(obj):
            return f"shared state {name} of {tg.label(self.plan.deferred[tid])} was not published intact"
        try:
            restore(tg, tid, obj, self.plan)
        except (LayerbuildError, OSError) as exc:
            return disk_full_reason(exc) if disk_full(exc) else \
                (exc.message if isinstance(exc, LayerbuildError) else f"restoring {obj.path} failed: {exc}")
        return None

    def _sstate(self, restored: set[TaskId]) -> SstateStats | None:
        """The summary's shared-state figures: shown when the build has mirrors or restored anything."""
        tg = self.tg
        mirrored = any(task_var(tg, tid, "SSTATE_MIRRORS") for tid in self.plan.run | restored)
        if not restored and not mirrored:
            return None
        self.stats.restored = len(restored)
        self.stats.wanted = len(restored) + sum(1 for tid in self.plan.run if is_sstate_task(tg, tid))
        return self.stats

    def _learn(self, tid: TaskId, result: WorkerResult) -> bool:
        """What the task's worker reported for hash equivalence: its output hash, and the unihash its output
        took (which the task is stamped with, and the tasks deferred to it are restored by). Whether that is
        another unihash than it ran as."""
        plan = self.plan
        if result.outhash:
            plan.outhashes[tid] = result.outhash
        for warning in result.warnings:
            if plan.equivalence is not None:
                plan.equivalence.disable(warning)
            self._warn_store()
        if not result.unihash or result.unihash == plan.unihashes[tid]:
            return False
        plan.ran_as[tid] = plan.unihashes[tid]
        plan.unihashes[tid] = result.unihash
        for later, first in plan.deferred.items():
            if first == tid:  # (the same signature over the same dependencies: the same taskhash)
                plan.unihashes[later] = result.unihash
                if result.outhash:
                    plan.outhashes[later] = result.outhash
        if plan.equivalence is not None:
            plan.equivalence.learn(plan.hashes[tid], result.unihash, result.outhash)
        self.report(HashEquivalent(tid, self.tg.label(tid), plan.hashes[tid], result.unihash,
                                   result.outhash or ""))
        return True

    def _skip_after(self, tid: TaskId, pending: set[TaskId], index: dict[TaskId, int]) -> int:
        """Report the pending tasks that depend on the failed ``tid`` as not run; returns how many."""
        label = self.tg.label(tid)
        skipped = 0
        for desc in sorted(nx.descendants(self.tg.graph, tid) & pending, key=index.__getitem__):
            pending.discard(desc)
            skipped += 1
            self.report(TaskSkipped(desc, self.tg.label(desc), f"it depends on {label}, which failed"))
        return skipped

    def _register(self, pid: int) -> None:
        directory = os.path.join(self.config.topdir, WORKERS_DIR)
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, str(pid)), "w"):
            pass

    def _unregister(self, pid: int) -> None:
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(self.config.topdir, WORKERS_DIR, str(pid)))

    def _setscene(self) -> tuple[set[TaskId], dict[TaskId, str], dict[TaskId, str]]:
        """Restore the plan's sstate objects: (restored, broken objects -> why, full disk -> why)."""
        restored: set[TaskId] = set()
        broken: dict[TaskId, str] = {}
        fatal: dict[TaskId, str] = {}
        items = sorted(self.plan.setscene.items())
        if not items:
            return restored, broken, fatal

        def one(item: tuple[TaskId, SstateObject]) -> tuple[TaskId, str | None, bool]:
            try:
                fetched = restore(self.tg, item[0], item[1], self.plan)
                if item[1].remote is not None:
                    self.stats.restored_from(item[1].remote.store, fetched)
            except (LayerbuildError, OSError) as exc:
                if disk_full(exc):
                    return item[0], disk_full_reason(exc), True
                text = exc.message if isinstance(exc, LayerbuildError) else f"restoring {item[1].path} failed: {exc}"
                return item[0], text, False
            return item[0], None, False

        with ThreadPoolExecutor(self.jobs) as pool:
            for tid, problem, full in pool.map(one, items):
                if problem is None:
                    restored.add(tid)
                    self.report(SetsceneRestored(tid, self.tg.label(tid)))
                else:
                    (fatal if full else broken)[tid] = problem
        return restored, broken, fatal

    @staticmethod
    def _read_result(fd: int) -> WorkerResult:
        chunks = []
        while True:
            data = os.read(fd, 65536)
            if not data:
                break
            chunks.append(data)
        os.close(fd)
        return read_results(b"".join(chunks))

    @staticmethod
    def _kill(running: dict[int, _Running]) -> None:
        for item in running.values():
            try:
                os.killpg(item.process.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                item.process.terminate()  # not yet the leader of its own group
        deadline = time.monotonic() + 5
        for item in running.values():
            item.process.join(max(0.0, deadline - time.monotonic()))
            if item.process.is_alive():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(item.process.pid, signal.SIGKILL)
                item.process.kill()
                item.process.join()
            with contextlib.suppress(OSError):
                os.close(item.fd)


def _reason_from_log(log: str) -> str | None:
    for line in reversed(tail(log, 60)):
        if line.startswith("ERROR: "):
            return line[len("ERROR: "):]
    return None
