"""The parse cache: recipe summaries, and the task signatures of those a build needed, kept under
``${TMPDIR}/cache``, keyed by file contents.

An entry is valid while every file its parse read (the recipe, its appends, includes and classes)
has the content it had, and every file the parse looked for but did not find is still absent. The
whole cache is valid only for the configuration it was made with (the content of every configuration
file). File identity is checked with ``stat`` first and by content only when the ``stat`` differs, so a
``touch`` costs a hash but no re-parse.

Each entry is kept pickled on its own: a parse worker sends the entry of the file it parsed already in
the form the cache file holds (:func:`pickled_entry`), so saving the cache after a parse writes those
bytes rather than pickling every recipe summary again, and a build that parsed one changed recipe
rewrites the others' bytes as they were read.
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

CACHE_FORMAT = 18

Fingerprint = tuple[int, int, str] | None  # (mtime_ns, size, sha256) or None for "did not exist"


class FileState:
    """Fingerprints of files, computed at most once per run."""

    def __init__(self) -> None:
        self._stat: dict[str, tuple[int, int] | None] = {}
        self._sha: dict[str, str] = {}
        self._fingerprint: dict[str, Fingerprint] = {}

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
        try:
            # every recipe's entry names the configuration's classes and includes again
            return self._fingerprint[path]
        except KeyError:
            pass
        st = self.stat(path)
        found = None if st is None else (st[0], st[1], self.sha(path))
        self._fingerprint[path] = found
        return found

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


def _deps(depends: list[str], files: FileState) -> tuple[tuple[str, Fingerprint], ...]:
    return tuple((path, files.fingerprint(path)) for path in dict.fromkeys(depends))


def pickled_entry(appends: tuple[str, ...], depends: list[str], infos: tuple[RecipeInfo, ...],
                  files: FileState) -> bytes:
    """The cache entry of a file whose parse gave ``infos`` and read ``depends``, as the cache file holds it."""
    return pickle.dumps(Entry(appends, _deps(depends, files), infos), protocol=pickle.HIGHEST_PROTOCOL)


class ParseCache:
    """Recipe summaries of one configuration, loaded from and saved to ``directory``; a multiconfig
    ``mc`` keeps its own file there (configurations sharing a TMPDIR do not replace each other's)."""

    def __init__(self, directory: str, config_key: str, files: FileState | None = None, mc: str = "") -> None:
        name = f"recipes.v{CACHE_FORMAT}.mc-{mc}.pickle" if mc else f"recipes.v{CACHE_FORMAT}.pickle"
        self.path = os.path.join(directory, name)
        self.config_key = config_key
        self.files = files or FileState()
        self.entries: dict[str, Entry] = {}
        #: each entry of ``entries`` that has not changed since it was pickled, pickled
        self._pickled: dict[str, bytes] = {}
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
            try:
                with open(self.path, "rb") as fh:
                    data = pickle.load(fh)
            except OSError:
                return
            if not isinstance(data, dict) or data.get("key") != self.config_key:
                self.dirty = True
                return
            entries = {fn: pickle.loads(blob) for fn, blob in data["entries"].items()}
        except (EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError):
            self.dirty = True
            return
        finally:
            gc.freeze()
            if enabled:
                gc.enable()
        self.entries = entries
        self._pickled = data["entries"]
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
        self.entries[fn] = Entry(appends, _deps(depends, self.files), infos)
        self._pickled.pop(fn, None)
        self.dirty = True

    def store_pickled(self, fn: str, blob: bytes) -> tuple[RecipeInfo, ...]:
        """Keep the entry :func:`pickled_entry` made of ``fn``'s parse; its recipes."""
        entry = pickle.loads(blob)
        self.entries[fn] = entry
        self._pickled[fn] = blob
        self.dirty = True
        return entry.infos

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
        self._pickled.pop(fn, None)
        self.dirty = True

    def prune(self, keep: set[str]) -> None:
        for fn in [fn for fn in self.entries if fn not in keep]:
            del self.entries[fn]
            self._pickled.pop(fn, None)
            self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        pickled = self._pickled
        for fn, entry in self.entries.items():
            if fn not in pickled:
                pickled[fn] = pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL)
        payload = pickle.dumps({"key": self.config_key, "entries": {fn: pickled[fn] for fn in self.entries},
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
