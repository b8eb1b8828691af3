"""Running metadata Python against a datastore: ``d.exec_python`` for compiled code and
``bb.build.exec_func`` for a function of the store (a part of the datastore: :class:`store.DataStore`
is a ``PythonRunner``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from layerbuild.engine.datastore.pycode import compile_function, python_location, system_exit_message
from layerbuild.util.errors import ExpansionError, FatalError, Location, ParseError, PythonError, SkipRecipe


class PythonRunner:
    if TYPE_CHECKING:  # the store's own slots, which these methods use
        __slots__ = ("current_location",)
        pyglobals: dict[str, Any]
        current_location: Location | None
        exec_hook: Any

        def getVar(self, var: str, expand: bool = True, noweakdefault: bool = False,
                   parsing: bool = False) -> Any: ...
        def getVarFlag(self, var: str, flag: str, expand: bool = True, noweakdefault: bool = False,
                       parsing: bool = False, retparser: bool = False) -> Any: ...
    else:
        __slots__ = ()

    def exec_python(self, code: Any, location: Location | None, extra: dict[str, Any] | None = None) -> None:
        """Run compiled metadata Python with ``d`` bound to this store."""
        previous = self.current_location
        self.current_location = location
        try:
            env = self.pyglobals if not extra else {**self.pyglobals, **extra}
            exec(code, env)
        except (ExpansionError, ParseError, SkipRecipe, FatalError, PythonError):
            raise
        except SystemExit as exc:
            raise PythonError(f"Python code called {system_exit_message(exc)}", python_location(exc, location)) \
                from None
        except Exception as exc:
            raise PythonError(f"Python code raised {type(exc).__name__}: {exc}", python_location(exc, location)) \
                from exc
        finally:
            self.current_location = previous

    def exec_func(self, func: str) -> Any:
        """``bb.build.exec_func``: run a python function of this store, or a shell one through the hook."""
        body = self.getVar(func, False)
        if body is None:
            raise PythonError(f"function {func} is not defined", self.current_location)
        if self.getVarFlag(func, "python", False):
            filename = self.getVarFlag(func, "filename", False) or "<metadata>"
            lineno = int(self.getVarFlag(func, "lineno", False) or 1)
            code = compile_function(func, body, filename, lineno)
            self.exec_python(code, Location(filename, lineno))
            return self.pyglobals[func](self) if func in self.pyglobals else None
        if self.exec_hook is None:
            raise PythonError(f"shell function {func} can only run inside a task", self.current_location)
        return self.exec_hook(func, self)
