"""Object stores: where shared state and downloads are mirrored, behind one small interface.

A store is a flat namespace of keys (``ab/cd/sstate:...tar.zst``, ``zlib-1.3.tar.xz``) below a base URL.
:data:`SCHEMES` is the one table of backends, keyed by URL scheme:

- ``file:///dir``: a directory (``local``);
- ``http://host/dir`` and ``https://``: GET and HEAD from any web server, uploads with WebDAV (PUT to a
  temporary name, then MOVE with ``Overwrite: F``), as nginx's dav module serves them (``web``);
- ``s3://bucket/prefix``: S3 and S3-compatible stores through boto3, with credentials, region and
  ``AWS_ENDPOINT_URL`` from boto3's own configuration files and environment (``s3``).

Every store has the same operations (:class:`Store`):

- ``get(key, target)``: the whole object into the file ``target``; False when there is none;
- ``head(key)``: an :class:`Entry` (size, modification time) or None;
- ``put(source, key)``: publish a file unless the key exists (True: written, False: already there). A
  reader never sees part of an object: a local file is renamed into place, WebDAV moves a complete
  temporary upload, S3 stores a single PUT or a completed multipart upload. Two writers of one key both
  succeed and one whole object stays;
- ``get_record(key)`` and ``put_record(key, data)``: a small record read, or written if absent
  (first writer wins: ``IfNoneMatch='*'`` on S3, MOVE with ``Overwrite: F`` on WebDAV, ``link(2)``
  locally). Shared hash-equivalence records use this pair: all runners agree on the first record
  written, without a server of their own;
- ``set_record(key, data)``: a small record replaced whole (the access records of :mod:`prune`);
- ``delete(key)`` and ``entries()``: only pruning removes and lists; normal use never lists a store.

A store that does not answer (connection refused, a timeout, a 5xx status) is retried ``retries`` times
with a growing pause, then counted as down: it raises :class:`StoreUnavailable` at once for the rest of
the process, so a dead mirror costs one timeout, not one per object. Callers turn that into a warning.
A URL that names no store, or an S3 store without credentials, is a :class:`StoreConfigError`, one line.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

from layerbuild.util.objectstore.store import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    DOWN,
    Entry,
    Store,
    StoreConfigError,
    StoreError,
    StoreUnavailable,
    Transient,
    check_key,
)

__all__ = ["DEFAULT_RETRIES", "DEFAULT_TIMEOUT", "SCHEMES", "Entry", "Store", "StoreConfigError", "StoreError",
           "StoreUnavailable", "Transient", "check_key", "forget_stores", "open_store"]


def _local(url: str, timeout: float, retries: int) -> Store:
    from layerbuild.util.objectstore.local import LocalStore
    return LocalStore(url, timeout, retries)


def _web(url: str, timeout: float, retries: int) -> Store:
    from layerbuild.util.objectstore.web import WebStore
    return WebStore(url, timeout, retries)


def _s3(url: str, timeout: float, retries: int) -> Store:
    from layerbuild.util.objectstore.s3 import S3Store
    return S3Store(url, timeout, retries)


#: URL scheme -> backend: the one table that says which stores exist (backends import lazily: boto3 is
#: loaded only by builds that name an s3:// store)
SCHEMES: dict[str, Callable[[str, float, int], Store]] = {
    "file": _local,
    "http": _web,
    "https": _web,
    "s3": _s3,
}

_OPEN: dict[tuple[int, str, float, int], Store] = {}
_OPEN_LOCK = threading.Lock()


def open_store(url: str, timeout: float = DEFAULT_TIMEOUT, retries: int = DEFAULT_RETRIES) -> Store:
    """The store at ``url``; one per URL and process, so a store found down stays down for the build."""
    scheme = urlsplit(url).scheme
    backend = SCHEMES.get(scheme)
    if backend is None:
        known = ", ".join(f"{s}://" for s in SCHEMES)
        raise StoreConfigError(f"{url}: not a store URL (known: {known})")
    key = (os.getpid(), url.rstrip("/"), timeout, retries)
    with _OPEN_LOCK:
        store = _OPEN.get(key)
        if store is None:
            store = _OPEN[key] = backend(url, timeout, retries)
        return store


def forget_stores() -> None:
    """Forget the open stores (and which are down): the next build of this process starts afresh."""
    with _OPEN_LOCK:
        _OPEN.clear()
        DOWN.clear()
