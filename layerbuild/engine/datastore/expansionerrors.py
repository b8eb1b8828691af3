"""The errors of an expansion, at the line that set the variable to blame, with the chain of variables
that led to it (a part of the datastore: :class:`store.DataStore` is an ``ExpansionErrors``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from layerbuild.util.errors import ExpansionError, Location

#: the largest value an expansion may produce: OE-core's largest are a few hundred KiB, so only a chain
#: that multiplies its size (each variable twice the one before) gets here, long before memory runs out
MAX_VALUE_SIZE = 64 * 1024 * 1024


class ExpansionErrors:
    __slots__ = ()

    if TYPE_CHECKING:
        _expanding: list[str]
        current_location: Location | None

        def location(self, var: str) -> Location | None: ...
        def flag_location(self, var: str, flag: str) -> Location | None: ...
        def getVar(self, var: str, expand: bool = True, noweakdefault: bool = False,
                   parsing: bool = False) -> Any: ...

    def _chain_notes(self, chain: list[str]) -> tuple[str, ...]:
        notes: list[str] = []
        seen: set[str] = set()
        for name in chain:
            base = name.split("[", 1)[0]
            if base in seen or name.endswith("[:=]"):
                # (a := value is being expanded before it is set: its own line is the error's location)
                continue
            seen.add(base)
            loc = self._where(name)
            where = f"set at {loc}" if loc else "no location recorded"
            notes.append(f"{'which uses' if notes else 'while reading'} {name if '[' in name else base} ({where})")
        return tuple(notes)

    def _where(self, name: str) -> Location | None:
        """Where ``VAR`` or the flag ``VAR[flag]`` was set: a flag set in a recipe is the recipe's, even
        when its variable (a task function) comes from a class."""
        if name.endswith("]") and "[" in name:
            var, flag = name[:-1].split("[", 1)
            return self.flag_location(var, flag) or self.location(var)
        return self.location(name)

    def _size_error(self, varname: str | None, refs: set[str], code: str | None = None) -> ExpansionError:
        """A value past MAX_VALUE_SIZE, at the line of the variable whose value it is, with the chain of
        variables that led to it and the largest it named (the outermost and innermost ones when the
        chain is long). A ${@...} result is named by its ``code``."""
        largest = max(sorted(refs), key=lambda ref: len(str(self.getVar(ref) or "")), default=None)
        piece = code if code is not None else largest
        notes = self._chain_notes(list(self._expanding) + ([piece] if piece and code is None else []))
        if len(notes) > 12:
            notes = (*notes[:3], f"... {len(notes) - 9} more ...", *notes[-6:])
        shown = "" if piece is None else f" (at {piece if len(piece) < 60 else piece[:56] + '...}'})" if code \
            else f" (at ${{{piece}}})"
        return ExpansionError(f"{f'the value of {varname}' if varname else 'an expansion'} grows past "
                              f"{MAX_VALUE_SIZE >> 20} MiB when expanded{shown}",
                              self._where(varname) if varname else self.current_location, notes=notes,
                              hint="a variable that names another several times, in a chain, multiplies its "
                                   "size at every step")

    def _expansion_error(self, message: str, chain: list[str]) -> ExpansionError:
        return ExpansionError(message, self._where(chain[-1]) if chain else None, notes=self._chain_notes(chain))

    def _python_error(self, varname: str | None, expression: str, exc: BaseException,
                      raised: str | None = None) -> ExpansionError:
        chain = list(self._expanding) + ([varname] if varname and varname not in self._expanding else [])
        if raised is None:
            raised = (f"is not valid Python: {exc.msg}" if isinstance(exc, SyntaxError)
                      else f"raised {type(exc).__name__}: {exc}")
        what = f"variable {varname}: {expression}" if varname else expression
        error = self._expansion_error(f"failure expanding {what} {raised}", chain)
        if error.location is None:
            # an expansion outside any variable (an include, inherit or deltask line): where metadata runs
            error.location = self.current_location
        return error
