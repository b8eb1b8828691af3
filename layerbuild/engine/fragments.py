"""``addfragments PREFIX FRAGMENTS METADATA_VARS BUILTINS``: configuration fragments, as BitBake reads them.

OE's ``bitbake.conf`` says ``addfragments ${OE_FRAGMENTS_PREFIX} OE_FRAGMENTS OE_FRAGMENTS_METADATA_VARS
OE_FRAGMENTS_BUILTIN``. Each word of ``OE_FRAGMENTS`` is ``LAYER/NAME``: the file ``PREFIX/NAME.conf`` of
the layer whose collection is ``LAYER``, included where the directive stands; the variables
``METADATA_VARS`` names (a fragment's summary and description) are then moved into flags named after
the fragment. A word ``machine/qemux86-64`` whose prefix ``OE_FRAGMENTS_BUILTIN`` maps
(``machine:MACHINE``) sets that variable instead, which must not be set otherwise.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from layerbuild.engine.bb.utils import get_file_layer
from layerbuild.engine.parse.statements import AddFragments
from layerbuild.util.errors import Location, ParseError

logger = logging.getLogger("layerbuild.parse")


def _words(d: Any, var: str) -> list[str]:
    return (d.getVar(var) or "").split()


def _where_listed(d: Any, var: str, fragment: str) -> Location | None:
    """The line that put ``fragment`` into ``var`` (from the history, when it is kept), else where
    ``var`` was set."""
    if d.history is not None:
        for event in reversed(d.history.events(var)):
            if event.op in ("set", "append") and fragment in event.detail:
                return Location(event.file, event.line)
    return d.location(var)


def _set_builtin(d: Any, st: AddFragments, fragment: str, variable: str, value: str) -> None:
    if d.getVar(variable, noweakdefault=True) is not None:
        raise ParseError(f"A builtin fragment '{fragment}' is used while {variable} has already got an assignment",
                         d.location(variable) or st.loc,
                         hint=f"either remove '{fragment}' from {st.fragments} or the assignment of {variable}")
    where = _where_listed(d, st.fragments, fragment)
    # parsing=True as BitBake: like VAR = "value", so VAR:override values stay
    d.setVar(variable, value, parsing=True, file=where.path if where else None, line=where.line if where else 0,
             detail=f'{value} ({st.fragments} contains "{fragment}")')


def _find(d: Any, layers: list[str], layerid: str, relative: str) -> str | None:
    for layer in layers:
        candidate = os.path.join(layer, relative)
        if os.path.exists(candidate) and get_file_layer(candidate, d) == layerid:
            return candidate
        d.file_depends.append(os.path.abspath(candidate))
    return None


def add_fragments(include: Callable[[Any, Location, str], None], d: Any, st: AddFragments) -> None:
    """Evaluate an ``addfragments`` statement onto ``d``; ``include(d, loc, path)`` is the evaluator's
    ``require`` (handed in, so this module does not import the evaluator)."""
    if d.getVar("_BB_SKIP_FRAGMENTS") == "1":
        return
    fragments = _words(d, st.fragments)
    if not fragments:
        return
    layers = _words(d, "BBLAYERS")
    flagged = _words(d, st.metadata_vars)
    builtins: dict[str, str] = {}
    for entry in _words(d, st.builtins):
        prefix, sep, variable = entry.partition(":")
        if not sep or not prefix or not variable:
            raise ParseError(f"{st.builtins}: '{entry}' is not of the form prefix:VARIABLE", d.location(st.builtins)
                             or st.loc, hint='as in OE_FRAGMENTS_BUILTIN = "machine:MACHINE distro:DISTRO"')
        builtins[prefix] = variable
    for prefix in builtins:
        same = [f for f in fragments if f.startswith(prefix + "/")]
        if len(same) > 1:
            logger.warning("%s: Multiple builtin fragments are enabled for %s via variable %s: %s. This likely "
                           "points to a mis-configuration in the metadata, as only one of them should be set. "
                           "The build will use the last value.", st.loc, prefix, st.fragments, " ".join(same))
    for fragment in fragments:
        layerid, sep, name = fragment.partition("/")
        if not sep or not layerid or not name:
            raise ParseError(f"{st.fragments}: '{fragment}' is not a fragment name (LAYER/NAME)",
                             _where_listed(d, st.fragments, fragment) or st.loc,
                             hint=f"a fragment is named by its layer's collection and its path below "
                                  f"{d.expand(st.prefix)}, without .conf")
        if layerid in builtins:
            _set_builtin(d, st, fragment, builtins[layerid], name)
            continue
        path = _find(d, layers, layerid, d.expand(f"{st.prefix}/{name}.conf"))
        if path is None:
            raise ParseError(f"Could not find fragment {fragment} in enabled layers",
                             _where_listed(d, st.fragments, fragment) or st.loc,
                             notes=tuple(f"layer {layer}" for layer in layers),
                             hint=f"the layer of collection '{layerid}' needs a file "
                                  f"{d.expand(st.prefix)}/{name}.conf")
        include(d, st.loc, os.path.abspath(path))
        for var in flagged:
            d.setVarFlag(var, fragment, d.getVar(var))
            d.setVar(var, None)
