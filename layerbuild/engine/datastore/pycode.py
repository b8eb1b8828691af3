"""Metadata Python as the datastore runs it: each piece compiled once per process with the line numbers
of its file, ``${@...}``'s locals, and where an exception it raised points in the metadata."""

from __future__ import annotations

import builtins
import functools
from typing import Any

from layerbuild.engine.codeparse import Contains, expression_refs
from layerbuild.util.errors import Location


class DataContext(dict[str, Any]):
    """Locals for ``${@...}``: ``d`` plus any datastore variable by its bare name, as in BitBake (one per
    expression evaluated: made without a Python ``__init__``)."""

    __slots__ = ("_d", "_globals")
    _d: Any
    _globals: dict[str, Any]

    def __missing__(self, key: str) -> Any:
        if key in self._globals or hasattr(builtins, key) or key == "oe":
            raise KeyError(key)
        value = self._d.getVar(key)
        if value is None:
            raise KeyError(key)
        return value


_NO_D = object()


def eval_expression(codeobj: Any, env: dict[str, Any], d: Any) -> Any:
    """Evaluate a compiled ``${@...}`` with ``d`` a global while it runs, as in BitBake: comprehensions,
    generator expressions and lambdas have scopes of their own, which see the globals but not the
    expression's locals."""
    context = DataContext(d=d)
    context._d = d
    context._globals = env
    outer = env.get("d", _NO_D)
    env["d"] = d
    try:
        return eval(codeobj, env, context)
    finally:
        if outer is _NO_D:
            del env["d"]
        else:
            env["d"] = outer


def python_location(exc: BaseException, fallback: Location | None) -> Location | None:
    """The metadata line ``exc`` was raised from (its innermost frame in a metadata file), else ``fallback``."""
    tb = exc.__traceback__
    found = fallback
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not filename.endswith(".py") and filename not in ("<string>",) and not filename.startswith("<frozen"):
            found = Location(filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


@functools.lru_cache(maxsize=4096)
def compile_expression(code: str, name: str) -> tuple[Any, tuple[str, ...], tuple[Contains, ...]]:
    """The code of a ``${@...}`` expression, the variables it reads with ``d.getVar`` and what it asks
    ``bb.utils.contains`` (:func:`codeparse.expression_refs`): every recipe expands the same expressions
    of the same classes, so each is compiled once per process."""
    return (compile(code.strip(), name, "eval"), *expression_refs(code))


@functools.lru_cache(maxsize=4096)
def compile_function(name: str, body: str, filename: str, lineno: int) -> Any:
    """Compile a python function's body as ``def name(d):`` with line numbers matching its file."""
    # ``lineno`` is the line of ``python name() {``: the ``def`` stands there, the body below it
    text = "\n" * max(lineno - 1, 0) + f"def {name}(d):\n" + (body if body.strip() else "    pass\n")
    return compile(text, filename, "exec")


def system_exit_message(exc: SystemExit) -> str:
    """``sys.exit(3)`` / ``sys.exit('why')`` as the words of an error message."""
    code = exc.code
    if code is None:
        return "sys.exit()"
    return f"sys.exit({code!r})"
