"""``bb.utils``: the helpers metadata and OE's Python library call, with BitBake's results.

Words and dependency lists (``contains``, ``filter``, ``explode_deps``, ``join_deps`` ...), BitBake's
version ordering (``vercmp*``: not dpkg's, which the packaging side uses), paths and files
(``which``, ``mkdirhier``, ``remove``, ``copyfile``, ``lockfile``, the ``*_file`` digests) and the
layer a file belongs to.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import fcntl
import glob
import os
import re
import shutil
import stat
from collections.abc import Iterable, Iterator
from typing import IO, Any

from layerbuild.engine.bb.filter import filter_proc
from layerbuild.engine.bb.messages import fatal, warn
from layerbuild.util.vartypes import to_boolean

__all__ = ["to_boolean"]


class VersionStringException(Exception):
    """A version comparison with an operator BitBake does not know, or a dependency version without one."""


# -- words ---------------------------------------------------------------------------------------------


def _wanted(checkvalues: str | Iterable[str]) -> set[str]:
    return set(checkvalues.split()) if isinstance(checkvalues, str) else set(checkvalues)


def contains(variable: str, checkvalues: str | Iterable[str], truevalue: Any, falsevalue: Any, d: Any) -> Any:
    """``truevalue`` when the words of ``variable`` include every one of ``checkvalues``."""
    val = d.getVar(variable)
    if not val:
        return falsevalue
    return truevalue if _wanted(checkvalues).issubset(val.split()) else falsevalue


def contains_any(variable: str, checkvalues: str | Iterable[str], truevalue: Any, falsevalue: Any, d: Any) -> Any:
    """``truevalue`` when the words of ``variable`` include any of ``checkvalues``."""
    val = d.getVar(variable)
    if not val:
        return falsevalue
    return truevalue if _wanted(checkvalues) & set(val.split()) else falsevalue


def filter_string(val: str | None, checkvalues: str | Iterable[str]) -> str:
    """The words of ``val`` that are among ``checkvalues``, sorted and space-separated."""
    if not val:
        return ""
    return " ".join(sorted(_wanted(checkvalues) & set(val.split())))


def filter(variable: str, checkvalues: str | Iterable[str], d: Any) -> str:  # noqa: A001 (BitBake's name)
    """The words of ``variable`` that are among ``checkvalues``."""
    return filter_string(d.getVar(variable), checkvalues)


def prune_suffix(var: str, suffixes: Iterable[str], d: Any = None) -> str:
    """``var`` without the first of ``suffixes`` it ends with."""
    for suffix in suffixes:
        if suffix and var.endswith(suffix):
            return var[:-len(suffix)]
    return var


# -- dependency lists ----------------------------------------------------------------------------------

_OPERATORS2 = ("<=", "=<", "<<", "==", "!=", ">=", "=>", ">>")


@filter_proc(name="bb.utils.explode_deps")
def explode_deps(s: str) -> list[str]:
    """The names of an ``RDEPENDS``-style list, versions dropped."""
    names = []
    inversion = False
    for word in s.split():
        if word[0] == "(":
            inversion = True
        if not inversion:
            names.append(word)
        if inversion and word.endswith(")"):
            inversion = False
    return names


def explode_dep_versions2(s: str, *, sort: bool = True) -> collections.OrderedDict[str, list[str]]:
    """An ``RDEPENDS``-style list as {name: ["OP VERSION", ...]}, sorted by name unless ``sort`` is false.

    A version without an operator raises :class:`VersionStringException`, as in BitBake."""
    result: collections.OrderedDict[str, list[str]] = collections.OrderedDict()
    lastdep: str | None = None
    lastcmp = ""
    lastver = ""
    incmp = False
    inversion = False
    for word in s.replace(",", "").split():
        if word[0] == "(":
            incmp = True
            word = word[1:].strip()
            if not word:
                continue
        if incmp:
            incmp = False
            inversion = True
            if word.startswith(_OPERATORS2):
                lastcmp, word = word[:2], word[2:]
            elif word.startswith(("<", ">", "=")):
                lastcmp, word = word[:1], word[1:]
            else:
                raise VersionStringException(f'Invalid version specification in "({word}" - invalid or missing '
                                             "operator")
            if not word:
                continue
        if inversion:
            if word.endswith(")"):
                word = word[:-1]
                inversion = False
                if lastver and word:
                    lastver += " "
            if word:
                lastver += word
                assert lastdep is not None
                result.setdefault(lastdep, []).append(f"{lastcmp} {lastver}")
            continue
        lastdep = word
        lastver = ""
        lastcmp = ""
        if not result.get(word):
            result[word] = []
    if sort:
        result = collections.OrderedDict(sorted(result.items(), key=lambda item: item[0]))
    return result


def explode_dep_versions(s: str) -> collections.OrderedDict[str, str | None]:
    """As :func:`explode_dep_versions2`, with one version (or None) per name."""
    single: collections.OrderedDict[str, str | None] = collections.OrderedDict()
    for name, versions in explode_dep_versions2(s).items():
        if len(versions) > 1:
            warn(f"explode_dep_versions(): Item {name} appeared in dependency string '{s}' multiple times with "
                 "different values.  explode_dep_versions cannot cope with this.")
        single[name] = versions[0] if versions else None
    return single


def join_deps(deps: dict[str, Any], commasep: bool = True) -> str:
    """The list :func:`explode_dep_versions2` (or ``explode_dep_versions``) read, written back."""
    items = []
    for name, versions in deps.items():
        if not versions:
            items.append(name)
        elif isinstance(versions, list):
            items.extend(f"{name} ({v})" for v in versions)
        else:
            items.append(f"{name} ({versions})")
    return (", " if commasep else " ").join(items)


# -- versions (BitBake's ordering) ---------------------------------------------------------------------

_NUMERIC = re.compile(r"(\d+)(.*)$")
_ALPHA = re.compile(r"([a-zA-Z]+)(.*)$")


def explode_version(s: str) -> list[tuple[int, Any]]:
    """A version as ordered pieces: ``~`` (-1) sorts before digits (0), letters (1) and the rest (2)."""
    pieces: list[tuple[int, Any]] = []
    while s:
        if s[0].isdigit() and s[0].isascii():
            m = _NUMERIC.match(s)
            assert m is not None
            pieces.append((0, int(m.group(1))))
            s = m.group(2)
        elif s[0].isascii() and s[0].isalpha():
            m = _ALPHA.match(s)
            assert m is not None
            pieces.append((1, m.group(1)))
            s = m.group(2)
        else:
            pieces.append((-1 if s[0] == "~" else 2, s[0]))
            s = s[1:]
    return pieces


def split_version(s: str) -> tuple[int, str, str]:
    """``PE:PV-PR`` into ``(pe, pv, pr)``."""
    s = s.strip(" <>=")
    epoch = 0
    if ":" in s:
        epoch = int(s.split(":")[0])
        s = s.split(":")[1]
    revision = ""
    if "-" in s:
        s, revision = s.rsplit("-", 1)
    return epoch, s, revision


def vercmp_part(a: str, b: str) -> int:
    va = explode_version(a)
    vb = explode_version(b)
    for i in range(max(len(va), len(vb)) + 1):
        oa, ca = va[i] if i < len(va) else (0, None)
        ob, cb = vb[i] if i < len(vb) else (0, None)
        if (oa, ca) == (0, None) and (ob, cb) == (0, None):
            return 0
        if oa != ob:
            return -1 if oa < ob else 1
        if ca is None:
            return -1
        if cb is None:
            return 1
        if ca != cb:
            return -1 if ca < cb else 1
    return 0


def vercmp(ta: tuple[Any, str, str], tb: tuple[Any, str, str]) -> int:
    """Compare ``(pe, pv, pr)`` triples: negative, zero or positive."""
    result = int(ta[0] or 0) - int(tb[0] or 0)
    if result == 0:
        result = vercmp_part(ta[1], tb[1])
    if result == 0:
        result = vercmp_part(ta[2], tb[2])
    return result


def vercmp_string(a: str, b: str) -> int:
    return vercmp(split_version(a), split_version(b))


def vercmp_string_op(a: str, b: str, op: str) -> bool:
    """Whether ``a OP b`` holds, for ``= == <= >= > >> < << !=``."""
    res = vercmp_string(a, b)
    if op in ("=", "=="):
        return res == 0
    if op == "<=":
        return res <= 0
    if op == ">=":
        return res >= 0
    if op in (">", ">>"):
        return res > 0
    if op in ("<", "<<"):
        return res < 0
    if op == "!=":
        return res != 0
    raise VersionStringException(f'Unsupported comparison operator "{op}"')


_SEMVER = re.compile(r"""
    ^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)
    (?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?
    (?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$
    """, re.VERBOSE)


def is_semver(version: str) -> bool:
    return _SEMVER.match(version) is not None


# -- paths and files -----------------------------------------------------------------------------------


def which(path: str | None, item: str, direction: int = 0, history: bool = False,
          executable: bool = False) -> Any:
    """The first ``item`` along the colon-separated ``path`` (last first when ``direction``), or "";
    with ``history`` also every candidate looked at."""
    def is_candidate(p: str) -> bool:
        return os.path.isfile(p) and os.access(p, os.X_OK) if executable else os.path.exists(p)

    tried = []
    dirs = (path or "").split(":")
    if direction:
        dirs.reverse()
    for directory in dirs:
        candidate = os.path.join(directory, item)
        tried.append(candidate)
        if is_candidate(candidate):
            found = candidate if os.path.isabs(candidate) else os.path.abspath(candidate)
            return (found, tried) if history else found
    return ("", tried) if history else ""


def mkdirhier(directory: str) -> None:
    """``mkdir -p``; a name still holding ``${`` is refused, as BitBake refuses it."""
    if "${" in str(directory):
        fatal(f"Directory name {directory} contains unexpanded bitbake variable. This may cause build failures "
              "and WORKDIR polution.")
    os.makedirs(directory, exist_ok=True)


def _dangerous(path: str) -> bool:
    """``/``, ``/home``, a home directory: what a recursive remove refuses (a guard against slips)."""
    home = os.environ.get("HOME", "")
    extra = f"|{re.escape(home)}" if home else ""
    return re.match(f"(/|//|/home|/home/[^/]*{extra})$", os.path.abspath(path)) is not None


def remove(path: str, recurse: bool = False, ionice: bool = False) -> None:
    """``rm -f`` (``rm -rf`` with ``recurse``) of the glob ``path``."""
    if not path:
        return
    names = glob.glob(path)
    for name in names:
        if recurse and _dangerous(name):
            raise Exception(f'bb.utils.remove: called with dangerous path "{name}" and recurse=True, refusing to '
                            "delete!")
    for name in names:
        try:
            if recurse and os.path.isdir(name) and not os.path.islink(name):
                shutil.rmtree(name)
            else:
                os.unlink(name)
        except FileNotFoundError:
            pass


def prunedir(topdir: str, ionice: bool = False) -> None:
    if _dangerous(topdir):
        raise Exception(f'bb.utils.prunedir: called with dangerous path "{topdir}", refusing to delete!')
    remove(topdir, recurse=True)


def copyfile(src: str, dest: str, newmtime: float | None = None, sstat: os.stat_result | None = None) -> Any:
    """Copy ``src`` to ``dest`` keeping mode and times (a link as a link); the new mtime, or False."""
    try:
        sstat = sstat or os.lstat(src)
        if stat.S_ISLNK(sstat.st_mode):
            if os.path.lexists(dest):
                os.unlink(dest)
            os.symlink(os.readlink(src), dest)
            return sstat.st_mtime
        shutil.copy2(src, dest)
    except OSError as exc:
        warn(f"copyfile: failed to copy {src} to {dest} ({exc})")
        return False
    if newmtime:
        os.utime(dest, (newmtime, newmtime))
        return newmtime
    return sstat.st_mtime


def movefile(src: str, dest: str, newmtime: float | None = None, sstat: os.stat_result | None = None) -> Any:
    """Move ``src`` to ``dest`` keeping times across file systems; the new mtime, or None on failure."""
    try:
        sstat = sstat or os.lstat(src)
        if os.path.isdir(dest) and not os.path.islink(dest):
            dest = os.path.join(dest, os.path.basename(src))
        shutil.move(src, dest)
    except OSError as exc:
        warn(f"movefile: failed to move {src} to {dest} ({exc})")
        return None
    if newmtime:
        os.utime(dest, (newmtime, newmtime))
        return newmtime
    return sstat.st_mtime


def rename(src: str, dst: str) -> None:
    """``os.rename``, falling back to a move across file systems."""
    try:
        os.rename(src, dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.move(src, dst)


def break_hardlinks(src: str, sstat: os.stat_result | None = None) -> bool:
    """Give ``src`` an inode of its own when other names share it."""
    sstat = sstat or os.lstat(src)
    if sstat.st_nlink == 1:
        return True
    return copyfile(src, src, sstat=sstat) is not False


def to_filemode(value: int | str) -> int:
    """A mode written in octal (``"0755"``) as a number."""
    return value if isinstance(value, int) else int(value, 8)


@contextlib.contextmanager
def umask(new_mask: int) -> Iterator[None]:
    current = os.umask(new_mask)
    try:
        yield
    finally:
        os.umask(current)


@contextlib.contextmanager
def environment(**envvars: str) -> Iterator[None]:
    """The process environment with ``envvars`` set, restored afterwards."""
    backup = dict(os.environ)
    try:
        os.environ.update(envvars)
        yield
    finally:
        for var in envvars:
            if var in backup:
                os.environ[var] = backup[var]
            else:
                os.environ.pop(var, None)


def _hash(algorithm: str, filename: str) -> str:
    import hashlib  # (imported on first use: loading OpenSSL costs every command that never hashes)

    digest = hashlib.new(algorithm, usedforsecurity=False) if algorithm == "md5" else hashlib.new(algorithm)
    with open(filename, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return str(digest.hexdigest())


def md5_file(filename: str) -> str:
    return _hash("md5", filename)


def sha1_file(filename: str) -> str:
    return _hash("sha1", filename)


def sha256_file(filename: str) -> str:
    return _hash("sha256", filename)


def sha384_file(filename: str) -> str:
    return _hash("sha384", filename)


def sha512_file(filename: str) -> str:
    return _hash("sha512", filename)


def lockfile(name: str, shared: bool = False, retry: bool = True, block: bool = False) -> IO[str] | None:
    """Take the ``flock`` on ``name`` (created when missing); the open file, or None when ``retry`` is
    false and another process holds it. A lock file deleted while waiting is opened again."""
    dirname = os.path.dirname(name)
    mkdirhier(dirname)
    if not os.access(dirname, os.W_OK):
        fatal(f"Unable to acquire lock '{name}', directory is not writable")
    op = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    if not retry and not block:
        op |= fcntl.LOCK_NB
    while True:
        fh = open(name, "a+")
        try:
            fcntl.flock(fh.fileno(), op)
        except OSError as exc:
            fh.close()
            if exc.errno in (errno.EACCES, errno.EAGAIN) and not retry:
                return None
            raise
        try:
            if os.fstat(fh.fileno()).st_ino == os.stat(name).st_ino:
                return fh
        except FileNotFoundError:
            pass
        fh.close()
        if not retry:
            return None


def unlockfile(lf: IO[str]) -> None:
    """Release a lock :func:`lockfile` took (removing the file when no other process holds it)."""
    try:
        fcntl.flock(lf.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.unlink(lf.name)
    except OSError:
        pass
    fcntl.flock(lf.fileno(), fcntl.LOCK_UN)
    lf.close()


@contextlib.contextmanager
def fileslocked(files: Iterable[str] | None, *args: Any, **kwargs: Any) -> Iterator[None]:
    locks = [lock for name in files or () if (lock := lockfile(name, *args, **kwargs)) is not None]
    try:
        yield
    finally:
        for lock in reversed(locks):
            unlockfile(lock)


def nonblockingfd(fd: int) -> None:
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))


# -- layers --------------------------------------------------------------------------------------------


def get_collection_res(d: Any) -> dict[str, str]:
    """Each collection's ``BBFILE_PATTERN``."""
    return {c: d.getVar(f"BBFILE_PATTERN_{c}") or "" for c in (d.getVar("BBFILE_COLLECTIONS") or "").split()}


def get_file_layer(filename: str, d: Any, collection_res: dict[str, str] | None = None) -> str | None:
    """The collection whose ``BBFILE_PATTERN`` matches ``filename`` (the longest pattern among several).

    (BitBake first matches a recipe against its cooker's ``BBFILES_PRIORITIZED``, which no
    configuration sets; the patterns alone give the same collection.)"""
    patterns = collection_res or get_collection_res(d)
    best, length = None, 0
    for collection, regex in patterns.items():
        if len(regex) > length and re.match(regex, filename):
            best, length = collection, len(regex)
    return best
