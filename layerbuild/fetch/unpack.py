"""Unpacking downloads into the unpack directory: tar archives (any compression), zip archives,
single compressed files, and plain files and directories copied as they are.

No entry may land outside the unpack directory: absolute names, ``..`` components, and symbolic or
hard links that resolve outside are refused. Paths are checked against the disk as it is when each
entry is written, so a chain of links cannot smuggle a write outside. A ``subdir=`` and a ``file://``
name are joined under the unpack directory the same way (:func:`layerbuild.util.fsutil.join_under`). A zip
archive is checked whole (names, link targets, an entry that is both a file and a directory) before
anything is created.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from typing import IO, Any

from layerbuild.util.fsutil import PathEscape, join_under

#: suffix -> compression for tar archives ("" = none)
TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2", ".tbz", ".tar.zst", ".tzst", ".tar")
ZIP_SUFFIXES = (".zip", ".jar")
SINGLE_SUFFIXES = (".gz", ".xz", ".bz2", ".zst")


class ArchiveProblem(Exception):
    """An archive that cannot be unpacked safely; the text names the entry."""


def archive_kind(name: str) -> str | None:
    """"tar", "zip" or "single" (one compressed file) for a file name, None for anything else."""
    lower = name.lower()
    if lower.endswith(TAR_SUFFIXES):
        return "tar"
    if lower.endswith(ZIP_SUFFIXES):
        return "zip"
    if lower.endswith(SINGLE_SUFFIXES):
        return "single"
    return None


def _inside(root: str, path: str) -> bool:
    real = os.path.realpath(path)
    return real == root or real.startswith(root + os.sep)


def unpack_dir(root: str, subdir: str) -> str:
    """Where a ``subdir=`` entry is unpacked: ``root`` itself, or a directory below it."""
    if not subdir:
        return root
    try:
        return join_under(root, subdir, what="subdir")
    except PathEscape as exc:
        raise ArchiveProblem(exc.message) from None


def _clean_name(name: str, striplevel: int) -> str | None:
    """The entry's path relative to the unpack directory, or None when striplevel removes it."""
    if name.startswith("/"):
        raise ArchiveProblem(f"entry {name!r} has an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveProblem(f"entry {name!r} would escape the unpack directory ('..')")
    parts = parts[striplevel:]
    return "/".join(parts) if parts else None


def _check_target(root: str, target: str, name: str) -> None:
    if not _inside(root, os.path.dirname(target)):
        raise ArchiveProblem(f"entry {name!r} would be written outside the unpack directory (through a link)")
    if os.path.islink(target):
        os.unlink(target)  # replace the link itself; never write through it


def _check_symlink(root: str, target: str, linkname: str, name: str) -> None:
    if os.path.isabs(linkname) or not _inside(root, os.path.join(os.path.dirname(target), linkname)):
        raise ArchiveProblem(f"symbolic link {name!r} -> {linkname!r} points outside the unpack directory")


def _open_stream(path: str) -> IO[bytes]:
    fh = open(path, "rb")  # noqa: SIM115 - closed by the caller through the returned stream
    if path.lower().endswith((".zst", ".tzst")):
        import zstandard
        return zstandard.ZstdDecompressor().stream_reader(fh, closefd=True)  # type: ignore[return-value]
    return fh


def extract_tar(path: str, dest: str, striplevel: int = 0) -> None:
    import tarfile
    os.makedirs(dest, exist_ok=True)
    root = os.path.realpath(dest)
    links: list[str] = []
    kwargs: dict[str, Any] = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
    with _open_stream(path) as stream:
        try:
            archive = tarfile.open(fileobj=stream, mode="r|*")
        except tarfile.TarError as exc:
            raise ArchiveProblem(f"not a readable tar archive: {exc}") from exc
        with archive:
            try:
                for member in archive:
                    name = _clean_name(member.name, striplevel)
                    if name is None:
                        continue
                    target = os.path.join(dest, name)
                    if member.ischr() or member.isblk():
                        raise ArchiveProblem(f"entry {member.name!r} is a device node")
                    _check_target(root, target, member.name)
                    if member.issym():
                        _check_symlink(root, target, member.linkname, member.name)
                        links.append(target)
                    elif member.islnk():
                        try:
                            linkname = _clean_name(member.linkname, striplevel)
                        except ArchiveProblem:
                            linkname = None
                        if linkname is None or not _inside(root, os.path.join(dest, linkname)):
                            raise ArchiveProblem(f"hard link {member.name!r} -> {member.linkname!r} points "
                                                 "outside the unpack directory")
                        member.linkname = linkname
                    member.name = name
                    # sources belong to whoever builds them, as with tar --no-same-owner
                    member.uid, member.gid, member.uname, member.gname = os.getuid(), os.getgid(), "", ""
                    archive.extract(member, dest, numeric_owner=True, **kwargs)
            except (tarfile.TarError, EOFError, OSError) as exc:
                raise ArchiveProblem(f"cannot unpack: {exc}") from exc
    _check_links(root, links)


def _zip_plan(archive: Any, striplevel: int) -> list[tuple[Any, str, str | None]]:
    """Every entry of a zip archive checked before anything is created: (info, name, link target)."""
    plan: list[tuple[Any, str, str | None]] = []
    kinds: dict[str, str] = {}
    for info in archive.infolist():
        name = _clean_name(info.filename, striplevel)
        if name is None:
            continue
        linkname = None
        kind = "directory" if info.is_dir() else "file"
        if not info.is_dir() and stat.S_ISLNK(info.external_attr >> 16):
            linkname = archive.read(info).decode("utf-8", "surrogateescape")
            resolved = os.path.normpath(os.path.join(os.path.dirname(name), linkname))
            if os.path.isabs(linkname) or resolved == ".." or resolved.startswith("../"):
                raise ArchiveProblem(f"symbolic link {info.filename!r} -> {linkname!r} points outside the "
                                     "unpack directory")
            kind = "link"
        parts = name.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if kinds.get(parent, "directory") != "directory":
                raise ArchiveProblem(f"entry {info.filename!r} needs {parent!r} to be a directory, but the "
                                     f"archive has it as a {kinds[parent]}")
            kinds[parent] = "directory"
        if kinds.get(name, kind) != kind:
            raise ArchiveProblem(f"entry {info.filename!r} is a {kind}, but the archive also has it as a "
                                 f"{kinds[name]}")
        kinds[name] = kind
        plan.append((info, name, linkname))
    return plan


def extract_zip(path: str, dest: str, striplevel: int = 0) -> None:
    import zipfile
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveProblem(f"not a readable zip archive: {exc}") from exc
    with archive:
        plan = _zip_plan(archive, striplevel)
        os.makedirs(dest, exist_ok=True)
        root = os.path.realpath(dest)
        links: list[str] = []
        for info, name, linkname in plan:
            target = os.path.join(dest, name)
            try:
                _extract_zip_entry(archive, info, root, target, linkname, links)
            except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
                raise ArchiveProblem(f"entry {info.filename!r} clashes with what is already in the unpack "
                                     f"directory ({exc.strerror}: {os.path.relpath(exc.filename or target, dest)})"
                                     ) from None
            except (OSError, zipfile.BadZipFile, EOFError) as exc:
                raise ArchiveProblem(f"cannot unpack entry {info.filename!r}: {exc}") from exc
    _check_links(root, links)


def _extract_zip_entry(archive: Any, info: Any, root: str, target: str, linkname: str | None,
                       links: list[str]) -> None:
    if info.is_dir():
        _check_target(root, target.rstrip("/"), info.filename)
        os.makedirs(target, exist_ok=True)
        return
    parent = os.path.dirname(target)
    if not _inside(root, parent):
        raise ArchiveProblem(f"entry {info.filename!r} would be written outside the unpack directory (through a link)")
    os.makedirs(parent, exist_ok=True)
    _check_target(root, target, info.filename)
    if linkname is not None:
        _check_symlink(root, target, linkname, info.filename)
        os.symlink(linkname, target)
        links.append(target)
        return
    mode = info.external_attr >> 16
    with archive.open(info) as src, open(target, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
    if mode & 0o777:
        os.chmod(target, mode & 0o777)


def _check_links(root: str, links: list[str]) -> None:
    """After unpacking: every link must still resolve inside (a later entry can redirect an earlier one)."""
    for link in links:
        if os.path.islink(link) and not _inside(root, link):
            target = os.readlink(link)
            os.unlink(link)
            raise ArchiveProblem(f"symbolic link {os.path.relpath(link, root)!r} -> {target!r} resolves "
                                 "outside the unpack directory")


def _single_opener(path: str) -> Callable[[], IO[bytes]]:
    lower = path.lower()
    if lower.endswith(".gz"):
        import gzip
        return lambda: gzip.open(path, "rb")  # type: ignore[return-value]
    if lower.endswith(".xz"):
        import lzma
        return lambda: lzma.open(path, "rb")  # type: ignore[return-value]
    if lower.endswith(".bz2"):
        import bz2
        return lambda: bz2.open(path, "rb")  # type: ignore[return-value]
    return lambda: _open_stream(path)


def decompress(path: str, target: str) -> None:
    """Decompress one ``.gz``/``.xz``/``.bz2``/``.zst`` file to ``target``."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.islink(target):
        os.unlink(target)
    try:
        with _single_opener(path)() as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
    except (OSError, EOFError, ValueError) as exc:
        raise ArchiveProblem(f"cannot decompress: {exc}") from exc
    shutil.copymode(path, target)


def copy_source(path: str, target: str) -> None:
    """Copy a file or a directory tree (links kept as links) to ``target``."""
    os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    if os.path.isdir(path):
        shutil.copytree(path, target, symlinks=True, dirs_exist_ok=True)
        return
    if os.path.islink(target) or os.path.isfile(target):
        os.unlink(target)
    shutil.copy2(path, target)


def unpack_file(path: str, dest: str, relname: str, unpack: bool, striplevel: int) -> str:
    """Put the file ``path`` into ``dest``: extracted when it is an archive (and ``unpack``), else copied
    (decompressed for a single compressed file) as ``relname``. Returns what was created."""
    kind = archive_kind(os.path.basename(relname)) if unpack else None
    if kind == "tar":
        extract_tar(path, dest, striplevel)
        return dest
    if kind == "zip":
        extract_zip(path, dest, striplevel)
        return dest
    try:
        target = join_under(dest, relname, what="file name")
    except PathEscape as exc:
        raise ArchiveProblem(exc.message) from None
    if kind == "single":
        target = os.path.splitext(target)[0]
        decompress(path, target)
        return target
    copy_source(path, target)
    return target
