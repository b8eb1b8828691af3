"""dpkg's package database under a root (``var/lib/dpkg``): read it, and write it as dpkg leaves it.

The layout is dpkg 1.21's: ``status`` (one stanza per package, sorted by name, ``Status: install ok
installed``), ``status-old`` (the previous ``status``), ``available``, ``diversions``,
``statoverride``, ``arch`` (the native architecture first), ``lock``, ``lock-frontend``,
``info/format``, ``info/PKG.list`` (every path the package owns, directories included, ``/.`` first),
``info/PKG.md5sums``, ``info/PKG.conffiles``, the maintainer scripts ``info/PKG.preinst`` ...
(other control members likewise), ``triggers/Lock``, ``triggers/Unincorp`` and ``updates/``.

:class:`Database` reads an existing database (a base image's snapshot, say): installed packages with
version, architecture, conffiles and, from ``info/*.list``, their files. Stanzas of packages the
installer does not touch are written back verbatim.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..fsutil import atomic_write
from .control import PackageInfo, package_info, parse_stanzas

ADMINDIR = "var/lib/dpkg"
INSTALLED = "install ok installed"
#: a package whose postinst was deferred to first boot: its files are in place, it is not configured yet
UNPACKED = "install ok unpacked"
#: dpkg states in which a package's files are all in place
_PRESENT = frozenset({"installed", "unpacked", "half-configured", "triggers-awaited", "triggers-pending"})
#: Empty files dpkg (or its helpers) create on first use, with their modes.
_EMPTY_FILES = {"available": 0o644, "diversions": 0o644, "statoverride": 0o644, "lock": 0o640,
                "lock-frontend": 0o640, "triggers/Lock": 0o600, "triggers/Unincorp": 0o644}


@dataclass(frozen=True)
class InstalledPackage:
    """A package recorded in ``status``: its control data, state and conffiles (path, md5)."""

    info: PackageInfo
    status: str
    conffiles: tuple[tuple[str, str], ...]
    stanza: str

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def version(self) -> str:
        return self.info.version

    @property
    def arch(self) -> str:
        return self.info.arch

    @property
    def installed(self) -> bool:
        """Whether the package's files are in the root (configured or, postinst deferred, unpacked)."""
        words = self.status.split()
        return len(words) == 3 and words[0] in ("install", "hold") and words[2] in _PRESENT


def _conffiles(value: str | None) -> tuple[tuple[str, str], ...]:
    out = []
    for line in (value or "").splitlines():
        parts = line.split()
        if len(parts) >= 2:
            out.append((parts[0], parts[1]))
    return tuple(out)


class Database:
    """The dpkg database of one root, as read from disk."""

    def __init__(self, root: str, records: Mapping[str, InstalledPackage]) -> None:
        self.root = root
        self.admindir = os.path.join(root, ADMINDIR)
        self.records = dict(records)
        self._files: dict[str, tuple[str, ...]] = {}

    @classmethod
    def read(cls, root: str) -> Database:
        """The database under ``root``; empty when there is none."""
        path = os.path.join(root, ADMINDIR, "status")
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as fh:
                text = fh.read()
        except FileNotFoundError:
            return cls(root, {})
        records: dict[str, InstalledPackage] = {}
        for fields in parse_stanzas(text, path):
            info = package_info(fields, path)
            lookup = {k.lower(): v for k, v in fields}
            stanza = "\n".join(f"{k}:{v}" if v.startswith("\n") or not v else f"{k}: {v}"
                               for k, v in fields) + "\n"
            records[info.name] = InstalledPackage(info, lookup.get("status", "").strip(),
                                                  _conffiles(lookup.get("conffiles")), stanza)
        return cls(root, records)

    @property
    def packages(self) -> dict[str, InstalledPackage]:
        """Packages whose files are in the root (installed, or unpacked with a deferred postinst), by name."""
        return {name: rec for name, rec in self.records.items() if rec.installed}

    def files(self, name: str) -> tuple[str, ...]:
        """The paths ``info/NAME.list`` records (``/.`` and directories included), in its order."""
        cached = self._files.get(name)
        if cached is None:
            cached = read_list(self.admindir, name)
            self._files[name] = cached
        return cached

    def owners(self) -> dict[str, list[str]]:
        """Path -> names of the installed packages that list it."""
        out: dict[str, list[str]] = {}
        for name in sorted(self.packages):
            for path in self.files(name):
                out.setdefault(path, []).append(name)
        return out


def read_list(admindir: str, name: str) -> tuple[str, ...]:
    try:
        with open(os.path.join(admindir, "info", f"{name}.list"), encoding="utf-8",
                  errors="surrogateescape") as fh:
            return tuple(line for line in fh.read().split("\n") if line)
    except FileNotFoundError:
        return ()


def init_admindir(root: str, native_arch: str) -> str:
    """Create the files dpkg creates on first use (keeping those that exist); returns the admindir."""
    admindir = os.path.join(root, ADMINDIR)
    for sub in ("info", "updates", "triggers"):
        os.makedirs(os.path.join(admindir, sub), exist_ok=True)
    for name, mode in _EMPTY_FILES.items():
        path = os.path.join(admindir, name)
        if not os.path.lexists(path):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            os.fchmod(fd, mode)
            os.close(fd)
    arch = os.path.join(admindir, "arch")
    if not os.path.lexists(arch):
        atomic_write(arch, f"{native_arch}\n")
    else:
        with open(arch) as fh:
            arches = fh.read().split()
        if not arches or arches[0] != native_arch:
            atomic_write(arch, "".join(f"{a}\n" for a in [native_arch, *(a for a in arches if a != native_arch)]))
    fmt = os.path.join(admindir, "info", "format")
    if not os.path.lexists(fmt):
        atomic_write(fmt, "1\n")
    status = os.path.join(admindir, "status")
    if not os.path.lexists(status):
        atomic_write(status, "")
    return admindir


def write_list(admindir: str, name: str, paths: Iterable[str], mtime: int | None) -> None:
    path = os.path.join(admindir, "info", f"{name}.list")
    atomic_write(path, "".join(f"{p}\n" for p in paths).encode("utf-8", "surrogateescape"))
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def write_status(admindir: str, stanzas: Mapping[str, str]) -> None:
    """Replace ``status`` with ``stanzas`` (sorted by name); the previous one becomes ``status-old``.

    This is the commit point of an installation: until it is written the database claims nothing new.
    """
    status = os.path.join(admindir, "status")
    try:
        with open(status, "rb") as fh:
            previous = fh.read()
    except FileNotFoundError:
        previous = b""
    atomic_write(os.path.join(admindir, "status-old"), previous)
    text = "".join(stanzas[name] + "\n" for name in sorted(stanzas))
    atomic_write(status, text.encode("utf-8", "surrogateescape"))
