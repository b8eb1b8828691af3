"""Evaluating statements onto a datastore: includes, inherits, functions, tasks and finalisation.

The rules are BitBake's: ``include`` of a missing file is silent and ``require`` is an error; classes
are found as ``classes-<type>/NAME.bbclass`` or ``classes/NAME.bbclass`` along ``BBPATH`` and inherited
once; ``EXPORT_FUNCTIONS`` maps ``do_x`` to ``<class>_do_x`` unless the recipe defined ``do_x``
itself; anonymous Python runs after all parsing, in order; keys containing ``${...}`` are expanded
before it.
"""

from __future__ import annotations

import difflib
import functools
import logging
import os
import re
from typing import TYPE_CHECKING, Any

from layerbuild.engine.bb.event import event_id
from layerbuild.engine.bb.parse import get_file_depends
from layerbuild.engine.datastore import DataStore
from layerbuild.engine.datastore.pycode import python_location, system_exit_message
from layerbuild.engine.evaluatorcalls import EvaluatorCalls
from layerbuild.engine.parse.parser import parse_file
from layerbuild.engine.parse.statements import (
    AddFragments,
    AddHandler,
    AddPyLib,
    AddTask,
    Assign,
    DelTask,
    Export,
    ExportFunctions,
    Function,
    Include,
    Inherit,
    PyDef,
    Statement,
    Unset,
)
from layerbuild.engine.pyenv import EVENTS, new_globals
from layerbuild.taskapi import NO_HOOKS, Hooks, task_name
from layerbuild.util.errors import (
    BuildError,
    ExpansionError,
    FatalError,
    Location,
    ParseError,
    PythonError,
    SkipRecipe,
)

if TYPE_CHECKING:
    from layerbuild.engine.varnames import NameIndex

logger = logging.getLogger("layerbuild.parse")

_ANON_TR = str.maketrans("/.+-@%&~", "________")
_EXPORT_SENTINEL = "    # Export function set\n"
_EXEC_FUNC = "bb.build.exec_func('"
_EXIT_HINT = 'stop with bb.fatal("why"), or skip the recipe with raise bb.parse.SkipRecipe("why")'
_TASK_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
_OP_NAMES = {"=": "set", "?=": "set?", "??=": "set", ":=": "immediate", "+=": "append", "=+": "prepend",
             ".=": "postdot", "=.": "predot"}


@functools.lru_cache(maxsize=8192)
def _compile_block(text: str, filename: str, first_line: int) -> Any:
    """Compile Python text whose first line stands at ``first_line`` of ``filename``."""
    try:
        return compile("\n" * max(first_line - 1, 0) + text, filename, "exec")
    except SyntaxError as exc:
        raise ParseError(f"Python syntax error: {exc.msg}", Location(filename, exc.lineno or first_line)) from exc


class Evaluator:
    """Evaluates metadata files onto datastores.

    Holds the statements of every file read so far, so a class shared by a thousand recipes is read
    once per process.
    """

    def __init__(self) -> None:
        self._statements: dict[str, tuple[Statement, ...]] = {}
        self._active: list[str] = []
        #: for each file being evaluated, whether it is a base configuration file (where addpylib may stand)
        self._base: list[bool] = []
        self._names: NameIndex | None = None
        #: (class, class type, BBPATH) -> the class file found, and the candidates before it that were
        #: absent (every recipe looks for the same classes, as the statements they are read once)
        self._classes: dict[tuple[str, str, str], tuple[str | None, tuple[str, ...]]] = {}

    @property
    def names(self) -> NameIndex:
        """What each file read so far sets and reads, for the check of names nothing reads (imported on
        first use: a parse that comes from the cache never needs it)."""
        if self._names is None:
            from layerbuild.engine.varnames import NameIndex
            self._names = NameIndex(self._statements.get)
        return self._names

    # -- files -------------------------------------------------------------------------------------

    def statements(self, path: str) -> tuple[Statement, ...]:
        found = self._statements.get(path)
        if found is None:
            found = parse_file(path)
            self._statements[path] = found
        return found

    def eval_file(self, d: DataStore, path: str, include: bool = True, baseconfig: bool = False) -> None:
        """Read ``path`` and evaluate it onto ``d`` (BitBake's ``bb.parse.handle``); ``baseconfig`` for
        ``bblayers.conf``, a ``layer.conf`` and the base configuration file (not what they include)."""
        is_class = path.endswith(".bbclass")
        if is_class:
            cache = d.getVar("__inherit_cache", False) or []
            if path not in cache:
                cache.append(path)
                d.setVar("__inherit_cache", cache)
        oldfile = d.getVar("FILE", False) if include else None
        statements = self.statements(path)

        d.file_depends.append(path)
        if not is_class and path != oldfile:
            d.setVar("FILE", path)
        self._active.append(path)
        self._base.append(baseconfig)
        try:
            self.eval_statements(d, statements)
        finally:
            self._active.pop()
            self._base.pop()
        if not is_class and oldfile and path != oldfile:
            d.setVar("FILE", oldfile)

    def eval_statements(self, d: DataStore, statements: tuple[Statement, ...]) -> None:
        previous = d.current_location
        try:
            for st in statements:
                # an expansion error with no variable to blame (an include line, a := value) names the statement
                d.current_location = st.loc
                _HANDLERS[type(st)](self, d, st)
        finally:
            d.current_location = previous

    # -- statements --------------------------------------------------------------------------------

    def _assign(self, d: DataStore, st: Assign) -> None:
        key = st.key
        file, line = st.loc.path, st.loc.line
        if st.export:
            d.setVarFlag(key, "export", 1, op="exported", file=file, line=line)
        op = st.op
        flag = st.flag
        if op == "=":
            val: Any = st.value
        elif op == ":=":
            val = d.expand(st.value, key + "[:=]")
        elif op == "??=":
            val = st.value
        else:
            if flag is not None:
                current = d.getVarFlag(key, flag, False, noweakdefault=True)
            else:
                current = d.getVar(key, False, noweakdefault=True, parsing=True)
            if op == "?=":
                val = st.value if current is None else current
            elif op == "+=":
                val = f"{current or ''} {st.value}"
            elif op == "=+":
                val = f"{st.value} {current or ''}"
            elif op == ".=":
                val = f"{current or ''}{st.value}"
            else:
                val = f"{st.value}{current or ''}"
            if op != "?=" and (":append" in key or ":prepend" in key or ":remove" in key):
                logger.warning("%s: %s %s is not a recommended operator combination, please replace it",
                               st.loc, key, op)
        opname = _OP_NAMES[op]
        if flag is not None:
            if op == "??=":
                flag = "_defaultval_flag_" + flag
            d.setVarFlag(key, flag, val, op=opname, file=file, line=line, detail=st.value)
        elif op == "??=":
            d.setVarFlag(key, "_defaultval", val, op=opname, file=file, line=line, detail=st.value)
        else:
            d.setVar(key, val, parsing=True, op=opname, file=file, line=line, detail=st.value)

    def _export(self, d: DataStore, st: Export) -> None:
        d.setVarFlag(st.key, "export", 1, op="exported", file=st.loc.path, line=st.loc.line)

    def _unset(self, d: DataStore, st: Unset) -> None:
        if st.flag is None:
            d.delVar(st.key, file=st.loc.path, line=st.loc.line)
        else:
            d.delVarFlag(st.key, st.flag, file=st.loc.path, line=st.loc.line)

    def _include(self, d: DataStore, st: Include) -> None:
        what = d.expand(st.what)
        if st.kind == "include_all":
            for directory in (d.getVar("BBPATH") or "").split(":"):
                if directory:
                    self.include_file(d, st.loc, os.path.join(directory, what), required=False)
            return
        for name in what.split():
            self.include_file(d, st.loc, name, required=st.kind == "require")

    def include_file(self, d: DataStore, loc: Location, name: str, required: bool) -> None:
        parent = loc.path
        if name == parent:
            return
        if os.path.isabs(name):
            candidates = [name]
        else:
            dirs = [os.path.dirname(parent)] + [p for p in (d.getVar("BBPATH") or "").split(":") if p]
            candidates = [os.path.join(directory, name) for directory in dirs]
        found = None
        for candidate in candidates:
            if os.path.isdir(candidate):
                raise ParseError(f"cannot include {candidate}: it is a directory, not a metadata file", loc)
            if os.path.isfile(candidate):
                found = os.path.abspath(candidate)
                break
            d.file_depends.append(os.path.abspath(candidate))
        if found is not None and self._active.count(found) >= 10:
            chain = " -> ".join(os.path.basename(p) for p in self._active[-3:] + [found])
            raise ParseError(f"{os.path.basename(found)} is included recursively (... {chain} -> ...)", loc,
                             hint="guard the include with a condition or remove it")
        if found is None:
            if required:
                unset = sorted(set(re.findall(r"\$\{([^}@]+)\}", name)))
                hint = (f"{', '.join(unset)} {'is' if len(unset) == 1 else 'are'} not set" if unset else
                        "searched " + ", ".join(os.path.dirname(c) or "." for c in candidates))
                raise ParseError(f"could not require file {name}", loc, hint=hint)
            return
        try:
            self.eval_file(d, found, include=True)
        except OSError as exc:
            raise ParseError(f"could not read {found}: {exc.strerror}", loc) from exc

    def _inherit(self, d: DataStore, st: Inherit) -> None:
        if st.defer:
            pending = d.getVar("__BBDEFINHERITS", False) or []
            pending.append((st.classes, st.loc.path, st.loc.line))
            d.setVar("__BBDEFINHERITS", pending)
            return
        self.inherit(d, st.classes, st.loc)

    def inherit(self, d: DataStore, classes: str, loc: Location, deferred: bool = False) -> None:
        names = d.expand(classes).split()
        for name in names:
            defer = (d.getVar("BB_DEFER_BBCLASSES") or "").split()
            if not deferred and name in defer:
                pending = d.getVar("__BBDEFINHERITS", False) or []
                pending.append((name, loc.path, loc.line))
                d.setVar("__BBDEFINHERITS", pending)
                continue
            path = self.find_class(d, name)
            if path is None:
                raise ParseError(f"could not inherit class {name}", loc, hint=self.class_hint(d, name))
            cache = d.getVar("__inherit_cache", False) or []
            if path in cache:
                continue
            cache.append(path)
            d.setVar("__inherit_cache", cache)
            try:
                self.eval_file(d, path, include=True)
            except OSError as exc:
                raise ParseError(f"could not read class {path}: {exc.strerror}", loc) from exc

    def find_class(self, d: DataStore, name: str) -> str | None:
        if os.path.isabs(name):
            return name if os.path.exists(name) else None
        classtype = d.getVar("__bbclasstype", False) or "recipe"
        key = (name, classtype, d.getVar("BBPATH") or "")
        found = self._classes.get(key)
        if found is None:
            found = self._classes[key] = self._look_for_class(name, classtype, key[2])
        # the absent candidates are inputs of the parse too: a class added there later is read instead
        d.file_depends.extend(found[1])
        return found[0]

    @staticmethod
    def _look_for_class(name: str, classtype: str, bbpath: str) -> tuple[str | None, tuple[str, ...]]:
        absent: list[str] = []
        for sub in ("classes-" + classtype, "classes"):
            rel = name if name.endswith(".bbclass") else os.path.join(sub, name + ".bbclass")
            for directory in bbpath.split(":"):
                if not directory:
                    continue
                candidate = os.path.join(directory, rel)
                if os.path.exists(candidate):
                    return os.path.abspath(candidate), tuple(absent)
                absent.append(os.path.abspath(candidate))
        return None, tuple(absent)

    def class_hint(self, d: DataStore, name: str) -> str | None:
        """The classes named like ``name``, for the error of a class that is not found."""
        known: set[str] = set()
        classtype = d.getVar("__bbclasstype", False) or "recipe"
        for directory in (d.getVar("BBPATH") or "").split(":"):
            for sub in ("classes-" + classtype, "classes"):
                try:
                    known.update(f[:-8] for f in os.listdir(os.path.join(directory, sub)) if f.endswith(".bbclass"))
                except OSError:
                    continue
        close = difflib.get_close_matches(name, sorted(known), n=3)
        return f"did you mean {', '.join(close)}?" if close else "check BBPATH and the class name"

    def _function(self, d: DataStore, st: Function) -> None:
        funcname = st.name
        text = st.body
        python = st.python
        file, line = st.loc.path, st.loc.line
        if not funcname or funcname == "__anonymous":
            funcname = f"__anon_{st.end_line}_{file.translate(_ANON_TR)}"
            python = True
            text = f"def {funcname}(d):\n" + text
            code = _compile_block(text if st.body.strip() else text + "    pass\n", file, line)
            d.exec_python(code, st.loc)
            anon = d.getVar("__BBANONFUNCS", False) or []
            anon.append(funcname)
            d.setVar("__BBANONFUNCS", anon)
        if d.getVar(funcname, False):
            d.delVarFlag(funcname, "python")
            d.delVarFlag(funcname, "fakeroot")
        if python:
            d.setVarFlag(funcname, "python", "1")
        if st.fakeroot:
            d.setVarFlag(funcname, "fakeroot", "1")
        d.setVarFlag(funcname, "func", 1)
        d.setVar(funcname, text, parsing=True, file=file, line=line)
        d.setVarFlag(funcname, "filename", file)
        d.setVarFlag(funcname, "lineno", str(line))

    def _pydef(self, d: DataStore, st: PyDef) -> None:
        d.exec_python(_compile_block(st.text, st.loc.path, st.loc.line), st.loc)
        d.setVarFlag(st.name, "func", 1)
        d.setVarFlag(st.name, "python", 1)
        d.setVar(st.name, st.text, parsing=True, file=st.loc.path, line=st.loc.line)
        d.setVarFlag(st.name, "filename", st.loc.path)
        d.setVarFlag(st.name, "lineno", str(st.loc.line))

    def _export_functions(self, d: DataStore, st: ExportFunctions) -> None:
        for func in st.names.split():
            called = f"{st.classname}_{func}"
            basevar = d.getVar(func, False)
            if basevar and _EXPORT_SENTINEL not in basevar:
                continue
            if basevar:
                d.setVarFlag(func, "python", None)
                d.setVarFlag(func, "func", None)
            for flag in ("func", "python"):
                value = d.getVarFlag(called, flag, False)
                if value:
                    d.setVarFlag(func, flag, value)
            for flag in ("dirs", "cleandirs", "fakeroot"):
                value = d.getVarFlag(func, flag, False)
                if value:
                    d.setVarFlag(called, flag, value)
            # (where the flag was set is the EXPORT_FUNCTIONS line: an error about the stub names it)
            d.setVarFlag(func, "filename", "autogenerated", file=st.loc.path, line=st.loc.line)
            d.setVarFlag(func, "lineno", 1)
            if d.getVarFlag(called, "python", False):
                d.setVar(func, f"{_EXPORT_SENTINEL}    {_EXEC_FUNC}{called}', d)\n", parsing=True,
                         file=st.loc.path,
                         line=st.loc.line)
            else:
                if "-" in st.classname:
                    raise ParseError(f"class name {st.classname} contains '-', so its shell function {called} "
                                     "cannot be exported", st.loc, hint="rename the class")
                d.setVar(func, f"{_EXPORT_SENTINEL}    {called}\n", parsing=True, file=st.loc.path,
                         line=st.loc.line)

    def _addtask(self, d: DataStore, st: AddTask) -> None:
        for task in st.tasks.split():
            add_task(d, task, st.before, st.after, st.loc)

    def _deltask(self, d: DataStore, st: DelTask) -> None:
        for task in d.expand(st.tasks).split():
            del_task(d, task)

    def _addpylib(self, d: DataStore, st: AddPyLib) -> None:
        from layerbuild.engine.pylib import add_pylib
        add_pylib(d, st, baseconfig=bool(self._base and self._base[-1]))

    def _addfragments(self, d: DataStore, st: AddFragments) -> None:
        from layerbuild.engine.fragments import add_fragments
        add_fragments(lambda d_, loc, path: self.include_file(d_, loc, path, required=True), d, st)

    def _addhandler(self, d: DataStore, st: AddHandler) -> None:
        handlers = d.getVar("__BBHANDLERS", False) or []
        for name in st.names.split():
            handlers.append(name)
            d.setVarFlag(name, "handler", 1)
        d.setVar("__BBHANDLERS", handlers)

    # -- finalisation ------------------------------------------------------------------------------

    def finalize(self, d: DataStore) -> None:
        """Deferred inherits, key expansion and anonymous Python, as BitBake finalises a recipe.

        Raises ``SkipRecipe`` when the recipe asks to be skipped.
        """
        fn = d.getVar("__BB_RECIPE_FILE", False) or d.getVar("FILE", False) or ""
        deferred = [entry[0] for entry in d.getVar("__BBDEFINHERITS", False) or []]
        fire_event(d, "RecipePreDeferredInherits", fn=fn, inherits=deferred)
        while True:
            pending = d.getVar("__BBDEFINHERITS", False) or []
            if not pending:
                break
            classes, filename, lineno = pending.pop(0)
            d.setVar("__BBDEFINHERITS", pending)
            self.inherit(d, classes, Location(filename, lineno), deferred=True)
        fire_event(d, "RecipePreFinalise", fn=fn)
        expand_keys(d)
        fire_event(d, "RecipePostKeyExpansion", fn=fn)
        run_anonymous(d)
        tasks = d.getVar("__BBTASKS", False) or []
        fire_event(d, "RecipeTaskPreProcess", fn=fn, tasklist=list(tasks))
        recipe_virtual_providers(d, tasks)
        for task in tasks:
            name = d.expand(task)
            if name != task:
                where = d.getVarFlag(task, "_addtask_loc", False)
                check_task_name(name, Location(*where) if where else None)
            d.setVarFlag(name, "task", 1)
        d.setVar("BBINCLUDED", get_file_depends(d))
        fire_event(d, "RecipeParsed", fn=fn)


def recipe_virtual_providers(d: DataStore, tasks: list[str]) -> None:
    """BitBake's recipe-level providers: a name in ``BB_RECIPE_VIRTUAL_PROVIDERS`` that the recipe's
    ``DEPENDS`` (or a task's ``[depends]``) holds becomes the recipe's ``PREFERRED_PROVIDER_<name>``, so
    each recipe can choose its own (the cross compiler of its own target, say).

    As BitBake does, DEPENDS and each task's ``[depends]`` are then set to their expanded words; metadata
    that does not set the variable at all (it is OE's) keeps them as written."""
    names = d.getVar("BB_RECIPE_VIRTUAL_PROVIDERS")
    if names is None:
        return
    virtual = set(names.split())
    where = d.location("BB_RECIPE_VIRTUAL_PROVIDERS")
    depends = []
    for dep in (d.getVar("DEPENDS") or "").split():
        if dep in virtual:
            provider = d.getVar("PREFERRED_PROVIDER_" + dep)
            if not provider:
                raise ParseError(f"DEPENDS holds {dep}, a recipe virtual provider (BB_RECIPE_VIRTUAL_PROVIDERS), "
                                 f"but PREFERRED_PROVIDER_{dep} is not set", d.location("DEPENDS") or where,
                                 hint=f"set PREFERRED_PROVIDER_{dep} to the recipe that provides it")
            dep = provider
        depends.append(dep)
    d.setVar("DEPENDS", " ".join(depends), file=where.path if where else None, line=where.line if where else 0)
    # each task's [depends] becomes its expanded words too (set, empty, on a task that has none)
    for task in tasks:
        remapped = []
        for entry in (d.getVarFlag(task, "depends") or "").split():
            recipe, colon, rest = entry.partition(":")
            provider = d.getVar("PREFERRED_PROVIDER_" + recipe) if colon and recipe in virtual else None
            remapped.append(f"{provider}:{rest}" if provider else entry)
        d.setVarFlag(task, "depends", " ".join(remapped))


def export_problem(d: DataStore, func: str) -> BuildError | None:
    """For a function that is still the stub EXPORT_FUNCTIONS made, the error running it would give when
    the class function it calls does not exist, or did not yet when the stub was made (then, as in
    BitBake, the stub is no function and the shell cannot call it), at the EXPORT_FUNCTIONS line.
    BitBake accepts both and only the shell says ``not found`` when the task runs."""
    body = d.getVar(func, False)
    if not isinstance(body, str) or not body.startswith(_EXPORT_SENTINEL):
        return None
    call = body[len(_EXPORT_SENTINEL):].split("\n", 1)[0].strip()
    called = call[len(_EXEC_FUNC):].split("'", 1)[0] if call.startswith(_EXEC_FUNC) else call
    if not called:
        return None
    where = d.flag_location(func, "filename")
    if d.getVar(called, False) is None:
        return BuildError(f"EXPORT_FUNCTIONS names {func}, but {called} is not defined", where,
                          hint=f"define {called}() in the class, or remove {func} from its EXPORT_FUNCTIONS")
    if not d.getVarFlag(func, "func", False):
        return BuildError(f"EXPORT_FUNCTIONS names {func} before {called} is defined, so {func} cannot call it",
                          where, hint=f"move EXPORT_FUNCTIONS below {called}() (BitBake needs that order too)")
    return None


def fire_event(d: DataStore, name: str, **attrs: Any) -> None:
    """Fire the engine's event ``name`` (``ConfigParsed``, ``RecipeParsed`` ...), made with ``attrs`` as
    BitBake makes it, to the handlers of ``d``."""
    if d.getVar("__BBHANDLERS", False):
        dispatch_event(d, EVENTS[name](**attrs))


def dispatch_event(d: DataStore, event: Any) -> None:
    """Call the ``addhandler`` handlers of ``d`` whose ``[eventmask]`` admits ``event`` (BitBake's
    ``bb.event.fire`` to the class handlers), with ``e.data`` set to ``d`` while they run."""
    handlers = d.getVar("__BBHANDLERS", False)
    if not handlers:
        return
    eid = event_id(event)
    for handler in handlers:
        mask = (d.getVarFlag(handler, "eventmask") or "").split()
        if mask and eid not in mask:
            continue
        body = d.getVar(handler, False)
        if body is None:
            raise ParseError(f"event handler {handler} is not defined", d.current_location)
        filename = d.getVarFlag(handler, "filename", False) or "<handler>"
        lineno = int(d.getVarFlag(handler, "lineno", False) or 1)
        code = _compile_block(f"def {handler}(e, d):\n{body}", filename, lineno)
        env = dict(d.pyglobals)
        exec(code, env)
        loc = Location(filename, lineno)
        event.data = d
        try:
            env[handler](event, d)
        except (SkipRecipe, ParseError, PythonError, ExpansionError, FatalError):
            raise
        except SystemExit as exc:
            raise PythonError(f"event handler {handler} called {system_exit_message(exc)}",
                              python_location(exc, loc), hint=_EXIT_HINT) from None
        except Exception as exc:
            raise PythonError(f"event handler {handler} raised {type(exc).__name__}: {exc}",
                              python_location(exc, loc)) from exc
        finally:
            event.data = None


def run_anonymous(d: DataStore) -> None:
    """Run the anonymous Python functions of ``d`` in the order they were defined."""
    for funcname in d.getVar("__BBANONFUNCS", False) or []:
        func = d.pyglobals.get(funcname)
        if func is None:
            continue
        loc = Location(d.getVarFlag(funcname, "filename", False) or "",
                       int(d.getVarFlag(funcname, "lineno", False) or 0))
        previous = d.current_location
        d.current_location = loc
        try:
            func(d)
        except (SkipRecipe, ParseError, PythonError):
            raise
        except (ExpansionError, FatalError) as exc:
            if exc.location is None:
                exc.location = python_location(exc, loc)
            raise
        except SystemExit as exc:
            raise PythonError(f"anonymous Python called {system_exit_message(exc)}", python_location(exc, loc),
                              hint=_EXIT_HINT) from None
        except Exception as exc:
            raise PythonError(f"anonymous Python raised {type(exc).__name__}: {exc}",
                              python_location(exc, loc)) from exc
        finally:
            d.current_location = previous


def add_task(d: DataStore, task: str, before: str | None, after: str | None, loc: Location | None = None) -> None:
    """BitBake's ``addtask``: register the task and its ordering in the ``deps`` flags."""
    task = task_name(task)
    check_task_name(task, loc)
    for entry in (before or "").split() + (after or "").split():
        check_task_name(entry, loc)
    file, line = (loc.path, loc.line) if loc else (None, 0)
    d.setVarFlag(task, "task", 1, file=file, line=line)
    tasks = d.getVar("__BBTASKS", False) or []
    if task not in tasks:
        tasks.append(task)
    d.setVar("__BBTASKS", tasks)
    existing = d.getVarFlag(task, "deps", False) or []
    if after is not None:
        for entry in after.split():
            entry = task_name(entry)
            if entry not in existing:
                existing.append(entry)
    d.setVarFlag(task, "deps", existing, file=file, line=line)
    if before is not None:
        for entry in before.split():
            entry = task_name(entry)
            deps = d.getVarFlag(entry, "deps", False) or []
            if task not in deps:
                d.setVarFlag(entry, "deps", [task] + deps, file=file, line=line)
    if loc is not None:
        d.setVarFlag(task, "_addtask_loc", (loc.path, loc.line))


def check_task_name(name: str, loc: Location | None) -> None:
    """A task name is a function name: letters, digits, ``_``, ``-``, ``+`` and ``.`` (and ``${...}``
    references, checked once they are expanded)."""
    if "${" in name or _TASK_NAME_RE.match(name):
        return
    bad = sorted({c for c in name if not (c.isalnum() or c in "_.+-")})
    raise ParseError(f"'{name}' is not a valid task name (it contains {' '.join(repr(c) for c in bad)})", loc,
                     hint="a task name may hold only letters, digits and '_', '-', '+', '.'")


def del_task(d: DataStore, task: str) -> None:
    task = task_name(task)
    tasks = d.getVar("__BBTASKS", False) or []
    if task in tasks:
        tasks.remove(task)
        d.delVarFlag(task, "task")
        d.setVar("__BBTASKS", tasks)
    d.delVarFlag(task, "deps")
    for other in d.getVar("__BBTASKS", False) or []:
        deps = d.getVarFlag(other, "deps", False) or []
        if task in deps:
            deps.remove(task)
            d.setVarFlag(other, "deps", deps)


def expand_keys(d: DataStore, readdata: DataStore | None = None) -> None:
    """Rename every variable whose name contains ``${...}`` to its expanded name (expanded against
    ``readdata`` when given, as BitBake's ``bb.data.expandKeys(alterdata, readdata)``)."""
    reader = readdata if readdata is not None else d
    todo = {}
    for key in d.keys_to_expand():
        expanded = reader.expand(key)
        if expanded != key:
            todo[key] = expanded
    for key in todo:
        new = todo[key]
        if d.getVar(new, False) is not None and d.getVar(key, False) is not None:
            logger.warning("Variable key %s (%s) replaces original key %s (%s).", key, d.getVar(key, False),
                           new, d.getVar(new, False))
        d.renameVar(key, new)


_HANDLERS: dict[type, Any] = {
    Assign: Evaluator._assign,
    Export: Evaluator._export,
    Unset: Evaluator._unset,
    Include: Evaluator._include,
    Inherit: Evaluator._inherit,
    Function: Evaluator._function,
    PyDef: Evaluator._pydef,
    ExportFunctions: Evaluator._export_functions,
    AddTask: Evaluator._addtask,
    DelTask: Evaluator._deltask,
    AddHandler: Evaluator._addhandler,
    AddPyLib: Evaluator._addpylib,
    AddFragments: Evaluator._addfragments,
}

#: the statements metadata Python reaches through ``bb`` (``bb.build.addtask``, ``bb.data.expandKeys``...)
CALLS = EvaluatorCalls(add_task, del_task, expand_keys, dispatch_event)


def new_datastore(*, tracking: bool = False, hooks: Hooks = NO_HOOKS) -> DataStore:
    """An empty datastore whose metadata Python sees the ``bb`` namespace, with this module's statements
    and what ``hooks`` let it reach of the artifact side (every recipe's store is a copy of one)."""
    return DataStore(tracking=tracking, pyglobals=new_globals(CALLS, hooks))
