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
import posixpath
import stat
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import zstandard

from layerbuild.rootfs.dpkgdb import Database
from layerbuild.util import osrelease
from layerbuild.util.errors import LayerbuildError
from layerbuild.util.fstree import Entry, EntryType, Manifest, directory, file, from_directory, symlink
from layerbuild.util.fsutil import clamp_mtime
from layerbuild.util.rootdir import RootDir, RootPathError
from layerbuild.util.tarzst import extract_tar_zst, write_manifest_tar_zst

DPKG_DIR = "var/lib/dpkg"
OS_RELEASE_PATHS = ("etc/os-release", "usr/lib/os-release")  # systemd's lookup order


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
    os-release is an error: extensions could not be built against it. Every name is resolved inside the
    rootfs (:class:`~layerbuild.util.rootdir.RootDir`): a link in it never makes the snapshot hold a file of
    the host.
    """
    root = Path(rootfs_dir)
    with RootDir(root) as top:
        try:
            dpkg = top.resolve_dir(DPKG_DIR)
            is_dir = stat.S_ISDIR(top.lstat(DPKG_DIR).st_mode)
        except (OSError, RootPathError):
            is_dir = False
        if not is_dir:
            raise PkgdbError(f"{root}: no package database ({DPKG_DIR}/) to snapshot")
        entries: list[Entry] = []
        inner = from_directory(top.full(dpkg), all_root=True, source_date_epoch=clamp)
        for entry in inner:
            path = f"{DPKG_DIR}/{entry.path}" if entry.path else DPKG_DIR
            target = entry.target
            if entry.type is EntryType.HARDLINK and target is not None:
                target = f"{DPKG_DIR}/{target}"
            entries.append(dataclasses.replace(entry, path=path, target=target))
        parents: set[str] = {"var", "var/lib"}
        usr_release = _regular(top, "usr/lib/os-release", follow=True)  # kept as a file even if it is a link
        if usr_release is not None:
            physical, st = usr_release
            entries.append(file("usr/lib/os-release", top.read_bytes(physical), stat.S_IMODE(st.st_mode),
                                mtime=_mtime(st, clamp)))
            parents |= {"usr", "usr/lib"}
        etc_release = _lstat(top, "etc/os-release")
        if etc_release is not None and stat.S_ISLNK(etc_release.st_mode):
            fd, base = top.locate("etc/os-release")
            entries.append(symlink("etc/os-release", os.readlink(base, dir_fd=fd), mtime=_mtime(etc_release, clamp)))
            parents.add("etc")
        elif etc_release is not None and stat.S_ISREG(etc_release.st_mode):
            entries.append(file("etc/os-release", top.read_bytes("etc/os-release"), stat.S_IMODE(etc_release.st_mode),
                                mtime=_mtime(etc_release, clamp)))
            parents.add("etc")
        elif usr_release is None:
            raise PkgdbError(f"{root}: no os-release (usr/lib/os-release or etc/os-release) to record",
                             hint="extension images take ID and VERSION_ID from the base's os-release")
        for rel in sorted(parents):
            found = _lstat(top, rel, follow=True)
            mode = stat.S_IMODE(found.st_mode) if found is not None and stat.S_ISDIR(found.st_mode) else 0o755
            entries.append(directory(rel, mode, mtime=_mtime(found, clamp) if found is not None else clamp))
        top_st = os.lstat(root)
        entries.append(directory("", stat.S_IMODE(top_st.st_mode), mtime=_mtime(top_st, clamp)))
    write_manifest_tar_zst(Manifest(tuple(entries)), output, level=12)


def _mtime(st: os.stat_result, clamp: int) -> int:
    return max(clamp_mtime(st.st_mtime, clamp), 0)


def _lstat(top: RootDir, rel: str, follow: bool = False) -> os.stat_result | None:
    """The entry ``rel`` of the root (with ``follow``, what links there lead to inside it), if there is one."""
    try:
        return top.lstat(top.resolve(rel) if follow else rel)
    except (OSError, RootPathError):
        return None


def _regular(top: RootDir, rel: str, follow: bool = False) -> tuple[str, os.stat_result] | None:
    """The physical name and status of ``rel`` when it is (or, with ``follow``, leads to) a regular file."""
    try:
        physical = top.resolve(rel) if follow else rel
        st = top.lstat(physical)
    except (OSError, RootPathError):
        return None
    return (physical, st) if stat.S_ISREG(st.st_mode) else None


def _allowed(name: str) -> bool:
    return (name in ("", "etc", "usr", "usr/lib", "var", "var/lib", DPKG_DIR, *OS_RELEASE_PATHS)
            or name.startswith(DPKG_DIR + "/"))


def unpack_snapshot(archive: str | os.PathLike[str], staging_root: str | os.PathLike[str]) -> BaseInfo:
    """Unpack the snapshot ``archive`` into the empty (or missing) directory ``staging_root``.

    Entries outside what a snapshot holds, entries that would land outside the staging root, hard links
    to anything but an earlier file of the database (their targets normalised first) and anything but
    directories, files and links are refused; every error names the snapshot.
    """
    where = os.fspath(archive)
    root = Path(staging_root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise PkgdbError(f"{root}: the staging root for a pkgdb snapshot must be an empty directory")
    files: set[str] = set()
    snapshot_paths: set[str] = set()

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
        if member.islnk():
            target = posixpath.normpath(member.linkname)
            if member.linkname.startswith("/") or not target.startswith(DPKG_DIR + "/"):
                raise PkgdbError(f"{where}: refusing snapshot entry {member.name}: hard link to {member.linkname}, "
                                 f"which is outside {DPKG_DIR}/")
            if target not in files:
                raise PkgdbError(f"{where}: refusing snapshot entry {member.name}: hard link to {member.linkname}, "
                                 "which is not an earlier file of the snapshot")
        if member.isreg() or member.islnk():
            files.add(name)
        if not member.isdir():
            snapshot_paths.add(name)

    try:
        extract_tar_zst(where, os.fspath(root), check=check)
    except PkgdbError:
        raise
    except LayerbuildError as exc:
        raise PkgdbError(exc.message, notes=exc.notes) from exc
    except (OSError, tarfile.TarError, EOFError, zstandard.ZstdError) as exc:
        raise PkgdbError(f"{where}: not a readable pkgdb snapshot: {exc}") from exc
    return read_base_info(root, frozenset(snapshot_paths), origin=where)


def read_base_info(root: str | os.PathLike[str], snapshot_paths: frozenset[str] = frozenset(),
                   origin: str | None = None) -> BaseInfo:
    """:class:`BaseInfo` of the tree at ``root`` (an unpacked snapshot or a whole rootfs); ``origin`` names
    the snapshot it came from in errors. Every file is read inside the root, links followed as there."""
    top_path = Path(root)
    where = origin or os.fspath(top_path)
    with RootDir(top_path) as top:
        fields: dict[str, str] | None = None
        for rel in OS_RELEASE_PATHS:
            found = _regular(top, rel, follow=True)
            if found is not None:
                fields = osrelease.parse(top.read_text(found[0]), f"{where}: {rel}")
                break
        if fields is None:
            raise PkgdbError(f"{where}: the pkgdb snapshot holds no os-release")
        if _regular(top, f"{DPKG_DIR}/status") is None:
            raise PkgdbError(f"{where}: the pkgdb snapshot holds no {DPKG_DIR}/status")
        try:
            database = Database.read(top, origin=origin)
            packages = {name: BasePackage(name, rec.version, rec.arch)
                        for name, rec in sorted(database.packages.items())}
            owners: dict[str, str] = {}
            for listed, names in database.owners().items():
                rel = listed.strip("/")
                if rel and rel != ".":
                    owners.setdefault(rel, names[0])
        except LayerbuildError as exc:
            raise PkgdbError(exc.message if origin else f"{where}: the pkgdb snapshot's database cannot be read: "
                             f"{exc.message}", notes=exc.notes) from exc
        native = None
        if _regular(top, f"{DPKG_DIR}/arch") is not None:
            native = next(iter(top.read_text(f"{DPKG_DIR}/arch").split()), None)
    return BaseInfo(MappingProxyType(fields), MappingProxyType(packages), MappingProxyType(owners),
                    snapshot_paths, native)
