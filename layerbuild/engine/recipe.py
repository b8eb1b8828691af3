"""Parsing one recipe, and the summary of it that the parse cache keeps.

A recipe is parsed onto a copy of the configuration: the ``.bb`` file, then its ``.bbappend`` files
in layer order, then finalisation (deferred inherits, key expansion, anonymous Python), once for the
file's own recipe and once for each of its ``BBCLASSEXTEND`` variants (``variants.py``). ``RecipeInfo``
holds what choosing providers and building the task graph need without parsing again (the recipes the
graph then needs are parsed again for their task signatures, unless the parse cache has them).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from dataclasses import dataclass, field, fields
from typing import Any

from layerbuild.engine.bb.build import add_tasks
from layerbuild.engine.bb.parse import included_files
from layerbuild.engine.datastore import DataStore
from layerbuild.engine.datastore.pycode import compile_function
from layerbuild.engine.evaluate import Evaluator, export_problem
from layerbuild.engine.sstatemirror import MIRROR_VARS
from layerbuild.engine.variants import finalise_variants, split_virtual
from layerbuild.engine.varnames import Names
from layerbuild.util.errors import Location, ParseError, SkipRecipe
from layerbuild.util.relations import (
    OPERATORS,
    deb_provides,
    entry_problem,
    metadata_entries,
    package_name_problem,
    version_problem,
)
from layerbuild.util.values import Typed

logger = logging.getLogger("layerbuild.parse")

#: Task flags kept in the recipe summary (the task graph reads them).
TASK_FLAGS = ("deps", "depends", "mcdepends", "rdepends", "deptask", "rdeptask", "recrdeptask", "recideptask", "noexec", "nostamp", "_addtask_loc",
              "sstate-inputdirs", "sstate-outputdirs", "depends-hint")
#: Task flags kept as they were set (the others are kept expanded)
_RAW_TASK_FLAGS = ("deps", "_addtask_loc")
#: Task flags whose line is kept too: an error about one names the line that set it (the task graph's)
LOCATED_TASK_FLAGS = ("depends", "mcdepends")
#: Directories a build writes below: each must be absolute, non-empty and not ``/``, checked before a
#: task that writes below it runs (runqueue.check_task_paths, and the task's worker for its [dirs]).
DIRECTORY_VARS = ("TOPDIR", "TMPDIR", "DL_DIR", "SSTATE_DIR", "DEPLOY_DIR", "WORKDIR", "D", "IMAGE_ROOTFS")
#: The directory variables every task writes below (its stamp, its log).
EVERY_TASK_WRITES = ("TOPDIR", "TMPDIR", "WORKDIR")
#: Variables kept in the recipe summary for the scheduler (stamps, sstate names).
KEEP_VARS = ("STAMP", "SSTATETASKS", "PACKAGE_ARCH", "SSTATE_DIR", *MIRROR_VARS, "SSTATE_MANIFESTS",
             "BB_CURRENT_MC", "BUILD_SUMMARY", *(v for v in DIRECTORY_VARS if v != "SSTATE_DIR"))


@dataclass(frozen=True, slots=True)
class TaskInfo:
    name: str
    flags: tuple[tuple[str, Any], ...]

    def flag(self, name: str, default: Any = None) -> Any:
        for key, value in self.flags:
            if key == name:
                return value
        return default

    def __reduce__(self) -> tuple[Any, ...]:
        # the parse cache holds a dozen of these per recipe: a plain constructor call unpickles several
        # times faster than the generic state of a frozen slots dataclass
        return (TaskInfo, (self.name, self.flags))


@dataclass(frozen=True, slots=True)
class RecipeInfo:
    """What the rest of the build needs to know about a parsed recipe."""

    fn: str
    appends: tuple[str, ...]
    pn: str
    pv: str
    pe: str
    pr: str
    provides: tuple[str, ...]
    depends: tuple[str, ...]
    packages: tuple[str, ...]
    rdepends: tuple[tuple[str, tuple[str, ...]], ...]
    rrecommends: tuple[tuple[str, tuple[str, ...]], ...]
    rprovides: tuple[tuple[str, tuple[str, ...]], ...]
    tasks: tuple[TaskInfo, ...]
    skipped: str | None
    variables: tuple[tuple[str, str | None], ...] = field(default=())
    locations: tuple[tuple[str, str, int], ...] = field(default=())
    #: (word, variable, path, line): which variable named each word of the recipe's own RDEPENDS, and
    #: where it was set (an image's IMAGE_INSTALL, reached through PACKAGE_INSTALL)
    origins: tuple[tuple[str, str, str, int], ...] = field(default=())
    #: the warnings reading the recipe gave, kept so a parse from the cache shows them again
    warnings: tuple[str, ...] = field(default=())
    #: DEFAULT_PREFERENCE: between recipes of one name and layer priority, a higher one is chosen first
    preference: int = 0
    #: PACKAGES_DYNAMIC: regular expressions of the package names the recipe may make while it packages
    packages_dynamic: tuple[str, ...] = field(default=())

    def __reduce__(self) -> tuple[Any, ...]:
        return (RecipeInfo, tuple(getattr(self, name) for name in _RECIPE_FIELDS))

    @property
    def realfn(self) -> str:
        """The recipe file (``fn`` is the key: a variant's is ``virtual:VARIANT:FILE``)."""
        return split_virtual(self.fn)[0]

    @property
    def variant(self) -> str:
        """The ``BBCLASSEXTEND`` entry this recipe is the variant for; ``""`` for the file's own recipe."""
        return split_virtual(self.fn)[1]

    def origin(self, word: str) -> tuple[str, str, int] | None:
        for name, var, path, line in self.origins:
            if name == word:
                return var, path, line
        return None

    def var(self, name: str) -> str | None:
        for key, value in self.variables:
            if key == name:
                return value
        return None

    def location(self, name: str) -> tuple[str, int] | None:
        for key, path, line in self.locations:
            if key == name:
                return path, line
        return None



#: RecipeInfo's fields in constructor order (for pickling)
_RECIPE_FIELDS = tuple(f.name for f in fields(RecipeInfo))

def parse_variants(config: DataStore, evaluator: Evaluator, fn: str, appends: tuple[str, ...] = (),
                   layername: str = "", only: Collection[str] | None = None) -> dict[str, DataStore]:
    """Parse ``fn`` and its appends once onto a copy of ``config``; returns the finalised base recipe
    (key ``""``) and its ``BBCLASSEXTEND`` variants (``only``: just those, see
    :func:`variants.finalise_variants`).

    A recipe that raises ``SkipRecipe`` is returned with ``__SKIPPED`` set to the reason.
    """
    d = config.createCopy()
    # as BitBake's __base_depends: what the configuration read, before what the recipe reads
    d.setVar("__base_depends", included_files(config))
    d.file_depends = []
    d.setVar("FILE_LAYERNAME", layername)
    d.setVar("__BB_RECIPE_FILE", fn)
    if appends:
        d.setVar("__BBAPPEND", " ".join(appends))
    try:
        evaluator.eval_file(d, fn, include=False)
        for append in appends:
            evaluator.eval_file(d, append, include=True)
    except SkipRecipe as exc:
        # skipped while it was read (an immediate expansion): there is no BBCLASSEXTEND to read
        d.setVar("__SKIPPED", str(exc) or "skipped")
        return {"": d}
    return finalise_variants(evaluator, d, fn, only)


def parse_recipe(config: DataStore, evaluator: Evaluator, vfn: str, appends: tuple[str, ...] = (),
                 layername: str = "") -> DataStore:
    """The finalised datastore of one recipe: a file, or one variant of it by its virtual name
    (``virtual:native:/path/foo.bb``).

    It holds ``_task_deps`` (``bb.build.add_tasks``), as a recipe BitBake finalised does; the summary
    parse of every recipe (:func:`parse_variants`) leaves it out: nothing layerbuild reads needs it, and
    on a small recipe it costs several percent of the parse."""
    fn, variant = split_virtual(vfn)
    stores = parse_variants(config, evaluator, fn, appends, layername, only=(variant,))
    if variant not in stores:
        raise ParseError(f"{fn} has no variant '{variant}'", Location(fn),
                         hint=f"its BBCLASSEXTEND is '{stores[''].getVar('BBCLASSEXTEND') or ''}'")
    d = stores[variant]
    if not d.getVar("__SKIPPED", False):
        add_tasks(d.getVar("__BBTASKS", False) or [], d)
    return d


class WarningKeeper(logging.Handler):
    """Keeps the warnings parsing logs while a recipe is read (``with keeper as warnings:``) instead of
    printing them: they go into the recipe's summary, so a parse that comes from the cache shows them
    as a fresh one does. One keeper serves every recipe a process parses."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []
        # the parser's own warnings, and those of metadata Python (bb.warn in anonymous python)
        self._logs = (logging.getLogger("layerbuild.parse"), logging.getLogger("layerbuild.metadata"))
        self._propagate = [True, True]

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            self.messages.append(record.getMessage())
        else:
            logging.getLogger("layerbuild").handle(record)

    def __enter__(self) -> list[str]:
        self.messages = []
        self._propagate = [log.propagate for log in self._logs]
        for log in self._logs:
            log.addHandler(self)
            log.propagate = False
        return self.messages

    def __exit__(self, *_exc: object) -> None:
        for log, propagate in zip(self._logs, self._propagate, strict=True):
            log.removeHandler(self)
            log.propagate = propagate


def _split(value: str | None) -> tuple[str, ...]:
    return tuple((value or "").split())


def _split_deps(value: str | None) -> tuple[str, ...]:
    """Names from a dependency list, dropping version constraints such as ``(>= 1.0)``."""
    names = []
    depth = 0
    for word in (value or "").split():
        if word.startswith("("):
            depth += 1
        if depth == 0:
            names.append(word)
        if word.endswith(")") and depth:
            depth -= 1
    return tuple(names)


def _runtime(d: DataStore, var: str, packages: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    own = _split_deps(d.getVar(var))
    per_package = tuple((p, _split_deps(d.getVar(f"{var}:{p}"))) for p in packages)
    return ((("", own),) if own else ()) + per_package


def _origins(d: DataStore, var: str) -> tuple[tuple[str, str, str, int], ...]:
    """For each word of ``var``, the deepest variable in its expansion that names it, and where it was set."""
    words = _split_deps(d.getVar(var))
    if not words:
        return ()
    found: dict[str, tuple[str, str, str, int]] = {}
    seen = {var}
    level = [var]
    while level:
        nxt: list[str] = []
        for name in level:
            loc = d.location(name)
            value = set((d.getVar(name) or "").split())
            for word in words:
                if word in value and loc is not None:
                    found[word] = (word, name, loc.path, loc.line)
            raw = d.getVar(name, False)
            for ref in sorted(d.expandWithRefs(raw, None).refs if isinstance(raw, str) else ()):
                if ref not in seen:
                    seen.add(ref)
                    nxt.append(ref)
        level = nxt
    return tuple(found[w] for w in words if w in found)


#: the relationship fields written into a package's control file, and the operators each allows
RELATIONSHIP_FIELDS = {"RDEPENDS": OPERATORS, "RRECOMMENDS": OPERATORS, "RSUGGESTS": OPERATORS,
                       "RPROVIDES": ("=",), "RCONFLICTS": OPERATORS, "RREPLACES": OPERATORS}


def _where(d: DataStore, fn: str, *names: str) -> Location:
    for name in names:
        loc = d.location(name)
        if loc is not None:
            return loc
    return Location(fn)


def check_recipe(d: DataStore, fn: str, task_flags: dict[str, dict[str, Any]] | None = None) -> None:
    """Checks while the recipe is read, at the line that set the value: what only a ``.deb`` cannot carry,
    and a package listed twice (which ``do_package`` refuses), are warnings
    (:func:`check_packaging`). ``task_flags`` (each task's ``getVarFlags``), when the caller read them
    already, saves reading them again."""
    tasks = d.getVar("__BBTASKS", False) or []
    if task_flags is None:
        task_flags = {task: d.getVarFlags(task) or {} for task in tasks}
    known: Names | None = None
    for task in tasks:
        for dep in task_flags[task].get("deps") or []:
            if dep not in tasks:
                # BitBake leaves out an ordering on a task the recipe does not have (a class not inherited,
                # a task deleted); only one a letter away from a task of the recipe is likely a typo
                known = known or Names(frozenset(tasks))
                close = sorted(known.near(dep))
                if close:
                    logger.warning("%s: %s is to run after %s, which is not a task of this recipe (the ordering "
                                   "is left out); did you mean %s?", d.flag_location(task, "deps")
                                   or _where(d, fn, task), task, dep, " or ".join(close))
    check_python_functions(d, task_flags)
    packages = (d.getVar("PACKAGES") or "").split()
    unique = list(dict.fromkeys(packages))
    if len(unique) != len(packages):
        # BitBake parses it; OE's packaging refuses it (QA packages-list), and so does do_package
        twice = next(pkg for i, pkg in enumerate(packages) if pkg in packages[:i])
        logger.warning("%s: PACKAGES lists %s twice (do_package fails if it runs)", _where(d, fn, "PACKAGES"), twice)
    check_packaging(d, fn, unique)


def check_packaging(d: DataStore, fn: str, packages: list[str]) -> None:
    """What a ``.deb`` cannot carry, as warnings at the line that set it: package names, the packages'
    version and relationship fields. BitBake accepts all of it, and a package with no files is never
    written; do_package_write_deb refuses it in a package it writes."""
    def warn(loc: Location, what: str, problem: str, pkg: str) -> None:
        logger.warning("%s: %s: %s (do_package_write_deb fails if it writes package %s)", loc, what, problem, pkg)

    for pkg in packages:
        problem = package_name_problem(pkg)
        if problem:
            warn(_where(d, fn, "PACKAGES"), "PACKAGES", problem, pkg)
    version = f"{d.getVar('PKGV') or ''}-{d.getVar('PKGR') or ''}"
    version_bad = version_problem(version)
    if version_bad and packages:
        logger.warning("%s: the version of the packages: %s (do_package_write_deb fails if it writes any)",
                       version_location(d, fn), version_bad)
    for var, operators in RELATIONSHIP_FIELDS.items():
        for pkg in packages:
            name = f"{var}:{pkg}"
            value = d.getVar(name)
            if not value:
                continue
            for entry in metadata_entries(value):
                if var == "RPROVIDES" and not deb_provides(entry.name):
                    if not entry.name.startswith("/"):  # OE's package_deb leaves file names out too, silently
                        logger.warning("%s: %s: '%s' is not a name dpkg allows (lower-case letters, digits and "
                                       "'+', '-', '.'): it is left out of the package's Provides",
                                       _where(d, fn, name, var), name, entry.name)
                    continue
                problem = entry_problem(entry, operators)
                if problem and not (version_bad and entry.constraint and version in entry.constraint.split()):
                    warn(_where(d, fn, name, var), name, problem, pkg)


def version_location(d: DataStore, fn: str) -> Location:
    """Where the packages' version comes from: PKGV or PV where a recipe set it, else the recipe (PV
    from its file name)."""
    for var in ("PKGV", "PV"):
        loc = d.location(var)
        if loc is not None and not loc.path.endswith((".conf", ".bbclass")):
            return loc
    return Location(fn)


def check_python_functions(d: DataStore, task_flags: dict[str, dict[str, Any]] | None = None) -> None:
    """A syntax error in a ``python do_x() {...}`` body is found when the recipe is read, as one in a
    ``def`` is (BitBake finds it when its code parser reads the body for the task signature).
    ``task_flags``: each task's flags, as :func:`check_recipe` has them."""
    # task functions (do_*) and what tasks run before and after them: the functions a build executes
    # (looking at the flags of every variable of every recipe would cost more than the parse itself)
    tasks = d.getVar("__BBTASKS", False) or []
    if task_flags is None:
        task_flags = {task: d.getVarFlags(task) or {} for task in tasks}
    functions = d.functions("do_")
    names = set(tasks) | functions
    for task in tasks:
        for around in ("prefuncs", "postfuncs"):
            names.update((task_flags[task].get(around) or "").split())
        if task not in functions:
            # (an EXPORT_FUNCTIONS stub whose class function is missing has no [func] flag either)
            problem = export_problem(d, task)
            if problem is not None:
                logger.warning("%s: %s: %s fails if it runs", problem.location, problem.message, task)

    def flag(var: str, name: str) -> Any:
        return task_flags[var].get(name) if var in task_flags else d.getVarFlag(var, name, False)

    for var in sorted(names):
        if not flag(var, "python") or not flag(var, "func"):
            continue
        body = d.getVar(var, False)
        filename = flag(var, "filename")
        if not isinstance(body, str) or not filename or filename == "autogenerated" or body.startswith("def "):
            continue
        lineno = int(flag(var, "lineno") or 1)
        try:
            # under a plain identifier: the name may be do_install:append or hold ${...}
            compile_function(re.sub(r"\W", "_", var), body, filename, lineno)
        except SyntaxError as exc:
            raise ParseError(f"Python syntax error in {var}: {exc.msg}", Location(filename, exc.lineno or lineno)) \
                from None


def name_problem(value: str) -> str | None:
    """Why ``value`` cannot be a PN, PV or PR (BitBake's rules: one path component, not ``.`` or ``..``)."""
    if not value:
        return "is empty"
    if "/" in value:
        return f"is '{value}', which contains '/'"
    if value in (".", ".."):
        return f"is '{value}'"
    return None


def check_names(d: DataStore, fn: str) -> None:
    """PN, PV and PR become directory names (WORKDIR, stamps, sstate objects): each is one path component."""
    for var in ("PN", "PV", "PR"):
        problem = name_problem(d.getVar(var) or "")
        if problem:
            raise ParseError(f"{var} {problem}: a recipe's name, version and revision become directory names",
                             _where(d, fn, var), hint=f"{var} may not contain '/' nor be '.' or '..'")


def recipe_info(d: DataStore, fn: str, appends: tuple[str, ...], keep: tuple[str, ...] = KEEP_VARS) -> RecipeInfo:
    """Summarise a parsed recipe for the parse cache (after :func:`check_recipe` accepted it); ``fn`` is
    its key: the file, or a variant's virtual name."""
    realfn = split_virtual(fn)[0]
    skipped = d.getVar("__SKIPPED", False)
    # one read of each task's flags (most tasks set few of TASK_FLAGS), for the checks and the summary
    task_flags = {task: d.getVarFlags(task) or {} for task in d.getVar("__BBTASKS", False) or []} \
        if not skipped else {}
    # the overrides first, if nothing computed them yet: that starts the expansion cache afresh, and
    # later the values the checks expand would be expanded again for the summary
    d.need_overrides()
    if not skipped:
        check_names(d, realfn)
        check_recipe(d, realfn, task_flags)
    pn = d.getVar("PN") or ""
    provides = [pn] + [p for p in _split(d.getVar("PROVIDES")) if p != pn]
    # as BitBake's recipe cache: a recipe without PACKAGES (an image) is one package named after it
    packages = (_split(d.getVar("PACKAGES")) or (pn,)) if not skipped else ()
    tasks = []
    if not skipped:
        for task, present in task_flags.items():
            flags = []
            # then an expansion of each kept one
            present["_addtask_loc"] = d.getVarFlag(task, "_addtask_loc", False)
            for name in TASK_FLAGS:
                value = present.get(name)
                if value is None or value == "":
                    continue
                if name not in _RAW_TASK_FLAGS:
                    value = d.getVarFlag(task, name)
                    if value is None or value == "":
                        continue
                flags.append((name, tuple(value) if isinstance(value, list) else value))
            flag_locs = tuple((name, loc.path, loc.line) for name in LOCATED_TASK_FLAGS
                              if name in present and (loc := d.flag_location(task, name)) is not None)
            if flag_locs:
                # where the flag was set, so an error about it names that line (a recipe's, not a class's)
                flags.append(("_flag_locs", flag_locs))
            raw = present.get("depends")
            if raw and "${" in str(raw):
                # the variables a [depends] entry came from, so an error can point at where they were set
                flags.append(("_depends_refs", tuple(sorted(d.expandWithRefs(str(raw), None).refs))))
            tasks.append(TaskInfo(task, tuple(flags)))
    locations = []
    refs = {ref for task in tasks for ref in task.flag("_depends_refs", ()) or ()}
    per_package = [f"{var}:{pkg}" for var in ("RDEPENDS", "RRECOMMENDS") for pkg in packages]
    for var in ("DEPENDS", "RDEPENDS", "PROVIDES", "PN", "PV", "PR", "BBCLASSEXTEND", *DIRECTORY_VARS, *MIRROR_VARS,
                *per_package,
                *sorted(refs)):
        loc = d.location(var)
        if loc is not None:
            locations.append((var, loc.path, loc.line))
    return RecipeInfo(
        fn=fn, appends=appends, pn=pn, pv=d.getVar("PV") or "", pe=d.getVar("PE") or "",
        pr=d.getVar("PR") or "", provides=tuple(provides), depends=_split_deps(d.getVar("DEPENDS")),
        packages=packages,
        # as in BitBake, the recipe's own RDEPENDS/RRECOMMENDS (an image's packages) count as package ""
        rdepends=_runtime(d, "RDEPENDS", packages),
        rrecommends=_runtime(d, "RRECOMMENDS", packages),
        rprovides=_runtime(d, "RPROVIDES", packages),
        tasks=tuple(tasks),
        skipped=str(skipped) if skipped else None,
        variables=tuple((name, d.getVar(name)) for name in keep),
        locations=tuple(locations),
        origins=_origins(d, "RDEPENDS") if not skipped else (),
        preference=Typed(d).int("DEFAULT_PREFERENCE", 0),
        packages_dynamic=_split(d.getVar("PACKAGES_DYNAMIC")) if not skipped else (),
    )
