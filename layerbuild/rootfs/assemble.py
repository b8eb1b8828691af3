"""Assembling a root file system from the feed: the one entry point, :func:`build_rootfs`.

The steps read top to bottom: read the root's dpkg database (if it holds one, e.g. a base image's
snapshot), read the feed, resolve the request against both, then for each package in order run its
``preinst``, unpack it from its ``.deb`` and record its control files in ``var/lib/dpkg/info``; then
run every ``postinst configure`` in the same order (deferring those that ask for the target), rewrite
the ``.list`` of packages that lost files to a replacing package, and last write ``status``. A killed
run leaves files but never a database that claims a package it did not finish.

:class:`RootfsResult` says what the root holds afterwards: every installed package (name, version,
architecture) and the ones this run installed with the paths they own, so a caller can map a path to
its package.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..fsutil import atomic_write
from ..packaging.debread import DebArchive, open_deb
from .control import PackageInfo, status_stanza
from .dpkgdb import (
    ADMINDIR,
    INSTALLED,
    UNPACKED,
    Database,
    InstalledPackage,
    init_admindir,
    write_list,
    write_status,
)
from .feed import Feed
from .resolve import Request, Resolution, Step, resolve
from .scripts import defer_postinsts, run_script
from .unpack import Owners, Root, Unpacked, Unpacker

#: control members that are dpkg's own, never copied to info/ (dpkg keeps the rest)
_NOT_INFO = frozenset({"control"})
_SCRIPT_NAMES = ("preinst", "postinst", "prerm", "postrm")


@dataclass(frozen=True, slots=True)
class RootfsPackage:
    """A package the root holds."""

    name: str
    version: str
    arch: str


@dataclass(frozen=True, slots=True)
class NewPackage:
    """A package this run installed (or upgraded): its files as ``info/PKG.list`` records them."""

    name: str
    version: str
    arch: str
    paths: tuple[str, ...]
    upgraded_from: str | None = None


@dataclass(frozen=True)
class RootfsResult:
    """Everything installed in the root, and what this run added."""

    packages: tuple[RootfsPackage, ...]
    new: tuple[NewPackage, ...]
    deferred_postinsts: tuple[str, ...] = ()
    skipped_recommends: tuple[str, ...] = ()

    def owners(self) -> dict[str, str]:
        """Path (``/usr/bin/greet``) -> the new package that owns it; directories belong to the first."""
        out: dict[str, str] = {}
        for pkg in self.new:
            for path in pkg.paths:
                out.setdefault(path, pkg.name)
        return out

    @property
    def new_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.new)


def _note(log: Path | None, text: str) -> None:
    """A progress line in the log, in dpkg's words."""
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(text + "\n")


def _write_info(admindir: str, deb: DebArchive, name: str, old: set[str], clamp: int | None) -> None:
    """Copy the control members to ``info/NAME.*`` (as dpkg does), dropping an old version's extras."""
    info = os.path.join(admindir, "info")
    keep = set()
    for member in deb.members.values():
        if member.name in _NOT_INFO:
            continue
        path = os.path.join(info, f"{name}.{member.name}")
        tmp = path + ".lb-new"
        with open(tmp, "wb") as fh:
            fh.write(member.data)
        os.chmod(tmp, member.mode)
        mtime = min(member.mtime, clamp) if clamp is not None else member.mtime
        os.utime(tmp, (mtime, mtime))
        os.replace(tmp, path)
        keep.add(member.name)
    for extra in sorted(old - keep):
        if extra != "list":
            try:
                os.unlink(os.path.join(info, f"{name}.{extra}"))
            except FileNotFoundError:
                pass


def _info_members(admindir: str, name: str) -> set[str]:
    prefix = name + "."
    try:
        return {f[len(prefix):] for f in os.listdir(os.path.join(admindir, "info")) if f.startswith(prefix)
                and "." not in f[len(prefix):]}
    except FileNotFoundError:
        return set()


def _conffile_list(deb: DebArchive) -> list[str]:
    return [line.strip() for line in (deb.text("conffiles") or "").splitlines() if line.strip()]


def _remove_obsolete(root: Root, old_paths: Sequence[str], new_paths: set[str], owners: Owners) -> None:
    """Remove an upgraded package's files that the new version no longer has (and no one else owns)."""
    gone = [p for p in old_paths if p not in new_paths and p != "/." and not owners.owner.get(p)]
    for path in sorted(gone, key=lambda p: (-p.count("/"), p)):
        rel = path.lstrip("/")
        parent, _, base = rel.rpartition("/")
        try:
            physical = root.resolve_dir(parent, "", create=False)
        except (FileNotFoundError, OSError):
            continue
        full = root.full(f"{physical}/{base}" if physical else base)
        try:
            st = os.lstat(full)
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(st.st_mode):
            try:
                os.rmdir(full)
            except OSError:
                pass  # still holds files of other packages or the user's
            continue
        os.unlink(full)
    root.forget()


def build_rootfs(root: str, feed_dirs: Sequence[str], request: Request, *, native_arch: str,
                 log: Path | None = None, clamp: int | None = None) -> RootfsResult:
    """Install ``request`` from the ``.deb`` files in ``feed_dirs`` into ``root`` with a dpkg database.

    ``root`` may be empty or hold a dpkg database already (its packages satisfy dependencies and are
    not installed again). Script output goes to ``log``; ``clamp`` caps file mtimes
    (SOURCE_DATE_EPOCH). Raises :class:`~layerbuild.errors.BuildError` for unresolvable requests,
    file conflicts, unsafe archives and failed maintainer scripts.
    """
    os.makedirs(root, exist_ok=True)
    db = Database.read(root)
    feed = Feed.scan(feed_dirs, native_arch)
    resolution = resolve(feed, db.packages, request)
    return install(root, db, resolution, native_arch=native_arch, log=log, clamp=clamp)


def install(root: str, db: Database, resolution: Resolution, *, native_arch: str, log: Path | None,
            clamp: int | None) -> RootfsResult:
    """Carry out a resolution in ``root`` (whose database is ``db``)."""
    admindir = init_admindir(root, native_arch)
    target = Root(root, clamp)
    infos: dict[str, PackageInfo] = {name: rec.info for name, rec in db.packages.items()}
    owners = Owners({name: db.files(name) for name in db.packages}, infos)
    unpacker = Unpacker(target, owners)
    abs_root = target.root
    unpacked: list[tuple[Step, DebArchive, Unpacked]] = []
    for step in resolution.steps:
        info = step.package.info
        deb = step.package.archive or open_deb(step.package.path)
        old = step.replaces_installed
        old_info = os.path.join(admindir, "info", f"{info.name}")
        if old is not None and os.path.exists(old_info + ".prerm"):
            run_script(abs_root, old_info + ".prerm", old.name, old.arch, "prerm", ["upgrade", info.version], log)
        if "preinst" in deb.members:
            tmpdir = os.path.join(admindir, "tmp.ci")
            os.makedirs(tmpdir, exist_ok=True)
            script = os.path.join(tmpdir, "preinst")
            with open(script, "wb") as fh:
                fh.write(deb.members["preinst"].data)
            os.chmod(script, 0o755)
            args = ["upgrade", old.version, info.version] if old is not None else ["install"]
            try:
                run_script(abs_root, script, info.name, info.arch, "preinst", args, log)
            finally:
                os.unlink(script)
                os.rmdir(tmpdir)
        old_conffiles = dict(old.conffiles) if old is not None else {}
        verb = f"Unpacking {info.name} ({info.version}) over ({old.version})" if old else \
            f"Unpacking {info.name} ({info.version})"
        _note(log, f"{verb} from {step.package.path} ...")
        result = unpacker.unpack(deb, info, _conffile_list(deb), old_conffiles,
                                 digests="md5sums" not in deb.members)
        if old is not None:
            if os.path.exists(old_info + ".postrm"):
                run_script(abs_root, old_info + ".postrm", old.name, old.arch, "postrm", ["upgrade", info.version],
                           log)
            # dpkg keeps conffiles the new version dropped, on disk and in the database, marked obsolete
            current = {path for path, _ in result.conffiles}
            for path, digest in old.conffiles:
                if path not in current:
                    result.listed.append(path)
                    result.obsolete_conffiles.append((path, digest))
            old_paths = db.files(old.name)
            kept = set(result.listed)
            owners.drop(old.name, [p for p in old_paths if p not in kept])
            _remove_obsolete(target, old_paths, kept, owners)
        _write_info(admindir, deb, info.name, _info_members(admindir, info.name) if old is not None else set(),
                    clamp)
        if "md5sums" not in deb.members and result.digests:
            # dpkg writes the digests of a package that ships none
            text = "".join(f"{md5}  {path}\n" for path, md5 in result.digests)
            atomic_write(os.path.join(admindir, "info", f"{info.name}.md5sums"),
                         text.encode("utf-8", "surrogateescape"))
        write_list(admindir, info.name, result.listed, None)
        unpacked.append((step, deb, result))
    deferred: list[str] = []
    for step, deb, _ in unpacked:
        info = step.package.info
        _note(log, f"Setting up {info.name} ({info.version}) ...")
        if "postinst" not in deb.members:
            continue
        script = os.path.join(admindir, "info", f"{info.name}.postinst")
        old_version = step.replaces_installed.version if step.replaces_installed is not None else ""
        if not run_script(abs_root, script, info.name, info.arch, "postinst", ["configure", old_version], log,
                          may_defer=True):
            deferred.append(info.name)
            _note(log, f"{info.name}: postinst deferred to first boot")
    saved = defer_postinsts(abs_root, deferred)
    new_names = {step.name for step, _, _ in unpacked}
    for name, paths in sorted(unpacker.lost.items()):
        if name not in new_names:
            write_list(admindir, name, [p for p in db.files(name) if p not in paths], None)
        else:
            entry = next(u for _, _, u in unpacked if u.name == name)
            entry.listed[:] = [p for p in entry.listed if p not in paths]
            write_list(admindir, name, entry.listed, None)
    stanzas = {name: rec.stanza for name, rec in db.records.items()}
    for step, _, result in unpacked:
        conffiles = result.conffiles + [(path, f"{digest} obsolete") for path, digest in result.obsolete_conffiles]
        state = UNPACKED if step.name in deferred else INSTALLED
        stanzas[step.name] = status_stanza(step.package.info, state, conffiles)
    write_status(admindir, stanzas)
    present = {name: RootfsPackage(name, rec.version, rec.arch) for name, rec in db.packages.items()}
    present.update((step.name, RootfsPackage(step.name, step.package.info.version, step.package.info.arch))
                   for step, _, _ in unpacked)
    packages = tuple(present[name] for name in sorted(present))
    new = tuple(NewPackage(step.name, step.package.info.version, step.package.info.arch,
                           tuple(p for p in result.listed if p != "/."),
                           step.replaces_installed.version if step.replaces_installed else None)
                for step, _, result in unpacked)
    return RootfsResult(packages, new, tuple(saved), resolution.skipped_recommends)


def installed_packages(root: str) -> dict[str, InstalledPackage]:
    """The installed packages of the dpkg database under ``root`` (empty without one)."""
    return Database.read(root).packages


__all__ = ["ADMINDIR", "NewPackage", "RootfsPackage", "RootfsResult", "build_rootfs", "install",
           "installed_packages"]
