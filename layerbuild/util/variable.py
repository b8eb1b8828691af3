"""One row of the table of engine-known variables (:mod:`layerbuild.util.variables`)."""

from __future__ import annotations


class Variable:
    """One row. A plain class with slots: every command builds the table at start-up, and a
    NamedTuple or dataclass would cost more to define than the whole table to fill."""

    __slots__ = ("name", "type", "default", "doc", "tasks", "hint", "minimum")

    def __init__(self, name: str, type_: str, default: str | None, doc: str, *, tasks: tuple[str, ...] = (),
                 hint: str | None = None, minimum: int | None = None) -> None:
        self.name = name
        #: a name of :data:`layerbuild.util.vartypes.TYPES`
        self.type = type_
        self.default = default
        self.doc = doc
        #: the builtin task functions that read it (their signatures depend on it)
        self.tasks = tasks
        #: the hint of a bad value, instead of the type's ({name} is the variable)
        self.hint = hint
        #: the smallest value an integer may have
        self.minimum = minimum

    def __repr__(self) -> str:
        return f"Variable({self.name!r}, {self.type!r})"
