"""``bb.data_smart``: the datastore class and its expansion error under BitBake's names."""

from __future__ import annotations

from typing import Any

from layerbuild.util.errors import ExpansionError

__all__ = ["ExpansionError"]


def __getattr__(name: str) -> Any:
    # (the datastore imports the metadata environment, which imports this namespace)
    if name == "DataSmart":
        from layerbuild.engine.datastore import DataStore
        return DataStore
    raise AttributeError(f"module 'bb.data_smart' has no attribute {name!r}")
