"""Shared-state mirrors: finding objects on other stores, fetching them verified, publishing new ones.

``SSTATE_MIRRORS`` holds ``REGEX URL`` pairs as in OE (``file://.* s3://bucket/sstate/PATH``): the regex
is matched against ``file://`` and the object's path, ``PATH`` in the URL stands for that path, and any
store of :mod:`layerbuild.util.objectstore` (``file://``, ``http(s)://``, ``s3://``) may be named.
Before a build is planned, every shared-state task whose object is not in ``SSTATE_DIR`` has its
``.siginfo`` looked up on the mirrors, ``BB_NUMBER_THREADS`` at a time. A restore fetches the object
into ``SSTATE_DIR`` and installs it from there: the object's sha256 must be the one its siginfo
records, and with ``SSTATE_VERIFY_SIG = "1"`` its ``.sig`` must verify under a key of
``SSTATE_VALID_SIGS``; otherwise nothing is kept, a warning says why and the task runs.

``SSTATE_UPLOAD = "URL"`` publishes each object a task creates to that store, put-if-absent: the object,
its ``.sig`` (when ``SSTATE_SIG_KEY`` signs), then its ``.siginfo`` last, so a reader never finds a
siginfo whose object is not whole. Restoring an object from the upload store writes its access record
(``NAME.access``, the time of use), which ``layerbuild-sstate prune`` reads; objects are never rewritten.

A mirror that is down or slow costs one timeout (``BB_MIRROR_TIMEOUT`` seconds per request, retried
with a growing pause) and one warning; the build goes on without it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from layerbuild.util.errors import LayerbuildError
from layerbuild.util.fsutil import atomic_output, atomic_write, join_under, sha256_file
from layerbuild.util.objectstore import (
    DEFAULT_TIMEOUT,
    Store,
    StoreConfigError,
    StoreError,
    forget_stores,
    open_store,
)
from layerbuild.util.signing import sign, verify

logger = logging.getLogger("layerbuild.sstate")

#: what a task's variables name for its mirrors (kept in the parse cache for every recipe)
MIRROR_VARS = ("SSTATE_MIRRORS", "SSTATE_UPLOAD", "BB_MIRROR_TIMEOUT", "SSTATE_VERIFY_SIG", "SSTATE_SIG_KEY",
               "SSTATE_VALID_SIGS")


@dataclass(frozen=True, slots=True)
class MirrorSettings:
    mirrors: str = ""
    upload: str = ""
    timeout: float = DEFAULT_TIMEOUT
    verify_sig: bool = False
    sig_key: str = ""
    valid_sigs: tuple[str, ...] = ()

    @classmethod
    def read(cls, get: Callable[[str], str]) -> MirrorSettings:
        timeout = get("BB_MIRROR_TIMEOUT").strip()
        try:
            seconds = float(timeout) if timeout else DEFAULT_TIMEOUT
        except ValueError:
            raise StoreConfigError(f"BB_MIRROR_TIMEOUT = {timeout!r} is not a number of seconds") from None
        return cls(get("SSTATE_MIRRORS").strip(), get("SSTATE_UPLOAD").strip(), seconds,
                   get("SSTATE_VERIFY_SIG").strip() == "1", get("SSTATE_SIG_KEY").strip(),
                   tuple(get("SSTATE_VALID_SIGS").split()))


@dataclass(frozen=True, slots=True)
class Remote:
    """An object found on a mirror: where, and what its siginfo says."""

    store: str
    name: str
    sha256: str
    siginfo: bytes


def signed_message(name: str, sha256: str) -> bytes:
    """What an object's signature signs: its name and its checksum (so it cannot be renamed)."""
    return f"layerbuild sstate object\n{name}\n{sha256}\n".encode()


def store_base(url: str) -> str:
    """The store of an SSTATE_MIRRORS URL: without OE's ``PATH`` placeholder and ``;downloadfilename``."""
    url = re.sub(r";downloadfilename=PATH$", "", url)
    return url[: -len("/PATH")] if url.endswith("/PATH") else url.rstrip("/")


def mirror_pairs(value: str) -> list[tuple[str, str]]:
    words = value.replace("\\n", " ").split()
    if len(words) % 2:
        raise StoreConfigError(f"SSTATE_MIRRORS = {value!r}: not pairs of REGEX URL")
    return [(words[i], store_base(words[i + 1])) for i in range(0, len(words), 2)]


class Mirrors:
    """The stores one task's settings name, opened (so a bad URL is an error before anything runs)."""

    def __init__(self, settings: MirrorSettings) -> None:
        self.settings = settings
        self.mirrors: list[tuple[re.Pattern[str], Store]] = []
        for regex, url in mirror_pairs(settings.mirrors):
            try:
                pattern = re.compile(regex)
            except re.error as exc:
                raise StoreConfigError(f"SSTATE_MIRRORS: {regex!r} is not a regular expression: {exc}") from None
            self.mirrors.append((pattern, open_store(url, settings.timeout)))
        self.upload_store = open_store(store_base(settings.upload), settings.timeout) if settings.upload else None
        if settings.verify_sig and not settings.valid_sigs:
            raise StoreConfigError('SSTATE_VERIFY_SIG = "1" but SSTATE_VALID_SIGS names no public key file')
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def warn(self, store: Store, exc: StoreError) -> None:
        with self._lock:
            if store.url in self._warned:
                return
            self._warned.add(store.url)
        logger.warning("sstate mirror %s: %s; going on without it", store.url, exc.message)

    def probe_upload(self) -> None:
        """Ask the upload store once, before tasks run: if it is down, the task workers forked later know
        it (:data:`layerbuild.util.objectstore.DOWN`) and do not each wait for it."""
        if self.upload_store is not None:
            try:
                self.upload_store.head("layerbuild-probe")
            except StoreError as exc:
                self.warn(self.upload_store, exc)

    def lookup(self, names: Iterable[str], threads: int) -> dict[str, Remote]:
        """The objects of ``names`` found on the mirrors (their siginfo read), ``threads`` at a time."""
        names = list(names)
        if not self.mirrors or not names:
            return {}
        with ThreadPoolExecutor(max(1, threads)) as pool:
            found = pool.map(self._lookup_one, names)
        return {name: remote for name, remote in zip(names, found, strict=True) if remote is not None}

    def _lookup_one(self, name: str) -> Remote | None:
        for pattern, store in self.mirrors:
            if not pattern.match(f"file://{name}"):
                continue
            try:
                data = store.get_record(name + ".siginfo")
            except StoreError as exc:
                self.warn(store, exc)
                continue
            if data is None:
                continue
            try:
                sha = json.loads(data)["sha256"]
            except (ValueError, KeyError, TypeError):
                logger.warning("sstate mirror %s: the siginfo of %s is unreadable; ignoring it", store.url, name)
                continue
            if isinstance(sha, str) and re.fullmatch("[0-9a-f]{64}", sha):
                return Remote(store.url, name, sha, data)
        return None

    def _store(self, url: str) -> Store:
        return next(store for _p, store in self.mirrors if store.url == url)

    def fetch(self, remote: Remote, directory: str) -> int:
        """Fetch ``remote`` into SSTATE_DIR ``directory``, checked; returns the bytes transferred. A
        failure is a :class:`LayerbuildError` and leaves nothing behind."""
        store = self._store(remote.store)
        path = join_under(directory, remote.name, what="sstate object")
        what = f"sstate object {remote.name} from {remote.store}"
        signature = None
        try:
            if self.settings.verify_sig:
                signature = store.get_record(remote.name + ".sig")
                if signature is None:
                    raise LayerbuildError(f"{what} is not signed (SSTATE_VERIFY_SIG is set)")
                if not verify(self.settings.valid_sigs, signed_message(remote.name, remote.sha256), signature):
                    raise LayerbuildError(f"{what} has a signature no key of SSTATE_VALID_SIGS verifies")
            with atomic_output(path) as tmp:
                if not store.get(remote.name, str(tmp)):
                    raise LayerbuildError(f"{what} is missing (its siginfo is there)")
                if sha256_file(tmp) != remote.sha256:
                    raise LayerbuildError(f"{what} is corrupt (checksum mismatch)")
                size = os.path.getsize(tmp)
        except StoreError as exc:
            self.warn(store, exc)
            raise LayerbuildError(f"{what} could not be fetched: {exc.message}") from None
        if signature is not None:
            atomic_write(path + ".sig", signature)
        atomic_write(path + ".siginfo", remote.siginfo)
        if self.upload_store is not None and self.upload_store.url == store.url:
            self.record_access(store, remote.name)
        return size

    def record_access(self, store: Store, name: str) -> None:
        try:
            store.set_record(name + ".access", f"{int(time.time())}\n".encode())
        except StoreError as exc:
            self.warn(store, exc)

    def upload(self, path: str, name: str) -> None:
        """Publish the local object ``path`` (with its .sig and .siginfo) as ``name``; a warning on failure."""
        store = self.upload_store
        if store is None:
            return
        try:
            with open(path + ".siginfo", "rb") as fh:
                siginfo = fh.read()
            signature = None
            with contextlib.suppress(FileNotFoundError), open(path + ".sig", "rb") as fh:
                signature = fh.read()
            if not store.put(path, name):
                # there already; its siginfo is missing only when an upload died between the two: repair it
                # when the object there is this one
                self.record_access(store, name)
                if store.get_record(name + ".siginfo") is not None or not self._same(store, path, name):
                    return
            if signature is not None:
                store.put_record(name + ".sig", signature)
            store.put_record(name + ".siginfo", siginfo)
        except StoreError as exc:
            self.warn(store, exc)

    @staticmethod
    def _same(store: Store, path: str, name: str) -> bool:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=os.path.dirname(path))
        os.close(fd)
        try:
            return store.get(name, tmp) and sha256_file(tmp) == sha256_file(path)
        finally:
            os.unlink(tmp)


def sign_object(settings: MirrorSettings, path: str, name: str, sha256: str) -> None:
    """With SSTATE_SIG_KEY: write the object's ``.sig`` beside it (before its siginfo); without, remove
    a signature of an earlier object of that name."""
    if settings.sig_key:
        atomic_write(path + ".sig", sign(settings.sig_key, signed_message(name, sha256)))
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path + ".sig")


_CACHE: dict[tuple[int, MirrorSettings], Mirrors] = {}
_CACHE_LOCK = threading.Lock()


def mirrors_for(settings: MirrorSettings) -> Mirrors:
    with _CACHE_LOCK:
        key = (os.getpid(), settings)  # a forked task worker opens its own connections
        mirrors = _CACHE.get(key)
        if mirrors is None:
            mirrors = _CACHE[key] = Mirrors(settings)
        return mirrors


def reset() -> None:
    """A new build: stores found down before are tried again, warnings are given again."""
    with _CACHE_LOCK:
        _CACHE.clear()
    forget_stores()

