"""Stores of small records written once, first writer wins: where hash equivalence keeps its records.

A store has two operations: :meth:`RecordStore.get` (the record under a key, or None) and
:meth:`RecordStore.put_if_absent` (write a record unless one is there; whether this one was written).
A record is never rewritten, so any number of builds, on one machine or many, can share a store and all
see the record the first writer wrote. Keys are relative paths of safe words (``outhash/m/ab/abcd...``).

- ``auto``: an SQLite database (``${TOPDIR}/cache/hashserv.db``), in WAL mode with a busy timeout, so
  concurrent builds of one build directory (or several sharing it) read and write it at once;
- ``file:///DIR``: one file per record below DIR, published with ``link(2)``, which refuses a name that
  exists: the first writer wins even on NFS, and no reader sees half a record;
- ``s3://bucket/prefix``, ``http(s)://host/dir`` (WebDAV): records in an object store
  (:mod:`layerbuild.util.objectstore`'s ``get_record`` and ``put_record``: ``IfNoneMatch='*'`` on S3,
  MOVE with ``Overwrite: F`` on WebDAV), so runners that share a shared-state mirror can share the records
  in the same storage.

A store that cannot be read or written raises :class:`StoreUnavailable`; the caller warns and builds
without it.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import tempfile
from collections.abc import Callable
from typing import Protocol
from urllib.parse import unquote, urlsplit

from layerbuild.util import objectstore

#: a key: relative path of words without "." or ".." components
_KEY = re.compile(r"[A-Za-z0-9_:+-][A-Za-z0-9._:+-]*(/[A-Za-z0-9_:+-][A-Za-z0-9._:+-]*)*")
#: how long an SQLite write waits for another build's write to finish, in seconds
BUSY_TIMEOUT = 30.0


class StoreUnavailable(Exception):
    """The store could not be read or written (down, unreachable, not a store)."""


class RecordStore(Protocol):
    #: where the records are, as the user named it (for messages)
    url: str

    def get(self, key: str) -> bytes | None: ...

    def put_if_absent(self, key: str, data: bytes) -> bool: ...


def check_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise ValueError(f"not a record key: {key!r}")
    return key


class SqliteRecords:
    """Records in one SQLite table; a connection per process (a forked task worker opens its own)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.url = path
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE IF NOT EXISTS records (key TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID")
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"cannot open {self.path}: {exc}") from exc
        self._conn, self._pid = conn, os.getpid()
        return conn

    def get(self, key: str) -> bytes | None:
        check_key(key)
        if self._conn is None and not os.path.lexists(self.path):
            return None  # no record yet: reading makes no database (a dry run, -S)
        try:
            row = self._connection().execute("SELECT data FROM records WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot read {self.path}: {exc}") from exc
        return None if row is None else bytes(row[0])

    def put_if_absent(self, key: str, data: bytes) -> bool:
        check_key(key)
        try:
            cursor = self._connection().execute("INSERT OR IGNORE INTO records (key, data) VALUES (?, ?)", (key, data))
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot write {self.path}: {exc}") from exc
        return cursor.rowcount == 1


class DirectoryRecords:
    """Records as files below a directory (a local disk or a shared one such as NFS)."""

    def __init__(self, root: str, url: str | None = None) -> None:
        self.root = root
        self.url = url or root

    def get(self, key: str) -> bytes | None:
        path = os.path.join(self.root, check_key(key))
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            return None  # (a directory not made yet holds no record: the first write makes it)
        except OSError as exc:
            raise StoreUnavailable(f"cannot read {path}: {exc}") from exc

    def put_if_absent(self, key: str, data: bytes) -> bool:
        path = os.path.join(self.root, check_key(key))
        directory = os.path.dirname(path)
        try:
            os.makedirs(directory, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".record-", suffix=".tmp", dir=directory)
        except OSError as exc:
            raise StoreUnavailable(f"cannot write below {self.root}: {exc}") from exc
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
            os.link(tmp, path)  # refuses an existing name: the first writer wins
            return True
        except FileExistsError:
            return False
        except OSError as exc:
            raise StoreUnavailable(f"cannot write {path}: {exc}") from exc
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


class UnknownStore(ValueError):
    """A store address of no kind layerbuild keeps records in; the message says which kinds there are."""


def _directory(value: str) -> RecordStore:
    parts = urlsplit(value)
    path = unquote(parts.path)
    if parts.netloc or not os.path.isabs(path) or os.path.normpath(path) == "/":
        raise UnknownStore(f"'{value}' is no file:// URL of a directory (file:///absolute/path)")
    return DirectoryRecords(os.path.normpath(path), value)


class ObjectRecords:
    """Records in an object store (S3, WebDAV), below the store's base URL."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _store(self) -> objectstore.Store:
        return objectstore.open_store(self.url)  # (one per process: a forked task worker opens its own)

    def get(self, key: str) -> bytes | None:
        try:
            return self._store().get_record(check_key(key))
        except objectstore.StoreError as exc:
            raise StoreUnavailable(exc.message) from exc

    def put_if_absent(self, key: str, data: bytes) -> bool:
        try:
            return self._store().put_record(check_key(key), data)
        except objectstore.StoreError as exc:
            raise StoreUnavailable(exc.message) from exc


def _objects(value: str) -> RecordStore:
    try:
        objectstore.open_store(value)
    except objectstore.StoreError as exc:
        raise UnknownStore(exc.message) from None
    return ObjectRecords(value)


#: URL scheme -> the store of that kind, made from the whole URL
SCHEMES: dict[str, Callable[[str], RecordStore]] = {"file": _directory, "s3": _objects, "http": _objects,
                                                    "https": _objects}


def open_store(value: str, topdir: str) -> RecordStore | None:
    """The store ``BB_HASHSERVE`` names: None for ``""`` (no hash equivalence), the build directory's
    SQLite database for ``auto``, else the store of the URL's scheme (:data:`SCHEMES`)."""
    value = value.strip()
    if not value:
        return None
    if value == "auto":
        return SqliteRecords(os.path.join(topdir, "cache", "hashserv.db"))
    make = SCHEMES.get(urlsplit(value).scheme)
    if make is None:
        raise UnknownStore(f"'{value}' is no record store layerbuild knows: use auto (an SQLite database in the "
                           "build directory), a file:///DIR directory, an s3:// or http(s):// (WebDAV) "
                           "object store, or \"\" for no hash equivalence "
                           "(layerbuild runs no hash equivalence server)")
    return make(value)
