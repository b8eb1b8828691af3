"""``bb.filter``: the value filters of ``d.setVarFilter``.

A filter is a Python expression over ``val`` (the variable's expanded value) that may call only the
functions registered with ``@bb.filter.filter_proc()`` (a few builtins, the ones here, and those a
layer's library registers when it is imported, such as OE's ``native_filter``). Filters are pure, so
each (value, expression) is evaluated once per process.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class Namespace:
    """A dotted name's prefix in the filter globals (``bb.utils`` of ``bb.utils.explode_deps``)."""

    def __getitem__(self, name: str) -> Any:
        return self.__dict__[name]

    def __setitem__(self, name: str, value: Any) -> None:
        self.__dict__[name] = value

    def __contains__(self, name: str) -> bool:
        return name in self.__dict__

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Attribute {name!r} cannot be changed")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Attribute {name!r} cannot be deleted")


#: the globals filter expressions see: registered functions only, no builtins
FILTERS: dict[str, Any] = {"__builtins__": {}}


@functools.lru_cache(maxsize=1024)
def _compiled(expression: str) -> Any:
    return compile(expression, "<filter>", "eval")


@functools.lru_cache(maxsize=65536)
def _evaluate(val: str, expression: str) -> Any:
    # (each recipe gives a filter a value of its own: the expression is compiled once)
    return eval(_compiled(expression), dict(FILTERS), {"val": val})


def filter_proc(*, name: str | None = None) -> Callable[[F], F]:
    """A decorator registering a pure function for filter expressions, under ``name`` (dotted names
    make namespaces) or its own name."""
    def inner(func: F) -> F:
        parts = (name or func.__name__).split(".")
        where: Any = FILTERS
        for part in parts[:-1]:
            if part not in where:
                where[part] = Namespace()
            where = where[part]
        where[parts[-1]] = func
        _evaluate.cache_clear()
        return func
    return inner


for _builtin in ("all", "any", "bin", "bool", "chr", "enumerate", "float", "format", "hex", "int", "len", "map",
                 "max", "min", "oct", "ord", "pow", "str", "sum"):
    filter_proc()(getattr(builtins, _builtin))


def apply_filters(val: str, expressions: Iterable[str]) -> Any:
    """``val`` passed through each filter expression in turn."""
    for expression in expressions:
        expression = expression.strip()
        if expression:
            val = _evaluate(val, expression)
    return val


@filter_proc()
def suffix(val: str, suffix: str) -> str:
    return " ".join(v + suffix for v in val.split())


@filter_proc()
def prefix(val: str, prefix: str) -> str:
    return " ".join(prefix + v for v in val.split())


@filter_proc()
def sort(val: str) -> str:
    return " ".join(sorted(val.split()))


@filter_proc()
def remove(val: str, remove: str | list[str], sep: str | None = None) -> str:
    unwanted = remove.split(sep) if isinstance(remove, str) else remove
    kept = [item for item in val.split(sep) if item not in unwanted]
    return (sep or " ").join(kept)
