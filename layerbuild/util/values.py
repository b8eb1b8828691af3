"""Reading variables through their rows: the row's type parses the value, a bad value is an error at
the line that set it.

:class:`TypedReads` is the reading half of a task's variable view (:class:`layerbuild.taskapi.VarView`);
:class:`Typed` gives engine code the same reads over a datastore, :class:`Environment` over the
process environment. :func:`check_configuration` walks the table once the configuration is read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, overload

from layerbuild.util.errors import LayerbuildError, Location, VariableError
from layerbuild.util.variables import VARIABLES, Variable, lookup
from layerbuild.util.vartypes import TYPES

_Int = int
_Bool = bool
_List = list


class TypedReads:
    """Reads through the table: the row of the variable chooses the parser, a bad value is a
    :class:`~layerbuild.util.errors.VariableError` at the line that set it.

    Unset and empty values give the method's default. Reading a variable with no row, or reading it as
    another type than its row's, is a programming error. A subclass provides ``getVar`` and
    ``location``; :class:`~layerbuild.taskapi.VarView` is one, :class:`Typed` another.
    """

    __slots__ = ()

    def getVar(self, var: str, expand: _Bool = True) -> str | None:  # noqa: N802 - BitBake's name
        raise NotImplementedError

    def location(self, var: str) -> Location | None:
        raise NotImplementedError

    def _fallback(self, var: str) -> Location | None:
        """Where to point when the datastore does not know where ``var`` was set."""
        return None

    def _subject(self, var: str) -> str:
        return var

    def _read(self, var: str, method: str, types: tuple[str, ...]) -> Any:
        row = lookup(var)
        if row.type not in types:
            raise TypeError(f"{var} is a {row.type} variable in layerbuild/util/variables.py, which .{method}() "
                            "does not read")
        text = self.getVar(var)
        if text is None or not text.strip():
            return None
        return self._parse(var, row, text)

    def _parse(self, var: str, row: Variable, text: str) -> Any:
        kind = TYPES[row.type]
        try:
            value = kind.parse(text)
            if row.minimum is not None and value < row.minimum:
                raise ValueError("too small")
        except ValueError as exc:
            problem = str(exc) if row.minimum is None else \
                f"must be a whole number of at least {row.minimum}, not '{text}'"
            hint = row.hint or kind.hint
            raise VariableError(f"{self._subject(var)} {problem}", self.location(var) or self._fallback(var),
                                hint=hint.format(name=var) if hint else None) from None
        return value

    @overload
    def int(self, var: str) -> _Int | None: ...

    @overload
    def int(self, var: str, default: _Int) -> _Int: ...

    def int(self, var: str, default: _Int | None = None) -> _Int | None:
        """An ``integer`` variable."""
        value = self._read(var, "int", ("integer",))
        return default if value is None else _Int(value)

    @overload
    def number(self, var: str) -> float | None: ...

    @overload
    def number(self, var: str, default: float) -> float: ...

    def number(self, var: str, default: float | None = None) -> float | None:
        """A ``number`` variable (an ``integer`` one reads as well)."""
        value = self._read(var, "number", ("number", "integer"))
        return default if value is None else float(value)

    def bool(self, var: str, default: _Bool = False) -> _Bool:
        """A ``boolean`` variable: BitBake's ``to_boolean`` truth set."""
        value = self._read(var, "bool", ("boolean",))
        return default if value is None else _Bool(value)

    #: the variable view's first name for :meth:`bool`; task code uses both
    boolean = bool

    def switch(self, var: str) -> _Bool:
        """A ``switch`` variable: on when it is exactly ``1``."""
        return _Bool(self._read(var, "switch", ("switch",)))

    @overload
    def epoch(self, var: str, default: _Int = 0) -> _Int: ...

    @overload
    def epoch(self, var: str, default: None) -> _Int | None: ...

    def epoch(self, var: str, default: _Int | None = 0) -> _Int | None:
        """An ``epoch`` variable (SOURCE_DATE_EPOCH); 0 when it is unset."""
        value = self._read(var, "epoch", ("epoch",))
        return default if value is None else _Int(value)

    def list(self, var: str) -> _List[str]:
        """A ``list`` (words) or ``pathlist`` (``:``-separated) variable."""
        value = self._read(var, "list", ("list", "pathlist"))
        return [] if value is None else _List(value)

    #: the variable view's first name for :meth:`list`; task code uses both
    words = list

    def path(self, var: str, default: str = "") -> str:
        """A ``path`` variable."""
        value = self._read(var, "path", ("path",))
        return default if value is None else str(value)

    def regex(self, var: str) -> re.Pattern[str] | None:
        """A ``regex`` variable, compiled."""
        value: re.Pattern[str] | None = self._read(var, "regex", ("regex",))
        return value


if TYPE_CHECKING:
    from typing import Protocol

    class _Source(Protocol):
        def getVar(self, var: str, expand: _Bool = True) -> Any: ...  # noqa: N802 - BitBake's name

        def location(self, var: str) -> Location | None: ...


class Typed(TypedReads):
    """Typed reads of a datastore, for the engine (``Typed(d).int("BB_NUMBER_THREADS")``).

    ``environment`` is what the process environment gave the datastore (SOURCE_DATE_EPOCH...): a bad
    value that is still the environment's is reported as the environment variable's.
    """

    __slots__ = ("_d", "_environment")

    def __init__(self, d: _Source, environment: Mapping[str, str] | None = None) -> None:
        self._d = d
        self._environment = environment or {}

    def getVar(self, var: str, expand: _Bool = True) -> str | None:  # noqa: N802 - BitBake's name
        value = self._d.getVar(var, expand)
        return None if value is None else str(value)

    def location(self, var: str) -> Location | None:
        return None if self._from_environment(var) else self._d.location(var)

    def _from_environment(self, var: str) -> _Bool:
        value = self._environment.get(var)
        return value is not None and self._d.getVar(var, False) == value

    def _subject(self, var: str) -> str:
        return f"the environment variable {var}" if self._from_environment(var) else var

    def check(self, var: str) -> None:
        """Read ``var`` as its row's type if its value can be read here: a value that fails to expand or
        still names a variable is left to the recipe that reads it."""
        try:
            text = self.getVar(var)
        except LayerbuildError:
            return
        if text is not None and text.strip() and "${" not in text:
            self._parse(var, lookup(var), text)


class Environment(Typed):
    """Typed reads of the process environment (``Environment(os.environ).epoch("SOURCE_DATE_EPOCH")``):
    a bad value names the environment variable."""

    __slots__ = ()

    def __init__(self, environ: Mapping[str, str]) -> None:
        super().__init__(_Mapping(environ), environ)


class _Mapping:
    __slots__ = ("_environ",)

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def getVar(self, var: str, expand: _Bool = True) -> str | None:  # noqa: N802 - BitBake's name
        return self._environ.get(var)

    def location(self, var: str) -> Location | None:
        return None


#: the types whose parser can refuse a value
_CHECKED = ("boolean", "integer", "number", "epoch", "regex")


def check_configuration(d: _Source, environment: Mapping[str, str] | None = None) -> None:
    """Read every typed variable the configuration sets, so a bad global value stops the build at its
    line before any recipe is parsed (families are checked where they are read: layer priorities by
    the layer set)."""
    values = Typed(d, environment)
    for var in VARIABLES:
        if var.type in _CHECKED and "<" not in var.name:
            values.check(var.name)
