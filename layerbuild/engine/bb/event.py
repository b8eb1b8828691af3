"""``bb.event``: BitBake's event classes, with their constructors, and ``fire``.

The engine fires the configuration and recipe events (``ConfigParsed``, ``RecipePreFinalise`` ...) to
the ``addhandler`` handlers whose ``[eventmask]`` admits them; ``fire(event, d)`` hands any other event
to the same handlers. Events BitBake only sends to its user interface (parse progress, disk monitor)
exist so metadata can name them.
"""

from __future__ import annotations

import importlib
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
        if module == "bb.eventclasses":
            module = "bb.event"
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


class OperationStarted(Event):
    def __init__(self, msg: str = "Operation Started") -> None:
        super().__init__()
        self.msg = msg


class OperationCompleted(Event):
    def __init__(self, total: int, msg: str = "Operation Completed") -> None:
        super().__init__()
        self.total = total
        self.msg = msg


class ConfigParsed(Event):
    """The configuration has been read (fired before any recipe is parsed)."""


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


class BuildStarted(BuildBase, OperationStarted):
    def __init__(self, n: Any, p: Any, failures: int = 0) -> None:
        OperationStarted.__init__(self, "Building Started")
        BuildBase.__init__(self, n, p, failures)


class BuildCompleted(BuildBase, OperationCompleted):
    def __init__(self, total: int, n: Any, p: Any, failures: int = 0, interrupted: int = 0) -> None:
        OperationCompleted.__init__(self, total, "Building Failed" if failures else "Building Succeeded")
        self._interrupted = interrupted
        BuildBase.__init__(self, n, p, failures)


#: BitBake's other event classes (layerbuild/engine/bb/eventclasses.py), defined when first named
_OTHERS = frozenset(
    ('HeartbeatEvent', 'OperationProgress', 'MultiConfigParsed', 'BuildInit', 'DiskFull',
     'MonitorDiskEvent', 'NoProvider', 'MultipleProviders', 'ParseStarted', 'ParseCompleted',
     'ParseProgress', 'CacheLoadStarted', 'CacheLoadProgress', 'CacheLoadCompleted',
     'TreeDataPreparationStarted', 'TreeDataPreparationProgress', 'TreeDataPreparationCompleted',
     'DepTreeGenerated', 'TargetsTreeGenerated', 'ReachableStamps', 'StaleSetSceneTasks',
     'FilesMatchingFound', 'ConfigFilesFound', 'ConfigFilePathFound', 'MsgBase', 'MsgDebug', 'MsgNote',
     'MsgWarn', 'MsgError', 'MsgFatal', 'MsgPlain', 'LogExecTTY', 'MetadataEvent', 'ProcessStarted',
     'ProcessProgress', 'ProcessFinished', 'SanityCheck', 'SanityCheckPassed', 'SanityCheckFailed',
     'NetworkTest', 'NetworkTestPassed', 'NetworkTestFailed', 'FindSigInfoResult',
     'GetTaskSignatureResult', 'ParseError'))


def __getattr__(name: str) -> Any:
    if name in _OTHERS:
        return getattr(importlib.import_module(f"{__spec__.name}classes"), name)  # type: ignore[name-defined]
    raise AttributeError(f"module 'bb.event' has no attribute {name!r}")
