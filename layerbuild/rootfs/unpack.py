"""Unpacking a package's data archive into a root, with dpkg's rules for what may be overwritten.

Every entry keeps its type, permission bits, owner (numeric uid/gid; only when running as root) and
mtime (clamped when asked). Directories that exist already are left as they are, as dpkg leaves them;
a symbolic link to a directory counts as that directory (merged ``/usr``). Paths are resolved inside
the root as a chroot would resolve them (:class:`~layerbuild.util.rootdir.RootDir`): a symbolic link met on
the way is followed relative to the root, and one that would lead out of it is refused, as are
absolute names, ``..`` components, hard links to anything but an earlier file of the same package,
names with a newline (dpkg refuses them) and anything in dpkg's database directory ``var/lib/dpkg``,
by its name or through a link: the database is the installer's alone.

A regular file (or link) that another package owns is an error, as in dpkg, unless one of the two
Replaces the other: when the new package replaces the owner, the file changes hands; when the owner
replaces the new package, the owner's file is kept and the new one is left out.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import posixpath
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import zstandard

from layerbuild.packaging import debread
from layerbuild.packaging.debread import DebArchive, DebError, TarEntry
from layerbuild.rootfs.control import PackageInfo
from layerbuild.rootfs.dpkgdb import ADMINDIR
from layerbuild.util.errors import BuildError
from layerbuild.util.rootdir import RootDir, RootPathError, chmod_at

_CHUNK = 1 << 20


class UnpackError(BuildError):
    """A package that cannot be unpacked into the root."""


@dataclass
class Unpacked:
    """What one package put into the root: its ``.list`` entries and its conffiles with their md5."""

    name: str
    listed: list[str] = field(default_factory=list)
    conffiles: list[tuple[str, str]] = field(default_factory=list)
    #: conffiles kept because the root's copy was changed; the new version went to ``PATH.dpkg-dist``
    kept_conffiles: list[str] = field(default_factory=list)
    #: symbolic links, which dpkg lists after every other entry
    links: list[str] = field(default_factory=list)
    #: conffiles of an upgraded version that this one dropped: kept, as dpkg keeps them (path, md5)
    obsolete_conffiles: list[tuple[str, str]] = field(default_factory=list)
    #: md5 of every regular file and hard link in archive order, when asked for (a package without md5sums)
    digests: list[tuple[str, str]] = field(default_factory=list)


class Owners:
    """Which packages list which path, and which listed paths are directories (they have children)."""

    def __init__(self, lists: Mapping[str, Iterable[str]], infos: Mapping[str, PackageInfo]) -> None:
        self.owner: dict[str, list[str]] = {}
        self.infos = dict(infos)
        self.dirs: set[str] = set()
        for name in sorted(lists):
            self.add(name, lists[name])

    def add(self, name: str, paths: Iterable[str]) -> None:
        for path in paths:
            owners = self.owner.setdefault(path, [])
            if name not in owners:
                owners.append(name)
            parent = path.rpartition("/")[0]
            while parent and parent not in self.dirs:
                self.dirs.add(parent)
                parent = parent.rpartition("/")[0]

    def drop(self, name: str, paths: Iterable[str]) -> None:
        for path in paths:
            owners = self.owner.get(path)
            if owners and name in owners:
                owners.remove(name)
                if not owners:
                    del self.owner[path]


def _relative(name: str, package: str, what: str = "entry") -> str:
    """A tar member name as a root-relative path (``""`` for the root); refuses names that escape."""
    if name.startswith("/"):
        raise UnpackError(f"{package}: refusing absolute {what} '{name}'")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnpackError(f"{package}: refusing {what} '{name}' with a '..' component")
    return "/".join(parts)


def _link_target(name: str, package: str) -> str:
    """A hard link's target as a root-relative path, ``..`` resolved first; refuses one that leaves."""
    if name.startswith("/"):
        raise UnpackError(f"{package}: refusing absolute hard link target '{name}'")
    normal = posixpath.normpath(name)
    if normal == ".." or normal.startswith("../"):
        raise UnpackError(f"{package}: refusing hard link target '{name}': it leads out of the root")
    return "" if normal == "." else normal


class Root:
    """A directory being filled: its names resolved inside it (:class:`~layerbuild.util.rootdir.RootDir`),
    owners set when running as root, mtimes clamped."""

    def __init__(self, top: RootDir, clamp: int | None) -> None:
        self.top = top
        self.root = top.path
        self.clamp = clamp
        self.chown = os.geteuid() == 0

    def mtime(self, value: float) -> int:
        mtime = int(value)
        return min(mtime, self.clamp) if self.clamp is not None else mtime

    def set_attrs(self, fd: int, name: str, info: TarEntry, link: bool = False) -> None:
        """Owner, mode and time of ``name`` in the directory ``fd``, the entry itself (never a link's target)."""
        if self.chown:
            os.chown(name, info.uid, info.gid, dir_fd=fd, follow_symlinks=False)
        if not link:
            chmod_at(fd, name, info.mode & 0o7777)
        mtime = self.mtime(info.mtime)
        os.utime(name, (mtime, mtime), dir_fd=fd, follow_symlinks=False)


def md5_at(fd: int, name: str) -> str:
    """The md5 of the regular file ``name`` in the directory ``fd``."""
    h = hashlib.md5()  # noqa: S324 - dpkg's conffile digests
    with os.fdopen(os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd), "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


class Unpacker:
    """Unpacks packages one after another into one root, keeping the ownership table current.

    ``admin`` is the physical name of dpkg's database directory in the root (see
    :meth:`~layerbuild.util.rootdir.RootDir.resolve_dir`): no entry of a package may land in it, whatever
    link leads there.
    """

    def __init__(self, root: Root, owners: Owners, admin: str | None = None) -> None:
        self.root = root
        self.owners = owners
        self.admin = admin
        #: package -> paths it lost to a package that Replaces it (its .list must be rewritten)
        self.lost: dict[str, set[str]] = {}

    def unpack(self, deb: DebArchive, info: PackageInfo, conffiles: Iterable[str],
               old_conffiles: Mapping[str, str] | None = None, digests: bool = False) -> Unpacked:
        """Unpack ``deb`` (whose control data is ``info``); ``old_conffiles`` are an upgraded version's.

        With ``digests`` the md5 of every file is kept (dpkg writes md5sums for a package without them).
        Entries are checked as the archive streams, each before anything of it is written: a second
        pass to check them all first would read every data archive twice, and a root whose installation
        failed is never used.
        """
        result = Unpacked(info.name)
        conf = set(conffiles)
        self._digests: dict[str, str] | None = {} if digests else None
        self.owners.infos[info.name] = info
        done: dict[str, tuple[str, str]] = {}
        try:
            with deb.data() as entries:
                for member in entries:
                    self._member(member, info, conf, old_conffiles or {}, result, done)
        except RootPathError as exc:
            raise UnpackError(f"{info.name}: {exc.message}") from exc
        except (DebError, EOFError, ValueError, lzma.LZMAError, zstandard.ZstdError) as exc:
            raise UnpackError(f"{info.name}: cannot read the data archive of {deb.path}: {exc}") from exc
        except OSError as exc:
            raise UnpackError(f"{info.name}: cannot unpack {deb.path} into {self.root.root}: {exc}") from exc
        result.listed.extend(result.links)
        result.links.clear()
        self.owners.add(info.name, result.listed)
        return result

    def _takeover(self, info: PackageInfo, path: str) -> bool:
        """Whether ``info`` may install ``path``; False when an owner that replaces it keeps the file."""
        owners = [o for o in self.owners.owner.get(path, ()) if o != info.name]
        if not owners:
            return True
        if path in self.owners.dirs:
            raise UnpackError(f"{info.name} {info.version}: trying to overwrite directory '{path}' of package "
                              f"{owners[0]} with a non-directory")
        for other in owners:
            other_info = self.owners.infos.get(other)
            if other_info is not None and any(other_info.satisfies(r) for r in info.replaces):
                continue
            if other_info is not None and any(info.satisfies(r) for r in other_info.replaces):
                return False
            version = f" {other_info.version}" if other_info is not None else ""
            raise UnpackError(f"{info.name} {info.version}: trying to overwrite '{path}', which is also in "
                              f"package {other}{version}",
                              hint="one of the two packages must declare Replaces (RREPLACES) for the other")
        for other in owners:
            self.owners.drop(other, [path])
            self.lost.setdefault(other, set()).add(path)
        return True

    def _refuse(self, info: PackageInfo, member: TarEntry, rel: str) -> None:
        """Names dpkg refuses, and anything in dpkg's own database (the installer's alone)."""
        if "\n" in member.name:
            raise UnpackError(f"{info.name} {info.version}: refusing {member.name!r}: a file name may not contain "
                              "a newline (it would break the package's file lists; dpkg refuses it too)")
        if rel == ADMINDIR or rel.startswith(ADMINDIR + "/"):
            raise UnpackError(f"{info.name} {info.version}: refusing '/{rel}': a package may not ship anything "
                              f"in /{ADMINDIR}, dpkg's database")

    def _member(self, member: TarEntry, info: PackageInfo, conf: set[str],
                old_conffiles: Mapping[str, str], result: Unpacked, done: dict[str, tuple[str, str]]) -> None:
        rel = _relative(member.name, info.name)
        if "\n" in member.name or rel.startswith(ADMINDIR):
            self._refuse(info, member, rel)
        listed = "/" + rel if rel else "/."
        kind = member.kind
        if not rel:
            if kind != debread.DIRECTORY:
                raise UnpackError(f"{info.name}: the archive's root entry is not a directory")
            result.listed.append(listed)
            return
        if kind != debread.DIRECTORY and not self._takeover(info, listed):
            return
        top = self.root.top
        parent_logical, _, base = rel.rpartition("/")
        parent, fd = top.open_dir(parent_logical, create=True)
        physical = f"{parent}/{base}" if parent else base
        if self.admin is not None and (physical == self.admin or physical.startswith(self.admin + "/")):
            raise UnpackError(f"{info.name} {info.version}: refusing '{listed}': it is in /{ADMINDIR}, dpkg's "
                              "database, through a symbolic link")
        try:
            existing: os.stat_result | None = os.stat(base, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            existing = None
        if kind == debread.DIRECTORY:
            self._directory(member, rel, fd, base, physical, existing, info)
            result.listed.append(listed)
            return
        if existing is not None and stat.S_ISDIR(existing.st_mode):
            raise UnpackError(f"{info.name}: trying to overwrite directory '{listed}' with a non-directory")
        if kind == debread.REGULAR:
            digest = self._file(member, fd, base, existing is not None,
                                listed in conf or self._digests is not None)
            if self._digests is not None:
                assert digest is not None
                self._digests[rel] = digest
                result.digests.append((rel, digest))
            if listed in conf:
                assert digest is not None
                result.conffiles.append((listed, digest))
                self._settle_conffile(fd, base, existing, old_conffiles.get(listed), result, listed)
            elif existing is not None:
                os.replace(base + ".lb-new", base, src_dir_fd=fd, dst_dir_fd=fd)
            done[rel] = (parent, base)
        elif kind == debread.SYMLINK:
            tmp = base + ".lb-new" if existing is not None else base
            os.symlink(member.linkname, tmp, dir_fd=fd)
            self.root.set_attrs(fd, tmp, member, link=True)
            if existing is not None:
                os.replace(tmp, base, src_dir_fd=fd, dst_dir_fd=fd)
                if stat.S_ISLNK(existing.st_mode):
                    top.forget()
            result.links.append(listed)
            return
        elif kind == debread.HARDLINK:
            target_rel = _link_target(member.linkname, info.name)
            target = done.get(target_rel)
            if target is None:
                raise UnpackError(f"{info.name}: hard link '{listed}' points to '/{target_rel}', "
                                  f"which is not an earlier file of the package")
            tmp = base + ".lb-new" if existing is not None else base
            # done holds only regular files this package wrote, in directories resolved inside the root
            os.link(target[1], tmp, src_dir_fd=top.dir_fd(target[0]), dst_dir_fd=fd, follow_symlinks=False)
            if existing is not None:
                os.replace(tmp, base, src_dir_fd=fd, dst_dir_fd=fd)
            done[rel] = (parent, base)
            if self._digests is not None and target_rel in self._digests:
                self._digests[rel] = self._digests[target_rel]
                result.digests.append((rel, self._digests[rel]))
        elif kind in (debread.CHARDEV, debread.BLOCKDEV, debread.FIFO):
            if kind != debread.FIFO and not self.root.chown:
                raise UnpackError(f"{info.name}: cannot create device '{listed}' without root privileges")
            node = {debread.CHARDEV: stat.S_IFCHR, debread.BLOCKDEV: stat.S_IFBLK}.get(kind, stat.S_IFIFO)
            tmp = base + ".lb-new" if existing is not None else base
            os.mknod(tmp, node | (member.mode & 0o7777), os.makedev(member.devmajor, member.devminor), dir_fd=fd)
            self.root.set_attrs(fd, tmp, member)
            if existing is not None:
                os.replace(tmp, base, src_dir_fd=fd, dst_dir_fd=fd)
        else:
            raise UnpackError(f"{info.name}: unsupported archive entry '{member.name}'")
        result.listed.append(listed)

    def _directory(self, member: TarEntry, rel: str, fd: int, base: str, physical: str,
                   existing: os.stat_result | None, info: PackageInfo) -> None:
        if existing is not None:
            if stat.S_ISDIR(existing.st_mode):
                return
            if stat.S_ISLNK(existing.st_mode):
                # A link to a directory stands for it (merged /usr); resolve_dir refuses one that leaves.
                self.root.top.resolve_dir(rel)
                return
            os.unlink(base, dir_fd=fd)
        os.mkdir(base, 0o700, dir_fd=fd)
        self.root.set_attrs(fd, base, member)
        self.root.top.add_dir(rel, physical)

    def _file(self, member: TarEntry, dir_fd: int, base: str, exists: bool, digest: bool) -> str | None:
        path = base + ".lb-new" if exists else base
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        if exists:
            try:
                os.unlink(path, dir_fd=dir_fd)
            except FileNotFoundError:
                pass
        fd = os.open(path, flags, 0o600, dir_fd=dir_fd)
        h = hashlib.md5() if digest else None  # noqa: S324 - dpkg's conffile digests
        try:
            remaining = member.size
            while remaining > 0:
                block = member.read(min(_CHUNK, remaining))
                if not block:
                    raise UnpackError(f"truncated archive entry '{member.name}'")
                os.write(fd, block)
                if h is not None:
                    h.update(block)
                remaining -= len(block)
            if self.root.chown:
                os.fchown(fd, member.uid, member.gid)
            os.fchmod(fd, member.mode & 0o7777)
            mtime = self.root.mtime(member.mtime)
            os.utime(fd, (mtime, mtime))
        finally:
            os.close(fd)
        return h.hexdigest() if h is not None else None

    def _settle_conffile(self, fd: int, base: str, existing: os.stat_result | None, old_digest: str | None,
                         result: Unpacked, listed: str) -> None:
        if existing is None:
            return
        new = base + ".lb-new"
        if old_digest is not None and stat.S_ISREG(existing.st_mode) and md5_at(fd, base) != old_digest:
            # The root's copy was changed since the old version: keep it, as dpkg --force-confold does.
            os.replace(new, base + ".dpkg-dist", src_dir_fd=fd, dst_dir_fd=fd)
            result.kept_conffiles.append(listed)
            return
        os.replace(new, base, src_dir_fd=fd, dst_dir_fd=fd)
