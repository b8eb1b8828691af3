"""The parse cache: recipe summaries, and the task signatures of those a build needed, kept under
``${TMPDIR}/cache``, keyed by file contents.

An entry is valid while every file its parse read (the recipe, its appends, includes and classes)
has the content it had, and every file the parse looked for but did not find is still absent. The
whole cache is valid only for the configuration it was made with (the content of every configuration
file). File identity is checked with ``stat`` first and by content only when the ``stat`` differs, so a
``touch`` costs a hash but no re-parse.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
from dataclasses import dataclass

from layerbuild import __version__
from layerbuild.engine.recipe import RecipeInfo
from layerbuild.engine.signatures import TaskSignature
from layerbuild.engine.variants import split_virtual
from layerbuild.util.fsutil import atomic_write, sha256_file
from layerbuild.util.hashing import sha256_tree

CACHE_FORMAT = 17

Fingerprint = tuple[int, int, str] | None  # (mtime_ns, size, sha256) or None for "did not exist"


class FileState:
    """Fingerprints of files, computed at most once per run."""

    def __init__(self) -> None:
        self._stat: dict[str, tuple[int, int] | None] = {}
        self._sha: dict[str, str] = {}

    def stat(self, path: str) -> tuple[int, int] | None:
        if path in self._stat:
            return self._stat[path]
        try:
            st = os.stat(path)
            value: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except OSError:
            value = None
        self._stat[path] = value
        return value

    def sha(self, path: str) -> str:
        found = self._sha.get(path)
        if found is None:
            found = sha256_tree(path) if os.path.isdir(path) else sha256_file(path)
            self._sha[path] = found
        return found

    def fingerprint(self, path: str) -> Fingerprint:
        st = self.stat(path)
        if st is None:
            return None
        return (st[0], st[1], self.sha(path))

    def unchanged(self, path: str, fp: Fingerprint) -> bool:
        st = self.stat(path)
        if fp is None or st is None:
            return fp is None and st is None
        if (st[0], st[1]) == (fp[0], fp[1]) and not os.path.isdir(path):
            return True
        return st[1] == fp[1] and self.sha(path) == fp[2]


@dataclass
class Entry:
    appends: tuple[str, ...]
    deps: tuple[tuple[str, Fingerprint], ...]
    #: the file's own recipe, then its BBCLASSEXTEND variants
    infos: tuple[RecipeInfo, ...]
    #: the task signatures of those of its recipes a build needed, by recipe key (a variant's is its virtual
    #: file name); None, or a recipe not in it: none computed yet
    signatures: dict[str, tuple[TaskSignature, ...]] | None = None


class ParseCache:
    """Recipe summaries of one configuration, loaded from and saved to ``directory``; a multiconfig
    ``mc`` keeps its own file there (configurations sharing a TMPDIR do not replace each other's)."""

    def __init__(self, directory: str, config_key: str, files: FileState | None = None, mc: str = "") -> None:
        name = f"recipes.v{CACHE_FORMAT}.mc-{mc}.pickle" if mc else f"recipes.v{CACHE_FORMAT}.pickle"
        self.path = os.path.join(directory, name)
        self.config_key = config_key
        self.files = files or FileState()
        self.entries: dict[str, Entry] = {}
        #: the warnings the configuration's own names gave (it is read on every run; checked once per key)
        self.config_warnings: tuple[str, ...] | None = None
        self.dirty = False
        self._load()

    def _load(self) -> None:
        # Unpickling makes a few million tuples that live as long as the command: the cyclic garbage
        # collector, which went through all of them several times while they were made and again later,
        # took more than half of the time. It leaves them alone (frozen) from the start.
        enabled = gc.isenabled()
        gc.disable()
        try:
            with open(self.path, "rb") as fh:
                data = pickle.load(fh)
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError):
            return
        finally:
            gc.freeze()
            if enabled:
                gc.enable()
        if not isinstance(data, dict) or data.get("key") != self.config_key:
            self.dirty = True
            return
        self.entries = data["entries"]
        self.config_warnings = data.get("config_warnings")

    def lookup(self, fn: str, appends: tuple[str, ...]) -> tuple[RecipeInfo, ...] | None:
        """The recipes the file ``fn`` gave (its own, then its variants), while still valid."""
        entry = self.entries.get(fn)
        if entry is None or entry.appends != appends:
            return None
        unchanged = self.files.unchanged
        for path, fp in entry.deps:
            if not unchanged(path, fp):
                return None
        return entry.infos

    def signatures(self, vfn: str) -> tuple[TaskSignature, ...] | None:
        """The task signatures of the recipe ``vfn`` (a file, or a variant's virtual name) kept with its
        file's entry, which :meth:`lookup` found current or :meth:`store` wrote in this run."""
        entry = self.entries.get(split_virtual(vfn)[0])
        return entry.signatures.get(vfn) if entry is not None and entry.signatures else None

    def store(self, fn: str, appends: tuple[str, ...], depends: list[str], infos: tuple[RecipeInfo, ...]) -> None:
        """Keep the recipes of ``fn``, valid while every file in ``depends`` (what all of them read) is unchanged."""
        deps = tuple((path, self.files.fingerprint(path)) for path in dict.fromkeys(depends))
        self.entries[fn] = Entry(appends, deps, infos)
        self.dirty = True

    def add_signatures(self, fn: str, depends: list[str], signatures: dict[str, tuple[TaskSignature, ...]]) -> None:
        """Keep with ``fn``'s entry the task signatures a parse of it again computed, and the files that parse
        read besides those the entry's recipes were made from (the [file-checksums] of the signatures)."""
        entry = self.entries.get(fn)
        if entry is None:
            return
        deps = dict(entry.deps)
        for path in depends:
            if path not in deps:
                deps[path] = self.files.fingerprint(path)
        self.entries[fn] = Entry(entry.appends, tuple(deps.items()), entry.infos,
                                 {**(entry.signatures or {}), **signatures})
        self.dirty = True

    def prune(self, keep: set[str]) -> None:
        for fn in [fn for fn in self.entries if fn not in keep]:
            del self.entries[fn]
            self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        payload = pickle.dumps({"key": self.config_key, "entries": self.entries,
                                "config_warnings": self.config_warnings}, protocol=pickle.HIGHEST_PROTOCOL)
        atomic_write(self.path, payload)
        self.dirty = False


def config_key(files: tuple[str, ...], state: FileState, extra: tuple[str, ...] = ()) -> str:
    """A key for a configuration: the content of every file it read, and whether the others exist."""
    h = hashlib.sha256(f"layerbuild {__version__} cache {CACHE_FORMAT}\n".encode())
    for path in files:
        fp = state.fingerprint(path)
        h.update(f"{path}\0{fp[2] if fp else '-'}\n".encode())
    for item in extra:
        h.update(f"{item}\n".encode())
    return h.hexdigest()
