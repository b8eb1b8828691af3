"""``bb.event``: BitBake's event classes, with their constructors, and ``fire``.

The engine fires the configuration and recipe events (``ConfigParsed``, ``RecipePreFinalise`` ...) to
the ``addhandler`` handlers whose ``[eventmask]`` admits them; ``fire(event, d)`` hands any other event
to the same handlers. Events BitBake only sends to its user interface (parse progress, disk monitor)
exist so metadata can name them.
"""

from __future__ import annotations

from typing import Any


class Event:
    """The base of every event; handlers read the datastore as ``e.data``."""

    data: Any = None

    def __init__(self) -> None:
        self.pid = 0


def getName(e: Any) -> str:
    """The name of an event class, or of an event's class."""
    return e.__name__ if getattr(e, "__name__", None) is not None else type(e).__name__


def event_id(e: Event) -> str:
    """The name an ``[eventmask]`` lists the event's class by: ``bb.event.ConfigParsed``,
    ``bb.build.TaskFailed``, or a layer's own ``module.Class``."""
    module = type(e).__module__
    if module.startswith("layerbuild.engine.bb."):
        module = "bb." + module[len("layerbuild.engine.bb."):]
    return f"{module}.{type(e).__qualname__}"


def fire(event: Event, d: Any) -> None:
    """Hand ``event`` to the handlers of ``d`` whose ``[eventmask]`` admits it."""
    if d is None:
        return
    from layerbuild.engine.evaluatorcalls import evaluator_calls
    evaluator_calls().dispatch_event(d, event)


def fire_from_worker(event: Event, d: Any) -> None:
    fire(event, d)


def check_for_interrupts() -> None:
    """Interrupts stop a parse through the signal itself (KeyboardInterrupt); nothing to poll."""
    return None


def enable_threadlock() -> None:
    return None


def disable_threadlock() -> None:
    return None


class HeartbeatEvent(Event):
    def __init__(self, time: float) -> None:
        super().__init__()
        self.time = time


class OperationStarted(Event):
    def __init__(self, msg: str = "Operation Started") -> None:
        super().__init__()
        self.msg = msg


class OperationCompleted(Event):
    def __init__(self, total: int, msg: str = "Operation Completed") -> None:
        super().__init__()
        self.total = total
        self.msg = msg


class OperationProgress(Event):
    def __init__(self, current: int, total: int, msg: str = "Operation in Progress") -> None:
        super().__init__()
        self.current = current
        self.total = total
        self.msg = f"{msg}: {current}/{total}"


class ConfigParsed(Event):
    """The configuration has been read (fired before any recipe is parsed)."""


class MultiConfigParsed(Event):
    def __init__(self, mcdata: dict[str, Any]) -> None:
        super().__init__()
        self.mcdata = mcdata


class RecipeEvent(Event):
    def __init__(self, fn: str) -> None:
        super().__init__()
        self.fn = fn


class RecipePreDeferredInherits(RecipeEvent):
    def __init__(self, fn: str, inherits: list[str]) -> None:
        super().__init__(fn)
        self.inherits = inherits


class RecipePreFinalise(RecipeEvent):
    """The recipe is read; deferred inherits, key expansion and anonymous Python are still to come."""


class RecipePostKeyExpansion(RecipeEvent):
    """Keys are expanded; anonymous Python is still to come."""


class RecipeTaskPreProcess(RecipeEvent):
    def __init__(self, fn: str, tasklist: list[str]) -> None:
        super().__init__(fn)
        self.tasklist = tasklist


class RecipeParsed(RecipeEvent):
    """The recipe is finalised."""


class BuildBase(Event):
    def __init__(self, n: Any, p: Any, failures: int = 0) -> None:
        super().__init__()
        self._name = n
        self._pkgs = p
        self._failures = failures

    @property
    def name(self) -> Any:
        return self._name

    @name.setter
    def name(self, value: Any) -> None:
        self._name = value

    @property
    def pkgs(self) -> Any:
        return self._pkgs

    @pkgs.setter
    def pkgs(self, value: Any) -> None:
        self._pkgs = value

    def getPkgs(self) -> Any:
        return self._pkgs

    def getName(self) -> Any:
        return self._name

    def getFailures(self) -> int:
        return self._failures


class BuildInit(BuildBase):
    def __init__(self, p: Any = None) -> None:
        super().__init__(None, p if p is not None else [])


class BuildStarted(BuildBase, OperationStarted):
    def __init__(self, n: Any, p: Any, failures: int = 0) -> None:
        OperationStarted.__init__(self, "Building Started")
        BuildBase.__init__(self, n, p, failures)


class BuildCompleted(BuildBase, OperationCompleted):
    def __init__(self, total: int, n: Any, p: Any, failures: int = 0, interrupted: int = 0) -> None:
        OperationCompleted.__init__(self, total, "Building Failed" if failures else "Building Succeeded")
        self._interrupted = interrupted
        BuildBase.__init__(self, n, p, failures)


class DiskFull(Event):
    def __init__(self, dev: str, type: str, freespace: int, mountpoint: str) -> None:  # noqa: A002
        super().__init__()
        self._dev = dev
        self._type = type
        self._free = freespace
        self._mountpoint = mountpoint


class MonitorDiskEvent(Event):
    def __init__(self, disk_usage: dict[str, Any]) -> None:
        super().__init__()
        self.disk_usage = disk_usage


class NoProvider(Event):
    def __init__(self, item: str, runtime: bool = False, dependees: Any = None, reasons: Any = None,
                 close_matches: Any = None) -> None:
        super().__init__()
        self._item = item
        self._runtime = runtime
        self._dependees = dependees
        self._reasons = reasons
        self._close_matches = close_matches

    def getItem(self) -> str:
        return self._item

    def isRuntime(self) -> bool:
        return self._runtime


class MultipleProviders(Event):
    def __init__(self, item: str, candidates: list[str], runtime: bool = False) -> None:
        super().__init__()
        self._item = item
        self._candidates = candidates
        self._is_runtime = runtime

    def getItem(self) -> str:
        return self._item

    def getCandidates(self) -> list[str]:
        return self._candidates

    def isRuntime(self) -> bool:
        return self._is_runtime


class ParseStarted(OperationStarted):
    def __init__(self, total: int) -> None:
        super().__init__("Recipe parsing Started")
        self.total = total


class ParseCompleted(OperationCompleted):
    def __init__(self, cached: int, parsed: int, skipped: int, masked: int, virtuals: int, errors: int,
                 total: int) -> None:
        super().__init__(total, "Recipe parsing Completed")
        self.cached = cached
        self.parsed = parsed
        self.skipped = skipped
        self.virtuals = virtuals
        self.masked = masked
        self.errors = errors
        self.sofar = cached + parsed


class ParseProgress(OperationProgress):
    def __init__(self, current: int, total: int) -> None:
        super().__init__(current, total, "Recipe parsing")


class CacheLoadStarted(OperationStarted):
    def __init__(self, total: int) -> None:
        super().__init__("Loading cache Started")
        self.total = total


class CacheLoadProgress(OperationProgress):
    def __init__(self, current: int, total: int) -> None:
        super().__init__(current, total, "Loading cache")


class CacheLoadCompleted(OperationCompleted):
    def __init__(self, total: int, num_entries: int) -> None:
        super().__init__(total, "Loading cache Completed")
        self.num_entries = num_entries


class TreeDataPreparationStarted(OperationStarted):
    def __init__(self) -> None:
        super().__init__("Preparing tree data Started")


class TreeDataPreparationProgress(OperationProgress):
    def __init__(self, current: int, total: int) -> None:
        super().__init__(current, total, "Preparing tree data")


class TreeDataPreparationCompleted(OperationCompleted):
    def __init__(self, total: int) -> None:
        super().__init__(total, "Preparing tree data Completed")


class DepTreeGenerated(Event):
    def __init__(self, depgraph: Any) -> None:
        super().__init__()
        self._depgraph = depgraph


class TargetsTreeGenerated(Event):
    def __init__(self, model: Any) -> None:
        super().__init__()
        self._model = model


class ReachableStamps(Event):
    def __init__(self, stamps: Any) -> None:
        super().__init__()
        self.stamps = stamps


class StaleSetSceneTasks(Event):
    def __init__(self, tasks: Any) -> None:
        super().__init__()
        self.tasks = tasks


class FilesMatchingFound(Event):
    def __init__(self, pattern: str, matches: list[str]) -> None:
        super().__init__()
        self._pattern = pattern
        self._matches = matches


class ConfigFilesFound(Event):
    def __init__(self, variable: str, values: list[str]) -> None:
        super().__init__()
        self._variable = variable
        self._values = values


class ConfigFilePathFound(Event):
    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path


class MsgBase(Event):
    def __init__(self, msg: str) -> None:
        super().__init__()
        self._message = msg


class MsgDebug(MsgBase):
    pass


class MsgNote(MsgBase):
    pass


class MsgWarn(MsgBase):
    pass


class MsgError(MsgBase):
    pass


class MsgFatal(MsgBase):
    pass


class MsgPlain(MsgBase):
    pass


class LogExecTTY(Event):
    def __init__(self, msg: str, prog: str, sleep_delay: float, retries: int) -> None:
        super().__init__()
        self.msg = msg
        self.prog = prog
        self.sleep_delay = sleep_delay
        self.retries = retries


class MetadataEvent(Event):
    """An event OE's classes fire to report something (``type`` names it)."""

    def __init__(self, eventtype: str, eventdata: Any) -> None:
        super().__init__()
        self.type = eventtype
        self._localdata = eventdata


class ProcessStarted(Event):
    def __init__(self, processname: str, total: int) -> None:
        super().__init__()
        self.processname = processname
        self.total = total


class ProcessProgress(Event):
    def __init__(self, processname: str, progress: int) -> None:
        super().__init__()
        self.processname = processname
        self.progress = progress


class ProcessFinished(Event):
    def __init__(self, processname: str) -> None:
        super().__init__()
        self.processname = processname


class SanityCheck(Event):
    def __init__(self, generateevents: bool = True) -> None:
        super().__init__()
        self.generateevents = generateevents


class SanityCheckPassed(Event):
    pass


class SanityCheckFailed(Event):
    def __init__(self, msg: str, network_error: bool = False) -> None:
        super().__init__()
        self._msg = msg
        self._network_error = network_error


class NetworkTest(Event):
    def __init__(self, generateevents: bool = True) -> None:
        super().__init__()
        self.generateevents = generateevents


class NetworkTestPassed(Event):
    pass


class NetworkTestFailed(Event):
    pass


class FindSigInfoResult(Event):
    def __init__(self, result: Any) -> None:
        super().__init__()
        self.result = result


class GetTaskSignatureResult(Event):
    def __init__(self, sig: Any) -> None:
        super().__init__()
        self.sig = sig


class ParseError(Event):
    def __init__(self, msg: str) -> None:
        super().__init__()
        self._msg = msg
