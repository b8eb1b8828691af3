"""The value types of variables: how layerbuild reads a variable's text, one parser per type.

The table of variables (:mod:`layerbuild.util.variables`) gives each variable a type; the typed reads
(:mod:`layerbuild.util.values`) parse a value with its type's parser. A parser takes the expanded, non-empty
text and returns the value, or raises ``ValueError`` with the end of the message (``is not a number:
'x'``), which the reader turns into an error at the line that set the value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any


def to_boolean(value: Any, default: bool | None = None) -> bool | None:
    """BitBake's ``bb.utils.to_boolean``, the one truth set: ``y``/``yes``/``1``/``true`` and
    ``n``/``no``/``0``/``false`` in any case; ``default`` for an empty value; anything else is a
    ``ValueError``."""
    if not value:
        return default
    if isinstance(value, int):
        return value != 0
    normalized = value.lower()
    if normalized in ("y", "yes", "1", "true"):
        return True
    if normalized in ("n", "no", "0", "false"):
        return False
    raise ValueError(f"Invalid value for to_boolean: {value}")


def flag_set(value: Any) -> bool:
    """Whether a task flag such as ``[noexec]`` is set: the truth set of :func:`to_boolean`, and, as
    BitBake takes any value it does not know as setting the flag, such a value sets it."""
    try:
        return bool(to_boolean(value, False))
    except ValueError:
        return True


# -- the types: each parser takes the expanded, non-empty value and raises ValueError with the
# -- end of the message ("is not a number: 'x'") for a bad one

def _string(text: str) -> str:
    return text


def _words(text: str) -> list[str]:
    return text.split()


def _paths(text: str) -> list[str]:
    return [p for p in text.split(":") if p]


def _boolean(text: str) -> bool:
    try:
        return bool(to_boolean(text.strip()))
    except ValueError:
        raise ValueError(f"is not a boolean: '{text}'") from None


def _switch(text: str) -> bool:
    return text == "1"


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"is not a number: '{text}'") from None


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"is not a number: '{text}'") from None


def parse_epoch(text: str) -> int:
    """A SOURCE_DATE_EPOCH: whole seconds since 1970-01-01 UTC, as ``date +%s`` prints them."""
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError(f"is not a whole number of seconds since 1970: '{text}'")
    return int(digits)


def _regex(text: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as exc:
        raise ValueError(f"is not a valid regular expression: {exc}") from None


class Type:
    """A type of variable: its parser and what docs/variables.md says of it (a plain class: see
    :class:`layerbuild.util.variables.Variable`)."""

    __slots__ = ("name", "meaning", "parse", "hint")

    def __init__(self, name: str, meaning: str, parse: Callable[[str], Any], hint: str | None = None) -> None:
        self.name = name
        #: what a value of the type is, for docs/variables.md
        self.meaning = meaning
        self.parse = parse
        #: the hint of a bad value ({name} is the variable)
        self.hint = hint


_BOOLEAN_HINT = "use 1, yes, y or true to turn it on and 0, no, n or false (or nothing) to turn it off"

TYPES: Mapping[str, Type] = {t.name: t for t in (
    Type("string", "free text", _string),
    Type("list", "words separated by white space", _words),
    Type("pathlist", "directories separated by `:`", _paths),
    Type("path", "one file or directory", _string),
    Type("boolean", "`1`/`yes`/`y`/`true` or `0`/`no`/`n`/`false`, in any case (BitBake's `bb.utils.to_boolean`); "
         "empty is the default; any other word is an error", _boolean, _BOOLEAN_HINT),
    Type("switch", "on when exactly `1`, off for any other value (as OE's classes read it)", _switch),
    Type("integer", "a whole number, as Python's `int()` reads it", _integer),
    Type("number", "a decimal number, which may have a fraction (`2.5`)", _number),
    Type("epoch", "whole seconds since 1970-01-01 UTC, as `date +%s` prints them", parse_epoch,
         "write the time as date +%s prints it: seconds since 1970-01-01 UTC, such as 1577836800 (2020-01-01)"),
    Type("regex", "a Python regular expression", _regex),
)}
