"""``bb.providers``: the exceptions BitBake raises when a target has no provider or several."""

from __future__ import annotations


class NoProvider(Exception):
    """Nothing provides the wanted target."""


class NoRProvider(Exception):
    """Nothing provides the wanted runtime target."""


class MultipleRProvider(Exception):
    """Several recipes provide the wanted runtime target."""
