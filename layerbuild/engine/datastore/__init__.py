"""The datastore: variables, flags, overrides, expansion and history."""

from layerbuild.engine.datastore.history import Event, History
from layerbuild.engine.datastore.store import DataStore

__all__ = ["DataStore", "Event", "History"]
