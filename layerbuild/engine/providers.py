"""Choosing recipes: which file provides each name, by layer priority, PREFERRED_VERSION and version.

As in BitBake, a ``PREFERRED_VERSION_<pn>`` that matches wins (``%`` matches any suffix); otherwise the
highest layer priority wins, then the highest ``DEFAULT_PREFERENCE``, then the highest version. A
``BBCLASSEXTEND`` variant is a recipe like any other, under the name its class gives it (``zlib-native``). ``PREFERRED_PROVIDER_<name>`` chooses between
recipes that provide the same name.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from layerbuild.engine.recipe import RecipeInfo
from layerbuild.util.errors import Location, TargetError
from layerbuild.util.version import vercmp

logger = logging.getLogger("layerbuild.providers")


@dataclass(frozen=True)
class Recipes:
    """Every parsed recipe and the choices made between them."""

    infos: dict[str, RecipeInfo]
    chosen: dict[str, str]
    providers: dict[str, tuple[str, ...]]
    preferred_providers: dict[str, str]
    #: where each PREFERRED_PROVIDER_<name> was set
    preferred_locations: dict[str, Location | None] = field(default_factory=dict)
    #: the layer priority of a recipe file, and the configuration's variables (PREFERRED_*, ASSUME_PROVIDED)
    priority: Callable[[str], int] = field(default=lambda _fn: 0, compare=False)
    getvar: Callable[[str], str | None] = field(default=lambda _name: None, compare=False)

    def names(self) -> list[str]:
        return sorted(set(self.chosen) | set(self.providers))

    def skipped_provider(self, name: str) -> RecipeInfo | None:
        """A skipped recipe that provides ``name`` (``SkipRecipe`` in its metadata), if there is one."""
        for info in self.infos.values():
            if info.skipped and name in info.provides:
                return info
        return None

    def resolve(self, name: str, asked_by: Location | None = None, what: str = "target") -> str:
        """The chosen recipe file for a PN or provided name; a clear error with close names if none."""
        if name in self.chosen:
            return self.chosen[name]
        pns = self.providers.get(name)
        if pns:
            pn = self.preferred_providers.get(name)
            if pn is not None and pn not in pns:
                # choosing another provider silently would build something the configuration did not ask for
                what = "is not a recipe" if pn not in self.chosen else "does not provide it"
                raise TargetError(f"PREFERRED_PROVIDER_{name} = \"{pn}\", but {pn} {what}",
                                  self.preferred_locations.get(name) or asked_by,
                                  hint=f"{name} is provided by: {', '.join(pns)}")
            if pn is None:
                pn = name if name in pns else pns[0]
            return self.chosen[pn]
        skipped = self.skipped_provider(name)
        if skipped is not None:
            raise TargetError(f"{what} {name} was skipped: {skipped.skipped}", asked_by or Location(skipped.realfn))
        close = difflib.get_close_matches(name, self.names(), n=5, cutoff=0.6)
        hint = ("closest recipe names: " + ", ".join(close)) if close else "run 'layerbuild-layers show-recipes' to list them"
        raise TargetError(f"nothing provides '{name}' ({what})", asked_by, hint=hint)

    @cached_property
    def index(self) -> _Index:
        build: dict[str, list[str]] = {}
        packages: dict[str, list[str]] = {}
        rprovides: dict[str, list[str]] = {}
        dynamic: dict[str, list[str]] = {}
        pn_provides: dict[str, list[str]] = {}
        for fn, info in sorted(self.infos.items()):
            if info.skipped:
                continue
            own = pn_provides.setdefault(info.pn, [])
            for name in info.provides:
                build.setdefault(name, []).append(fn)
                if name not in own:
                    own.append(name)
            for pkg in info.packages:
                packages.setdefault(pkg, []).append(fn)
            for _pkg, names in info.rprovides:
                for name in names:
                    if fn not in rprovides.setdefault(name, []):
                        rprovides[name].append(fn)
            for pattern in info.packages_dynamic:
                dynamic.setdefault(pattern, []).append(fn)
        patterns = tuple((re.compile(pattern.replace("+", r"\+")), fns) for pattern, fns in dynamic.items())
        return _Index(build, packages, rprovides, patterns, pn_provides,
                      tuple((self.getvar("ASSUME_PROVIDED") or "").split()))

    def assumed(self, name: str) -> bool:
        return assumed(name, self.index.assumed)

    def eligible(self, fns: list[str], item: str) -> list[str]:
        """BitBake's ordering of the providers ``fns`` of ``item``: one file per PN (its PREFERRED_VERSION,
        else the best of the highest priority), those a PREFERRED_VERSION chose first, each group by PN,
        and the PN named ``item`` before all."""
        by_pn: dict[str, list[RecipeInfo]] = {}
        for fn in sorted(set(fns)):
            info = self.infos[fn]
            by_pn.setdefault(info.pn, []).append(info)
        first: list[str] = []
        rest: list[str] = []
        for pn in sorted(by_pn):
            best, preferred = _best(pn, by_pn[pn], self.priority, self.getvar, warn=False)
            (first if preferred else rest).append(best.fn)
        out = first + rest
        for fn in out:
            if self.infos[fn].pn == item:
                out.remove(fn)
                return [fn, *out]
        return out

    def build_provider(self, name: str, asked_by: Location | None = None, what: str = "target") -> str | None:
        """The recipe file BitBake's task data takes for the build-time name ``name`` (a PN or a
        PROVIDES name); None when ASSUME_PROVIDED names it."""
        if self.assumed(name):
            return None
        fns = self.index.build.get(name)
        if not fns:
            return self.resolve(name, asked_by, what)  # the error, with what was skipped or is close
        eligible = self.eligible(fns, name)
        pn = self.getvar(f"PREFERRED_PROVIDER_{name}")
        if pn:
            for fn in eligible:
                if self.infos[fn].pn == pn:
                    return fn
            if name not in self.chosen:
                self.resolve(name, asked_by, what)  # PREFERRED_PROVIDER names no provider of it: the error
        return eligible[0]

    def runtime_candidates(self, name: str) -> list[str]:
        """Every recipe whose RPROVIDES or PACKAGES names ``name``; if none, those whose
        PACKAGES_DYNAMIC matches it (BitBake's getRuntimeProviders)."""
        index = self.index
        found = index.rprovides.get(name, []) + index.packages.get(name, [])
        if found:
            return found
        for pattern, fns in index.dynamic:
            if pattern.match(name):
                found += fns
        return found

    def runtime_provider(self, name: str) -> str | None:
        """The recipe file BitBake's task data takes for the runtime name ``name``: PREFERRED_RPROVIDER,
        else a provider whose PN a PREFERRED_PROVIDER of one of its names chose, else the first of
        :meth:`eligible`. None when nothing provides it or ASSUME_PROVIDED names it."""
        if self.assumed(name):
            return None
        fns = self.runtime_candidates(name)
        if not fns:
            return None
        eligible = self.eligible(fns, name)
        pn = self.getvar(f"PREFERRED_RPROVIDER_{name}")
        if pn:
            for fn in eligible:
                if self.infos[fn].pn == pn:
                    return fn
        pns = {self.infos[fn].pn: fn for fn in eligible}
        current = eligible
        chosen: list[str] = []
        # as BitBake's loop: the first choice is taken out of the list being walked, which then skips
        # the provider after it
        for fn in eligible:
            for provide in self.index.pn_provides[self.infos[fn].pn]:
                wanted = self.getvar(f"PREFERRED_PROVIDER_{provide}")
                if wanted in pns and pns[wanted] not in chosen:
                    pref = pns[wanted]
                    current.remove(pref)
                    current = [pref, *current]
                    chosen.append(pref)
                    break
        return current[0]


@dataclass(frozen=True)
class _Index:
    """Who provides each name, over every recipe that was not skipped (every version and variant), as
    BitBake's recipe cache indexes them."""

    build: dict[str, list[str]]
    packages: dict[str, list[str]]
    rprovides: dict[str, list[str]]
    #: each PACKAGES_DYNAMIC expression, as BitBake reads it (``+`` is literal), and its recipes
    dynamic: tuple[tuple[re.Pattern[str], list[str]], ...]
    pn_provides: dict[str, list[str]]
    assumed: tuple[str, ...]


def assumed(name: str, patterns: tuple[str, ...]) -> bool:
    """Whether ASSUME_PROVIDED names ``name``: a word is a name, or a regular expression when it starts
    with ``^`` or ends with ``$`` (BitBake's ``re_match_strings``)."""
    for pattern in patterns:
        if pattern.startswith("^") or pattern.endswith("$"):
            if re.match(pattern, name):
                return True
        elif pattern == name:
            return True
    return False


def _version_key(info: RecipeInfo) -> tuple[int, str, str]:
    return (int(info.pe) if info.pe.isdigit() else 0, info.pv, info.pr)


def _matches_preferred(info: RecipeInfo, preferred: str) -> bool:
    m = re.match(r"(?:(\d+):)?(.*?)(?:_(.*))?$", preferred)
    if not m:
        return False
    pe, pv, pr = m.group(1), m.group(2), m.group(3)
    if pe is not None and (info.pe or "0") != pe:
        return False
    if pv.endswith("%"):
        if not info.pv.startswith(pv[:-1]):
            return False
    elif info.pv != pv:
        return False
    return pr is None or info.pr == pr


def _best(pn: str, candidates: list[RecipeInfo], priority: Callable[[str], int],
          getvar: Callable[[str], str | None], warn: bool = True) -> tuple[RecipeInfo, bool]:
    """The recipe of ``pn`` to use among ``candidates`` (sorted by file), and whether a
    PREFERRED_VERSION chose it."""
    preferred = getvar(f"PREFERRED_VERSION_{pn}")
    if preferred:
        for info in sorted(candidates, key=lambda i: (-priority(i.fn), i.preference)):
            if _matches_preferred(info, preferred):
                return info, True
        if warn:
            logger.warning("preferred version %s of %s is not available (have %s)", preferred, pn,
                           ", ".join(sorted(i.pv for i in candidates)))
    best: RecipeInfo | None = None
    for info in candidates:
        if best is None:
            best = info
            continue
        pa, pb = priority(info.fn), priority(best.fn)
        if pa > pb or (pa == pb and (info.preference > best.preference or (
                info.preference == best.preference and vercmp(_version_key(info), _version_key(best)) > 0))):
            best = info
    assert best is not None
    return best, False


def choose(infos: dict[str, RecipeInfo], priority: Callable[[str], int],
           getvar: Callable[[str], str | None],
           locate: Callable[[str], Location | None] = lambda _name: None) -> Recipes:
    """Pick one file per PN and index what each name is provided by (``locate`` says where a
    variable was set, for errors)."""
    by_pn: dict[str, list[RecipeInfo]] = {}
    for info in infos.values():
        if not info.skipped:
            by_pn.setdefault(info.pn, []).append(info)
    chosen: dict[str, str] = {}
    for pn, candidates in by_pn.items():
        candidates.sort(key=lambda i: i.fn)
        chosen[pn] = _best(pn, candidates, priority, getvar)[0].fn
    providers: dict[str, list[str]] = {}
    for pn, fn in sorted(chosen.items()):
        for name in infos[fn].provides:
            providers.setdefault(name, []).append(pn)
    preferred_providers = {}
    preferred_locations = {}
    for name, pns in providers.items():
        if len(pns) > 1 or name not in chosen:
            value = getvar(f"PREFERRED_PROVIDER_{name}")
            if value:
                preferred_providers[name] = value
                preferred_locations[name] = locate(f"PREFERRED_PROVIDER_{name}")
    return Recipes(infos, chosen, {k: tuple(v) for k, v in providers.items()}, preferred_providers,
                   preferred_locations, priority, getvar)
