"""BBCLASSEXTEND variants: one recipe file, read once, finalised as several recipes.

As in BitBake (``bb.parse.ast.multi_finalize``), the ``.bb`` file and its appends are evaluated once;
the base recipe is finalised, and its ``BBCLASSEXTEND`` names the variants. Each variant is a copy of
the datastore as it was before that finalisation, finalised after it inherits the class the entry names
(deferred, so it comes after the recipe's own deferred inherits):

- ``X`` (``native``, ``nativesdk``...): ``PN`` becomes ``${PN}-X`` and the variant inherits ``X.bbclass``;
- ``X:ARG`` (``multilib:lib32``, ``mcextend:...``, ``devupstream:target``): ``BBEXTENDCURR = "X"`` and
  ``BBEXTENDVARIANT = "ARG"``, ``PN`` is left to the class, which is ``X.bbclass``.

A variant is known by its virtual file name, ``virtual:ENTRY:/path/to/recipe.bb`` (the recipe's key in the
parse cache, the providers and the task graph); the base recipe by its file name.
"""

from __future__ import annotations

import types
from collections.abc import Collection
from typing import Any

from layerbuild.engine.datastore import DataStore
from layerbuild.engine.evaluate import Evaluator
from layerbuild.util.errors import Location, ParseError, SkipRecipe

_PREFIX = "virtual:"


def virtual_fn(fn: str, variant: str) -> str:
    """The key of ``variant`` of the recipe file ``fn`` (BitBake's ``realfn2virtual``)."""
    return f"{_PREFIX}{variant}:{fn}" if variant else fn


def split_virtual(vfn: str) -> tuple[str, str]:
    """(recipe file, variant) of a recipe key (BitBake's ``virtualfn2realfn``)."""
    if not vfn.startswith(_PREFIX):
        return vfn, ""
    parts = vfn.split(":")
    return parts[-1], ":".join(parts[1:-1])


def extensions(value: str) -> dict[str, tuple[str, str | None]]:
    """Each ``BBCLASSEXTEND`` entry -> (the class it inherits, its ``BBEXTENDVARIANT`` or None)."""
    found: dict[str, tuple[str, str | None]] = {}
    for entry in value.split():
        parts = entry.split(":", 2)
        found[entry] = (parts[0], parts[1]) if len(parts) > 1 else (entry, None)
    return found


def finalise(evaluator: Evaluator, d: DataStore) -> DataStore:
    """Finalise ``d`` in place; a recipe that asks to be skipped gets ``__SKIPPED`` (the reason)."""
    try:
        evaluator.finalize(d)
    except SkipRecipe as exc:
        d.setVar("__SKIPPED", str(exc) or "skipped")
    return d


def finalise_variants(evaluator: Evaluator, d: DataStore, fn: str,
                      only: Collection[str] | None = None) -> dict[str, DataStore]:
    """The finalised base recipe (key ``""``) and each variant of the parsed, unfinalised ``d``.

    ``only``: the variants wanted (``""`` for the base); the others are not finalised. The base is
    finalised in any case, as its ``BBCLASSEXTEND`` says which variants exist; it is ``d`` itself, and
    each variant starts from a copy of ``d`` taken before that.
    """
    if only is not None and not any(only):
        return {"": finalise(evaluator, d)}
    unfinalised = d.createCopy()
    base = finalise(evaluator, d)
    stores = {"": base}
    extended = base.getVar("BBCLASSEXTEND") or ""
    if not extended.strip():
        return stores
    where = base.location("BBCLASSEXTEND") or Location(fn)
    pn = base.getVar("PN") or ""
    # what the base's finalisation made of it (an anonymous function may have set it) is what each variant sees
    unfinalised.setVar("BBCLASSEXTEND", extended, file=where.path, line=where.line)
    for entry, (cls, arg) in extensions(extended).items():
        if only is not None and entry not in only:
            continue
        if evaluator.find_class(unfinalised, cls) is None:
            raise ParseError(f"BBCLASSEXTEND names {entry}, but there is no class {cls} to inherit", where,
                             hint=evaluator.class_hint(unfinalised, cls))
        v = unfinalised.createCopy()
        _rebind_functions(v, base.pyglobals)
        if arg is None:
            v.setVar("PN", f"{pn}-{entry}", file=where.path, line=where.line)
        else:
            v.setVar("BBEXTENDCURR", cls, file=where.path, line=where.line)
            v.setVar("BBEXTENDVARIANT", arg, file=where.path, line=where.line)
        pending = v.getVar("__BBDEFINHERITS", False) or []
        pending.append((cls, where.path, where.line))
        v.setVar("__BBDEFINHERITS", pending)
        stores[entry] = finalise(evaluator, v)
    return stores


def _rebind_functions(v: DataStore, shared: dict[str, Any]) -> None:
    """The Python functions the recipe's files defined (anonymous ones, ``def``) look names up in the
    globals they were defined in, which are now the base recipe's: give the variant its own, so they
    see what the variant's class defines and nothing the base's finalisation did. (BitBake keeps one
    namespace for every recipe.)"""
    own = v.pyglobals
    for name, value in list(own.items()):
        if isinstance(value, types.FunctionType) and value.__globals__ is shared:
            func = types.FunctionType(value.__code__, own, value.__name__, value.__defaults__, value.__closure__)
            func.__kwdefaults__ = value.__kwdefaults__
            own[name] = func
