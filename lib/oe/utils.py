"""``oe.utils``: the helpers of OpenEmbedded's library the configuration and classes here call."""

from __future__ import annotations

from typing import Any


def prune_suffix(var: str, suffixes: list[str], d: Any) -> str:
    """``var`` without the first of ``suffixes`` it ends with (``zlib-native`` -> ``zlib``: BPN), and
    without the multilib prefix (MLPREFIX) it starts with."""
    for suffix in suffixes:
        if suffix and var.endswith(suffix):
            var = var[: -len(suffix)]
            break
    prefix = d.getVar("MLPREFIX")
    if prefix and var.startswith(prefix):
        var = var[len(prefix):]
    return var
