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
import importlib.abc
import importlib.machinery
import importlib.util
import os
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


class _BBModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``import bb.X`` (in a layer's library) finds ``layerbuild.engine.bb.X`` (``bb.fetch`` is
    ``bb.fetch2``), registered and shown under its ``bb`` name."""

    @staticmethod
    def real(name: str) -> str:
        rest = name[len("bb."):]
        if rest == "fetch" or rest.startswith("fetch."):
            rest = "fetch2" + rest[len("fetch"):]
        return f"{BB.__spec__.name}.{rest}"  # type: ignore[union-attr]

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith("bb.") or importlib.util.find_spec(self.real(fullname)) is None:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        real = self.real(spec.name)
        module = importlib.import_module(real)
        spec.loader_state = module.__spec__  # (the import system sets the alias's spec: exec_module restores it)
        # what an AttributeError or a repr() shows metadata authors (classes keep their real module)
        module.__name__ = "bb." + real.split(".", 3)[3]
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        module.__spec__ = module.__spec__.loader_state  # type: ignore[union-attr]


_FINDER = _BBModules()


def install() -> None:
    """Make ``layerbuild.engine.bb`` the process's ``bb``, as BitBake's is: ``import bb.utils`` in a
    layer's library finds it (each submodule under its ``bb.`` name, ``bb.fetch`` too), and ``bb`` and
    ``os`` are builtins, which OE's library relies on."""
    if sys.modules.get("bb") is BB and getattr(builtins, "bb", None) is BB:
        return
    sys.modules["bb"] = BB
    BB.__name__ = "bb"
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    # the submodules the engine has imported already show their bb names too (import bb.X registers them)
    prefix = f"{BB.__spec__.name}."  # type: ignore[union-attr]
    for name, module in list(sys.modules.items()):
        if name.startswith(prefix):
            module.__name__ = "bb." + name[len(prefix):]
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
