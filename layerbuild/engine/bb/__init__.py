"""BitBake's ``bb`` namespace as metadata Python sees it: the names real layers use, with BitBake's
behaviour.

One package per process, as BitBake's is: ``pyenv.install`` registers it (and each submodule) in
``sys.modules`` as ``bb`` and puts ``bb`` and ``os`` into builtins, so a layer's own Python library
(``addpylib``) can ``import bb.utils`` and use ``bb`` without importing it, as it does under BitBake.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

#: the BitBake release whose metadata API this namespace follows (OE-core compares it with its minimum)
__version__ = "2.19.0"

from layerbuild.engine.bb.messages import (  # noqa: E402  (the version comes first, as in BitBake)
    BBHandledException,
    debug,
    error,
    erroronce,
    fatal,
    multiprocessing,
    note,
    plain,
    verbnote,
    warn,
    warnonce,
)

__all__ = ["BBHandledException", "debug", "error", "erroronce", "fatal", "multiprocessing", "note", "plain",
           "verbnote", "warn", "warnonce"]

#: bb's submodules by the names metadata uses (``bb.fetch`` is BitBake's other name for ``bb.fetch2``),
#: each imported when first named: most cost every command start-up time and most parses need few
_SUBMODULES = {name: name for name in ("build", "compress", "data", "data_smart", "event", "fetch2", "filter", "msg",
                                       "parse", "process", "providers", "runqueue", "siggen", "utils")}
_SUBMODULES["fetch"] = "fetch2"


def __getattr__(name: str) -> ModuleType:
    real = _SUBMODULES.get(name)
    if real is None:
        raise AttributeError(f"module 'bb' has no attribute {name!r}")
    # under its bb name when this package is the process's bb, so that it is registered as such
    package = __spec__.name  # type: ignore[name-defined]
    module = importlib.import_module(f"{'bb' if sys.modules.get('bb') is sys.modules[package] else package}.{real}")
    globals()[name] = module
    return module
