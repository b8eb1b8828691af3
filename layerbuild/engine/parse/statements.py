"""The statements a metadata file consists of, each with the file and line it came from."""

from __future__ import annotations

from dataclasses import dataclass

from layerbuild.util.errors import Location


@dataclass(frozen=True, slots=True)
class Assign:
    """``[export] KEY[flag] OP "value"``; ``op`` is one of ``= ?= ??= := += =+ .= =.``."""

    loc: Location
    key: str
    op: str
    value: str
    flag: str | None = None
    export: bool = False


@dataclass(frozen=True, slots=True)
class Export:
    loc: Location
    key: str


@dataclass(frozen=True, slots=True)
class Unset:
    loc: Location
    key: str
    flag: str | None = None


@dataclass(frozen=True, slots=True)
class Include:
    """``include``, ``require`` or ``include_all``; ``what`` is expanded when evaluated."""

    loc: Location
    what: str
    kind: str


@dataclass(frozen=True, slots=True)
class Inherit:
    loc: Location
    classes: str
    defer: bool = False


@dataclass(frozen=True, slots=True)
class AddTask:
    loc: Location
    tasks: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class DelTask:
    loc: Location
    tasks: str


@dataclass(frozen=True, slots=True)
class ExportFunctions:
    loc: Location
    names: str
    classname: str


@dataclass(frozen=True, slots=True)
class Function:
    """A shell or python function ``[python] [fakeroot] name() { ... }``; anonymous when name is empty.

    ``loc`` is the line of the opening brace; ``body`` holds the lines between the braces.
    """

    loc: Location
    name: str
    body: str
    python: bool
    fakeroot: bool
    end_line: int


@dataclass(frozen=True, slots=True)
class PyDef:
    """A ``def name(...):`` block, callable from ``${@...}`` and other metadata Python."""

    loc: Location
    name: str
    text: str


@dataclass(frozen=True, slots=True)
class AddHandler:
    loc: Location
    names: str


class AddPyLib:
    """``addpylib DIR NAMESPACE``: a layer's Python library (base configuration files only).

    This and :class:`AddFragments` are plain classes with slots, not dataclasses as the others: every
    command defines the statement types when it starts, a dataclass costs far more to define, and
    few files hold these two."""

    __slots__ = ("loc", "libdir", "namespace")

    def __init__(self, loc: Location, libdir: str, namespace: str) -> None:
        self.loc = loc
        self.libdir = libdir
        self.namespace = namespace

    def __repr__(self) -> str:
        return f"AddPyLib({self.loc!r}, {self.libdir!r}, {self.namespace!r})"


class AddFragments:
    """``addfragments PREFIX FRAGMENTS METADATA_VARS BUILTINS``: the configuration fragments the variable
    named ``fragments`` lists, found as ``PREFIX/NAME.conf`` in their layers; the other two name the
    variables the fragments' metadata is kept under and the ``prefix:VARIABLE`` built-in fragments."""

    __slots__ = ("loc", "prefix", "fragments", "metadata_vars", "builtins")

    def __init__(self, loc: Location, prefix: str, fragments: str, metadata_vars: str, builtins: str) -> None:
        self.loc = loc
        self.prefix = prefix
        self.fragments = fragments
        self.metadata_vars = metadata_vars
        self.builtins = builtins

    def __repr__(self) -> str:
        return (f"AddFragments({self.loc!r}, {self.prefix!r}, {self.fragments!r}, {self.metadata_vars!r}, "
                f"{self.builtins!r})")


Statement = (Assign | Export | Unset | Include | Inherit | AddTask | DelTask | ExportFunctions | Function
             | PyDef | AddHandler | AddPyLib | AddFragments)
