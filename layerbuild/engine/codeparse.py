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
# a quick scan of an expression for the variables it names (the AST is read only for contains())
_PY_GETVAR = re.compile(r"""(?:getVar|getVarFlag|contains|contains_any|filter)\(\s*['"]([^'"]+)['"]""")
_PY_STRING_GETVAR = re.compile(
    r"""(?:getVar|getVarFlag|getVarFlags|setVar|appendVar|prependVar|delVar)\(\s*['"]([^'"]+)['"]""")

#: datastore methods whose first argument names a variable the code reads
_READERS = {"getVar", "getVarFlag", "getVarFlags"}
#: bb.utils helpers whose first argument names a variable
_UTIL_READERS = {"contains", "contains_any", "filter"}
#: BitBake's code parser's helpers that only ask whether a variable holds words: with literal words, the
#: signature records the answer (VAR{word} = Set or Unset), not the variable's value. ``contains`` asks
#: for its second argument whole, the others for each of its words.
CONTAINS = {"bb.utils.contains": False, "base_contains": False, "bb.utils.contains_any": True,
            "bb.utils.filter": True}
#: a pair (variable, words) from a CONTAINS call
Contains = tuple[str, str]


def _dotted(node: ast.expr) -> str | None:
    """``bb.utils.contains`` for the function of a call written so."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _literal(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _contains_call(node: ast.Call) -> list[Contains] | None:
    """The (variable, words) pairs a CONTAINS call with literal arguments asks about, else None."""
    name = _dotted(node.func)
    if name not in CONTAINS or len(node.args) < 2:
        return None
    var, words = _literal(node.args[0]), _literal(node.args[1])
    if var is None or words is None:
        return None
    return [(var, word) for word in words.split()] if CONTAINS[name] else [(var, words)]


def expression_refs(code: str) -> tuple[tuple[str, ...], tuple[Contains, ...]]:
    """The variables a ``${@...}`` expression reads (as BitBake's code parser: the literal first argument
    of ``getVar``, ``contains``...) and what it asks CONTAINS helpers. A variable only asked about by
    CONTAINS calls with literal words is not read."""
    reads = tuple(_PY_GETVAR.findall(code))
    if "contains" not in code and "filter" not in code:
        return reads, ()
    try:
        tree = ast.parse(code.strip(), mode="eval")
    except SyntaxError:
        return reads, ()
    asked: list[Contains] = []
    read: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        pairs = _contains_call(node)
        if pairs is not None:
            asked.extend(pairs)
            continue
        first = _literal(node.args[0]) if node.args else None
        if first is not None and isinstance(node.func, (ast.Attribute, ast.Name)):
            attr = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
            if attr in _READERS or attr in _UTIL_READERS:
                read.add(first)
    if not asked:
        return reads, ()
    return tuple(dict.fromkeys(r for r in reads if r in read)), tuple(dict.fromkeys(asked))


@functools.lru_cache(maxsize=16384)
def shell_words(text: str) -> frozenset[str]:
    """Every word of a shell body that could name a command (a function of the recipe)."""
    return frozenset(_SHELL_WORD.findall(text))


@functools.lru_cache(maxsize=16384)
def python_refs(text: str) -> tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[Contains]]:
    """(variables read, names called, ``${...}`` strings expanded, CONTAINS questions) of a python body.

    The body may be a bare function body (indented) or a whole ``def``.
    """
    source = text
    try:
        tree = ast.parse(source)
    except SyntaxError:
        try:
            tree = ast.parse("def _f(d):\n" + source)
        except SyntaxError:
            return frozenset(_PY_STRING_GETVAR.findall(text)), frozenset(), frozenset(), frozenset()
    reads: set[str] = set()
    calls: set[str] = set()
    expands: set[str] = set()
    asked: set[Contains] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        first = node.args[0] if node.args else None
        literal = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
        pairs = _contains_call(node)
        if pairs is not None:
            asked.update(pairs)
            continue
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
    return frozenset(reads), frozenset(calls), frozenset(expands), frozenset(asked)


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
