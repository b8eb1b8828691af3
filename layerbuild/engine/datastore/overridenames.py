"""What an override-conditional variable is a variant of: ``A:x:y`` is the variant of ``A:x`` for the
override ``y`` and of ``A`` for ``x:y``, as BitBake registers it. A parse registers the same names in
every recipe (each class's ``FILES:${PN}-dev``, each configuration's ``A:class-native``), so each name
is worked out once per process."""

from __future__ import annotations

import re

_OVERRIDE_RE = re.compile(r"[a-z0-9]+")
#: the names kept, at most (they are kept until the table is full, then it starts again)
_KEPT = 1 << 16
_parents: dict[str, tuple[tuple[str, str], ...]] = {}


def override_parents(var: str) -> tuple[tuple[str, str], ...]:
    """The (shorter variable, override) pairs ``var`` is a conditional variant of, longest first."""
    found = _parents.get(var)
    if found is None:
        if len(_parents) >= _KEPT:
            _parents.clear()
        found = _parents[var] = tuple(_walk(var))
    return found


def _walk(var: str) -> list[tuple[str, str]]:
    pairs = []
    cut = var.rfind(":")
    override = var[cut + 1:]
    shortvar = var[:cut]
    while override and _OVERRIDE_RE.match(override):
        pairs.append((shortvar, override))
        override = ""
        if ":" in shortvar:
            cut = shortvar.rfind(":")
            override = var[cut + 1:]
            shortvar = var[:cut]
            if not shortvar:
                override = ""
    return pairs
