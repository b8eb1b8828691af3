"""The resolver: which packages an install request needs, and in which order to install them.

A :class:`Request` lists the wanted package names, each with the variable and place it was asked for,
plus excluded names (``PACKAGE_EXCLUDE``), whether to follow Recommends (``NO_RECOMMENDATIONS``), the
recommendations to ignore (``BAD_RECOMMENDATIONS``) and the installed packages that may be upgraded.
:func:`resolve` follows Depends/Pre-Depends (alternatives ``a | b``, version constraints, versioned and
virtual Provides), Recommends (a recommendation that cannot be met is skipped, as apt does) and
Conflicts/Breaks over the feed and the packages already installed in the root.

Packages the root already holds satisfy dependencies and are not installed again; one the request
needs that the root holds at another version than the feed's best is an error naming both versions,
unless it is in ``allow_upgrade``. A missing, excluded or conflicting package is one
:class:`~layerbuild.util.errors.BuildError` at the request's location that names the chain which asked for
it (``greet (IMAGE_INSTALL) -> libgreet -> libc6 (>= 2.36): nothing provides libc6``) and, as its
hint, the closest names the feed has. The install order is deterministic: dependencies first, then by
name.
"""

from __future__ import annotations

import difflib
import heapq
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from layerbuild.rootfs.control import Dependency, PackageInfo, Relation, format_dependency
from layerbuild.rootfs.dpkgdb import InstalledPackage
from layerbuild.rootfs.feed import Feed, FeedPackage
from layerbuild.util.errors import BuildError, Location


@dataclass(frozen=True)
class Wanted:
    """One requested package: the name, the variable that asked for it and where that was set."""

    name: str
    variable: str = "IMAGE_INSTALL"
    location: Location | None = None


@dataclass(frozen=True)
class Request:
    """What to install and the policy for it."""

    wanted: tuple[Wanted, ...]
    exclude: frozenset[str] = frozenset()
    no_recommendations: bool = False
    bad_recommendations: frozenset[str] = frozenset()
    allow_upgrade: frozenset[str] = frozenset()
    #: variable names used in messages
    exclude_variable: str = "PACKAGE_EXCLUDE"
    upgrade_variable: str = "SYSEXT_ALLOW_UPGRADE"

    @classmethod
    def of(cls, names: Sequence[str], variable: str = "IMAGE_INSTALL", location: Location | None = None, *,
           exclude: Iterable[str] = (), no_recommendations: bool = False, bad_recommendations: Iterable[str] = (),
           allow_upgrade: Iterable[str] = ()) -> Request:
        """A request for ``names``, all asked for by one variable at one place."""
        return cls(tuple(Wanted(n, variable, location) for n in names), frozenset(exclude), no_recommendations,
                   frozenset(bad_recommendations), frozenset(allow_upgrade))


@dataclass(frozen=True)
class Step:
    """A package to install: the feed package and, for an upgrade, the installed record it replaces."""

    package: FeedPackage
    replaces_installed: InstalledPackage | None = None
    chain: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.package.name


@dataclass(frozen=True)
class Resolution:
    """The outcome: packages to install in order, installed ones that are used, skipped recommendations."""

    steps: tuple[Step, ...]
    kept: tuple[str, ...]
    skipped_recommends: tuple[str, ...] = field(default=())


class _Failure(Exception):
    def __init__(self, chain: tuple[str, ...], problem: str, hint: str | None = None) -> None:
        super().__init__(problem)
        self.chain = chain
        self.problem = problem
        self.hint = hint

    def text(self) -> str:
        return f"{' -> '.join(self.chain)}: {self.problem}"


class _State:
    """The mutable selection; copied for trial choices (alternatives, recommendations)."""

    def __init__(self) -> None:
        self.selected: dict[str, Step] = {}
        self.kept: dict[str, None] = {}
        self.skipped: dict[str, None] = {}
        #: name -> selected packages that are or provide it
        self.provided: dict[str, tuple[PackageInfo, ...]] = {}
        #: name -> selected packages that conflict with (or break) something of that name
        self.conflicting: dict[str, tuple[PackageInfo, ...]] = {}

    def copy(self) -> _State:
        other = _State()
        other.selected = dict(self.selected)
        other.kept = dict(self.kept)
        other.skipped = dict(self.skipped)
        other.provided = dict(self.provided)
        other.conflicting = dict(self.conflicting)
        return other

    def select(self, step: Step) -> None:
        info = step.package.info
        self.selected[info.name] = step
        for name in dict.fromkeys(info.names()):
            self.provided[name] = self.provided.get(name, ()) + (info,)
        for rel in info.conflicts:
            self.conflicting[rel.name] = self.conflicting.get(rel.name, ()) + (info,)


class Resolver:
    """Resolves requests over one feed and the packages installed in one root."""

    def __init__(self, feed: Feed, installed: Mapping[str, InstalledPackage]) -> None:
        self.feed = feed
        self.installed = dict(installed)
        self._installed_providers: dict[str, list[InstalledPackage]] = {}
        self._installed_conflicting: dict[str, list[InstalledPackage]] = {}
        for rec in sorted(self.installed.values(), key=lambda r: r.name):
            for name in dict.fromkeys(rec.info.names()):
                self._installed_providers.setdefault(name, []).append(rec)
            for rel in rec.info.conflicts:
                self._installed_conflicting.setdefault(rel.name, []).append(rec)

    def resolve(self, request: Request) -> Resolution:
        self.request = request
        state = _State()
        limit = sys.getrecursionlimit()
        # One dependency level takes two frames; a long chain must not hit Python's default limit.
        sys.setrecursionlimit(max(limit, 4 * (len(self.feed) + len(self.installed)) + 1000))
        try:
            for wanted in request.wanted:
                label = f"{wanted.name} ({wanted.variable})"
                try:
                    state = self._need(state, (Relation(wanted.name),), (label,), top=True)
                except _Failure as failure:
                    raise BuildError(failure.text(), wanted.location, hint=failure.hint) from None
        finally:
            sys.setrecursionlimit(limit)
        steps = self._order(state.selected)
        return Resolution(steps, tuple(sorted(state.kept)), tuple(state.skipped))

    # -- choosing -----------------------------------------------------------------------------------

    def _holder(self, state: _State, rel: Relation) -> PackageInfo | InstalledPackage | None:
        for info in state.provided.get(rel.name, ()):
            if info.satisfies(rel):
                return info
        for rec in self._installed_providers.get(rel.name, ()):
            if rec.name not in state.selected and rec.info.satisfies(rel):
                return rec
        return None

    def _need(self, state: _State, dep: Dependency, chain: tuple[str, ...], top: bool = False) -> _State:
        """Make ``dep`` hold; returns the new state or raises :class:`_Failure`."""
        for rel in dep:
            holder = self._holder(state, rel)
            if isinstance(holder, PackageInfo):
                return state
            if holder is not None:
                return self._use_installed(state, holder, rel, chain, top)
        # An installed package of that name at another version is an error (or an allowed upgrade).
        for rel in dep:
            rec = self.installed.get(rel.name)
            if rec is not None and rec.name not in state.selected:
                return self._use_installed(state, rec, rel, chain, top)
        failures: list[_Failure] = []
        for rel in dep:
            here = chain if top else chain + (format_dependency(dep) if len(dep) == 1 else str(rel),)
            options = self._options(rel)
            if not options:
                failures.append(self._missing(rel, here))
                continue
            for pkg in options:
                link = here if pkg.name == rel.name else here + (pkg.name,)
                try:
                    return self._add(state.copy(), Step(pkg, chain=link), link)
                except _Failure as failure:
                    failures.append(failure)
        raise failures[0]

    def _use_installed(self, state: _State, rec: InstalledPackage, rel: Relation, chain: tuple[str, ...],
                       top: bool) -> _State:
        best = self.feed.best(rec.name)
        here = chain if top else chain + (str(rel),)
        if best is None or best.info.version == rec.version:
            if not rec.info.satisfies(rel):
                raise _Failure(here, f"{rec.name} is installed at {rec.version}, which does not satisfy "
                                     f"{rel}, and the feed has no other version")
            if rec.name not in state.kept:
                state = state.copy()
                state.kept[rec.name] = None
            return state
        if rec.name not in self.request.allow_upgrade:
            raise _Failure(here, f"{rec.name} is installed at {rec.version} but the feed has {best.info.version}",
                           hint=f"add {rec.name} to {self.request.upgrade_variable} to upgrade it")
        if not best.info.satisfies(rel):
            raise _Failure(here, f"nothing provides {rel} (installed: {rec}, feed: {best.info})")
        return self._add(state.copy(), Step(best, replaces_installed=rec, chain=here), here)

    def _options(self, rel: Relation) -> list[FeedPackage]:
        """Feed packages that meet ``rel``: the package of that name first, then providers by name."""
        out = []
        best = self.feed.best(rel.name)
        if best is not None and best.info.satisfies(rel):
            out.append(best)
        out.extend(p for p in self.feed.providers(rel.name) if p.info.satisfies(rel) and p is not best)
        return out

    def _missing(self, rel: Relation, chain: tuple[str, ...]) -> _Failure:
        best = self.feed.best(rel.name)
        near = [p for p in self.feed.providers(rel.name)]
        if best is not None or near:
            have = ", ".join(str(p.info) for p in ([best] if best else []) + near)
            return _Failure(chain, f"nothing provides {rel} (available: {have})")
        close = difflib.get_close_matches(rel.name, self.feed.names() + sorted(self.installed), n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}?" if close else None
        return _Failure(chain, f"nothing provides {rel.name}", hint)

    def _add(self, state: _State, step: Step, chain: tuple[str, ...]) -> _State:
        info = step.package.info
        if info.name in self.request.exclude:
            raise _Failure(chain, f"{info.name} is excluded by {self.request.exclude_variable}")
        if info.name in state.selected:
            return state
        self._check_conflicts(state, info, chain)
        state.select(step)
        for dep in info.depends:
            state = self._need(state, dep, chain)
        if not self.request.no_recommendations:
            for dep in info.recommends:
                wanted = tuple(r for r in dep if r.name not in self.request.bad_recommendations)
                if not wanted:
                    continue
                try:
                    state = self._need(state, wanted, chain)
                except _Failure:
                    state.skipped[f"{info.name} -> {format_dependency(wanted)}"] = None
        return state

    def _candidates_for_conflict(self, state: _State, info: PackageInfo) -> list[PackageInfo]:
        """Active packages (installed and not upgraded, or selected) that may clash with ``info``."""
        out: dict[str, PackageInfo] = {}
        for rel in info.conflicts:
            for other in state.provided.get(rel.name, ()):
                out.setdefault(other.name, other)
            for rec in self._installed_providers.get(rel.name, ()):
                if rec.name not in state.selected:
                    out.setdefault(rec.name, rec.info)
        for name in info.names():
            for other in state.conflicting.get(name, ()):
                out.setdefault(other.name, other)
            for rec in self._installed_conflicting.get(name, ()):
                if rec.name not in state.selected:
                    out.setdefault(rec.name, rec.info)
        return [out[name] for name in sorted(out)]

    def _check_conflicts(self, state: _State, info: PackageInfo, chain: tuple[str, ...]) -> None:
        for other in self._candidates_for_conflict(state, info):
            if other.name == info.name:
                continue
            clash = next((r for r in info.conflicts if other.satisfies(r)), None)
            if clash is None:
                clash = next((r for r in other.conflicts if info.satisfies(r)), None)
            if clash is None:
                continue
            if other.name in state.selected:
                origin = " -> ".join(state.selected[other.name].chain)
                where = f"wanted by {origin}" if origin else "selected"
            else:
                where = "installed"
            raise _Failure(chain, f"{info} conflicts with {other} ({where})")

    # -- ordering -----------------------------------------------------------------------------------

    def _order(self, selected: Mapping[str, Step]) -> tuple[Step, ...]:
        """Dependencies first, then by name; a cycle is broken at its smallest name."""
        needs: dict[str, set[str]] = {name: set() for name in selected}
        provided: dict[str, list[PackageInfo]] = {}
        for name in sorted(selected):
            info = selected[name].package.info
            for pname in dict.fromkeys(info.names()):
                provided.setdefault(pname, []).append(info)
        for name, step in selected.items():
            for dep in step.package.info.depends:
                for rel in dep:
                    target = next((i.name for i in provided.get(rel.name, ()) if i.satisfies(rel)), None)
                    if target is not None:
                        if target != name:
                            needs[name].add(target)
                        break
        users: dict[str, set[str]] = {name: set() for name in selected}
        for name, deps in needs.items():
            for target in deps:
                users[target].add(name)
        waiting = {name: len(deps) for name, deps in needs.items()}
        ready = [name for name, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order: list[str] = []
        done: set[str] = set()
        while len(order) < len(selected):
            if not ready:
                name = min(n for n in selected if n not in done)
                waiting[name] = 0
            else:
                name = heapq.heappop(ready)
                if name in done:
                    continue
            done.add(name)
            order.append(name)
            for user in sorted(users[name]):
                if user in done:
                    continue
                waiting[user] -= 1
                if waiting[user] == 0:
                    heapq.heappush(ready, user)
        return tuple(selected[name] for name in order)


def resolve(feed: Feed, installed: Mapping[str, InstalledPackage], request: Request) -> Resolution:
    """Resolve ``request`` over ``feed`` against the packages ``installed`` in the root."""
    return Resolver(feed, installed).resolve(request)
