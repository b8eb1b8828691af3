"""The Python environment metadata code runs in.

Metadata Python (``${@...}``, ``def`` functions, anonymous and task functions) sees ``d`` with
BitBake's method names and a small ``bb`` namespace with BitBake's names, so that snippets copied from
real layers work unchanged. Each recipe has its own globals dictionary: a ``def`` in one recipe is
never visible in another.

What ``bb`` does with the metadata's own statements (``bb.build.addtask``, ``deltask``,
``bb.data.expandKeys``) is the evaluator's: it hands them in as :class:`EvaluatorCalls`, and hands the
datastore the globals made from them (:func:`new_globals`), so neither the datastore nor this module
imports the evaluator.
"""

from __future__ import annotations

import builtins
import glob
import logging
import os
import re
import shutil
import sys
import time
import types
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from layerbuild.taskapi import NO_HOOKS, Hooks, builtin_vardeps, run_builtin
from layerbuild.util.errors import FatalError, LayerbuildError, Location, SkipRecipe
from layerbuild.util.vartypes import to_boolean

logger = logging.getLogger("layerbuild.metadata")


def _words(variable: str, checkvalues: str | Iterable[str], d: Any) -> tuple[set[str], set[str]] | None:
    """The words of ``variable`` and the wanted words, or None when the variable is empty."""
    val = d.getVar(variable)
    if not val:
        return None
    want = set(checkvalues.split()) if isinstance(checkvalues, str) else set(checkvalues)
    return set(val.split()), want


def _contains(variable: str, checkvalues: str | Iterable[str], truevalue: Any, falsevalue: Any, d: Any) -> Any:
    words = _words(variable, checkvalues, d)
    return truevalue if words and words[1].issubset(words[0]) else falsevalue


def _contains_any(variable: str, checkvalues: str | Iterable[str], truevalue: Any, falsevalue: Any,
                  d: Any) -> Any:
    words = _words(variable, checkvalues, d)
    return truevalue if words and words[1] & words[0] else falsevalue


def _filter(variable: str, checkvalues: str | Iterable[str], d: Any) -> str:
    val = d.getVar(variable)
    if not val:
        return ""
    want = set(checkvalues.split()) if isinstance(checkvalues, str) else set(checkvalues)
    return " ".join(sorted(set(val.split()) & want))


def _which(path: str, item: str, direction: int = 0, history: bool = False) -> Any:
    tried = []
    dirs = [p for p in (path or "").split(":") if p]
    if direction:
        dirs.reverse()
    for directory in dirs:
        candidate = os.path.join(directory, item)
        tried.append(candidate)
        if os.path.exists(candidate):
            found = os.path.abspath(candidate)
            return (found, tried) if history else found
    return ("", tried) if history else ""


def _mkdirhier(directory: str) -> None:
    os.makedirs(directory, exist_ok=True)


def vars_from_file(filename: str | None, d: Any = None) -> list[str | None]:
    """PN, PV and PR from a recipe file name ``PN_PV_PR.bb``, as BitBake derives them."""
    if not filename or not filename.endswith((".bb", ".bbappend")):
        return [None, None, None]
    parts: list[str | None] = list(os.path.splitext(os.path.basename(filename))[0].split("_"))
    if len(parts) > 3:
        raise LayerbuildError("cannot derive PN/PV from the file name (too many underscores)",
                              Location(filename), hint="name recipe files PN_PV.bb, with no '_' in PN or PV")
    parts.extend([None] * (3 - len(parts)))
    return parts


def _fatal(*args: Any) -> None:
    raise FatalError(" ".join(str(a) for a in args))


def _log(level: int) -> Any:
    def emit(*args: Any) -> None:
        logger.log(level, " ".join(str(a) for a in args))
    return emit


def _exec_func(func: str, d: Any, **_kw: Any) -> Any:
    return d.exec_func(func)


class EvaluatorCalls(NamedTuple):
    """The evaluator's statements that metadata Python reaches through ``bb``.

    (A named tuple rather than a dataclass: every command imports it, and a frozen dataclass costs
    four times the instructions to create.)"""

    #: ``addtask`` (d, task, before, after, location)
    add_task: Callable[[Any, str, str | None, str | None, Location | None], None]
    #: ``deltask`` (d, task)
    del_task: Callable[[Any, str], None]
    #: the expansion of keys holding ``${...}`` (alterdata, readdata)
    expand_keys: Callable[[Any, Any], None]


def _listtasks(d: Any) -> tuple[str, ...]:
    """``bb.build.listtasks``: the tasks of the recipe, in the order they were added."""
    return tuple(d.getVar("__BBTASKS", False) or ())


def _clean_recipe(d: Any) -> None:
    """``do_clean``'s work (``clean_recipe(d)`` in metadata); the module is imported only by a clean task."""
    from layerbuild.engine.clean import clean_recipe
    clean_recipe(d)


def _sstate_clean_cachefiles(d: Any) -> None:
    """``do_cleansstate``'s work, under the name OE's sstate.bbclass gives it."""
    from layerbuild.engine.clean import sstate_clean_cachefiles
    sstate_clean_cachefiles(d)


def _vercmp_string(a: str, b: str) -> int:
    from layerbuild.util.version import vercmp_string
    return vercmp_string(a, b)


class Event:
    """A metadata event; handlers read ``e.data``."""

    def __init__(self, data: Any = None, **attrs: Any) -> None:
        self.data = data
        for key, value in attrs.items():
            setattr(self, key, value)


EVENT_NAMES = ("ConfigParsed", "RecipePreDeferredInherits", "RecipePreFinalise", "RecipePostKeyExpansion",
               "RecipeTaskPreProcess", "RecipeParsed", "BuildStarted", "BuildCompleted")
EVENTS: dict[str, type[Event]] = {name: type(name, (Event,), {"__module__": "bb.event"}) for name in EVENT_NAMES}


#: what ``bb.fetch2`` offers; the fetch module is imported on first use, so parsing never pays for it
FETCH2_NAMES = ("Fetch", "FetchError", "FetchData", "MalformedUrl", "ParameterError", "ChecksumError",
                "NoChecksumError", "NetworkAccess", "UnpackError", "decodeurl", "encodeurl",
                "get_checksum_file_list")


def _module_attr(hooks: Hooks, module: str, names: tuple[str, ...]) -> Any:
    def getattr_(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module '{module}' has no attribute {name!r}")
        load = hooks.modules.get(module)
        if load is None:
            raise LayerbuildError(f"{module}.{name} is not available: this session has no fetchers")
        return getattr(load(), name)
    return getattr_


def _make_bb(hooks: Hooks, calls: EvaluatorCalls) -> types.ModuleType:
    def addtask(task: str, before: str | None, after: str | None, d: Any) -> None:
        """``bb.build.addtask``: the ``addtask`` statement, from Python (anonymous functions)."""
        calls.add_task(d, task, before, after, d.current_location)

    def deltask(task: str, d: Any) -> None:
        """``bb.build.deltask``: the ``deltask`` statement, from Python."""
        calls.del_task(d, task)

    def expand_keys(alterdata: Any, readdata: Any = None) -> None:
        """``bb.data.expandKeys``: rename variables whose names hold ``${...}`` to the expanded names."""
        calls.expand_keys(alterdata, readdata)

    bb = types.ModuleType("bb", "layerbuild's BitBake compatibility namespace")
    utils = types.ModuleType("bb.utils")
    utils.contains = _contains  # type: ignore[attr-defined]
    utils.contains_any = _contains_any  # type: ignore[attr-defined]
    utils.filter = _filter  # type: ignore[attr-defined]
    utils.to_boolean = to_boolean  # type: ignore[attr-defined]
    utils.which = _which  # type: ignore[attr-defined]
    utils.mkdirhier = _mkdirhier  # type: ignore[attr-defined]
    utils.vercmp_string = _vercmp_string  # type: ignore[attr-defined]
    build = types.ModuleType("bb.build")
    build.exec_func = _exec_func  # type: ignore[attr-defined]
    build.addtask = addtask  # type: ignore[attr-defined]
    build.deltask = deltask  # type: ignore[attr-defined]
    build.listtasks = _listtasks  # type: ignore[attr-defined]
    parse = types.ModuleType("bb.parse")
    parse.SkipRecipe = SkipRecipe  # type: ignore[attr-defined]
    parse.SkipPackage = SkipRecipe  # type: ignore[attr-defined]
    parse.vars_from_file = vars_from_file  # type: ignore[attr-defined]
    data = types.ModuleType("bb.data")
    data.expand = lambda s, d: d.expand(s)  # type: ignore[attr-defined]
    data.getVar = lambda var, d, exp=True: d.getVar(var, exp)  # type: ignore[attr-defined]
    data.createCopy = lambda d: d.createCopy()  # type: ignore[attr-defined]
    data.expandKeys = expand_keys  # type: ignore[attr-defined]
    event = types.ModuleType("bb.event")
    event.Event = Event  # type: ignore[attr-defined]
    for name, cls in EVENTS.items():
        setattr(event, name, cls)
    fetch2 = types.ModuleType("bb.fetch2")
    fetch2.__getattr__ = _module_attr(hooks, "bb.fetch2", FETCH2_NAMES)  # type: ignore[method-assign]
    bb.event = event  # type: ignore[attr-defined]
    bb.fetch2 = fetch2  # type: ignore[attr-defined]
    bb.fetch = fetch2  # type: ignore[attr-defined]
    bb.utils = utils  # type: ignore[attr-defined]
    bb.build = build  # type: ignore[attr-defined]
    bb.parse = parse  # type: ignore[attr-defined]
    bb.data = data  # type: ignore[attr-defined]
    bb.fatal = _fatal  # type: ignore[attr-defined]
    bb.error = _log(logging.ERROR)  # type: ignore[attr-defined]
    bb.warn = _log(logging.WARNING)  # type: ignore[attr-defined]
    bb.note = _log(logging.INFO)  # type: ignore[attr-defined]
    bb.plain = _log(logging.INFO)  # type: ignore[attr-defined]
    bb.debug = lambda *args: logger.debug(" ".join(str(a) for a in args[1:] if args))  # type: ignore[attr-defined]
    bb.BBHandledException = FatalError  # type: ignore[attr-defined]
    return bb


def new_globals(calls: EvaluatorCalls, hooks: Hooks = NO_HOOKS) -> dict[str, Any]:
    """The globals of the configuration's metadata Python (each recipe's are a copy): the modules and
    the ``bb`` namespace, with what metadata sees of the artifact side (``bb.fetch2``,
    ``run_builtin(name, d)``, and ``builtin_vardeps(name, d)``, which the signatures read for tasks
    that run a builtin)."""
    def run_builtin_(name: str, d: Any) -> None:
        run_builtin(hooks, name, d)

    def builtin_vardeps_(name: str, d: Any) -> list[str]:
        return builtin_vardeps(hooks, name, d)
    return {"__builtins__": builtins, "os": os, "sys": sys, "re": re, "time": time, "glob": glob,
            "shutil": shutil, "bb": _make_bb(hooks, calls), "clean_recipe": _clean_recipe,
            "sstate_clean_cachefiles": _sstate_clean_cachefiles, "run_builtin": run_builtin_,
            "builtin_vardeps": builtin_vardeps_}
