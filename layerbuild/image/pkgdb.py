"""The pkgdb snapshot: a base image's package database and os-release, for extensions built against it.

The snapshot is a deterministic tar.zst holding exactly ``var/lib/dpkg/`` and the base's os-release
(``usr/lib/os-release`` as a file, plus ``etc/os-release`` when the rootfs has it as a file or link),
with their parent directories, everything owned by root and mtimes clamped. An extension build
unpacks it into an empty staging root, so the package manager sees the base's packages as
installed, and reads :class:`BaseInfo` from it.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import zstandard

from layerbuild import osrelease
from layerbuild.errors import LayerbuildError
from layerbuild.fstree import Entry, EntryType, Manifest, directory, file, from_directory, symlink
from layerbuild.fsutil import clamp_mtime
from layerbuild.rootfs.dpkgdb import Database
from layerbuild.tarzst import extract_tar_zst, write_manifest_tar_zst

DPKG_DIR = "var/lib/dpkg"
OS_RELEASE_PATHS = ("etc/os-release", "usr/lib/os-release")  # systemd's lookup order
_PARENTS = ("etc", "usr", "usr/lib", "var", "var/lib")
_MAX_LINKS = 40


class PkgdbError(LayerbuildError):
    """A pkgdb snapshot that cannot be written, unpacked or read."""


@dataclass(frozen=True, slots=True)
class BasePackage:
    name: str
    version: str
    architecture: str


@dataclass(frozen=True)
class BaseInfo:
    """What an extension needs to know about its base, read from the snapshot.

    ``owners`` maps each path a base package lists (relative, ``usr/bin/env``) to the package (the
    first in name order when several list it, as they do for directories); ``snapshot_paths`` are
    the non-directory paths the snapshot put into the staging root.
    """

    os_release: Mapping[str, str]
    packages: Mapping[str, BasePackage]
    owners: Mapping[str, str]
    snapshot_paths: frozenset[str]
    #: the first line of ``var/lib/dpkg/arch`` (dpkg's native architecture), when the base has one
    native_architecture: str | None = None

    @property
    def architectures(self) -> frozenset[str]:
        return frozenset(p.architecture for p in self.packages.values() if p.architecture != "all")


def write_snapshot(rootfs_dir: str | os.PathLike[str], output: str | os.PathLike[str], clamp: int) -> None:
    """Write the snapshot of the rootfs at ``rootfs_dir`` to ``output`` (written in place).

    ``clamp`` (SOURCE_DATE_EPOCH) bounds every mtime. A rootfs without a dpkg database or without an
    os-release is an error: extensions could not be built against it.
    """
    root = Path(rootfs_dir)
    dpkg = root / DPKG_DIR
    if not dpkg.is_dir() or dpkg.is_symlink():
        raise PkgdbError(f"{root}: no package database ({DPKG_DIR}/) to snapshot")
    entries: list[Entry] = []
    inner = from_directory(dpkg, all_root=True, source_date_epoch=clamp)
    for entry in inner:
        path = f"{DPKG_DIR}/{entry.path}" if entry.path else DPKG_DIR
        target = entry.target
        if entry.type is EntryType.HARDLINK and target is not None:
            target = f"{DPKG_DIR}/{target}"
        entries.append(dataclasses.replace(entry, path=path, target=target))
    parents: set[str] = {"var", "var/lib"}
    etc_release = root / "etc/os-release"
    usr_release = _resolve_in_root(root, "usr/lib/os-release")  # kept as a file even if it is a link
    content = None
    if usr_release is not None and usr_release.is_file():
        content = usr_release.read_bytes()
        entries.append(file("usr/lib/os-release", content, _mode(usr_release), mtime=_mtime(usr_release, clamp)))
        parents |= {"usr", "usr/lib"}
    if etc_release.is_symlink():
        entries.append(symlink("etc/os-release", os.readlink(etc_release), mtime=_mtime(etc_release, clamp)))
        parents.add("etc")
    elif etc_release.is_file():
        entries.append(file("etc/os-release", etc_release.read_bytes(), _mode(etc_release),
                            mtime=_mtime(etc_release, clamp)))
        parents.add("etc")
    elif content is None:
        raise PkgdbError(f"{root}: no os-release (usr/lib/os-release or etc/os-release) to record",
                         hint="extension images take ID and VERSION_ID from the base's os-release")
    for rel in sorted(parents):
        full = root / rel
        entries.append(directory(rel, _mode(full) if full.is_dir() else 0o755, mtime=_mtime(full, clamp)))
    entries.append(directory("", _mode(root), mtime=_mtime(root, clamp)))
    write_manifest_tar_zst(Manifest(tuple(entries)), output, level=12)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _mtime(path: Path, clamp: int) -> int:
    return max(clamp_mtime(os.lstat(path).st_mtime, clamp), 0)


def _resolve_in_root(root: Path, rel: str) -> Path | None:
    """``rel`` with symbolic links followed as if ``root`` were ``/``; None if it is missing or loops."""
    parts = [p for p in rel.split("/") if p]
    done: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        candidate = root.joinpath(*done, part)
        if candidate.is_symlink():
            hops += 1
            if hops > _MAX_LINKS:
                return None
            target = os.readlink(candidate)
            if target.startswith("/"):
                done = []
            parts = [p for p in target.split("/") if p] + parts
            continue
        if not os.path.lexists(candidate):
            return None
        done.append(part)
    return root.joinpath(*done)


def _allowed(name: str) -> bool:
    return (name in ("", "etc", "usr", "usr/lib", "var", "var/lib", DPKG_DIR, *OS_RELEASE_PATHS)
            or name.startswith(DPKG_DIR + "/"))


def unpack_snapshot(archive: str | os.PathLike[str], staging_root: str | os.PathLike[str]) -> BaseInfo:
    """Unpack the snapshot ``archive`` into the empty (or missing) directory ``staging_root``.

    Entries outside what a snapshot holds, entries that would land outside the staging root, and
    anything but directories, files and links are refused.
    """
    where = os.fspath(archive)
    root = Path(staging_root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise PkgdbError(f"{root}: the staging root for a pkgdb snapshot must be an empty directory")

    def check(member: tarfile.TarInfo) -> None:
        name = member.name.removeprefix("./").rstrip("/")
        name = "" if name == "." else name
        parts = name.split("/")
        if member.name.startswith("/") or ".." in parts:
            raise PkgdbError(f"{where}: refusing snapshot entry {member.name}: it leaves the staging root")
        if not _allowed(name):
            raise PkgdbError(f"{where}: refusing snapshot entry {member.name}: a pkgdb snapshot holds only "
                             f"{DPKG_DIR}/ and os-release")
        if not (member.isdir() or member.isreg() or member.issym() or member.islnk()):
            raise PkgdbError(f"{where}: refusing snapshot entry {member.name}: not a file, directory or link")
        if member.issym() and name != "etc/os-release":
            raise PkgdbError(f"{where}: refusing snapshot entry {member.name}: unexpected symbolic link")
        if member.islnk() and not member.linkname.removeprefix("./").startswith(DPKG_DIR + "/"):
            raise PkgdbError(f"{where}: refusing snapshot entry {member.name}: hard link outside {DPKG_DIR}/")

    try:
        names = extract_tar_zst(where, os.fspath(root), check=check)
    except PkgdbError:
        raise
    except LayerbuildError as exc:
        raise PkgdbError(exc.message, notes=exc.notes) from exc
    except (OSError, tarfile.TarError, EOFError, zstandard.ZstdError) as exc:
        raise PkgdbError(f"{where}: not a readable pkgdb snapshot: {exc}") from exc
    snapshot_paths = frozenset(
        n.removeprefix("./") for n in names if not (root / n).is_dir() or (root / n).is_symlink())
    return read_base_info(root, snapshot_paths)


def read_base_info(root: str | os.PathLike[str], snapshot_paths: frozenset[str] = frozenset()) -> BaseInfo:
    """:class:`BaseInfo` of the tree at ``root`` (an unpacked snapshot or a whole rootfs)."""
    top = Path(root)
    fields: dict[str, str] | None = None
    for rel in OS_RELEASE_PATHS:
        path = _resolve_in_root(top, rel)
        if path is not None and path.is_file():
            fields = osrelease.read(path)
            break
    if fields is None:
        raise PkgdbError(f"{top}: the pkgdb snapshot holds no os-release")
    if not (top / DPKG_DIR / "status").is_file():
        raise PkgdbError(f"{top}: the pkgdb snapshot holds no {DPKG_DIR}/status")
    try:
        database = Database.read(os.fspath(top))
    except LayerbuildError as exc:
        raise PkgdbError(f"{top}: the pkgdb snapshot's database cannot be read: {exc.message}",
                         notes=exc.notes) from exc
    packages = {name: BasePackage(name, rec.version, rec.arch) for name, rec in sorted(database.packages.items())}
    owners: dict[str, str] = {}
    for listed, names in database.owners().items():
        rel = listed.strip("/")
        if rel and rel != ".":
            owners.setdefault(rel, names[0])
    native = None
    arch_file = top / DPKG_DIR / "arch"
    if arch_file.is_file():
        native = next(iter(arch_file.read_text(encoding="utf-8", errors="replace").split()), None)
    return BaseInfo(MappingProxyType(fields), MappingProxyType(packages), MappingProxyType(owners), snapshot_paths,
                    native)
