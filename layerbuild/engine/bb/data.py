"""``bb.data``: the datastore functions of BitBake's module-level API.

The engine's modules are imported inside the functions, so that a command which makes a datastore
pays for them only when metadata calls one.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any, TextIO


def init() -> Any:
    """A new, empty datastore."""
    from layerbuild.engine.datastore import DataStore
    return DataStore()


def init_db(parent: Any = None) -> Any:
    return parent.createCopy() if parent is not None else init()


def createCopy(source: Any) -> Any:
    return source.createCopy()


def keys(d: Any) -> Iterator[str]:
    return iter(d.keys())


def expand(s: Any, d: Any, varname: str | None = None) -> Any:
    return d.expand(s, varname)


def getVar(var: str, d: Any, exp: bool = True) -> Any:
    return d.getVar(var, exp)


def expandKeys(alterdata: Any, readdata: Any = None) -> None:
    """Rename the variables whose names hold ``${...}`` to their expanded names."""
    from layerbuild.engine.evaluatorcalls import evaluator_calls
    evaluator_calls().expand_keys(alterdata, readdata)


def inherits_class(klass: str, d: Any) -> bool:
    """Whether ``klass.bbclass`` has been inherited (from any class directory)."""
    needle = f"/{klass}.bbclass"
    return any(path.endswith(needle) for path in d.getVar("__inherit_cache", False) or ())


def emit_var(var: str, o: TextIO | None = None, d: Any = None, all: bool = False) -> bool:  # noqa: A002
    """Write ``var`` as a shell would source it (``export NAME="value"``, ``name() {...}``); with ``all``
    every variable, with its history, as ``bitbake -e`` shows it. True when a shell function was written."""
    from layerbuild.engine.envdump import emit_var as emit
    return emit(d if d is not None else init(), var, o or sys.stdout, all)


def emit_env(o: TextIO | None = None, d: Any = None, all: bool = False) -> None:  # noqa: A002
    """Every variable (not the ``__`` internal ones), then every function, as :func:`emit_var` writes them."""
    d = d if d is not None else init()
    o = o or sys.stdout
    names = sorted(k for k in d.keys() if not k.startswith("__"))
    plain = [k for k in names if not d.getVarFlag(k, "func", False)]
    funcs = [k for k in names if d.getVarFlag(k, "func", False)]
    for key in plain:
        if emit_var(key, o, d, all):
            o.write("\n")
    for key in funcs:
        if emit_var(key, o, d, False):
            o.write("\n")


def exported_keys(d: Any) -> Iterator[str]:
    from layerbuild.util.vartypes import flag_set
    return (k for k in d.keys() if not k.startswith("__") and flag_set(d.getVarFlag(k, "export"))
            and not flag_set(d.getVarFlag(k, "unexport")))


def exported_vars(d: Any) -> Iterator[tuple[str, str]]:
    for key in list(exported_keys(d)):
        value = d.getVar(key)
        if value is not None:
            yield key, str(value)


def emit_func(func: str, o: TextIO | None = None, d: Any = None) -> None:
    """A shell script defining ``func``: the exported variables, then ``func`` and the shell functions
    it calls."""
    from layerbuild.engine.tasks import shell_functions_needed
    d = d if d is not None else init()
    o = o or sys.stdout
    for key in sorted(k for k in d.keys() if not k.startswith("__") and not d.getVarFlag(k, "func", False)):
        emit_var(key, o, d, False)
    o.write("\n")
    if emit_var(func, o, d, False):
        o.write("\n")
    for name in shell_functions_needed(d, func):
        if name != func and emit_var(name, o, d, False):
            o.write("\n")
