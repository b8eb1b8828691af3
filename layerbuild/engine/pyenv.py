"""The Python environment metadata code runs in.

Metadata Python (``${@...}``, ``def`` functions, anonymous and task functions) sees ``d`` with
BitBake's method names and BitBake's ``bb`` namespace (``layerbuild.engine.bb``), so that snippets and
Python libraries written for real layers work unchanged. Each recipe has its own globals dictionary: a
``def`` in one recipe is never visible in another.

What ``bb`` does with the metadata's own statements (``bb.build.addtask``, ``deltask``,
``bb.data.expandKeys``, ``bb.event.fire``) is the evaluator's: it hands them in as
:class:`~layerbuild.engine.evaluatorcalls.EvaluatorCalls`, and hands the datastore the globals made
from them (:func:`new_globals`), so neither the datastore nor this module imports the evaluator.
"""

from __future__ import annotations

import builtins
import glob
import importlib
import os
import pkgutil
import re
import shutil
import sys
import time
import types
from typing import Any

import layerbuild.engine.bb as BB
from layerbuild.engine.bb import event as bb_event
from layerbuild.engine.bb import fetch2 as bb_fetch2
from layerbuild.engine.evaluatorcalls import EvaluatorCalls, provide
from layerbuild.taskapi import NO_HOOKS, Hooks, builtin_vardeps, run_builtin

#: the events the engine fires while reading the configuration and recipes, by name
EVENT_NAMES = ("ConfigParsed", "RecipePreDeferredInherits", "RecipePreFinalise", "RecipePostKeyExpansion",
               "RecipeTaskPreProcess", "RecipeParsed", "BuildStarted", "BuildCompleted")
EVENTS: dict[str, type[bb_event.Event]] = {name: getattr(bb_event, name) for name in EVENT_NAMES}


def _submodules(package: types.ModuleType) -> dict[str, types.ModuleType]:
    """Each module of the package by its name below it (``utils``, ``compress.zstd``)."""
    found = {}
    for info in pkgutil.walk_packages(package.__path__, package.__spec__.name + "."):  # type: ignore[union-attr]
        found[info.name.split(".", 3)[3]] = importlib.import_module(info.name)
    return found


def install() -> None:
    """Make ``layerbuild.engine.bb`` the process's ``bb``, as BitBake's is: ``import bb.utils`` in a
    layer's library finds it (each submodule under its ``bb.`` name, ``bb.fetch`` too), and ``bb`` and
    ``os`` are builtins, which OE's library relies on."""
    if sys.modules.get("bb") is BB and getattr(builtins, "bb", None) is BB:
        return
    sys.modules["bb"] = BB
    modules = _submodules(BB)
    for relative, module in modules.items():
        sys.modules[f"bb.{relative}"] = module
    # what an AttributeError or a repr() shows metadata authors (classes keep their real module)
    for relative, module in modules.items():
        module.__name__ = f"bb.{relative}"
    BB.__name__ = "bb"
    sys.modules["bb.fetch"] = bb_fetch2
    BB.fetch = bb_fetch2  # type: ignore[attr-defined]
    builtins.bb = BB  # type: ignore[attr-defined]
    builtins.os = os  # type: ignore[attr-defined]


def _clean_recipe(d: Any) -> None:
    """``do_clean``'s work (``clean_recipe(d)`` in metadata); the module is imported only by a clean task."""
    from layerbuild.engine.clean import clean_recipe
    clean_recipe(d)


def _sstate_clean_cachefiles(d: Any) -> None:
    """``do_cleansstate``'s work, under the name OE's sstate.bbclass gives it."""
    from layerbuild.engine.clean import sstate_clean_cachefiles
    sstate_clean_cachefiles(d)


def new_globals(calls: EvaluatorCalls, hooks: Hooks = NO_HOOKS) -> dict[str, Any]:
    """The globals of the configuration's metadata Python (each recipe's are a copy): the modules and
    the ``bb`` namespace, with what metadata sees of the artifact side (``bb.fetch2``'s fetcher,
    ``run_builtin(name, d)``, and ``builtin_vardeps(name, d)``, which the signatures read for tasks
    that run a builtin)."""
    install()
    provide(calls)
    bb_fetch2.provide(hooks.modules.get("bb.fetch2"))

    def run_builtin_(name: str, d: Any) -> None:
        run_builtin(hooks, name, d)

    def builtin_vardeps_(name: str, d: Any) -> list[str]:
        return builtin_vardeps(hooks, name, d)
    return {"__builtins__": builtins, "os": os, "sys": sys, "re": re, "time": time, "glob": glob,
            "shutil": shutil, "bb": BB, "clean_recipe": _clean_recipe,
            "sstate_clean_cachefiles": _sstate_clean_cachefiles, "run_builtin": run_builtin_,
            "builtin_vardeps": builtin_vardeps_}
