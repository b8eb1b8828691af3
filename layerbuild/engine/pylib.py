"""``addpylib DIR NAMESPACE``: a layer's Python library, importable by metadata Python.

As in BitBake: the modules named in ``BB_GLOBAL_PYMODULES`` become globals of metadata Python, ``DIR``
goes on ``sys.path``, the package ``NAMESPACE`` is imported and becomes a global too, and so does every
module its ``BBIMPORTS`` lists (``oe.utils``, ``oe.path`` ...), imported at once. BitBake reads the
directive only in the base configuration files (``bblayers.conf``, a layer's ``conf/layer.conf`` and
the base configuration file itself), and so does layerbuild.

The library's files are inputs of the parse: a change to one of them parses the recipes again.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from typing import Any

from layerbuild.engine.parse.statements import AddPyLib
from layerbuild.util.errors import Location, ParseError


def _import(name: str, loc: Location, libdir: str | None = None) -> Any:
    """Import ``name``; a failure is an error at the line of the library that failed (when it is in
    ``libdir``), else at the addpylib line. (BitBake logs an error and fails the parse at its end.)"""
    try:
        return importlib.import_module(name)
    except Exception as exc:
        where = loc
        if isinstance(exc, SyntaxError) and exc.filename:
            where = Location(exc.filename, exc.lineno or 0)
        elif libdir is not None:
            inside = [f for f in traceback.extract_tb(exc.__traceback__)
                      if f.filename.startswith(libdir.rstrip("/") + "/")]
            if inside:
                where = Location(inside[-1].filename, inside[-1].lineno or 0)
        what = "cannot import" if isinstance(exc, ImportError) and where is loc else "importing"
        detail = f"{exc}" if what == "cannot import" else f"{type(exc).__name__}: {exc}"
        raise ParseError(f"addpylib: {what} {name}{':' if what == 'cannot import' else ' raised'} {detail}",
                         where, notes=(f"while adding the library of {loc}",) if where is not loc else ()) from exc


def _library_files(libdir: str, namespace: str) -> list[str]:
    """The Python files of ``namespace`` below ``libdir`` (a package or a single module)."""
    top = os.path.join(libdir, namespace)
    found = [top + ".py"] if os.path.isfile(top + ".py") else []
    for root, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        found.extend(os.path.join(root, f) for f in sorted(files) if f.endswith(".py"))
    return found


def add_pylib(d: Any, st: AddPyLib, baseconfig: bool) -> None:
    """Evaluate an ``addpylib`` statement onto ``d`` (whose Python globals every recipe copies)."""
    if not baseconfig:
        raise ParseError(f"addpylib {st.libdir} {st.namespace}: a layer's Python library is added in its "
                         "conf/layer.conf", st.loc,
                         hint="BitBake reads addpylib only in bblayers.conf, layer.conf and the base configuration")
    for name in (d.getVar("BB_GLOBAL_PYMODULES") or "").split():
        if name not in d.pyglobals:
            d.pyglobals[name] = _import(name, st.loc)
    libdir = d.expand(st.libdir)
    if libdir not in sys.path:
        sys.path.append(libdir)
    package = _import(st.namespace, st.loc, libdir)
    for name in getattr(package, "BBIMPORTS", ()):
        _import(f"{st.namespace}.{name}", st.loc, libdir)
    d.pyglobals[st.namespace] = package
    for path in _library_files(libdir, st.namespace):
        if path not in d.file_depends:
            d.file_depends.append(path)
