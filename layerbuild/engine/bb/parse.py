"""``bb.parse``: skipping a recipe, the file names of recipes, the files a parse depends on and the
decorators OE's library marks its functions' variable dependencies with."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from layerbuild.engine.bb.siggen import SignatureGenerator
from layerbuild.util.errors import LayerbuildError, Location, SkipRecipe
from layerbuild.util.errors import ParseError as _ParseError

__all__ = ["SkipRecipe"]

F = TypeVar("F", bound=Callable[..., Any])

#: what a recipe raises to be skipped under its older name
SkipPackage = SkipRecipe

#: the signature generator; tasks that ask it for hashes run under layerbuild's own signatures, so
#: metadata sees only the base object (which has none of the optional methods OE probes with getattr)
siggen = SignatureGenerator()


class ParseError(_ParseError):
    """``bb.parse.ParseError(msg, filename, lineno)``: raised by metadata, shown at that file and line."""

    def __init__(self, msg: str, filename: str | Location | None = None, lineno: int = 0, hint: str | None = None,
                 notes: tuple[str, ...] = ()) -> None:
        location = filename if isinstance(filename, Location) or filename is None else Location(filename, lineno)
        super().__init__(msg, location, hint, notes)


def vars_from_file(filename: str | None, d: Any = None) -> list[str | None]:
    """PN, PV and PR from a recipe file name ``PN_PV_PR.bb``, as BitBake derives them."""
    if not filename or not filename.endswith((".bb", ".bbappend")):
        return [None, None, None]
    parts: list[str | None] = list(os.path.splitext(os.path.basename(filename))[0].split("_"))
    if len(parts) > 3:
        raise LayerbuildError("cannot derive PN/PV from the file name (too many underscores)",
                              Location(filename), hint="name recipe files PN_PV.bb, with no '_' in PN or PV")
    parts.extend([None] * (3 - len(parts)))
    return parts


def mark_dependency(d: Any, f: str) -> None:
    """Make the parse of ``d`` depend on the file ``f``: a change to it (or its appearing) parses the
    recipe again."""
    if f.startswith("./"):
        f = os.path.join(os.getcwd(), f[2:])
    path = os.path.abspath(f)
    if path not in d.file_depends:
        d.file_depends.append(path)


def check_dependency(d: Any, f: str) -> bool:
    return os.path.abspath(f) in d.file_depends


def included_files(d: Any) -> list[str]:
    """The metadata files the parse of ``d`` read or looked for (its ``file_depends``), each once: what
    BitBake records of a parse. The parse also depends on what layerbuild alone looks at, which is left
    out: the Python files of the layers' libraries, and the files ``__lb_lookups`` names (in a tree read
    through bitbake.conf, the conf/layerbuild.conf looked for first)."""
    own = set(d.getVar("__lb_lookups", False) or ())
    return [path for path in dict.fromkeys(d.file_depends) if not path.endswith(".py") and path not in own]


def get_file_depends(d: Any) -> str:
    """The files the parse of ``d`` read or looked for (the configuration's first, then the recipe's),
    space-separated: BitBake's ``BBINCLUDED``."""
    return " ".join([*(d.getVar("__base_depends", False) or ()), *included_files(d)])


def cached_mtime_noerror(f: str) -> Any:
    try:
        st = os.stat(f)
    except OSError:
        return 0
    return st.st_mtime_ns, st.st_size, st.st_ino


def cached_mtime(f: str) -> Any:
    st = os.stat(f)
    return st.st_mtime_ns, st.st_size, st.st_ino


def vardeps(*varnames: str) -> Callable[[F], F]:
    """A decorator: the function's signature depends on ``varnames`` as well."""
    def inner(f: F) -> F:
        f.bb_vardeps = getattr(f, "bb_vardeps", set()) | set(varnames)  # type: ignore[attr-defined]
        return f
    return inner


def vardepsexclude(*varnames: str) -> Callable[[F], F]:
    """A decorator: the function's signature does not depend on ``varnames``, though it reads them."""
    def inner(f: F) -> F:
        f.bb_vardepsexclude = getattr(f, "bb_vardepsexclude", set()) | set(varnames)  # type: ignore[attr-defined]
        return f
    return inner
