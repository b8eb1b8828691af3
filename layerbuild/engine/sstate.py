"""Shared state: task outputs stored as zstd tarballs named by unihash, restored instead of rebuilt.

A task listed in ``SSTATETASKS`` declares ``[sstate-inputdirs]`` (what it produced) and
``[sstate-outputdirs]`` (where consumers find it). After it runs, the input directories are archived
into ``${SSTATE_DIR}/<h[0:2]>/<h[2:4]>/sstate:<pn>:<arch>:<pv>:<pr>:<unihash>_<task>.tar.zst`` with a
``.siginfo`` beside it recording the archive's sha256, then installed into the output directories. The
unihash is the taskhash, unless hash equivalence (:mod:`layerbuild.engine.hashequiv`) found the output
already known: then the object is named by the unihash that output was first given.
Objects are published atomically; the siginfo is written last, so an object without one is never used.
A restore verifies the checksum first: a corrupt or truncated object is reported and rebuilt, and so is
one that cannot be unpacked or whose place holds something other than a file (a directory).
Restored objects get the link checks source archives get: no entry, symbolic link (through ``..``) or hard
link leaves its tree, and :func:`install_tree` never writes through a link it finds in an output
directory, so an object cannot redirect a later install elsewhere. Absolute link targets are kept: in
packaged trees they name paths of the target system, and they are never followed on the build host.
``SSTATE_MIRRORS`` are looked up after the local directory and ``SSTATE_UPLOAD`` receives what a task
creates (:mod:`layerbuild.engine.sstatemirror`); an object is always installed from ``SSTATE_DIR``,
a mirror's after it was fetched there and checked. Using a local object sets its access time, which
``layerbuild-sstate prune`` reads. ``do_clean`` takes back what a
task installed (:func:`uninstall_tree`, from the same manifests) and ``do_cleansstate`` removes a recipe's
objects (:meth:`Sstate.remove_objects`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import stat
import tarfile
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from layerbuild.engine.hashequiv import Outcome, output_header, owners_matter, report_output
from layerbuild.engine.sstatemirror import MirrorSettings, Remote, mirrors_for, sign_object
from layerbuild.util.errors import LayerbuildError
from layerbuild.util.fsutil import (
    PathEscape,
    atomic_output,
    atomic_symlink,
    atomic_write,
    disk_full,
    inside_real,
    join_under,
    relative_paths,
    remove_stale_temporaries,
    sha256_file,
)
from layerbuild.util.recordstore import RecordStore
from layerbuild.util.tarzst import extract_tar_zst, write_tar_zst

logger = logging.getLogger("layerbuild.sstate")


@dataclass(frozen=True)
class SstateObject:
    path: str
    siginfo: str
    sha256: str
    #: where it is when it is not in SSTATE_DIR yet (a mirror), fetched by :meth:`Sstate.fetch`
    remote: Remote | None = None


def object_name(pn: str, arch: str, pv: str, pr: str, taskhash: str, task: str) -> str:
    return f"{taskhash[:2]}/{taskhash[2:4]}/sstate:{pn}:{arch}:{pv}:{pr}:{taskhash}_{task}.tar.zst"


def manifest_path(manifests: str, stamp: str, arch: str, pn: str, task: str, index: int) -> str:
    """Where the install manifest of ``task``'s output directory number ``index`` is kept: in
    ``SSTATE_MANIFESTS``, else beside the recipe's stamps."""
    base = manifests or os.path.join(os.path.dirname(stamp), "sstate-control")
    return os.path.join(base, f"manifest-{arch}-{pn}.{task}.{index}")


class Sstate:
    def __init__(self, directory: str, settings: MirrorSettings | None = None) -> None:
        self.directory = directory
        self.settings = settings or MirrorSettings()

    def find(self, name: str) -> SstateObject | None:
        """The object ``name`` with its siginfo in SSTATE_DIR; None if there is none."""
        for base in [self.directory]:
            try:
                path = join_under(base, name, what="sstate object")
            except PathEscape:
                return None
            siginfo = path + ".siginfo"
            if base == self.directory:
                for stale in (path, siginfo):
                    remove_stale_temporaries(stale)  # a build killed while storing it left these
            if not (os.path.lexists(path) and os.path.lexists(siginfo)):
                continue
            odd = next((p for p in (path, siginfo) if not os.path.isfile(p) or os.path.islink(p)), None)
            if odd is not None:
                logger.warning("sstate %s is not a regular file; ignoring it", odd)
                continue
            try:
                with open(siginfo, encoding="utf-8") as fh:
                    sha = json.load(fh)["sha256"]
            except (OSError, ValueError, KeyError, TypeError):
                logger.warning("sstate siginfo %s is unreadable; ignoring it", siginfo)
                continue
            return SstateObject(path, siginfo, sha)
        return None

    def fetch(self, obj: SstateObject) -> int:
        """Fetch a mirror's object into SSTATE_DIR (checked; see :meth:`Mirrors.fetch`): the bytes
        transferred. A local object is marked used (its access time) instead."""
        if obj.remote is None:
            with contextlib.suppress(OSError):
                os.utime(obj.path, ns=(time.time_ns(), os.stat(obj.path).st_mtime_ns))
            return 0
        return mirrors_for(self.settings).fetch(obj.remote, self.directory)

    def verify(self, obj: SstateObject) -> bool:
        try:
            return sha256_file(obj.path) == obj.sha256
        except OSError:
            return False

    def store(self, name: str, inputdirs: list[str], siginfo: dict[str, object]) -> SstateObject | None:
        """Archive ``inputdirs`` as object ``name``; atomic, siginfo last. None (with a warning) when something
        that is not a file holds the object's name; a full disk is an error naming the object."""
        path = join_under(self.directory, name, what="sstate object")
        odd = next((p for p in (path, path + ".siginfo") if os.path.lexists(p) and
                    (os.path.islink(p) or not os.path.isfile(p))), None)
        if odd is not None:
            logger.warning("sstate %s is not a regular file; the task's output is not stored", odd)
            return None
        trees = [(directory, f"dir{i}") for i, directory in enumerate(inputdirs)]
        for stale in (path, path + ".siginfo"):
            remove_stale_temporaries(stale)  # what a build killed while storing this object left
        try:
            with atomic_output(path) as tmp:
                write_tar_zst(str(tmp), trees)
            sha = sha256_file(path)
            sign_object(self.settings, path, name, sha)
            atomic_write(path + ".siginfo", json.dumps({**siginfo, "sha256": sha}, indent=1, sort_keys=True) + "\n")
        except OSError as exc:
            if disk_full(exc):
                raise LayerbuildError(f"no space left on device in SSTATE_DIR ({self.directory}) "
                                      f"while storing {path}") from exc
            raise
        return SstateObject(path, path + ".siginfo", sha)

    def remove_objects(self, pn: str, arch: str, pv: str, pr: str, task: str) -> list[str]:
        """Remove the objects of ``task`` of this recipe version (every taskhash) and their siginfo from
        SSTATE_DIR, as OE's cleansstate does; mirrors are never written. A shard directory that leads
        outside SSTATE_DIR through a link is left alone. Returns the paths removed."""
        name = re.compile(re.escape(f"sstate:{pn}:{arch}:{pv}:{pr}:") + "[0-9a-f]+" +
                          re.escape(f"_{task}.tar.zst") + r"(\.siginfo|\.sig)?")
        removed: list[str] = []
        for first in _shards(self.directory):
            for second in _shards(first):
                if not inside_real(self.directory, second):
                    logger.warning("not cleaning %s: it leads outside %s through a link", second, self.directory)
                    continue
                for entry in sorted(os.listdir(second)):
                    path = os.path.join(second, entry)
                    if name.fullmatch(entry) and not os.path.isdir(path):
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(path)
                            removed.append(path)
        return removed

    def unpack(self, obj: SstateObject, workdir: str) -> list[str]:
        """Extract an object into a fresh directory under ``workdir``; returns the ``dirN`` paths."""
        os.makedirs(workdir, exist_ok=True)
        staging = tempfile.mkdtemp(prefix="sstate-", dir=workdir)
        try:
            extract_tar_zst(obj.path, staging, check=_check_member)
        except Exception as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(exc, OSError) and disk_full(exc):
                raise LayerbuildError(f"no space left on device in {workdir} while unpacking {obj.path}") from exc
            reason = exc.message if isinstance(exc, LayerbuildError) else str(exc)
            raise LayerbuildError(f"sstate object {obj.path} cannot be unpacked: {reason}") from exc
        return [os.path.join(staging, name) for name in sorted(os.listdir(staging), key=_dir_index)]


def _shards(directory: str) -> list[str]:
    """The ``<h[0:2]>`` (or ``<h[2:4]>``) shard directories of an object directory."""
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [os.path.join(directory, n) for n in sorted(names) if re.fullmatch("[0-9a-f]{2}", n)]


def _escapes(top: str, name: str) -> bool:
    """Whether ``name`` (relative, resolved lexically) leaves ``top`` (both relative to the archive)."""
    resolved = os.path.normpath(name)
    return not (resolved == top or resolved.startswith(top + "/"))


def _check_member(member: tarfile.TarInfo) -> None:
    """The link checks source archives get, for an sstate object's entries (each ``dirN/...``)."""
    name = os.path.normpath(member.name.lstrip("/"))
    top = name.split("/", 1)[0]
    if member.name.startswith("/") or name.startswith("..") or not re.fullmatch(r"dir\d+", top):
        raise LayerbuildError(f"entry {member.name!r} is not below a dirN directory")
    if member.issym():
        if not os.path.isabs(member.linkname) and _escapes(top, os.path.join(os.path.dirname(name), member.linkname)):
            raise LayerbuildError(f"symbolic link {member.name!r} -> {member.linkname!r} points outside its tree")
    elif member.islnk():
        if os.path.isabs(member.linkname) or _escapes(top, member.linkname):
            raise LayerbuildError(f"hard link {member.name!r} -> {member.linkname!r} points outside its tree")


def _dir_index(name: str) -> int:
    m = re.match(r"dir(\d+)$", name)
    return int(m.group(1)) if m else 1 << 30


def _read_manifest(path: str) -> list[str] | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return [line.rstrip("\n") for line in fh if line.strip()]
    except FileNotFoundError:
        return None


def _write_manifest(path: str, paths: list[str]) -> None:
    atomic_write(path, "".join(f"{p}\n" for p in paths))


def _publish_file(src: str, target: str, st: os.stat_result) -> None:
    """Copy ``src`` to ``target`` through a temporary name beside it: ``target`` is the old file or the
    whole new one, never part of it. A temporary name a killed install left is reused next time."""
    directory, name = os.path.split(target)
    tmp = os.path.join(directory, f".{name}.install.tmp")
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        shutil.copyfile(src, tmp, follow_symlinks=False)
        shutil.copystat(src, tmp, follow_symlinks=False)
        if os.geteuid() == 0 and (st.st_uid or st.st_gid):
            os.chown(tmp, st.st_uid, st.st_gid)
            os.chmod(tmp, stat.S_IMODE(st.st_mode))  # chown cleared the set-id bits
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _make_room(dest: str, rel: str, old: list[str]) -> None:
    """If ``rel``, installed by this task last time, is a directory: remove what this task installed below
    it, then it (it is something else now)."""
    target = os.path.join(dest, rel)
    if os.path.isdir(target) and not os.path.islink(target):
        for path in sorted((p for p in old if p.startswith(rel + "/")), reverse=True):
            _remove(os.path.join(dest, path))
        os.rmdir(target)


def _remove(full: str) -> None:
    if os.path.islink(full) or os.path.isfile(full):
        os.unlink(full)
    elif os.path.isdir(full):
        with contextlib.suppress(OSError):
            os.rmdir(full)  # only when nothing else is left in it


def install_tree(source: str, dest: str, manifest: str) -> None:
    """Install ``source`` into ``dest``, replacing what this task installed there last time.

    The manifest lists the paths installed, so output directories shared by several recipes (such
    as the deploy directory) are updated without touching other recipes' files. Every file and link
    is published under its final name in one rename, so a reader of ``dest`` (or a killed build)
    never sees a half-copied file; the manifest covers every path this task may have left there.
    """
    if os.path.isdir(source) and os.path.isdir(dest) and os.path.samefile(source, dest):
        return  # the task wrote its output in place; nothing to install
    recorded = _read_manifest(manifest)
    old = recorded or []
    entries = list(relative_paths(source)) if os.path.isdir(source) else []
    new = sorted(entries)
    if set(new) - set(old):
        # first record everything that may be present if this is interrupted
        recorded = sorted(set(old) | set(new))
        _write_manifest(manifest, recorded)
    os.makedirs(dest, exist_ok=True)
    before = set(old)
    inside: dict[str, bool] = {}
    for rel in entries:
        src = os.path.join(source, rel)
        target = os.path.join(dest, rel)
        parent = os.path.dirname(target)
        if parent not in inside:
            inside[parent] = inside_real(dest, parent)
        if not inside[parent]:
            raise LayerbuildError(f"refusing to install {target}: {os.path.dirname(rel)} leads outside {dest} "
                                  f"through a symbolic link", hint="remove the link (another task's output "
                                  "or a hostile shared-state object installed it) and build again")
        st = os.lstat(src)
        if stat.S_ISLNK(st.st_mode):
            if rel in before:
                _make_room(dest, rel, old)
            atomic_symlink(os.readlink(src), target)
        elif stat.S_ISDIR(st.st_mode):
            if os.path.islink(target) and rel not in before:
                raise LayerbuildError(f"refusing to install the directory {target}: a symbolic link to "
                                      f"{os.readlink(target)} is there, which this task did not install",
                                      hint="remove the link and build again")
            if os.path.lexists(target) and (os.path.islink(target) or not os.path.isdir(target)):
                os.unlink(target)  # a file or a link last time, a directory now
            os.makedirs(target, exist_ok=True)
        else:
            if rel in before:
                _make_room(dest, rel, old)
            _publish_file(src, target, st)
    for path in sorted(set(old) - set(new), reverse=True):
        _remove(os.path.join(dest, path))
    if recorded != new:
        _write_manifest(manifest, new)


def uninstall_tree(dest: str, manifest: str) -> list[str]:
    """Remove from ``dest`` what :func:`install_tree` installed there (what ``manifest`` lists), then the
    manifest: what ``do_clean`` does to a task's output directory. Files and links go (a link is never
    followed); a directory goes only once it is empty, since other recipes' files may share it. An entry
    whose directory leads outside ``dest`` through a link is left alone and returned."""
    recorded = _read_manifest(manifest)
    if recorded is None:
        return []
    kept: list[str] = []
    inside: dict[str, bool] = {}
    for rel in sorted(set(recorded), reverse=True):  # "a/b" sorts after "a": contents before their directory
        try:
            target = join_under(dest, rel, what="manifest entry")
        except PathEscape:
            kept.append(rel)
            continue
        parent = os.path.dirname(target)
        if parent not in inside:
            inside[parent] = inside_real(dest, parent)
        if not inside[parent]:
            kept.append(rel)
            continue
        if os.path.isdir(target) and not os.path.islink(target):
            with contextlib.suppress(OSError):
                os.rmdir(target)  # only when nothing else is left in it
            continue
        for path in (target, os.path.join(parent, f".{os.path.basename(target)}.install.tmp")):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
    os.unlink(manifest)
    return sorted(kept)


@dataclass(frozen=True, slots=True)
class ObjectSpec:
    """What names a task's objects besides the hash (OE's ``SSTATE_PKGSPEC`` and the task)."""

    pn: str
    arch: str
    pv: str
    pr: str
    task: str

    def name(self, unihash: str) -> str:
        return object_name(self.pn, self.arch, self.pv, self.pr, unihash, self.task)


@dataclass(frozen=True, slots=True)
class Reporting:
    """Hash equivalence for a publication: the store to report the output to, the task's taskhash and the
    unihash it was planned with, and what names its objects."""

    store: RecordStore
    taskhash: str
    unihash: str
    spec: ObjectSpec

    def report(self, inputs: list[str]) -> Outcome:
        spec = self.spec
        return report_output(self.store, self.taskhash, self.unihash, inputs,
                             output_header(spec.pn, spec.arch, spec.pv, spec.pr, spec.task), owners_matter(spec.task))


@dataclass(frozen=True, slots=True)
class Publication:
    """What a task's worker publishes once the task succeeded: its ``[sstate-inputdirs]`` archived as the
    object ``name`` (with ``siginfo``), then installed into its ``[sstate-outputdirs]``, each recorded in
    its manifest. With ``reporting``, the output is first reported for hash equivalence and the object
    named by the unihash it takes. The build works it out, as it has the task graph and the hashes."""

    sstate_dir: str
    settings: MirrorSettings
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    manifests: tuple[str, ...]
    siginfo: dict[str, Any]
    reporting: Reporting | None = None

    def publish(self) -> Outcome | None:
        """Store (and upload) and install the output; what reporting it for hash equivalence gave, if it was."""
        name, siginfo, outcome = self.name, self.siginfo, None
        if self.reporting is not None:
            outcome = self.reporting.report(list(self.inputs))
            name = self.reporting.spec.name(outcome.unihash)
            siginfo = {**siginfo, "unihash": outcome.unihash, "outhash": outcome.outhash}
        obj = Sstate(self.sstate_dir, self.settings).store(name, list(self.inputs), siginfo)
        if obj is not None and self.settings.upload:
            mirrors_for(self.settings).upload(obj.path, name)
        for i, target in enumerate(self.outputs):
            install_tree(self.inputs[i] if i < len(self.inputs) else "", target, self.manifests[i])
        return outcome
