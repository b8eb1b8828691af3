"""The datastore: variables, flags, overrides, lazy expansion and history, with BitBake's semantics.

A variable is a dictionary of flags; its value is the ``_content`` flag. ``:append``, ``:prepend`` and
``:remove`` are kept as lists of ``(value, override)`` pairs and applied when the variable is read, after
the override-conditional value (``A:foo``) has been chosen, exactly as BitBake's data_smart does.

Copies are cheap: ``createCopy`` copies the variable table shallowly and both stores copy a variable's
flag dictionary the first time they change it, so a recipe starts from the configuration in microseconds.

Metadata Python runs with the globals its creator hands in (the evaluator's, with the ``bb``
namespace: ``evaluate.new_datastore``); a bare ``DataStore()`` runs it with Python's builtins only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from layerbuild.engine.bb.filter import apply_filters
from layerbuild.engine.codeparse import Contains
from layerbuild.engine.datastore.expansionerrors import MAX_VALUE_SIZE, ExpansionErrors
from layerbuild.engine.datastore.history import Event, History
from layerbuild.engine.datastore.overridenames import override_parents
from layerbuild.engine.datastore.pycode import (
    compile_expression,
    eval_expression,
    system_exit_message,
)
from layerbuild.engine.datastore.pyrunner import PythonRunner
from layerbuild.engine.datastore.references import VAR_RE, python_parts, var_parts
from layerbuild.engine.parse.parser import old_syntax_fix
from layerbuild.util.errors import (
    ExpansionError,
    FatalError,
    LayerbuildError,
    Location,
    ParseError,
    SkipRecipe,
)

_SETVAR_RE = re.compile(r"(?P<base>.*?)(?P<keyword>:append|:prepend|:remove)(:(?P<add>[^A-Z]*))?$")
_WS_SPLIT = re.compile(r"(\s)")
_OLD_SYNTAX_RE = re.compile(r"_(append|prepend|remove)(_|$)")
_KEYWORDS = (":append", ":prepend", ":remove")
_MUTABLE = (list, set, dict)
_NO_REFS: frozenset[str] = frozenset()


class _Expansion:
    __slots__ = ("value", "refs", "removes", "contains")

    def __init__(self, value: Any, refs: frozenset[str] | set[str], contains: set[Contains] | None = None) -> None:
        self.value = value
        self.refs = refs
        self.removes: set[str] | None = None
        #: (VAR, words) that ``${@bb.utils.contains(VAR, words...)}`` asked (VAR is no ref unless read too)
        self.contains = contains

    def names(self) -> set[str]:
        """Every variable the expansion depends on: those it read, and those it asked contains() about."""
        return set(self.refs) | {var for var, _words in self.contains or ()}


class DataStore(ExpansionErrors, PythonRunner):
    """Variables and flags of one configuration or recipe.

    Method names follow BitBake's (``getVar``, ``setVar``, ``getVarFlag``...) because metadata Python
    calls them by those names.
    """

    __slots__ = ("_vars", "_owned", "_funcnames", "_overridedata", "_pairsowned", "_overrides", "_overridesset",
                 "_overridevars", "_inoverride", "_cache", "history", "pyglobals", "_expanding", "current_location",
                 "file_depends", "exec_hook", "_filters", "_dollarkeys")

    def __init__(self, *, tracking: bool = False, pyglobals: dict[str, Any] | None = None) -> None:
        self._vars: dict[str, dict[str, Any]] = {}
        self._owned: set[str] = set()
        #: every variable ever given a [func] flag (a superset of the functions: see functions())
        self._funcnames: set[str] = set()
        #: variable -> its override-conditional variants, as (variant, override) pairs in the order they
        #: were set (a dict for lookups: OE's RECIPE_MAINTAINER has ~900); copied on write like _vars
        self._overridedata: dict[str, dict[tuple[str, str], None]] = {}
        self._pairsowned: set[str] = set()
        self._overrides: list[str] | None = None
        self._overridesset: set[str] = set()
        self._overridevars: set[str] = {"OVERRIDES", "FILE"}
        self._inoverride = False
        self._cache: dict[str, _Expansion] = {}
        self.history: History | None = History() if tracking else None
        self.pyglobals: dict[str, Any] = {} if pyglobals is None else pyglobals
        self._expanding: list[str] = []
        #: where metadata Python currently runs, for history of changes it makes
        self.current_location: Location | None = None
        #: every file this store's parse read (or looked for), for the parse cache
        self.file_depends: list[str] = []
        #: runs shell functions for ``bb.build.exec_func``; the task engine installs one
        self.exec_hook: Any = None
        #: variable -> the filter expression its expanded value passes through (setVarFilter)
        self._filters: dict[str, str] = {}
        #: the variables whose names hold ``${`` (expandKeys renames them; most names do not)
        self._dollarkeys: set[str] = set()

    # -- copying -----------------------------------------------------------------------------------

    def createCopy(self) -> DataStore:
        new = DataStore.__new__(DataStore)
        new._vars = self._vars.copy()
        self._owned = set()
        new._owned = set()
        new._funcnames = set(self._funcnames)
        new._overridedata = self._overridedata.copy()
        self._pairsowned = set()
        new._pairsowned = set()
        new._overrides = None
        new._overridesset = set()
        new._overridevars = set(self._overridevars)
        new._inoverride = False
        new._cache = {}
        new.history = self.history.copy() if self.history is not None else None
        new.pyglobals = self.pyglobals.copy()
        new._expanding = []
        new.current_location = None
        new.file_depends = list(self.file_depends)
        new.exec_hook = self.exec_hook
        new._filters = self._filters.copy()
        new._dollarkeys = set(self._dollarkeys)
        return new

    @property
    def tracking(self) -> bool:
        return self.history is not None

    def enableTracking(self) -> None:
        if self.history is None:
            self.history = History()

    def disableTracking(self) -> None:
        self.history = None

    # -- internals ---------------------------------------------------------------------------------

    def _writable(self, var: str) -> dict[str, Any]:
        entry = self._vars.get(var)
        if entry is None:
            entry = {}
            self._vars[var] = entry
            if "${" in var:
                self._dollarkeys.add(var)
        elif var not in self._owned:
            entry = dict(entry)
            self._vars[var] = entry
        self._owned.add(var)
        return entry

    def _changed(self) -> None:
        if self._cache:
            self._cache = {}

    def _record(self, var: str, op: str, detail: Any, file: str | None, line: int,
                flag: str | None = None) -> None:
        if self.history is None:
            return
        if file is None:
            loc = self.current_location
            file, line = (loc.path, loc.line) if loc else ("<python>", 0)
        self.history.record(var, Event(op, file, line, str(detail) if detail is not None else "", flag))

    def _mark_loc(self, entry: dict[str, Any], file: str | None, line: int) -> None:
        if file:
            entry["_loc"] = (file, line)
        elif self.current_location is not None:
            entry["_loc"] = (self.current_location.path, self.current_location.line)

    def location(self, var: str) -> Location | None:
        """Where ``var`` was last set, when known."""
        entry = self._vars.get(var)
        if entry and "_loc" in entry:
            path, line = entry["_loc"]
            return Location(path, line)
        return None

    def flag_location(self, var: str, flag: str) -> Location | None:
        """Where the flag ``var[flag]`` was last set, when known."""
        entry = self._vars.get(var)
        where = entry.get("_flocs", {}).get(flag) if entry else None
        return Location(*where) if where else None

    def flag_locations(self, var: str) -> dict[str, Location]:
        """Where each flag of ``var`` was last set, for the flags where it is known."""
        entry = self._vars.get(var)
        return {flag: Location(*where) for flag, where in entry.get("_flocs", {}).items()} if entry else {}

    # -- overrides ---------------------------------------------------------------------------------

    def need_overrides(self) -> None:
        if self._overrides is not None or self._inoverride:
            return
        # Computing OVERRIDES is a fresh expansion, even when it starts in the middle of expanding
        # OVERRIDES itself (a variable it references has an override of its own).
        expanding, self._expanding = self._expanding, []
        try:
            self._compute_overrides()
        finally:
            self._expanding = expanding

    def _compute_overrides(self) -> None:
        stack = []
        for _ in range(5):
            self._inoverride = True
            self._overrides = []
            self._overridesset = set()
            current = (self.getVar("OVERRIDES") or "").split(":")
            stack.append(current)
            self._overrides = current
            self._overridesset = set(current)
            self._inoverride = False
            self._cache = {}
            again = (self.getVar("OVERRIDES") or "").split(":")
            if again == current:
                break
            self._overrides = again
            self._overridesset = set(again)
        else:
            raise ExpansionError(
                "OVERRIDES could not be expanded into a stable state after 5 iterations: "
                "override-conditional variables are referenced by OVERRIDES in a loop; history: "
                + "; ".join(":".join(s) for s in stack))

    @property
    def overrides(self) -> list[str]:
        self.need_overrides()
        return list(self._overrides or [])

    def _update_overridevars(self, value: Any) -> None:
        new = self.expandWithRefs(value, None).names()
        while not new.issubset(self._overridevars):
            nextnew: set[str] = set()
            self._overridevars.update(new)
            for name in new:
                nextnew.update(self.expandWithRefs(self.getVar(name, False), name).names())
            new = nextnew
        self._overrides = None
        self._cache = {}

    def _own_pairs(self, shortvar: str) -> dict[tuple[str, str], None]:
        pairs = self._overridedata.get(shortvar)
        if pairs is None:
            pairs = self._overridedata[shortvar] = {}
        elif shortvar not in self._pairsowned:
            pairs = self._overridedata[shortvar] = dict(pairs)
        self._pairsowned.add(shortvar)
        return pairs

    def _register_override(self, var: str) -> None:
        for shortvar, override in override_parents(var):
            pairs = self._overridedata.get(shortvar)
            if pairs is None or (var, override) not in pairs:
                self._own_pairs(shortvar)[(var, override)] = None

    def _unregister_override(self, var: str) -> None:
        for shortvar, override in override_parents(var):
            if (var, override) in self._overridedata.get(shortvar, ()):
                del self._own_pairs(shortvar)[(var, override)]

    def _active(self, override: str | None) -> bool:
        if not override:
            return True
        overrides = self._overridesset
        return all(part in overrides for part in override.split(":"))

    # -- reading -----------------------------------------------------------------------------------

    def getVar(self, var: str, expand: bool = True, noweakdefault: bool = False,
               parsing: bool = False) -> Any:
        if expand and not noweakdefault:
            cached = self._cache.get(var)
            if cached is not None:
                return cached.value
        return self._content(var, expand, noweakdefault, parsing, False)

    def getVarFlag(self, var: str, flag: str, expand: bool = True, noweakdefault: bool = False,
                   parsing: bool = False, retparser: bool = False) -> Any:
        if flag == "_content":
            if expand and not noweakdefault:
                cached = self._cache.get(var)
                if cached is not None:
                    return (cached.value, cached) if retparser else cached.value
            return self._content(var, expand, noweakdefault, parsing, retparser)
        entry = self._vars.get(var) or {}
        if flag in entry:
            value = entry[flag]
        elif not noweakdefault and "_defaultval_flag_" + flag in entry:
            value = entry["_defaultval_flag_" + flag]
        else:
            # an unset flag: metadata asks every variable for [task] and the like
            return (None, _Expansion(None, _NO_REFS)) if retparser else None
        cachename = f"{var}[{flag}]"
        if expand and not noweakdefault:
            cached = self._cache.get(cachename)
            if cached is not None:
                return (cached.value, cached) if retparser else cached.value
        if flag in entry and isinstance(value, _MUTABLE):
            value = value.copy()
        if not (expand or retparser):
            return value
        parser = self.expandWithRefs(value, cachename)
        if expand:
            value = parser.value
        if not noweakdefault:
            self._cache[cachename] = parser
        return (value, parser) if retparser else value

    def _content(self, var: str, expand: bool, noweakdefault: bool, parsing: bool, retparser: bool) -> Any:
        """getVar, the expansion cache aside: the override-conditional variant that applies, else the value
        or weak default; then ``:append``/``:prepend``, the expansion, ``:remove`` and the filter."""
        entry = self._vars.get(var)
        value: Any = None
        removes: set[str] | None = None
        if not parsing:
            pairs = self._overridedata.get(var)
            if pairs:
                self.need_overrides()
                overridesset = self._overridesset
                active: dict[str, str] = {}
                for r, o in pairs:
                    if o in overridesset:
                        active[o] = r
                    elif ":" in o and set(o.split(":")).issubset(overridesset):
                        active[o] = r
                match = None
                mod = bool(active)
                while mod:
                    mod = False
                    for o in self._overrides or ():
                        for a in list(active):
                            if a.endswith(":" + o):
                                t = active.pop(a)
                                active[a.replace(":" + o, "")] = t
                                mod = True
                            elif a == o:
                                match = active.pop(a)
                if match:
                    value, subparser = self._content(match, False, False, False, True)
                    if subparser is not None and subparser.removes:
                        removes = set(subparser.removes)
        if entry is not None:
            if value is None:
                if "_content" in entry:
                    value = entry["_content"]
                    if isinstance(value, _MUTABLE):
                        value = value.copy()
                elif not noweakdefault:
                    if "_defaultval" in entry:
                        value = entry["_defaultval"]
                    elif "_defaultval_flag__content" in entry:
                        value = entry["_defaultval_flag__content"]
            if not parsing:
                appends = entry.get(":append")
                if appends:
                    self.need_overrides()
                    for r, o in appends:
                        if not o or self._active(o):
                            value = (value or "") + r
                prepends = entry.get(":prepend")
                if prepends:
                    self.need_overrides()
                    for r, o in prepends:
                        if not o or self._active(o):
                            value = r + (value or "")
        parser = None
        if expand or retparser:
            parser = self.expandWithRefs(value, var)
            if expand:
                value = parser.value
        if value and entry is not None and not parsing:
            remove_list = entry.get(":remove")
            if remove_list:
                self.need_overrides()
                for r, o in remove_list:
                    if not o or self._active(o):
                        if removes is None:
                            removes = set()
                        removes.add(r)
        if value and not parsing and removes and parser is not None:
            expanded = {r: self.expand(r).split() for r in removes}
            parser.removes = set()
            kept = []
            for word in _WS_SPLIT.split(parser.value):
                skip = False
                for r in removes:
                    if word in expanded[r]:
                        parser.removes.add(r)
                        skip = True
                if not skip:
                    kept.append(word)
            parser.value = "".join(kept)
            if expand:
                value = parser.value
        if value and expand and self._filters:
            expression = self._filters.get(var.split(":", 1)[0])
            if expression and parser is not None:
                value = parser.value = apply_filters(value, (expression,))
        if parser is not None and not noweakdefault:
            self._cache[var] = parser
        if retparser:
            return value, parser
        return value

    def getVarFlags(self, var: str, expand: Any = False, internalflags: bool = False) -> dict[str, Any] | None:
        entry = self._vars.get(var)
        flags: dict[str, Any] = {}
        if entry:
            for name, val in entry.items():
                first = name[:1]
                if first != "_" and first != ":":  # most flags: a plain name
                    flags[name] = val.copy() if isinstance(val, _MUTABLE) else val
                    if expand and name in expand:
                        flags[name] = self.expand(flags[name], f"{var}[{name}]")
                    continue
                if name == "_loc" and not internalflags:
                    continue
                if name.startswith("_defaultval_flag_") and not internalflags:
                    name = name[len("_defaultval_flag_"):]
                    if name in entry:
                        continue
                    flags[name] = val
                elif name.startswith(("_", ":")) and not internalflags:
                    continue
                else:
                    flags[name] = val.copy() if isinstance(val, _MUTABLE) else val
                if expand and name in expand:
                    flags[name] = self.expand(flags[name], f"{var}[{name}]")
        return flags or None

    def expandWithRefs(self, s: Any, varname: str | None) -> _Expansion:
        if not isinstance(s, str) or "${" not in s:
            return _Expansion(s, _NO_REFS)
        refs: set[str] = set()
        contains: set[Contains] | None = None  # (made only for a value that runs Python)
        if varname is not None:
            if varname in self._expanding:
                chain = self._expanding[self._expanding.index(varname):] + [varname]
                raise self._expansion_error(
                    f"variable {varname} references itself" if len(chain) == 2 else
                    "variables reference each other in a loop: " + " -> ".join(chain), chain)
            self._expanding.append(varname)
        try:
            while "${" in s:
                olds = s
                parts = var_parts(s)
                if len(parts) > 1:
                    try:
                        s = self._var_sub(parts, varname, refs)
                    except MemoryError:
                        # (a line naming a large variable many times, past what malloc gives)
                        raise self._size_error(varname, refs) from None
                if "${@" in s:
                    try:
                        pyparts = python_parts(s)
                        if len(pyparts) > 1:
                            if contains is None:
                                contains = set()
                            s = self._python_sub(pyparts, varname, refs, contains)
                    except SyntaxError as exc:
                        # An unmatched bracket inside ${@...}: BitBake leaves the text unexpanded.
                        if not (exc.msg or "").startswith(("unterminated string literal",
                                                           "EOL while scanning")):
                            raise self._python_error(varname, olds, exc) from exc
                if s == olds:
                    break
                if len(s) > MAX_VALUE_SIZE:
                    raise self._size_error(varname, refs)
        finally:
            if varname is not None:
                self._expanding.pop()
        return _Expansion(s, refs, contains or None)

    def _var_sub(self, parts: list[str], varname: str | None, refs: set[str]) -> str:
        """The text of ``parts`` (:func:`references.var_parts`) with each ``${NAME}`` replaced by its value,
        left as it is where the variable is unset."""
        out = [parts[0]]
        for i in range(1, len(parts), 2):
            key = parts[i]
            if key == varname:
                raise self._expansion_error(f"variable {varname} references itself", [varname, varname])
            refs.add(key)
            cached = self._cache.get(key)
            value = cached.value if cached is not None else self._content(key, True, False, False, False)
            out.append("${" + key + "}" if value is None else value if isinstance(value, str) else str(value))
            out.append(parts[i + 1])
        return "".join(out)

    def _python_sub(self, parts: list[str], varname: str | None, refs: set[str], contains: set[Contains]) -> str:
        """The text of ``parts`` (:func:`references.python_parts`) with each ``${@...}`` replaced by the
        value of its code; one whose code still names an unset ``${NAME}`` is left as it is."""
        out = [parts[0]]
        for i in range(1, len(parts), 2):
            code = parts[i]
            out.append("${@" + code + "}" if VAR_RE.search(code) else self._python_value(code, varname, refs, contains))
            out.append(parts[i + 1])
        return "".join(out)

    def _python_value(self, code: str, varname: str | None, refs: set[str], contains: set[Contains]) -> str:
        codeobj, reads, asked = compile_expression(code, f"Var <{varname}>" if varname else "<expansion>")
        refs.update(reads)
        if asked:
            contains.update(asked)
        try:
            value = eval_expression(codeobj, self.pyglobals, self)
        except (ExpansionError, ParseError, SkipRecipe, FatalError):
            raise
        except LayerbuildError as exc:
            if exc.location is not None:
                # the code it called knows better where the bad input is (a SRC_URI entry, a file name)
                raise
            raise self._python_error(varname, "${@" + code + "}", exc) from exc
        except SystemExit as exc:
            raise self._python_error(varname, "${@" + code + "}", exc, "called " + system_exit_message(exc)) from None
        except Exception as exc:
            raise self._python_error(varname, "${@" + code + "}", exc) from exc
        text = str(value)
        if len(text) > MAX_VALUE_SIZE:
            raise self._size_error(varname, refs, "${@" + code + "}")
        return text

    def expand(self, s: Any, varname: str | None = None) -> Any:
        return self.expandWithRefs(s, varname).value

    # -- writing -----------------------------------------------------------------------------------

    def setVar(self, var: str, value: Any, parsing: bool = False, op: str = "set", file: str | None = None,
               line: int = 0, detail: Any = None, **_ignored: Any) -> None:
        if not var.startswith("__anon_") and ("_append" in var or "_prepend" in var or "_remove" in var) \
                and _OLD_SYNTAX_RE.search(var):
            fixed = old_syntax_fix(var)
            raise ParseError(f"variable {var} uses the old override syntax",
                             Location(file, line) if file else self.current_location,
                             hint=f"write {fixed}")
        self._changed()
        match = _SETVAR_RE.match(var) if ":" in var else None
        if match is not None:
            base = match.group("base")
            keyword = match.group("keyword")
            override = match.group("add")
            entry = self._writable(base)
            entry[keyword] = tuple(entry.get(keyword, ())) + ((value, override),)
            self._mark_loc(entry, file, line)
            if self.history is not None:
                self._record(base, f"{keyword}[{override}]" if override else keyword,
                             value if detail is None else detail, file, line)
            if ":" in base:
                self._register_override(base)
            if base in self._overridevars:
                self._update_overridevars(value)
            return
        entry = self._writable(var)
        if not parsing:
            for keyword in _KEYWORDS:
                entry.pop(keyword, None)
            pairs = self._overridedata.get(var)
            if pairs is not None:
                self.need_overrides()
                for r, o in tuple(pairs):  # (delVar changes them)
                    if o in self._overridesset or (":" in o and set(o.split(":")).issubset(self._overridesset)):
                        self.delVar(r)
                self._overridedata.pop(var, None)
                entry = self._writable(var)
        if ":" in var:
            self._register_override(var)
        # a ?= that finds a value keeps it, and where it was set (the line an error about it names)
        kept = op == "set?" and "_content" in entry
        entry["_content"] = value
        if not kept:
            self._mark_loc(entry, file, line)
        if self.history is not None:
            self._record(var, op, value if detail is None else detail, file, line)
        if var in self._overridevars:
            self._update_overridevars(value)

    def setVarFlag(self, var: str, flag: str, value: Any, op: str = "set", file: str | None = None,
                   line: int = 0, detail: Any = None, **_ignored: Any) -> None:
        self._changed()
        if self.history is not None:
            self._record(var, op, value if detail is None else detail, file, line, flag)
        entry = self._writable(var)
        entry[flag] = value
        if flag == "func" or flag == "_defaultval_flag_func":
            self._funcnames.add(var)
        if flag[0] != "_":
            where = (file, line) if file else (
                (self.current_location.path, self.current_location.line) if self.current_location else None)
            if where is not None:
                entry["_flocs"] = {**entry.get("_flocs", {}), flag: where}
        if flag == "_defaultval":
            if "_content" not in entry:  # a weak default is not where a set value comes from
                self._mark_loc(entry, file, line)
            if ":" in var:
                self._register_override(var)
            if var in self._overridevars:
                self._update_overridevars(value)
        if flag in ("export", "unexport"):
            exports = self._writable("__exportlist")
            exports["_content"] = set(exports.get("_content", ())) | {var}

    def setVarFlags(self, var: str, flags: dict[str, Any], **loginfo: Any) -> None:
        for name, value in flags.items():
            if name != "_content":
                self.setVarFlag(var, name, value, **loginfo)

    def delVar(self, var: str, file: str | None = None, line: int = 0, **_ignored: Any) -> None:
        self._changed()
        if self.history is not None:
            self._record(var, "del", "", file, line)
        self._vars.pop(var, None)
        self._dollarkeys.discard(var)
        self._owned.discard(var)
        self._overridedata.pop(var, None)
        if ":" in var:
            self._unregister_override(var)
        if var in self._overridevars:
            self._overrides = None

    def delVarFlag(self, var: str, flag: str, file: str | None = None, line: int = 0, **_ignored: Any) -> None:
        self._changed()
        entry = self._vars.get(var)
        if not entry or flag not in entry:
            return
        if self.history is not None:
            self._record(var, "delFlag", "", file, line, flag)
        entry = self._writable(var)
        del entry[flag]
        entry.pop("_defaultval_flag_" + flag, None)

    def hasOverrides(self, var: str) -> bool:
        """Whether an override-conditional variant of ``var`` (``var:x``) has been set, active or not."""
        return var in self._overridedata

    def setVarFilter(self, var: str, expression: str | None) -> None:
        """Pass the expanded value of ``var`` (and of its overrides) through the ``bb.filter`` expression
        ``expression`` over ``val`` whenever it is read; None removes the filter."""
        self._changed()
        if expression:
            self._filters[var] = expression
        else:
            self._filters.pop(var, None)

    def delVarFlags(self, var: str, **_ignored: Any) -> None:
        self._changed()
        entry = self._vars.get(var)
        if entry is None:
            return
        if "_content" in entry:
            self._vars[var] = {"_content": entry["_content"]}
            self._owned.add(var)
        else:
            self.delVar(var)

    def appendVar(self, var: str, value: str, **loginfo: Any) -> None:
        self.setVar(var + ":append", value, parsing=True, **loginfo)

    def prependVar(self, var: str, value: str, **loginfo: Any) -> None:
        self.setVar(var + ":prepend", value, parsing=True, **loginfo)

    def appendVarFlag(self, var: str, flag: str, value: str, **loginfo: Any) -> None:
        self.setVarFlag(var, flag, (self.getVarFlag(var, flag, False) or "") + value, op="append", **loginfo)

    def prependVarFlag(self, var: str, flag: str, value: str, **loginfo: Any) -> None:
        self.setVarFlag(var, flag, value + (self.getVarFlag(var, flag, False) or ""), op="prepend", **loginfo)

    def renameVar(self, key: str, newkey: str, **loginfo: Any) -> None:
        entry = self._vars.get(key)
        if key == newkey or (entry is None and key not in self._overridedata):
            # (OE's class extension renames every package variable of every package, most of them unset)
            return
        found = False
        val = self._content(key, False, False, True, False)
        if val is not None:
            if self.history is not None:
                self.history.rename(key, newkey)
                self._record(newkey, f"rename from {key}", val, loginfo.get("file"), loginfo.get("line", 0))
            history, self.history = self.history, None
            try:
                self.setVar(newkey, val, parsing=True)
            finally:
                self.history = history
            found = True
        entry = self._vars.get(key) or {}
        for keyword in _KEYWORDS:
            if keyword in entry:
                dest = self._writable(newkey)
                dest[keyword] = tuple(dest.get(keyword, ())) + tuple(entry[keyword])
                found = True
        if entry.get("_loc") and newkey in self._vars:
            self._writable(newkey)["_loc"] = entry["_loc"]
        if key in self._overridedata:
            found = True
            pairs = self._overridedata[key]
            self._overridedata[newkey] = dict.fromkeys((v.replace(key, newkey), o) for v, o in pairs)
            self._pairsowned.add(newkey)
            for v, _o in tuple(pairs):
                self.renameVar(v, v.replace(key, newkey))
        if not found:
            return
        if ":" in newkey and val is None:
            self._register_override(newkey)
        history, self.history = self.history, None
        try:
            self.delVar(key)  # (which empties the expansion cache)
        finally:
            self.history = history

    # -- enumeration -------------------------------------------------------------------------------

    def localkeys(self) -> Iterator[str]:
        """Variables changed since this store was created, copied or last ``reset_local``."""
        return iter(self._owned)

    def reset_local(self) -> None:
        self._owned = set()

    def keys(self) -> Iterator[str]:
        return iter(self)

    def functions(self, prefix: str = "") -> set[str]:
        """The variables named ``prefix...`` whose [func] flag is set (the functions among ``keys()``),
        without going through every variable as ``keys()`` does."""
        found = set()
        for var in self._funcnames:
            if var.startswith(prefix):
                entry = self._vars.get(var)
                if entry and (entry.get("func") if "func" in entry else entry.get("_defaultval_flag_func")):
                    found.add(var)
        return found

    def keys_to_expand(self) -> list[str]:
        """The variables whose names hold ``${``, sorted (what ``bb.data.expandKeys`` may rename)."""
        return sorted(self._dollarkeys)

    def keys_with_flag(self, flag: str) -> list[str]:
        """The variables of ``keys()`` that have ``flag`` (or a weak default of it), in that order, without
        reading every variable's flag (OE's image recipes look for every [task] hundreds of times)."""
        weak = "_defaultval_flag_" + flag
        have = [k for k, entry in self._vars.items() if flag in entry or weak in entry]
        if not have:
            return []
        overridden = self._overridden()
        found = set(have)
        return [k for k in have if k not in overridden] + [k for k in overridden if k in found]

    def _overridden(self) -> set[str]:
        """The variables an active override-conditional variant replaces (keys() lists them last)."""
        self.need_overrides()
        active = self._overridesset
        overridden = set()
        for var, pairs in self._overridedata.items():
            for _r, o in pairs:
                if o in active or (":" in o and set(o.split(":")).issubset(active)):
                    overridden.add(var)
                    break
        return overridden

    def __iter__(self) -> Iterator[str]:
        overridden = self._overridden()
        names = [k for k, entry in self._vars.items() if entry and k not in overridden]
        yield from names
        yield from overridden

    def __contains__(self, var: object) -> bool:
        return isinstance(var, str) and bool(self._vars.get(var))

    def __getitem__(self, var: str) -> Any:
        value = self.getVar(var, False)
        if value is None:
            raise KeyError(var)
        return value

    def __setitem__(self, var: str, value: Any) -> None:
        self.setVar(var, value)

    def __len__(self) -> int:
        return sum(1 for _ in self)
