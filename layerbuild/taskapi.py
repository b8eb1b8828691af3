"""The task context: all the artifact side (fetch, packaging, rootfs, images) sees of a running task.

A builtin task is a plain function ``func(ctx: TaskContext) -> None``. The context holds the task's
paths, a read-only, expanding view of the recipe's variables, ``run()`` bound to the task log, and
``note``/``warn``/``fatal``. Classes name builtins through one table (``layerbuild.builtins.BUILTINS``)
and call them from an ordinary python task, so a recipe can still override or append to any task::

    python do_package() {
        run_builtin("package", d)
    }

The engine never imports the artifact side: the application (``session``) hands the table to the
configuration as :class:`Hooks`, and metadata Python reaches it through ``run_builtin`` and
``bb.fetch2``.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import IO, TYPE_CHECKING, Any

from layerbuild.util.errors import BuildError, LayerbuildError, Location, check_expanded
from layerbuild.util.proc import Input, run
from layerbuild.util.values import TypedReads

logger = logging.getLogger("layerbuild.task")
#: the task worker sends what reaches this logger to the build, which prints it in its summary
results = logging.getLogger("layerbuild.task.result")

#: The prefix every task name carries; the one place that knows it.
TASK_PREFIX = "do_"


def task_name(name: str) -> str:
    """``fetch`` or ``do_fetch`` -> ``do_fetch``."""
    return name if name.startswith(TASK_PREFIX) else TASK_PREFIX + name


def short_task_name(name: str) -> str:
    """``do_fetch`` -> ``fetch`` (BitBake's BB_CURRENT_TASK)."""
    return name[len(TASK_PREFIX):] if name.startswith(TASK_PREFIX) else name


if TYPE_CHECKING:  # a Protocol class costs a parse its creation; only type checkers need it
    from typing import Protocol

    class VarSource(Protocol):
        """What a variable view needs of a datastore."""

        def getVar(self, var: str, expand: bool = True) -> Any: ...  # noqa: N802 - BitBake's names

        def getVarFlag(self, var: str, flag: str, expand: bool = True) -> Any: ...  # noqa: N802

        def getVarFlags(self, var: str) -> dict[str, Any] | None: ...  # noqa: N802

        def location(self, var: str) -> Location | None: ...


class VarView(TypedReads):
    """A read-only view of a recipe's variables, with BitBake's reading method names and the typed reads
    of the variable table (``int``, ``bool``, ``list``, ``path``, ``epoch``...).

    Values are expanded. With ``record`` set, every variable read is added to it (a test uses this to
    check that each builtin declares what it reads).
    """

    __slots__ = ("_d", "_record")

    def __init__(self, d: VarSource, record: set[str] | None = None) -> None:
        self._d = d
        self._record = record

    def getVar(self, var: str, expand: bool = True) -> str | None:  # noqa: N802
        if self._record is not None:
            self._record.add(var)
        value = self._d.getVar(var, expand)
        return None if value is None else str(value)

    def getVarFlag(self, var: str, flag: str, expand: bool = True) -> str | None:  # noqa: N802
        if self._record is not None:
            self._record.add(f"{var}[{flag}]")
        value = self._d.getVarFlag(var, flag, expand)
        return None if value is None else str(value)

    def getVarFlags(self, var: str) -> dict[str, Any]:  # noqa: N802
        if self._record is not None:
            self._record.add(f"{var}[]")
        return dict(self._d.getVarFlags(var) or {})

    def get(self, var: str, default: str = "") -> str:
        """The expanded value of ``var``, or ``default`` when it is unset or empty."""
        value = self.getVar(var)
        return value if value else default

    def flag(self, var: str, flag: str, default: str = "") -> str:
        value = self.getVarFlag(var, flag)
        return value if value else default

    def location(self, var: str) -> Location | None:
        """Where ``var`` was last set, when the datastore knows."""
        return self._d.location(var)

    def _fallback(self, var: str) -> Location | None:
        recipe = self._d.getVar("FILE")  # not a read of the task: only where its errors point
        return Location(str(recipe)) if recipe else None

    def expand(self, text: str) -> str:
        expander = getattr(self._d, "expand", None)
        if expander is None:
            raise TypeError("this variable source cannot expand text")
        return str(expander(text))


@dataclass(frozen=True)
class TaskContext:
    """One running task, as the artifact side sees it."""

    pn: str
    task: str
    #: the recipe file (its errors name it)
    file: str
    #: the task's log file; ``run`` appends to it
    log: Path
    vars: VarView
    workdir: str
    s: str
    b: str
    #: ${D}, where do_install puts files
    destdir: str
    t: str
    pkgd: str
    pkgdest: str
    recipe_sysroot: str
    sysroot_destdir: str
    tmpdir: str
    deploy_dir: str
    deploy_dir_deb: str
    deploy_dir_image: str
    pkgdata_dir: str

    @property
    def location(self) -> Location:
        """The recipe, at the line that defines this task's function when known."""
        return self.where(self.task)

    def where(self, var: str) -> Location:
        """Where ``var`` was set, else the recipe file."""
        return self.vars.location(var) or Location(self.file)

    def recipe_where(self, var: str) -> Location:
        """Where the recipe (its appends, its includes, or the configuration) set ``var``; the recipe file
        when the value is a class's default: a user fixes a recipe's problem in the recipe, not in a class."""
        location = self.vars.location(var)
        if location is None or location.path.endswith(".bbclass"):
            return Location(self.file)
        return location

    def expanded(self, var: str, value: str, what: str) -> str:
        """``value``, read from ``var`` for ``what`` in a generated file (``the os-release field ID``); an
        error where ``var`` was set when it still holds a ``${`` (see :func:`errors.check_expanded`)."""
        check_expanded(value, what, var, self.where(var))
        return value

    def run(self, argv: list[str], *, cwd: str | os.PathLike[str] | None = None,
            env: Mapping[str, str] | None = None, input: Input | None = None, capture: bool = False,
            merged: bool = False, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        """Run ``argv`` with its output in the task log (``capture`` returns stdout instead;
        ``merged`` returns stdout and stderr together). A failure names the command and the log."""
        stdout: int | IO[bytes] | None = subprocess.PIPE if capture or merged else None
        return run(argv, cwd=cwd, env=env, input=input, stdout=stdout, log=self.log, check=check,
                   merged=merged)

    def note(self, message: str) -> None:
        logger.info("%s", message)

    def warn(self, message: str) -> None:
        logger.warning("%s", message)

    def result(self, message: str) -> None:
        """A line for the summary after the build (a test run's counts), besides the task log."""
        results.info("%s", message)

    def fatal(self, message: str, *, var: str | None = None, hint: str | None = None) -> BuildError:
        """An error naming where ``var`` was set (or the recipe); raise what it returns."""
        return BuildError(message, self.where(var) if var else Location(self.file), hint=hint)


def context_from(d: Any, task: str | None = None, record: set[str] | None = None) -> TaskContext:
    """The context of the task ``d`` is running (``BB_CURRENT_TASK``)."""
    task = task_name(task or d.getVar("BB_CURRENT_TASK") or "")
    view = VarView(d, record)
    get = d.getVar

    def path(var: str) -> str:
        return str(get(var) or "")

    t = path("T")
    return TaskContext(
        pn=path("PN"), task=task, file=path("FILE"), log=Path(t or ".") / f"log.{task}", vars=view,
        workdir=path("WORKDIR"), s=path("S"), b=path("B"), destdir=path("D"), t=t, pkgd=path("PKGD"),
        pkgdest=path("PKGDEST"), recipe_sysroot=path("RECIPE_SYSROOT"), sysroot_destdir=path("SYSROOT_DESTDIR"),
        tmpdir=path("TMPDIR"), deploy_dir=path("DEPLOY_DIR"), deploy_dir_deb=path("DEPLOY_DIR_DEB"),
        deploy_dir_image=path("DEPLOY_DIR_IMAGE"), pkgdata_dir=path("PKGDATA_DIR"))


_WORDS_OF = re.compile(r"\{([A-Z][A-Z0-9_]*)\}")


@dataclass(frozen=True)
class Builtin:
    """A builtin task function and the variables it reads.

    ``reads`` are the variables whose rows in the variable table (layerbuild/util/variables.py) name the
    builtin in their ``tasks``. They become dependencies of the signature of every task that runs the
    builtin, so changing one rebuilds the task (and a shared state object built with another value is
    never restored). A name may hold ``{pkg}``, which stands for each word of ``PACKAGES``
    (``FILES:{pkg}``), as OE's PACKAGEVARS do, or ``{VAR}`` for each word of another variable
    (``OS_RELEASE_{OS_RELEASE_FIELDS}``). ``unhashed`` are the reads that deliberately do not change
    the output (where a download comes from, a task's own flags ``{task}[flag]``), each with the reason
    in the builtin table. A test runs every builtin with a recording view and fails on any read that is
    in neither.
    """

    name: str
    func: Callable[[TaskContext], None]
    reads: tuple[str, ...] = ()
    unhashed: tuple[str, ...] = ()
    doc: str = ""

    def vardeps(self, packages: list[str], words: Callable[[str], list[str]] | None = None) -> list[str]:
        """``reads`` with ``{pkg}`` expanded over ``packages`` and ``{VAR}`` over ``words(VAR)``."""
        out: list[str] = []
        for name in self.reads:
            if "{pkg}" in name:
                out.extend(name.replace("{pkg}", pkg) for pkg in packages)
                continue
            match = _WORDS_OF.search(name)
            if match is None:
                out.append(name)
            elif words is not None:
                out.extend(name.replace(match.group(0), word) for word in words(match.group(1)))
        return out


@dataclass(frozen=True)
class Hooks:
    """What the application gives the engine to reach the artifact side: the builtin table and the
    lazily imported modules metadata Python names (``bb.fetch2``)."""

    builtins: Mapping[str, Builtin] = field(default_factory=lambda: MappingProxyType({}))
    modules: Mapping[str, Callable[[], ModuleType]] = field(default_factory=lambda: MappingProxyType({}))


#: no artifact side at all (engine tests, ``-e`` of the configuration)
NO_HOOKS = Hooks()


def builtin_vardeps(hooks: Hooks, name: str, d: Any) -> list[str]:
    """The variables the builtin ``name`` reads, for the signature of a task that runs it."""
    builtin = hooks.builtins.get(name)
    if builtin is None:
        return []  # running it says which builtins exist
    return builtin.vardeps((d.getVar("PACKAGES") or "").split(), lambda var: (d.getVar(var) or "").split())


def run_builtin(hooks: Hooks, name: str, d: Any) -> None:
    """Run the builtin ``name`` for the task ``d`` is running."""
    builtin = hooks.builtins.get(name)
    if builtin is None:
        known = ", ".join(sorted(hooks.builtins)) or "none"
        raise LayerbuildError(f"no builtin task function '{name}' (known: {known})",
                              Location(str(d.getVar("FILE") or "")))
    builtin.func(context_from(d))
