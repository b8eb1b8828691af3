"""``bb.runqueue``: BitBake's task ids (``[mc:NAME:]FILE:TASK``) and the names of its task events.

OE's library splits task ids with these functions in its signature and sstate code; layerbuild's own
scheduler uses typed ``TaskId`` values and reports through its own events, so the run-queue events here
exist for handlers that name them.
"""

from __future__ import annotations

from typing import Any

from layerbuild.engine.bb.event import Event


def fn_from_tid(tid: str) -> str:
    return tid.rsplit(":", 1)[0]


def taskname_from_tid(tid: str) -> str:
    return tid.rsplit(":", 1)[1]


def mc_from_tid(tid: str) -> str:
    return tid.split(":")[1] if tid.startswith("mc:") and tid.count(":") >= 2 else ""


def split_mc(n: str) -> tuple[str, str]:
    if n.startswith("mc:") and n.count(":") >= 2:
        _, mc, rest = n.split(":", 2)
        return mc, rest
    return "", n


def split_tid_mcfn(tid: str) -> tuple[str, str, str, str]:
    """``(mc, file, task, mc-qualified file)`` of a task id."""
    if tid.startswith("mc:") and tid.count(":") >= 2:
        parts = tid.split(":")
        mc, fn, taskname = parts[1], ":".join(parts[2:-1]), parts[-1]
        return mc, fn, taskname, f"mc:{mc}:{fn}"
    fn, taskname = tid.rsplit(":", 1)
    return "", fn, taskname, fn


def split_tid(tid: str) -> tuple[str, str, str]:
    mc, fn, taskname, _ = split_tid_mcfn(tid)
    return mc, fn, taskname


def build_tid(mc: str, fn: str, taskname: str) -> str:
    return f"mc:{mc}:{fn}:{taskname}" if mc else f"{fn}:{taskname}"


class runQueueEvent(Event):
    def __init__(self, task: str, stats: Any, rq: Any) -> None:
        super().__init__()
        self.taskid = task
        self.taskstring = task
        self.taskname = taskname_from_tid(task)
        self.taskfile = fn_from_tid(task)
        self.taskhash = rq.rqdata.get_task_hash(task) if rq is not None else None
        self.stats = stats.copy() if stats is not None else None


class sceneQueueEvent(runQueueEvent):
    def __init__(self, task: str, stats: Any, rq: Any, noexec: bool = False) -> None:
        super().__init__(task, stats, rq)
        self.taskstring = task + "_setscene"
        self.taskname = taskname_from_tid(task) + "_setscene"


class runQueueTaskStarted(runQueueEvent):
    def __init__(self, task: str, stats: Any, rq: Any, noexec: bool = False) -> None:
        super().__init__(task, stats, rq)
        self.noexec = noexec


class sceneQueueTaskStarted(sceneQueueEvent):
    def __init__(self, task: str, stats: Any, rq: Any, noexec: bool = False) -> None:
        super().__init__(task, stats, rq)
        self.noexec = noexec


class runQueueTaskFailed(runQueueEvent):
    def __init__(self, task: str, stats: Any, exitcode: int, rq: Any, fakeroot_log: str | None = None) -> None:
        super().__init__(task, stats, rq)
        self.exitcode = exitcode
        self.fakeroot_log = fakeroot_log


class sceneQueueTaskFailed(sceneQueueEvent):
    def __init__(self, task: str, stats: Any, exitcode: int, rq: Any) -> None:
        super().__init__(task, stats, rq)
        self.exitcode = exitcode


class runQueueTaskCompleted(runQueueEvent):
    pass


class sceneQueueTaskCompleted(sceneQueueEvent):
    pass


class runQueueTaskSkipped(runQueueEvent):
    def __init__(self, task: str, stats: Any, rq: Any, reason: str) -> None:
        super().__init__(task, stats, rq)
        self.reason = reason
