"""``bb.event``'s other classes: the events BitBake sends to its user interface or that metadata fires
itself, which the engine never fires. ``bb.event`` defines them when metadata first names one (a class
costs every command start-up time, and parses rarely need these); they are ``bb.event``'s classes."""

from __future__ import annotations

from typing import Any

from layerbuild.engine.bb.event import BuildBase, Event, OperationCompleted, OperationStarted


class HeartbeatEvent(Event):
    def __init__(self, time: float) -> None:
        super().__init__()
        self.time = time


class OperationProgress(Event):
    def __init__(self, current: int, total: int, msg: str = "Operation in Progress") -> None:
        super().__init__()
        self.current = current
        self.total = total
        self.msg = f"{msg}: {current}/{total}"


class MultiConfigParsed(Event):
    def __init__(self, mcdata: dict[str, Any]) -> None:
        super().__init__()
        self.mcdata = mcdata


class BuildInit(BuildBase):
    def __init__(self, p: Any = None) -> None:
        super().__init__(None, p if p is not None else [])


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
