"""dpkg's package database under a root (``var/lib/dpkg``): read it, and write it as dpkg leaves it.

The layout is dpkg 1.21's: ``status`` (one stanza per package, sorted by name, ``Status: install ok
installed``), ``status-old`` (the previous ``status``), ``available``, ``diversions``,
``statoverride``, ``arch`` (the native architecture first), ``lock``, ``lock-frontend``,
``info/format``, ``info/PKG.list`` (every path the package owns, directories included, ``/.`` first),
``info/PKG.md5sums``, ``info/PKG.conffiles``, the maintainer scripts ``info/PKG.preinst`` ...
(other control members likewise), ``triggers/Lock``, ``triggers/Unincorp`` and ``updates/``.

:class:`Database` reads an existing database (a base image's snapshot, say): installed packages with
version, architecture, conffiles and, from ``info/*.list``, their files. Its stanzas are checked with
dpkg's grammar (package names, versions, relationship fields), so a damaged snapshot is an error that
names the stanza rather than a wrong image. Stanzas of packages the installer does not touch are written
back verbatim. Every file is read and written through the root's :class:`~layerbuild.util.rootdir.RootDir`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from layerbuild.rootfs.control import (
    ControlError,
    PackageInfo,
    numbered_stanzas,
    package_info,
    stanza_problem,
)
from layerbuild.util.rootdir import RootDir, RootPathError

ADMINDIR = "var/lib/dpkg"
STATUS = f"{ADMINDIR}/status"
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
    """The dpkg database of one root, as read from disk.

    Every file of it is read through the root's :class:`~layerbuild.util.rootdir.RootDir`: a link where a
    database file should be is an error, never followed out of the root.
    """

    def __init__(self, top: RootDir | None, records: Mapping[str, InstalledPackage]) -> None:
        self.top = top
        self.records = dict(records)
        self._files: dict[str, tuple[str, ...]] = {}

    @property
    def root(self) -> str | None:
        return self.top.path if self.top is not None else None

    @classmethod
    def read(cls, root: str | RootDir, origin: str | None = None) -> Database:
        """The database under ``root``; empty when there is none. ``origin`` names where the root came
        from in errors (a snapshot); each stanza's package name, version and relationship fields must
        follow dpkg's grammar."""
        if isinstance(root, RootDir):
            top = root
        else:
            try:
                top = RootDir(root)
            except FileNotFoundError:
                return cls(None, {})
        source = f"{origin}: {STATUS}" if origin else f"{top.path}/{STATUS}"
        try:
            text = top.read_text(STATUS)
        except (FileNotFoundError, NotADirectoryError):
            return cls(top, {})
        except RootPathError as exc:
            raise ControlError(f"{origin or top.path}: {exc.message}") from exc
        records: dict[str, InstalledPackage] = {}
        seen: dict[tuple[str, str], str | None] = {}
        for line, fields in numbered_stanzas(text, source):
            lookup = {k.lower(): v for k, v in fields}
            problem = stanza_problem(lookup, seen)
            if problem is not None:
                raise ControlError(f"{source}:{line}: {problem}")
            try:
                info = package_info(fields, f"{source}:{line}")
            except ControlError as exc:  # a relationship field's shape (the names and versions are checked)
                raise ControlError(f"{source}:{line}: package {lookup['package'].strip()}: {exc.message}") from exc
            stanza = "\n".join(f"{k}:{v}" if v.startswith("\n") or not v else f"{k}: {v}"
                               for k, v in fields) + "\n"
            records[info.name] = InstalledPackage(info, lookup.get("status", "").strip(),
                                                  _conffiles(lookup.get("conffiles")), stanza)
        return cls(top, records)

    @property
    def packages(self) -> dict[str, InstalledPackage]:
        """Packages whose files are in the root (installed, or unpacked with a deferred postinst), by name."""
        return {name: rec for name, rec in self.records.items() if rec.installed}

    def files(self, name: str) -> tuple[str, ...]:
        """The paths ``info/NAME.list`` records (``/.`` and directories included), in its order."""
        cached = self._files.get(name)
        if cached is None:
            cached = read_list(self.top, name) if self.top is not None else ()
            self._files[name] = cached
        return cached

    def owners(self) -> dict[str, list[str]]:
        """Path -> names of the installed packages that list it."""
        out: dict[str, list[str]] = {}
        for name in sorted(self.packages):
            for path in self.files(name):
                out.setdefault(path, []).append(name)
        return out


def read_list(top: RootDir, name: str) -> tuple[str, ...]:
    try:
        text = top.read_text(f"{ADMINDIR}/info/{name}.list")
    except (FileNotFoundError, NotADirectoryError):
        return ()
    return tuple(line for line in text.split("\n") if line)


def init_admindir(top: RootDir, native_arch: str) -> str:
    """Create the files dpkg creates on first use (keeping those that exist); returns the physical name
    of the database directory in the root."""
    admindir = top.makedirs(ADMINDIR)
    for sub in ("info", "updates", "triggers"):
        top.makedirs(f"{ADMINDIR}/{sub}")
    for name, mode in _EMPTY_FILES.items():
        path = f"{ADMINDIR}/{name}"
        if not top.lexists(path):
            fd = top.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            os.fchmod(fd, mode)
            os.close(fd)
    arch = f"{ADMINDIR}/arch"
    if not top.lexists(arch):
        top.write_bytes(arch, f"{native_arch}\n".encode())
    else:
        arches = top.read_text(arch).split()
        if not arches or arches[0] != native_arch:
            top.write_bytes(arch, "".join(f"{a}\n" for a in [native_arch, *(a for a in arches if a != native_arch)])
                            .encode())
    fmt = f"{ADMINDIR}/info/format"
    if not top.lexists(fmt):
        top.write_bytes(fmt, b"1\n")
    if not top.lexists(STATUS):
        top.write_bytes(STATUS, b"")
    return admindir


def write_list(top: RootDir, name: str, paths: Iterable[str], mtime: int | None) -> None:
    top.write_bytes(f"{ADMINDIR}/info/{name}.list",
                    "".join(f"{p}\n" for p in paths).encode("utf-8", "surrogateescape"), mtime=mtime)


def write_status(top: RootDir, stanzas: Mapping[str, str]) -> None:
    """Replace ``status`` with ``stanzas`` (sorted by name); the previous one becomes ``status-old``.

    This is the commit point of an installation: until it is written the database claims nothing new.
    """
    try:
        previous = top.read_bytes(STATUS)
    except FileNotFoundError:
        previous = b""
    top.write_bytes(f"{ADMINDIR}/status-old", previous)
    text = "".join(stanzas[name] + "\n" for name in sorted(stanzas))
    top.write_bytes(STATUS, text.encode("utf-8", "surrogateescape"))
