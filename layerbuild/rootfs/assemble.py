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

from layerbuild.packaging.debread import DebArchive, open_deb
from layerbuild.rootfs.control import ControlError, PackageInfo, status_stanza
from layerbuild.rootfs.dpkgdb import (
    ADMINDIR,
    INSTALLED,
    UNPACKED,
    Database,
    InstalledPackage,
    init_admindir,
    write_list,
    write_status,
)
from layerbuild.rootfs.feed import Feed
from layerbuild.rootfs.resolve import Request, Resolution, Step, resolve
from layerbuild.rootfs.scripts import defer_postinsts, run_script
from layerbuild.rootfs.unpack import Owners, Root, Unpacked, Unpacker
from layerbuild.util.errors import BuildError
from layerbuild.util.rootdir import RootDir, RootPathError

INFO = f"{ADMINDIR}/info"
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


def _write_info(top: RootDir, deb: DebArchive, name: str, old: set[str], clamp: int | None) -> None:
    """Copy the control members to ``info/NAME.*`` (as dpkg does), dropping an old version's extras."""
    keep = set()
    for member in deb.members.values():
        if member.name in _NOT_INFO:
            continue
        mtime = min(member.mtime, clamp) if clamp is not None else member.mtime
        top.write_bytes(f"{INFO}/{name}.{member.name}", member.data, member.mode, mtime=mtime)
        keep.add(member.name)
    for extra in sorted(old - keep):
        if extra != "list":
            top.unlink(f"{INFO}/{name}.{extra}", missing_ok=True)


def _info_members(top: RootDir, name: str) -> set[str]:
    prefix = name + "."
    try:
        return {f[len(prefix):] for f in top.listdir(INFO) if f.startswith(prefix) and "." not in f[len(prefix):]}
    except FileNotFoundError:
        return set()


def _conffile_list(deb: DebArchive) -> list[str]:
    return [line.strip() for line in (deb.text("conffiles") or "").splitlines() if line.strip()]


def _remove_obsolete(top: RootDir, old_paths: Sequence[str], new_paths: set[str], owners: Owners) -> None:
    """Remove an upgraded package's files that the new version no longer has (and no one else owns)."""
    gone = [p for p in old_paths if p not in new_paths and p != "/." and not owners.owner.get(p)]
    for path in sorted(gone, key=lambda p: (-p.count("/"), p)):
        parent, _, base = path.lstrip("/").rpartition("/")
        try:
            _, fd = top.open_dir(parent)
            st = os.stat(base, dir_fd=fd, follow_symlinks=False)
        except (OSError, RootPathError):
            continue
        if stat.S_ISDIR(st.st_mode):
            try:
                os.rmdir(base, dir_fd=fd)
            except OSError:
                pass  # still holds files of other packages or the user's
            continue
        os.unlink(base, dir_fd=fd)
    top.forget()


def _script(top: RootDir, name: str) -> str | None:
    """The host path of the maintainer script ``name`` (below the root) to run, when it is a file."""
    if not top.is_file(name):
        return None
    parent, _, base = name.rpartition("/")
    return top.full(f"{top.resolve_dir(parent)}/{base}")


def _run_preinst(top: RootDir, deb: DebArchive, info: PackageInfo, old: InstalledPackage | None,
                 log: Path | None) -> None:
    """Run the new package's preinst from ``tmp.ci``, where dpkg runs it, emptied first as dpkg does."""
    tmpdir = f"{ADMINDIR}/tmp.ci"
    top.remove(tmpdir)
    top.write_bytes(f"{tmpdir}/preinst", deb.members["preinst"].data, 0o755)
    args = ["upgrade", old.version, info.version] if old is not None else ["install"]
    try:
        run_script(top.path, top.full(f"{top.resolve_dir(tmpdir)}/preinst"), info.name, info.arch, "preinst", args,
                   log)
    finally:
        top.forget()  # the script may have changed anything in the root
        top.remove(tmpdir)


def build_rootfs(root: str, feed_dirs: Sequence[str], request: Request, *, native_arch: str,
                 log: Path | None = None, clamp: int | None = None) -> RootfsResult:
    """Install ``request`` from the ``.deb`` files in ``feed_dirs`` into ``root`` with a dpkg database.

    ``root`` may be empty or hold a dpkg database already (its packages satisfy dependencies and are
    not installed again). Script output goes to ``log``; ``clamp`` caps file mtimes
    (SOURCE_DATE_EPOCH). Raises :class:`~layerbuild.util.errors.BuildError` for unresolvable requests,
    file conflicts, unsafe archives and failed maintainer scripts.
    """
    with RootDir(root, create=True) as top:
        try:
            db = Database.read(top)
        except ControlError as exc:
            raise BuildError(exc.message, exc.location, exc.hint, exc.notes) from exc
        feed = Feed.scan(feed_dirs, native_arch)
        resolution = resolve(feed, db.packages, request)
        return install(root, db, resolution, native_arch=native_arch, log=log, clamp=clamp)


def install(root: str, db: Database, resolution: Resolution, *, native_arch: str, log: Path | None,
            clamp: int | None) -> RootfsResult:
    """Carry out a resolution in ``root`` (whose database is ``db``)."""
    top = db.top if db.top is not None and db.top.path == os.path.abspath(root) else RootDir(root, create=True)
    try:
        return _install(top, db, resolution, native_arch=native_arch, log=log, clamp=clamp)
    except RootPathError as exc:
        raise BuildError(f"{root}: {exc.message}") from exc
    except OSError as exc:
        # what the unpacker does not report itself: the database and the maintainer scripts' files
        where = f": {exc.filename}" if exc.filename else ""
        raise BuildError(f"{root}: cannot install: {exc.strerror or exc}{where}") from exc


def _install(top: RootDir, db: Database, resolution: Resolution, *, native_arch: str, log: Path | None,
             clamp: int | None) -> RootfsResult:
    admin = init_admindir(top, native_arch)
    target = Root(top, clamp)
    infos: dict[str, PackageInfo] = {name: rec.info for name, rec in db.packages.items()}
    owners = Owners({name: db.files(name) for name in db.packages}, infos)
    unpacker = Unpacker(target, owners, admin)
    unpacked: list[tuple[Step, DebArchive, Unpacked]] = []
    for step in resolution.steps:
        info = step.package.info
        deb = step.package.archive or open_deb(step.package.path)
        old = step.replaces_installed
        old_info = f"{INFO}/{info.name}"
        if old is not None and (prerm := _script(top, old_info + ".prerm")) is not None:
            run_script(top.path, prerm, old.name, old.arch, "prerm", ["upgrade", info.version], log)
            top.forget()
        if "preinst" in deb.members:
            _run_preinst(top, deb, info, old, log)
        old_conffiles = dict(old.conffiles) if old is not None else {}
        verb = f"Unpacking {info.name} ({info.version}) over ({old.version})" if old else \
            f"Unpacking {info.name} ({info.version})"
        _note(log, f"{verb} from {step.package.path} ...")
        result = unpacker.unpack(deb, info, _conffile_list(deb), old_conffiles,
                                 digests="md5sums" not in deb.members)
        if old is not None:
            if (postrm := _script(top, old_info + ".postrm")) is not None:
                run_script(top.path, postrm, old.name, old.arch, "postrm", ["upgrade", info.version], log)
                top.forget()
            # dpkg keeps conffiles the new version dropped, on disk and in the database, marked obsolete
            current = {path for path, _ in result.conffiles}
            for path, digest in old.conffiles:
                if path not in current:
                    result.listed.append(path)
                    result.obsolete_conffiles.append((path, digest))
            old_paths = db.files(old.name)
            kept = set(result.listed)
            owners.drop(old.name, [p for p in old_paths if p not in kept])
            _remove_obsolete(top, old_paths, kept, owners)
        _write_info(top, deb, info.name, _info_members(top, info.name) if old is not None else set(), clamp)
        if "md5sums" not in deb.members and result.digests:
            # dpkg writes the digests of a package that ships none
            text = "".join(f"{md5}  {path}\n" for path, md5 in result.digests)
            top.write_bytes(f"{INFO}/{info.name}.md5sums", text.encode("utf-8", "surrogateescape"))
        write_list(top, info.name, result.listed, None)
        unpacked.append((step, deb, result))
    deferred: list[str] = []
    for step, deb, _ in unpacked:
        info = step.package.info
        _note(log, f"Setting up {info.name} ({info.version}) ...")
        if "postinst" not in deb.members:
            continue
        script = _script(top, f"{INFO}/{info.name}.postinst")
        if script is None:
            raise BuildError(f"{info.name}: its postinst script is no longer a file in {top.path}/{INFO}")
        old_version = step.replaces_installed.version if step.replaces_installed is not None else ""
        configured = run_script(top.path, script, info.name, info.arch, "postinst", ["configure", old_version], log,
                                may_defer=True)
        top.forget()
        if not configured:
            deferred.append(info.name)
            _note(log, f"{info.name}: postinst deferred to first boot")
    saved = defer_postinsts(top, deferred)
    new_names = {step.name for step, _, _ in unpacked}
    for name, paths in sorted(unpacker.lost.items()):
        if name not in new_names:
            write_list(top, name, [p for p in db.files(name) if p not in paths], None)
        else:
            entry = next(u for _, _, u in unpacked if u.name == name)
            entry.listed[:] = [p for p in entry.listed if p not in paths]
            write_list(top, name, entry.listed, None)
    stanzas = {name: rec.stanza for name, rec in db.records.items()}
    for step, _, result in unpacked:
        conffiles = result.conffiles + [(path, f"{digest} obsolete") for path, digest in result.obsolete_conffiles]
        state = UNPACKED if step.name in deferred else INSTALLED
        stanzas[step.name] = status_stanza(step.package.info, state, conffiles)
    write_status(top, stanzas)
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
