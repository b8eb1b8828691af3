"""Unpacking a package's data archive into a root, with dpkg's rules for what may be overwritten.

Every entry keeps its type, permission bits, owner (numeric uid/gid; only when running as root) and
mtime (clamped when asked). Directories that exist already are left as they are, as dpkg leaves them;
a symbolic link to a directory counts as that directory (merged ``/usr``). Paths are resolved inside
the root as a chroot would resolve them: a symbolic link met on the way is followed relative to the
root, and one that would lead out of it is refused, as are absolute names, ``..`` components and
hard links to anything but an earlier file of the same package.

A regular file (or link) that another package owns is an error, as in dpkg, unless one of the two
Replaces the other: when the new package replaces the owner, the file changes hands; when the owner
replaces the new package, the owner's file is kept and the new one is left out.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import zstandard

from ..errors import BuildError
from ..packaging import debread
from ..packaging.debread import DebArchive, DebError, TarEntry
from .control import PackageInfo

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


class Root:
    """A directory being filled, with chroot-style path resolution that never leaves it."""

    def __init__(self, root: str, clamp: int | None) -> None:
        self.root = os.path.abspath(root)
        self.clamp = clamp
        self.chown = os.geteuid() == 0
        self._dirs: dict[str, str] = {"": ""}

    def full(self, physical: str) -> str:
        return self.root + "/" + physical if physical else self.root

    def forget(self) -> None:
        """Drop the resolution cache (after links changed or paths were removed)."""
        self._dirs = {"": ""}

    def resolve_dir(self, logical: str, package: str, create: bool = True) -> str:
        """The physical, symlink-free path of directory ``logical``; missing ones are created."""
        cached = self._dirs.get(logical)
        if cached is not None:
            return cached
        parent, _, base = logical.rpartition("/")
        physical = self.resolve_dir(parent, package, create)
        candidate = f"{physical}/{base}" if physical else base
        hops = 0
        while True:
            try:
                st = os.lstat(self.full(candidate))
            except FileNotFoundError:
                if not create:
                    raise
                os.mkdir(self.full(candidate), 0o755)
                break
            if stat.S_ISDIR(st.st_mode):
                break
            if not stat.S_ISLNK(st.st_mode):
                raise UnpackError(f"{package}: '/{logical}' is not a directory in the root")
            hops += 1
            if hops > 40:
                raise UnpackError(f"{package}: too many levels of symbolic links at '/{logical}'")
            candidate = self._follow(candidate, os.readlink(self.full(candidate)), package, logical)
        self._dirs[logical] = candidate
        return candidate

    def _follow(self, physical: str, target: str, package: str, logical: str) -> str:
        base = [] if target.startswith("/") else physical.split("/")[:-1]
        parts = [p for p in base if p]
        for part in target.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if not parts:
                    raise UnpackError(f"{package}: '/{logical}' leads out of the root through a symbolic link")
                parts.pop()
            else:
                parts.append(part)
        # The target itself may contain links: resolve its directory part again.
        if not parts:
            return ""
        head = "/".join(parts[:-1])
        resolved = self.resolve_dir(head, package, create=False) if head else ""
        return f"{resolved}/{parts[-1]}" if resolved else parts[-1]

    def mtime(self, value: float) -> int:
        mtime = int(value)
        return min(mtime, self.clamp) if self.clamp is not None else mtime

    def set_attrs(self, path: str, info: TarEntry, link: bool = False) -> None:
        if self.chown:
            os.lchown(path, info.uid, info.gid)
        if not link:
            os.chmod(path, info.mode & 0o7777)
        mtime = self.mtime(info.mtime)
        os.utime(path, (mtime, mtime), follow_symlinks=not link)


def md5_file(path: str) -> str:
    h = hashlib.md5()  # noqa: S324 - dpkg's conffile digests
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


class Unpacker:
    """Unpacks packages one after another into one root, keeping the ownership table current."""

    def __init__(self, root: Root, owners: Owners) -> None:
        self.root = root
        self.owners = owners
        #: package -> paths it lost to a package that Replaces it (its .list must be rewritten)
        self.lost: dict[str, set[str]] = {}

    def unpack(self, deb: DebArchive, info: PackageInfo, conffiles: Iterable[str],
               old_conffiles: Mapping[str, str] | None = None, digests: bool = False) -> Unpacked:
        """Unpack ``deb`` (whose control data is ``info``); ``old_conffiles`` are an upgraded version's.

        With ``digests`` the md5 of every file is kept (dpkg writes md5sums for a package without them).
        """
        result = Unpacked(info.name)
        conf = set(conffiles)
        self._digests: dict[str, str] | None = {} if digests else None
        self.owners.infos[info.name] = info
        done: dict[str, str] = {}
        try:
            with deb.data() as entries:
                for member in entries:
                    self._member(member, info, conf, old_conffiles or {}, result, done)
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

    def _member(self, member: TarEntry, info: PackageInfo, conf: set[str],
                old_conffiles: Mapping[str, str], result: Unpacked, done: dict[str, str]) -> None:
        rel = _relative(member.name, info.name)
        listed = "/" + rel if rel else "/."
        kind = member.kind
        if not rel:
            if kind != debread.DIRECTORY:
                raise UnpackError(f"{info.name}: the archive's root entry is not a directory")
            result.listed.append(listed)
            return
        if kind != debread.DIRECTORY and not self._takeover(info, listed):
            return
        parent_logical, _, base = rel.rpartition("/")
        parent = self.root.resolve_dir(parent_logical, info.name)
        physical = f"{parent}/{base}" if parent else base
        full = self.root.full(physical)
        try:
            existing: os.stat_result | None = os.lstat(full)
        except FileNotFoundError:
            existing = None
        if kind == debread.DIRECTORY:
            self._directory(member, rel, full, existing, info)
            result.listed.append(listed)
            return
        if existing is not None and stat.S_ISDIR(existing.st_mode):
            raise UnpackError(f"{info.name}: trying to overwrite directory '{listed}' with a non-directory")
        if kind == debread.REGULAR:
            digest = self._file(member, full, existing is not None,
                                listed in conf or self._digests is not None)
            if self._digests is not None:
                assert digest is not None
                self._digests[rel] = digest
                result.digests.append((rel, digest))
            if listed in conf:
                assert digest is not None
                result.conffiles.append((listed, digest))
                self._settle_conffile(full, existing is not None, old_conffiles.get(listed), result, listed)
            elif existing is not None:
                os.replace(full + ".lb-new", full)
            done[rel] = full
        elif kind == debread.SYMLINK:
            tmp = full + ".lb-new" if existing is not None else full
            os.symlink(member.linkname, tmp)
            self.root.set_attrs(tmp, member, link=True)
            if existing is not None:
                os.replace(tmp, full)
                if stat.S_ISLNK(existing.st_mode):
                    self.root.forget()
            result.links.append(listed)
            return
        elif kind == debread.HARDLINK:
            target_rel = _relative(member.linkname, info.name, "hard link target")
            target = done.get(target_rel)
            if target is None:
                raise UnpackError(f"{info.name}: hard link '{listed}' points to '/{target_rel}', "
                                  f"which is not an earlier file of the package")
            tmp = full + ".lb-new" if existing is not None else full
            os.link(target, tmp)
            if existing is not None:
                os.replace(tmp, full)
            done[rel] = full
            if self._digests is not None and target_rel in self._digests:
                self._digests[rel] = self._digests[target_rel]
                result.digests.append((rel, self._digests[rel]))
        elif kind in (debread.CHARDEV, debread.BLOCKDEV, debread.FIFO):
            if kind != debread.FIFO and not self.root.chown:
                raise UnpackError(f"{info.name}: cannot create device '{listed}' without root privileges")
            node = {debread.CHARDEV: stat.S_IFCHR, debread.BLOCKDEV: stat.S_IFBLK}.get(kind, stat.S_IFIFO)
            tmp = full + ".lb-new" if existing is not None else full
            os.mknod(tmp, node | (member.mode & 0o7777), os.makedev(member.devmajor, member.devminor))
            self.root.set_attrs(tmp, member)
            if existing is not None:
                os.replace(tmp, full)
        else:
            raise UnpackError(f"{info.name}: unsupported archive entry '{member.name}'")
        result.listed.append(listed)

    def _directory(self, member: TarEntry, rel: str, full: str, existing: os.stat_result | None,
                   info: PackageInfo) -> None:
        if existing is not None:
            if stat.S_ISDIR(existing.st_mode):
                return
            if stat.S_ISLNK(existing.st_mode):
                # A link to a directory stands for it (merged /usr); resolve_dir refuses one that leaves.
                self.root.resolve_dir(rel, info.name, create=False)
                return
            os.unlink(full)
        os.mkdir(full, 0o700)
        self.root.set_attrs(full, member)
        self.root._dirs[rel] = full[len(self.root.root) + 1:]

    def _file(self, member: TarEntry, full: str, exists: bool,
              digest: bool) -> str | None:
        path = full + ".lb-new" if exists else full
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        if exists:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        fd = os.open(path, flags, 0o600)
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

    def _settle_conffile(self, full: str, exists: bool, old_digest: str | None, result: Unpacked,
                         listed: str) -> None:
        if not exists:
            return
        new = full + ".lb-new"
        if old_digest is not None and os.path.isfile(full) and not os.path.islink(full) \
                and md5_file(full) != old_digest:
            # The root's copy was changed since the old version: keep it, as dpkg --force-confold does.
            os.replace(new, full + ".dpkg-dist")
            result.kept_conffiles.append(listed)
            return
        os.replace(new, full)
