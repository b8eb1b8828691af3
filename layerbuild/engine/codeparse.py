"""What shell and python function bodies refer to: variables they read and functions they call.

Signatures use this to know which variables a task depends on. Over-approximation is safe (a spurious
dependency only costs a rebuild); a missed one is not, so the shell side treats every word that names a
known function as a call, and the python side also reads string arguments of the datastore methods.
"""

from __future__ import annotations

import ast
import functools
import re

_SHELL_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.+-]*")
_PY_STRING_GETVAR = re.compile(
    r"""(?:getVar|getVarFlag|getVarFlags|setVar|appendVar|prependVar|delVar)\(\s*['"]([^'"]+)['"]""")

#: datastore methods whose first argument names a variable the code reads
_READERS = {"getVar", "getVarFlag", "getVarFlags"}
#: bb.utils helpers whose first argument names a variable
_UTIL_READERS = {"contains", "contains_any", "filter"}


@functools.lru_cache(maxsize=16384)
def shell_words(text: str) -> frozenset[str]:
    """Every word of a shell body that could name a command (a function of the recipe)."""
    return frozenset(_SHELL_WORD.findall(text))


@functools.lru_cache(maxsize=16384)
def python_refs(text: str) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(variables read, names called, ``${...}`` strings expanded) of a python body.

    The body may be a bare function body (indented) or a whole ``def``.
    """
    source = text
    try:
        tree = ast.parse(source)
    except SyntaxError:
        try:
            tree = ast.parse("def _f(d):\n" + source)
        except SyntaxError:
            return frozenset(_PY_STRING_GETVAR.findall(text)), frozenset(), frozenset()
    reads: set[str] = set()
    calls: set[str] = set()
    expands: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        first = node.args[0] if node.args else None
        literal = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
        if isinstance(func, ast.Attribute):
            if func.attr in _READERS and literal is not None:
                reads.add(literal)
            elif func.attr in _UTIL_READERS and literal is not None:
                reads.add(literal)
            elif func.attr == "expand" and literal is not None:
                expands.add(literal)
            elif func.attr == "exec_func" and literal is not None:
                calls.add(literal)
        elif isinstance(func, ast.Name):
            calls.add(func.id)
    return frozenset(reads), frozenset(calls), frozenset(expands)


@functools.lru_cache(maxsize=4096)
def builtin_calls(text: str) -> frozenset[str]:
    """The builtin task functions a python body runs: the literal names of its ``run_builtin("NAME", d)``."""
    if "run_builtin" not in text:
        return frozenset()
    try:
        tree = ast.parse(text)
    except SyntaxError:
        try:
            tree = ast.parse("def _f(d):\n" + text)
        except SyntaxError:
            return frozenset()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "run_builtin" \
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            names.add(node.args[0].value)
    return frozenset(names)
