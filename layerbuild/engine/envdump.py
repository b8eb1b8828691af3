"""``layerbuild -e``: a datastore printed as ``bitbake -e`` prints it.

Each variable gets its history as comments (``#   set file:line`` and the value that operation
used), then ``NAME="value"`` (``export NAME=...`` when exported) with ``"``, ``$`` and backticks
escaped and newlines continued (so the output can be sourced by a shell); shell functions are printed as ``name() {...}`` and python functions last, as
``python name () {...}``.
"""

from __future__ import annotations

import re
from typing import Any, TextIO

from layerbuild.engine.datastore import DataStore
from layerbuild.engine.datastore.history import Event
from layerbuild.util.vartypes import flag_set


def _emit_history(d: DataStore, var: str, oval: Any, out: TextIO) -> None:
    assert d.history is not None
    events: list[tuple[str, Event]] = [(e.op, e) for e in d.history.events(var)]
    for r, override in d._overridedata.get(var, ()):
        for event in d.history.events(r):
            if event.flag and not event.flag.startswith(("_", ":")):
                continue
            events.append((f"override[{override}]:{event.op}", event))
    comment = re.sub("\n", "\n#", str(oval))
    if not events:
        out.write(f"#\n# ${var}\n#   [no history recorded]\n#\n")
        out.write(f'#   "{comment}"\n#\n')
        return
    if len(events) == 1:
        out.write(f"#\n# ${var}\n")
    else:
        out.write(f"#\n# ${var} [{len(events)} operations]\n")
    for op, event in events:
        flag = f"[{event.flag}] " if event.flag else ""
        detail = re.sub("\n", "\n#     ", event.detail)
        out.write(f'#   {op} {event.file}:{event.line}\n#     {flag}"{detail}"\n')
    if len(events) > 1:
        out.write("# pre-expansion value:\n")
        out.write(f'#   "{comment}"\n')


def emit_var(d: DataStore, var: str, out: TextIO, all_vars: bool) -> bool:
    func = d.getVarFlag(var, "func", False)
    if d.getVarFlag(var, "python", False) and func:
        return False
    export = flag_set(d.getVarFlag(var, "export"))
    unexport = flag_set(d.getVarFlag(var, "unexport"))
    if not all_vars and not export and not unexport and not func:
        return False
    try:
        oval = d.getVar(var, False) if all_vars else None
        val = d.getVar(var)
    except Exception as exc:  # one broken variable must not hide the rest of the environment
        out.write(f"# expansion of {var} threw {type(exc).__name__}: {getattr(exc, 'message', exc)}\n")
        return False
    if all_vars and d.history is not None:
        _emit_history(d, var, oval, out)
    if any(c in var for c in "-.{}+") and not all_vars:
        return False
    name = d.expand(var)
    if unexport:
        out.write(f"unset {name}\n")
        return False
    if val is None:
        return False
    val = str(val)
    if func:
        out.write(f"# line: {d.getVarFlag(var, 'lineno', False)}, file: {d.getVarFlag(var, 'filename', False)}\n")
        out.write(f"{name}() {{\n{val.rstrip(chr(10))}\n}}\n")
        return True
    if export:
        out.write("export ")
    out.write(f'{name}="{escape_value(val)}"\n')
    return False


def escape_value(val: str) -> str:
    """A value inside double quotes that a shell reads back unchanged, and never runs.

    BitBake's emit_var escapes ``"`` and ``$`` and continues newlines (``" \\"`` then a newline, which a
    shell reads as a space); layerbuild does the same and also escapes backticks (which would run a
    command) and a backslash before a character it would otherwise escape, so that sourcing the output
    of ``-e`` or a task's run script cannot execute a value.
    """
    out = []
    for i, c in enumerate(val):
        if c == "\\":
            nxt = val[i + 1] if i + 1 < len(val) else ""
            out.append("\\\\" if nxt in ('"', "$", "`", "\\", "\n", "") else c)
        elif c in ('"', "$", "`"):
            out.append("\\" + c)
        elif c == "\n":
            out.append(" \\\n")
        else:
            out.append(c)
    return "".join(out)


def emit_env(d: DataStore, out: TextIO) -> None:
    """The whole datastore: variables, then shell functions, then python functions."""
    keys = sorted(k for k in d.keys() if not k.startswith("__"))
    plain = [k for k in keys if not d.getVarFlag(k, "func", False)]
    funcs = [k for k in keys if d.getVarFlag(k, "func", False)]
    for key in plain:
        emit_var(d, key, out, True)
    for key in funcs:
        if emit_var(d, key, out, False):
            out.write("\n")
    for key in sorted(d.keys()):
        if d.getVarFlag(key, "func", False) and d.getVarFlag(key, "python", False):
            out.write(f"\npython {key} () {{\n{d.getVar(key, False)}}}\n")
