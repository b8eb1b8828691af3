"""Variable history: every change to a datastore with its file, line and operation.

History is recorded only when tracking is enabled (``layerbuild -e`` and error reports), as BitBake
does; a plain parse keeps just the last place each variable was set, which costs nothing extra.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Event:
    op: str
    file: str
    line: int
    detail: str
    flag: str | None = None


class History:
    """Events per variable, shared copy-on-write between a datastore and its copies."""

    __slots__ = ("_events", "_owned")

    def __init__(self, events: dict[str, list[Event]] | None = None) -> None:
        self._events: dict[str, list[Event]] = events if events is not None else {}
        self._owned: set[str] = set()

    def copy(self) -> History:
        self._owned = set()
        return History(dict(self._events))

    def record(self, var: str, event: Event) -> None:
        events = self._events.get(var)
        if events is None:
            self._events[var] = [event]
        else:
            if var not in self._owned:
                events = list(events)
                self._events[var] = events
            events.append(event)
        self._owned.add(var)

    def events(self, var: str) -> list[Event]:
        return list(self._events.get(var, ()))

    def rename(self, old: str, new: str) -> None:
        moved = self._events.pop(old, None)
        if moved:
            self._events[new] = self.events(new) + moved
            self._owned.add(new)
