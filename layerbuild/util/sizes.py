"""Byte counts for people: ``848 bytes``, ``5.3 MiB``."""

from __future__ import annotations


def human_size(n: int) -> str:
    """``n`` bytes in the largest binary unit that keeps it at 1 or more (one decimal)."""
    if n < 1024:
        return f"{n} bytes"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit}"
