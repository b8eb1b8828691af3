"""The references of a value: its ``${VAR}`` and ``${@...}``, found once per process for each text.

A parse expands the same texts over and over (every recipe expands the configuration's values and the
classes' lines again after each change to its store). Each text is split once into its literal pieces
and the references between them, as ``re.split`` gives them: ``(text, NAME, text, NAME, ..., text)``.
Substituting the pieces left to right is what ``re.sub`` with a function would do, without finding
the references again.
"""

from __future__ import annotations

import re

VAR_RE = re.compile(r"\$\{[a-zA-Z0-9\-_+./~:]+\}")
_VAR_SPLIT = re.compile(r"\$\{([a-zA-Z0-9\-_+./~:]+)\}")
#: ``${@...}``: a ``{...}`` inside it is skipped over (a dict or set literal), and it ends at the line's end
_PY_SPLIT = re.compile(r"\$\{@((?:\{.*?\}|.)+?)\}")

#: texts longer than this are split every time (the few large values are not worth keeping twice)
_LONGEST = 8192
#: the split texts kept, at most (they are kept until the table is full, then it starts again)
_KEPT = 1 << 16

_var_parts: dict[str, list[str]] = {}
_python_parts: dict[str, list[str]] = {}


def _split(table: dict[str, list[str]], pattern: re.Pattern[str], s: str) -> list[str]:
    parts = pattern.split(s)
    if len(s) <= _LONGEST:
        if len(table) >= _KEPT:
            table.clear()
        table[s] = parts
    return parts


def var_parts(s: str) -> list[str]:
    """``s`` split at its ``${NAME}`` references: pieces of text at even positions, names at odd ones
    (the caller must not change the list)."""
    parts = _var_parts.get(s)
    return parts if parts is not None else _split(_var_parts, _VAR_SPLIT, s)


def python_parts(s: str) -> list[str]:
    """``s`` split at its ``${@...}`` expressions: pieces of text at even positions, the code of each
    expression at odd ones (the caller must not change the list)."""
    parts = _python_parts.get(s)
    return parts if parts is not None else _split(_python_parts, _PY_SPLIT, s)
