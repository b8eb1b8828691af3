"""A root directory handled as a chroot sees it: no name inside it leads out.

The installer, dpkg's database and the pkgdb snapshot create, read and change files below a root that
holds what packages and snapshots put there, symbolic links included, and builds run as root. The
host's own resolution of ``ROOT/var/lib/dpkg/status`` follows such a link wherever it points: to the
host's ``/`` for an absolute target, above the root for enough ``..``. :class:`RootDir` resolves every
name from an open descriptor of the root, one component at a time (``openat`` with ``O_NOFOLLOW``): a
link met on the way is followed as a chroot follows it (an absolute target starts again at the root),
and a target that climbs above the root is refused. The last component of a name is never followed
unless a method says so: operations act on a link itself, and opening a link for reading or writing
is an error.

Resolved directories are kept as physical names (link-free paths below the root) and as open
descriptors (a bounded number), so an operation costs the system calls it would cost on a plain path.
Whatever changed directories behind the resolver's back (a maintainer script, a removed directory)
must be followed by :meth:`RootDir.forget`.
"""

from __future__ import annotations

import errno
import itertools
import os
import stat
from types import TracebackType

from layerbuild.util.errors import LayerbuildError

#: how many links one name may pass through, as the kernel allows
MAX_HOPS = 40
#: descriptors of resolved directories kept open; past this many, all but the root's are closed
_MAX_OPEN = 256
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_LINK_ERRORS = (errno.ELOOP, errno.EMLINK)


class RootPathError(LayerbuildError):
    """A name that cannot be resolved inside its root: a link out of it, a loop, a file where a directory
    must be, a link where a file must be."""


def parts_of(name: str) -> list[str]:
    """The components of ``name`` (leading ``/`` and ``.`` dropped), refusing ``..``: the callers' names are
    paths inside the root, never ways out of it."""
    parts = [p for p in name.split("/") if p and p != "."]
    if ".." in parts:
        raise RootPathError(f"'{name}' has a '..' component")
    return parts


class RootDir:
    """One root directory, its names resolved inside it."""

    def __init__(self, path: str | os.PathLike[str], *, create: bool = False) -> None:
        self.path = os.path.abspath(os.fspath(path))
        if create:
            os.makedirs(self.path, exist_ok=True)
        # The root itself is the caller's choice and may be reached through links of the host.
        self._root_fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self._dirs: dict[str, str] = {"": ""}
        self._fds: dict[str, int] = {"": self._root_fd}
        self._serial = itertools.count()

    # -- life time -----------------------------------------------------------------------------------

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds = {}
        self._dirs = {}

    def __enter__(self) -> RootDir:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_fds", None):
            self.close()

    def forget(self) -> None:
        """Drop every resolution (after links changed, directories were removed or a script ran)."""
        for physical, fd in self._fds.items():
            if physical:
                os.close(fd)
        self._fds = {"": self._root_fd}
        self._dirs = {"": ""}

    def _trim(self) -> None:
        # called only where no descriptor of the cache is held, so closing them is safe
        if len(self._fds) > _MAX_OPEN:
            self.forget()

    # -- resolution ----------------------------------------------------------------------------------

    def full(self, physical: str) -> str:
        """The host path of a physical name (for a program that must be given a path)."""
        return f"{self.path}/{physical}" if physical else self.path

    def dir_fd(self, physical: str) -> int:
        """An open descriptor of the physical directory ``physical``, opened component by component without
        following any link."""
        fd = self._fds.get(physical)
        if fd is not None:
            return fd
        parent, _, base = physical.rpartition("/")
        parent_fd = self.dir_fd(parent)
        try:
            fd = os.open(base, _DIR_FLAGS, dir_fd=parent_fd)
        except OSError as exc:
            if exc.errno in (*_LINK_ERRORS, errno.ENOTDIR):
                raise RootPathError(f"'/{physical}' is no longer a directory of the root") from exc
            raise
        self._fds[physical] = fd
        return fd

    def resolve_dir(self, logical: str, create: bool = False) -> str:
        """The physical name of the directory ``logical`` (components without ``.``/``..``, no leading
        ``/``), links followed inside the root; with ``create``, missing directories are made (0755)."""
        cached = self._dirs.get(logical)
        if cached is not None:
            return cached
        parent, _, base = logical.rpartition("/")
        if base in ("", ".", ".."):
            # "..", looked up in the root's descriptor, would be the host's directory above it
            raise RootPathError(f"'{logical}' is not a plain name below the root")
        physical = self._step(self.resolve_dir(parent, create), base, create, [0], logical)
        self._dirs[logical] = physical
        return physical

    def _step(self, current: str, part: str, create: bool, hops: list[int], logical: str) -> str:
        """The physical directory that ``part`` names in the physical directory ``current``."""
        fd = self.dir_fd(current)
        try:
            st = os.stat(part, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            if not create:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), f"/{logical}") from None
            os.mkdir(part, 0o755, dir_fd=fd)
            return f"{current}/{part}" if current else part
        if stat.S_ISDIR(st.st_mode):
            return f"{current}/{part}" if current else part
        if not stat.S_ISLNK(st.st_mode):
            raise RootPathError(f"'/{logical}' is not a directory in the root")
        hops[0] += 1
        if hops[0] > MAX_HOPS:
            raise RootPathError(f"too many levels of symbolic links at '/{logical}'")
        target = os.readlink(part, dir_fd=fd)
        start = "" if target.startswith("/") else current
        parts = [p for p in target.split("/") if p and p != "."]
        if not parts:
            return start
        head = self._walk(start, parts[:-1], hops, logical)
        if parts[-1] == "..":
            return self._up(head, logical)
        return self._step(head, parts[-1], create, hops, logical)

    def _walk(self, current: str, parts: list[str], hops: list[int], logical: str) -> str:
        for part in parts:
            current = self._up(current, logical) if part == ".." else self._step(current, part, False, hops, logical)
        return current

    @staticmethod
    def _up(current: str, logical: str) -> str:
        if not current:
            raise RootPathError(f"'/{logical}' leads out of the root through a symbolic link")
        return current.rpartition("/")[0]

    def resolve(self, name: str) -> str:
        """The physical name of ``name`` with every link followed inside the root, the last one too."""
        parts = parts_of(name)
        if not parts:
            return ""
        hops = [0]
        physical = self.resolve_dir("/".join(parts[:-1]))
        base = parts[-1]
        while True:
            fd = self.dir_fd(physical)
            st = os.stat(base, dir_fd=fd, follow_symlinks=False)
            if not stat.S_ISLNK(st.st_mode):
                return f"{physical}/{base}" if physical else base
            hops[0] += 1
            if hops[0] > MAX_HOPS:
                raise RootPathError(f"too many levels of symbolic links at '/{name}'")
            target = os.readlink(base, dir_fd=fd)
            rest = [p for p in target.split("/") if p and p != "."]
            start = "" if target.startswith("/") else physical
            if not rest:
                return start
            physical = self._walk(start, rest[:-1], hops, name)
            if rest[-1] == "..":
                return self._up(physical, name)
            base = rest[-1]

    def open_dir(self, logical: str, create: bool = False) -> tuple[str, int]:
        """The physical name of the directory ``logical`` (as :meth:`resolve_dir` takes it) and a descriptor
        of it. The descriptor stays valid until the next call of this method, :meth:`locate`,
        :meth:`listdir` or :meth:`forget`; :meth:`dir_fd` closes none."""
        physical = self._dirs.get(logical)
        if physical is not None:
            fd = self._fds.get(physical)
            if fd is not None:
                return physical, fd
        self._trim()
        physical = self.resolve_dir(logical, create)
        return physical, self.dir_fd(physical)

    def add_dir(self, logical: str, physical: str) -> None:
        """Record that the directory ``logical`` is ``physical`` (one the caller has just made there)."""
        self._dirs[logical] = physical

    def locate(self, name: str, create: bool = False) -> tuple[int, str]:
        """(descriptor of the directory that holds ``name``, ``name``'s last component); the directory is
        resolved inside the root (made when ``create``)."""
        parts = parts_of(name)
        if not parts:
            raise RootPathError(f"'{name}' names the root itself")
        return self.open_dir("/".join(parts[:-1]), create)[1], parts[-1]

    # -- operations on one name (the last component never followed) ---------------------------------

    def lstat(self, name: str) -> os.stat_result:
        fd, base = self.locate(name)
        return os.stat(base, dir_fd=fd, follow_symlinks=False)

    def lexists(self, name: str) -> bool:
        try:
            self.lstat(name)
        except (FileNotFoundError, NotADirectoryError):
            return False
        return True

    def is_file(self, name: str) -> bool:
        """Whether ``name`` is a regular file (not a link to one)."""
        try:
            return stat.S_ISREG(self.lstat(name).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            return False

    def open(self, name: str, flags: int, mode: int = 0o644, create: bool = False) -> int:
        """``os.open`` of ``name``; a link there is an error, never followed."""
        fd, base = self.locate(name, create)
        try:
            return os.open(base, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=fd)
        except OSError as exc:
            if exc.errno in _LINK_ERRORS:
                raise RootPathError(f"{name} is a symbolic link; it must be a file") from exc
            raise

    def read_bytes(self, name: str, *, follow: bool = False) -> bytes:
        """The content of the file ``name``; with ``follow`` a link there is followed inside the root."""
        # O_NONBLOCK: a FIFO planted where a file should be must not stop the build
        fd = self.open(self.resolve(name) if follow else name, os.O_RDONLY | os.O_NONBLOCK)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise RootPathError(f"{name} is not a regular file")
            chunks = []
            while chunk := os.read(fd, max(st.st_size, 1 << 16)):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def read_text(self, name: str, *, follow: bool = False) -> str:
        return self.read_bytes(name, follow=follow).decode("utf-8", "surrogateescape")

    def write_bytes(self, name: str, data: bytes, mode: int = 0o644, *, mtime: int | None = None) -> None:
        """Replace ``name`` with a file holding ``data`` in one rename (a link there is replaced, not
        followed); missing directories are made."""
        fd, base = self.locate(name, create=True)
        tmp = self._temporary(fd, base, mode)
        try:
            with os.fdopen(tmp[1], "wb") as fh:
                fh.write(data)
                os.fchmod(fh.fileno(), mode)
                if mtime is not None:
                    os.utime(fh.fileno(), (mtime, mtime))
            os.replace(tmp[0], base, src_dir_fd=fd, dst_dir_fd=fd)
        except BaseException:
            try:
                os.unlink(tmp[0], dir_fd=fd)
            except FileNotFoundError:
                pass
            raise

    def _temporary(self, fd: int, base: str, mode: int) -> tuple[str, int]:
        # named as fsutil.atomic_write names its temporaries, so a killed writer's are recognised
        while True:
            name = f".{base}.{os.getpid()}.{next(self._serial)}.tmp"
            try:
                return name, os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                                     mode, dir_fd=fd)
            except FileExistsError:
                continue

    def makedirs(self, name: str) -> str:
        """Make directory ``name`` and its parents as needed; returns its physical name."""
        return self.resolve_dir("/".join(parts_of(name)), create=True)

    def listdir(self, name: str) -> list[str]:
        """The names in directory ``name`` (links to it followed inside the root)."""
        return os.listdir(self.open_dir("/".join(parts_of(name)))[1])

    def unlink(self, name: str, missing_ok: bool = False) -> None:
        try:
            fd, base = self.locate(name)
            os.unlink(base, dir_fd=fd)
        except FileNotFoundError:
            if not missing_ok:
                raise

    def rmdir(self, name: str) -> None:
        fd, base = self.locate(name)
        os.rmdir(base, dir_fd=fd)
        self.forget()

    def remove(self, name: str) -> None:
        """Remove whatever ``name`` is (a directory with its content); a link is removed, not followed."""
        fd, base = self.locate(name)
        try:
            st = os.stat(base, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            self._clear(os.open(base, _DIR_FLAGS, dir_fd=fd))
            os.rmdir(base, dir_fd=fd)
            self.forget()
        else:
            os.unlink(base, dir_fd=fd)

    def _clear(self, fd: int) -> None:
        try:
            for entry in os.scandir(fd):
                if entry.is_dir(follow_symlinks=False):
                    self._clear(os.open(entry.name, _DIR_FLAGS, dir_fd=fd))
                    os.rmdir(entry.name, dir_fd=fd)
                else:
                    os.unlink(entry.name, dir_fd=fd)
        finally:
            os.close(fd)

    def symlink(self, target: str, name: str) -> None:
        fd, base = self.locate(name, create=True)
        os.symlink(target, base, dir_fd=fd)

    def replace(self, src: str, dst: str) -> None:
        """Rename ``src`` over ``dst`` (both inside the root)."""
        src_fd, src_base = self.locate(src)
        dst_fd, dst_base = self.locate(dst)
        os.replace(src_base, dst_base, src_dir_fd=src_fd, dst_dir_fd=dst_fd)

    def chmod(self, name: str, mode: int) -> None:
        """Set the mode of ``name``; a link has none and is left alone."""
        fd, base = self.locate(name)
        chmod_at(fd, base, mode)

    def chown(self, name: str, uid: int, gid: int) -> None:
        fd, base = self.locate(name)
        os.chown(base, uid, gid, dir_fd=fd, follow_symlinks=False)

    def utime(self, name: str, mtime: int) -> None:
        fd, base = self.locate(name)
        os.utime(base, (mtime, mtime), dir_fd=fd, follow_symlinks=False)


def chmod_at(dir_fd: int, name: str, mode: int) -> None:
    """Set the mode of ``name`` in ``dir_fd`` without following a link (a link has no mode to set)."""
    try:
        os.chmod(name, mode, dir_fd=dir_fd, follow_symlinks=False)
    except (NotImplementedError, ValueError, OSError) as exc:
        # the C library refuses a link here (ENOTSUP, or Python's ValueError for it)
        if isinstance(exc, OSError) and exc.errno not in (errno.EOPNOTSUPP, errno.ENOTSUP):
            raise
        if not stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            raise
