"""The interface every object store implements (see :mod:`layerbuild.util.objectstore`), its errors
and its retrying."""

from __future__ import annotations

import abc
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from layerbuild.util.errors import LayerbuildError

T = TypeVar("T")

#: seconds one request may take (connect, or wait for data) unless BB_MIRROR_TIMEOUT says otherwise
DEFAULT_TIMEOUT = 10.0
#: further attempts after a failed one, each after twice the pause of the one before
DEFAULT_RETRIES = 2
FIRST_PAUSE = 0.2


#: stores found down in this process, by URL: a task worker forked later knows them without waiting again
DOWN: dict[str, str] = {}


class StoreError(LayerbuildError):
    """A store refused an operation (no permission, no such bucket): the caller warns and goes on."""


class StoreUnavailable(StoreError):
    """A store did not answer in time, or is known to be down since an earlier request."""


class StoreConfigError(StoreError):
    """A store URL that cannot work as written (unknown scheme, no bucket, no credentials)."""


class Transient(Exception):
    """Raised by backends for what a retry may cure (no connection, a timeout, a 5xx status)."""


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    size: int
    mtime: float


class Store(abc.ABC):
    """One store at ``url``. Backends implement the ``_`` methods; the public ones retry them."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT, retries: int = DEFAULT_RETRIES) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.down: str | None = DOWN.get(self.url)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    # -- what callers use --------------------------------------------------------------------------
    def get(self, key: str, target: str) -> bool:
        return self._retry(lambda: self._get(check_key(key), target))

    def head(self, key: str) -> Entry | None:
        return self._retry(lambda: self._head(check_key(key)))

    def put(self, source: str, key: str) -> bool:
        return self._retry(lambda: self._put(source, check_key(key)))

    def get_record(self, key: str) -> bytes | None:
        return self._retry(lambda: self._get_record(check_key(key)))

    def put_record(self, key: str, data: bytes) -> bool:
        return self._retry(lambda: self._put_record(check_key(key), data))

    def set_record(self, key: str, data: bytes) -> None:
        self._retry(lambda: self._set_record(check_key(key), data))

    def delete(self, key: str) -> None:
        self._retry(lambda: self._delete(check_key(key)))

    def entries(self) -> Iterator[Entry]:
        return iter(self._retry(lambda: list(self._entries())))

    # -- what backends implement -------------------------------------------------------------------
    @abc.abstractmethod
    def _get(self, key: str, target: str) -> bool: ...

    @abc.abstractmethod
    def _head(self, key: str) -> Entry | None: ...

    @abc.abstractmethod
    def _put(self, source: str, key: str) -> bool: ...

    @abc.abstractmethod
    def _get_record(self, key: str) -> bytes | None: ...

    @abc.abstractmethod
    def _put_record(self, key: str, data: bytes) -> bool: ...

    @abc.abstractmethod
    def _set_record(self, key: str, data: bytes) -> None: ...

    @abc.abstractmethod
    def _delete(self, key: str) -> None: ...

    @abc.abstractmethod
    def _entries(self) -> Iterator[Entry]: ...

    def _retry(self, op: Callable[[], T]) -> T:
        pause = FIRST_PAUSE
        for attempt in range(self.retries + 1):
            if self.down is not None:
                raise StoreUnavailable(f"{self.url} is unavailable: {self.down}")
            try:
                return op()
            except Transient as exc:
                if attempt == self.retries:
                    with self._lock:
                        self.down = DOWN[self.url] = str(exc) or type(exc).__name__
                    raise StoreUnavailable(f"{self.url} is unavailable: {self.down}") from None
                time.sleep(pause)
                pause *= 2
        raise AssertionError("unreachable")


def check_key(key: str) -> str:
    """A key is a relative path without ``.`` or ``..`` components: it never leaves the store's base."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\0" in key:
        raise StoreError(f"refusing the object name {key!r}: not a plain relative path")
    return key
