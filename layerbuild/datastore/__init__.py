"""The datastore: variables, flags, overrides, expansion and history."""

from .history import Event, History
from .store import DataStore

__all__ = ["DataStore", "Event", "History"]
