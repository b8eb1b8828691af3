"""File-system helpers: atomic writes and publishing, joining names under a root, sorted walks, mtime clamping.

Everything a build publishes goes through a temporary name in the same directory and an
``os.replace`` into place, so a killed build never leaves a half-written file under a name a later
build would trust.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from layerbuild.util.errors import LayerbuildError, Location


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], mode: int = 0o644, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it into place (fsync first if ``durable``).

    On any exception the temporary file is removed and ``path`` is left as it was.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp: Path | None = None
    try:
        # the writer's pid in the name lets a later writer remove what a killed one left (remove_stale_temporaries)
        fd, tmpname = tempfile.mkstemp(prefix=f".{final.name}.{os.getpid()}.", suffix=".tmp", dir=final.parent)
        tmp = Path(tmpname)
        os.close(fd)
        yield tmp
        os.chmod(tmp, mode)
        if durable:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        raise


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[str]:
    """Remove the temporary files :func:`atomic_output` left beside ``path`` in processes that are gone
    (a build killed with SIGKILL); returns what was removed. A live writer's file is left alone."""
    final = Path(path)
    prefix = f".{final.name}."
    removed: list[str] = []
    try:
        names = os.listdir(final.parent)
    except OSError:
        return removed
    for name in names:
        if name.startswith(prefix) and dead_writers_temporary(name):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(final.parent / name)
                removed.append(name)
    return removed


def dead_writers_temporary(name: str) -> bool:
    """Whether ``name`` is a temporary file of :func:`atomic_output` or :func:`atomic_write`
    (``.NAME.PID.RANDOM.tmp``) whose writer is gone."""
    parts = name.rsplit(".", 3)
    if len(parts) != 4 or parts[3] != "tmp" or not name.startswith(".") or not parts[1].isdigit():
        return False
    return not _alive(int(parts[1]))


def _alive(pid: int) -> bool:
    """Whether ``pid`` may still write: a process that is gone, or dead and not yet reaped (a zombie:
    a killed build's worker waits for a parent that is gone too), writes nothing more."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def atomic_write(path: str | os.PathLike[str], data: bytes | str, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` atomically."""
    payload = data.encode() if isinstance(data, str) else data
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmpname = tempfile.mkstemp(prefix=f".{final.name}.{os.getpid()}.", suffix=".tmp", dir=final.parent)
    try:
        # written through the descriptor mkstemp opened: a stamp's sigdata is one of thousands per build
        with open(fd, "wb") as fh:
            fh.write(payload)
            os.fchmod(fh.fileno(), mode)
        os.replace(tmpname, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmpname)
        raise


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file's content, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def copy_tree(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Copy a tree with symlinks, modes, mtimes and (when running as root) owners."""
    shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
    if os.geteuid() != 0:
        return
    for root, dirs, files in sorted_walk(src):
        rel = os.path.relpath(root, src)
        for name in [".", *dirs, *files]:
            path = os.path.normpath(os.path.join(root, name))
            st = os.lstat(path)
            if st.st_uid or st.st_gid:
                target = os.path.normpath(os.path.join(dst, rel, name))
                os.lchown(target, st.st_uid, st.st_gid)
                if st.st_mode & (stat.S_ISUID | stat.S_ISGID) and not stat.S_ISLNK(st.st_mode):
                    os.chmod(target, stat.S_IMODE(st.st_mode))  # chown cleared the set-id bits


def sorted_walk(top: str | os.PathLike[str]) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk`` with directories and files in byte order, so results never depend on the fs."""
    for root, dirs, files in os.walk(top):
        dirs.sort()
        files.sort()
        yield root, dirs, files


def relative_paths(top: str | os.PathLike[str]) -> Iterator[str]:
    """Every path below ``top`` (not ``top`` itself), relative to it, in :func:`sorted_walk` order: each
    directory's entries in byte order, then what each subdirectory holds. Symlinks to directories are
    listed, never followed."""
    base = os.fspath(top)
    for root, dirs, files in sorted_walk(base):
        rel = os.path.relpath(root, base)
        prefix = "" if rel == "." else rel + os.sep
        for name in sorted(dirs + files):
            yield prefix + name


def clamp_mtime(mtime: float, source_date_epoch: int | None) -> int:
    """Clamp ``mtime`` to ``SOURCE_DATE_EPOCH`` when one is set."""
    value = int(mtime)
    if source_date_epoch is not None and value > source_date_epoch:
        return source_date_epoch
    return value


def atomic_symlink(target: str, path: str | os.PathLike[str]) -> None:
    """Point the symlink ``path`` at ``target``, replacing whatever was there in one rename."""
    final = Path(path)
    remove_stale_temporaries(final)  # what a writer killed here before left
    # named as atomic_output names its temporaries, so that dead_writers_temporary knows it as one
    tmp = final.with_name(f".{final.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        os.symlink(target, tmp)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


class PathEscape(LayerbuildError):
    """A name that would leave the directory it belongs under (absolute, ``..`` climbing out, empty root)."""


def directory_problem(value: str | None) -> str | None:
    """Why ``value`` cannot be a directory a build writes below (absolute, not ``/``), or None."""
    if value is None:
        return "is not set"
    if not value.strip():
        return "is empty"
    if not os.path.isabs(value):
        return f"is '{value}', a relative path"
    if not value.strip().strip("/"):
        return f"is '{value}', the root directory"
    return None


def directory_error(var: str, problem: str, where: Location, writer: str = "") -> LayerbuildError:
    """The error for the directory variable ``var`` that :func:`directory_problem` refused; ``writer``:
    the task that writes below it."""
    because = f"{writer} writes below it, so " if writer else ""
    return LayerbuildError(f"{var} {problem}: {because}it must be an absolute directory other than /", where,
                           hint=f"the build writes below {var}; set it to an absolute path "
                                "(the defaults are below ${TOPDIR})")


def join_under(root: str | os.PathLike[str], *names: str, what: str = "name") -> str:
    """``root/names...``, refusing a result that is not strictly below ``root``.

    Every place a name from metadata (a recipe, package or task name, a ``subdir=``, an archive
    entry) becomes a path goes through here. The check is lexical (``..`` is resolved against the
    names given, not the disk); :func:`inside_real` checks links on the disk.
    """
    base = os.fspath(root)
    if not base:
        raise PathEscape(f"{what} {'/'.join(names)!r} has no directory to go under (the directory is empty)")
    for name in names:
        if name.startswith("/"):
            raise PathEscape(f"{what} {name!r} is an absolute path; it must stay below {base}")
    joined = os.path.normpath(os.path.join(base, *names))
    top = os.path.normpath(base)
    if joined == top or not joined.startswith(top.rstrip(os.sep) + os.sep):
        raise PathEscape(f"{what} {'/'.join(names)!r} would leave {base}")
    return joined


def inside_real(root: str | os.PathLike[str], path: str | os.PathLike[str]) -> bool:
    """Whether ``path``, with every link on the disk followed, is ``root`` or below it."""
    top = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def remove_under(root: str | os.PathLike[str], path: str | os.PathLike[str]) -> bool:
    """Remove ``path`` (a file, a link, or a directory with everything in it) from below ``root``.

    ``path`` must be below ``root`` by name, and its parent must still be ``root`` or below it once links
    on the disk are followed; otherwise :class:`PathEscape` is raised and nothing is removed. ``path``
    itself is never followed: a link is removed, not what it points to, and a directory is removed
    without following the links inside it. Returns whether there was something to remove.
    """
    top, target = os.path.normpath(root), os.path.normpath(path)
    if not target.startswith(top.rstrip(os.sep) + os.sep):
        raise PathEscape(f"{target} is not below {top}")
    if not os.path.lexists(target):
        return False
    if not inside_real(top, os.path.dirname(target)):
        raise PathEscape(f"{os.path.dirname(target)} leads outside {top} through a symbolic link")
    if stat.S_ISDIR(os.lstat(target).st_mode):
        shutil.rmtree(target)  # unlinks the links inside, never follows them (rmtree.avoids_symlink_attacks)
    else:
        os.unlink(target)
    return True


#: errno values that mean "the file system is full" (no space, no inodes, over quota)
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` is (or was caused by) a full file system."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in DISK_FULL:
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False
