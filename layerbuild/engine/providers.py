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
        best: RecipeInfo | None = None
        preferred = getvar(f"PREFERRED_VERSION_{pn}")
        if preferred:
            for info in sorted(candidates, key=lambda i: (-priority(i.fn), i.preference)):
                if _matches_preferred(info, preferred):
                    best = info
                    break
            if best is None:
                logger.warning("preferred version %s of %s is not available (have %s)", preferred, pn,
                               ", ".join(sorted(i.pv for i in candidates)))
        if best is None:
            for info in candidates:
                if best is None:
                    best = info
                    continue
                pa, pb = priority(info.fn), priority(best.fn)
                if pa > pb or (pa == pb and (info.preference > best.preference or (
                        info.preference == best.preference and vercmp(_version_key(info), _version_key(best)) > 0))):
                    best = info
        assert best is not None
        chosen[pn] = best.fn
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
                   preferred_locations)
