"""``bb.compress``: compressed files metadata reads and writes (``bb.compress.zstd``)."""

from __future__ import annotations

import importlib
from types import ModuleType


def __getattr__(name: str) -> ModuleType:
    # (imported when first named, as the other bb modules are)
    if name == "zstd":
        return importlib.import_module(f"{__spec__.name}.zstd")  # type: ignore[name-defined]
    raise AttributeError(f"module 'bb.compress' has no attribute {name!r}")
