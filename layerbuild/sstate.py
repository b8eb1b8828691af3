"""Shared state: task outputs stored as zstd tarballs named by taskhash, restored instead of rebuilt.

A task listed in ``SSTATETASKS`` declares ``[sstate-inputdirs]`` (what it produced) and
``[sstate-outputdirs]`` (where consumers find it). After it runs, the input directories are archived
into ``${SSTATE_DIR}/<h[0:2]>/<h[2:4]>/sstate:<pn>:<arch>:<pv>:<pr>:<taskhash>_<task>.tar.zst`` with a
``.siginfo`` beside it recording the archive's sha256, then installed into the output directories.
Objects are published atomically; the siginfo is written last, so an object without one is never used.
A restore verifies the checksum first: a corrupt or truncated object is reported and rebuilt.
``SSTATE_MIRRORS`` (``file://`` URLs) are read after the local directory.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass

from .errors import LayerbuildError
from .fsutil import atomic_output, atomic_write, sha256_file
from .tarzst import extract_tar_zst, write_tar_zst

logger = logging.getLogger("layerbuild.sstate")


@dataclass(frozen=True)
class SstateObject:
    path: str
    siginfo: str
    sha256: str


def object_name(pn: str, arch: str, pv: str, pr: str, taskhash: str, task: str) -> str:
    return f"{taskhash[:2]}/{taskhash[2:4]}/sstate:{pn}:{arch}:{pv}:{pr}:{taskhash}_{task}.tar.zst"


def _mirror_dirs(mirrors: str) -> list[str]:
    """``file://`` destinations of SSTATE_MIRRORS ("REGEX URL" pairs; PATH in the URL is the object path)."""
    words = mirrors.replace("\\n", " ").split()
    out = []
    for i in range(0, len(words) - 1, 2):
        url = words[i + 1]
        if url.startswith("file://"):
            out.append(url[len("file://"):].replace("/PATH", "").rstrip("/"))
    return out


class Sstate:
    def __init__(self, directory: str, mirrors: str = "") -> None:
        self.directory = directory
        self.mirrors = _mirror_dirs(mirrors)

    def find(self, name: str) -> SstateObject | None:
        """The object ``name`` with its siginfo, locally or on a mirror; None if there is none."""
        for base in [self.directory, *self.mirrors]:
            path = os.path.join(base, name)
            siginfo = path + ".siginfo"
            if os.path.isfile(path) and os.path.isfile(siginfo):
                try:
                    with open(siginfo, encoding="utf-8") as fh:
                        sha = json.load(fh)["sha256"]
                except (OSError, ValueError, KeyError, TypeError):
                    logger.warning("sstate siginfo %s is unreadable; ignoring it", siginfo)
                    continue
                return SstateObject(path, siginfo, sha)
        return None

    def verify(self, obj: SstateObject) -> bool:
        try:
            return sha256_file(obj.path) == obj.sha256
        except OSError:
            return False

    def store(self, name: str, inputdirs: list[str], siginfo: dict[str, object]) -> SstateObject:
        """Archive ``inputdirs`` as object ``name``; atomic, siginfo last."""
        path = os.path.join(self.directory, name)
        trees = [(directory, f"dir{i}") for i, directory in enumerate(inputdirs)]
        with atomic_output(path) as tmp:
            write_tar_zst(str(tmp), trees)
        sha = sha256_file(path)
        atomic_write(path + ".siginfo", json.dumps({**siginfo, "sha256": sha}, indent=1, sort_keys=True) + "\n")
        return SstateObject(path, path + ".siginfo", sha)

    def unpack(self, obj: SstateObject, workdir: str) -> list[str]:
        """Extract an object into a fresh directory under ``workdir``; returns the ``dirN`` paths."""
        os.makedirs(workdir, exist_ok=True)
        staging = tempfile.mkdtemp(prefix="sstate-", dir=workdir)
        try:
            extract_tar_zst(obj.path, staging)
        except Exception as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise LayerbuildError(f"sstate object {obj.path} cannot be unpacked: {exc}") from exc
        return [os.path.join(staging, name) for name in sorted(os.listdir(staging), key=_dir_index)]


def _dir_index(name: str) -> int:
    m = re.match(r"dir(\d+)$", name)
    return int(m.group(1)) if m else 1 << 30


def install_tree(source: str, dest: str, manifest: str) -> None:
    """Copy ``source`` into ``dest``, first removing what this task installed there last time.

    The manifest lists the files installed, so output directories shared by several recipes (such
    as the deploy directory) are updated without touching other recipes' files.
    """
    if os.path.isdir(source) and os.path.isdir(dest) and os.path.samefile(source, dest):
        return  # the task wrote its output in place; nothing to install
    if os.path.exists(manifest):
        with open(manifest, encoding="utf-8") as fh:
            old = [line.rstrip("\n") for line in fh if line.strip()]
        for path in sorted(old, reverse=True):
            full = os.path.join(dest, path)
            if os.path.islink(full) or os.path.isfile(full):
                os.unlink(full)
            elif os.path.isdir(full):
                try:
                    os.rmdir(full)
                except OSError:
                    pass
    installed = []
    os.makedirs(dest, exist_ok=True)
    if os.path.isdir(source):
        for root, dirs, files in os.walk(source):
            dirs.sort()
            rel = os.path.relpath(root, source)
            for name in sorted(dirs):
                target = os.path.join(dest, rel, name)
                src = os.path.join(root, name)
                if os.path.islink(src):
                    if os.path.lexists(target):
                        os.unlink(target)
                    os.symlink(os.readlink(src), target)
                else:
                    os.makedirs(target, exist_ok=True)
                installed.append(os.path.normpath(os.path.join(rel, name)))
            for name in sorted(files):
                src = os.path.join(root, name)
                target = os.path.join(dest, rel, name)
                if os.path.lexists(target):
                    os.unlink(target)
                if os.path.islink(src):
                    os.symlink(os.readlink(src), target)
                else:
                    shutil.copy2(src, target)
                    if os.geteuid() == 0:
                        st = os.lstat(src)
                        os.chown(target, st.st_uid, st.st_gid)
                installed.append(os.path.normpath(os.path.join(rel, name)))
    atomic_write(manifest, "".join(f"{p}\n" for p in installed))
