"""``file:///dir`` stores: a directory, shared by build directories or over NFS.

Objects are copied to a temporary name beside their key and linked into place with ``link(2)``, which
fails when the key exists: the first writer wins and nobody ever sees part of a file. Nothing here
follows a link out of the directory for a key (:func:`layerbuild.util.fsutil.join_under`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from urllib.parse import unquote, urlsplit

from layerbuild.util.fsutil import PathEscape, atomic_write, join_under
from layerbuild.util.objectstore.store import Entry, Store, StoreConfigError, StoreError


class LocalStore(Store):
    def __init__(self, url: str, timeout: float, retries: int) -> None:
        super().__init__(url, timeout, retries)
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise StoreConfigError(f"{url}: a file:// store needs an absolute path (file:///dir)")
        self.root = unquote(parts.path).rstrip("/") or "/"

    def path(self, key: str) -> str:
        try:
            return join_under(self.root, key, what="object")
        except PathEscape as exc:
            raise StoreError(f"{self.url}: {exc.message}") from None

    def _get(self, key: str, target: str) -> bool:
        path = self.path(key)
        if not os.path.isfile(path) or os.path.islink(path):
            return False
        try:
            shutil.copyfile(path, target)
        except FileNotFoundError:
            return False
        return True

    def _head(self, key: str) -> Entry | None:
        try:
            st = os.lstat(self.path(key))
        except FileNotFoundError:
            return None
        return Entry(key, st.st_size, max(st.st_mtime, st.st_atime)) if os.path.isfile(self.path(key)) else None

    def _publish(self, key: str, write: Callable[[str], object]) -> bool:
        path = self.path(key)
        if os.path.lexists(path):
            return False
        directory = os.path.dirname(path)
        try:
            os.makedirs(directory, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
            os.close(fd)
        except OSError as exc:
            raise StoreError(f"{self.url}: cannot write {directory}: {exc.strerror or exc}") from None
        try:
            write(tmp)
            os.chmod(tmp, 0o644)
            os.link(tmp, path)
            return True
        except FileExistsError:
            return False
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def _put(self, source: str, key: str) -> bool:
        return self._publish(key, lambda tmp: shutil.copyfile(source, tmp))

    def _get_record(self, key: str) -> bytes | None:
        try:
            with open(self.path(key), "rb") as fh:
                return fh.read()
        except (FileNotFoundError, IsADirectoryError):
            return None

    def _put_record(self, key: str, data: bytes) -> bool:
        def write(tmp: str) -> None:
            with open(tmp, "wb") as fh:
                fh.write(data)
        return self._publish(key, write)

    def _set_record(self, key: str, data: bytes) -> None:
        path = self.path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, data)

    def _delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(key))

    def _entries(self) -> Iterator[Entry]:
        for top, dirs, files in os.walk(self.root):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(top, name)
                if name.startswith(".") or os.path.islink(full):
                    continue  # a temporary name of a writer, or a link placed by hand
                with contextlib.suppress(FileNotFoundError):
                    st = os.lstat(full)
                    yield Entry(os.path.relpath(full, self.root), st.st_size, max(st.st_mtime, st.st_atime))

