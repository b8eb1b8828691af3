"""The package feed: the binary packages a root file system can be assembled from.

A feed is read from directories of ``.deb`` files (``tmp/deploy/deb/<arch>/``, ``.../all/``); the
files themselves are the interface, so a feed is whatever packaging wrote, nothing else. Packages of
another architecture than the native one or ``all`` are left out. When several versions of a package
are present the highest (dpkg's ordering) wins; between equal versions the first directory given wins.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from layerbuild.packaging.debread import DebArchive, DebError, open_deb
from layerbuild.rootfs.control import ControlError, PackageInfo, package_info, parse_stanzas
from layerbuild.util.errors import BuildError
from layerbuild.util.relations import package_name_problem
from layerbuild.util.version import vercmp_string


@dataclass(frozen=True)
class FeedPackage:
    """A package of the feed: its control data and the ``.deb`` it is installed from."""

    info: PackageInfo
    path: str
    #: the control members, when the feed read them already
    archive: DebArchive | None = field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        return self.info.name


class Feed:
    """The best version of each package, and who provides which virtual name."""

    def __init__(self, packages: Iterable[FeedPackage]) -> None:
        best: dict[str, FeedPackage] = {}
        for pkg in packages:
            current = best.get(pkg.name)
            if current is None or vercmp_string(pkg.info.version, current.info.version) > 0:
                best[pkg.name] = pkg
        self._best = dict(sorted(best.items()))
        providers: dict[str, list[FeedPackage]] = {}
        for pkg in self._best.values():
            for p in pkg.info.provides:
                if p.name != pkg.name:
                    providers.setdefault(p.name, []).append(pkg)
        self._providers = {name: tuple(sorted(pkgs, key=lambda p: p.name)) for name, pkgs in providers.items()}

    @classmethod
    def scan(cls, directories: Sequence[str], native_arch: str) -> Feed:
        """Read every ``*.deb`` directly in ``directories`` (missing directories are skipped)."""
        found: list[FeedPackage] = []
        for directory in directories:
            try:
                names = sorted(os.listdir(directory))
            except FileNotFoundError:
                continue
            for name in names:
                if not name.endswith(".deb"):
                    continue
                path = os.path.join(directory, name)
                try:
                    deb = open_deb(path)
                    stanza = next(iter(parse_stanzas(deb.control, path)), [])
                    info = package_info(stanza, path)
                except (DebError, ControlError) as exc:
                    raise BuildError(f"cannot read package {path}: {exc.message}") from exc
                problem = package_name_problem(info.name)
                if problem:  # the name becomes file names in the database (info/NAME.list)
                    raise BuildError(f"cannot read package {path}: Package: {problem}")
                if info.arch not in (native_arch, "all"):
                    continue
                found.append(FeedPackage(info, path, deb))
        return cls(found)

    def best(self, name: str) -> FeedPackage | None:
        return self._best.get(name)

    def providers(self, name: str) -> tuple[FeedPackage, ...]:
        """Packages (other than one called ``name``) whose Provides names ``name``, by name."""
        return self._providers.get(name, ())

    def packages(self) -> tuple[FeedPackage, ...]:
        return tuple(self._best.values())

    def names(self) -> list[str]:
        """Every name a request can use: package names and provided names, sorted."""
        return sorted(set(self._best) | set(self._providers))

    def __len__(self) -> int:
        return len(self._best)
