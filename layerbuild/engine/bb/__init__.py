"""BitBake's ``bb`` namespace as metadata Python sees it: the names real layers use, with BitBake's
behaviour.

One package per process, as BitBake's is: ``pyenv.install`` registers it (and each submodule) in
``sys.modules`` as ``bb`` and puts ``bb`` and ``os`` into builtins, so a layer's own Python library
(``addpylib``) can ``import bb.utils`` and use ``bb`` without importing it, as it does under BitBake.
"""

from __future__ import annotations

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
