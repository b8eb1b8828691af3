"""``http://`` and ``https://`` stores: GET and HEAD from any web server; uploads through WebDAV.

An upload is a PUT to a temporary name beside the key (``.NAME.RANDOM.tmp``), then a MOVE onto the key
with ``Overwrite: F``: the key shows the whole object or nothing, and when it exists already the server
answers 412 and the upload is dropped (the first writer wins). This is what nginx's dav module serves
(``dav_methods PUT DELETE MOVE; create_full_put_path on;``). Listing, for pruning only, reads the
server's directory index: nginx's ``autoindex_format json``, or the links of an HTML index.
"""

from __future__ import annotations

import email.utils
import html.parser
import json
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit

from layerbuild.util.objectstore.store import Entry, Store, StoreConfigError, StoreError, Transient

USER_AGENT = "layerbuild"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a WebDAV MOVE or PUT must not be replayed elsewhere


_OPENER = urllib.request.build_opener(_NoRedirect)


class WebStore(Store):
    def __init__(self, url: str, timeout: float, retries: int) -> None:
        super().__init__(url, timeout, retries)
        parts = urlsplit(url)
        if not parts.hostname:
            raise StoreConfigError(f"{url}: an http(s) store needs a host (http://HOST/DIR)")
        self.base = self.url + "/"

    def _url(self, key: str) -> str:
        return self.base + quote(key, safe="/")

    def _open(self, method: str, url: str, data: Any = None, headers: dict[str, str] | None = None,
              ok: tuple[int, ...] = (200,)) -> tuple[int, Any]:
        """Send a request: (status, the open response or None). A status in ``ok`` returns the response
        to read; 404 and 412 return their status; a 5xx status or no answer is :class:`Transient`."""
        request = urllib.request.Request(url, data=data, method=method,
                                         headers={"User-Agent": USER_AGENT, **(headers or {})})
        try:
            response = _OPENER.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code in (404, 409, 412):
                return exc.code, None
            if exc.code >= 500 or exc.code == 429:
                raise Transient(f"HTTP {exc.code} {exc.reason} for {method} {url}") from None
            raise StoreError(f"{url}: HTTP {exc.code} {exc.reason} for {method}") from None
        except urllib.error.URLError as exc:
            raise Transient(f"{urlsplit(url).netloc}: {exc.reason}") from None
        except OSError as exc:
            raise Transient(f"{urlsplit(url).netloc}: {exc or type(exc).__name__}") from None
        if response.status not in ok:
            response.close()
            raise StoreError(f"{url}: unexpected HTTP {response.status} for {method}")
        return response.status, response

    def _get(self, key: str, target: str) -> bool:
        status, response = self._open("GET", self._url(key))
        if response is None:
            return False
        with response, open(target, "wb") as out:
            try:
                while block := response.read(1 << 20):
                    out.write(block)
            except (TimeoutError, OSError) as exc:
                raise Transient(f"{self.url}: reading {key}: {exc or type(exc).__name__}") from None
        return True

    def _head(self, key: str) -> Entry | None:
        status, response = self._open("HEAD", self._url(key))
        if response is None:
            return None
        with response:
            return Entry(key, int(response.headers.get("Content-Length") or 0), _http_time(response.headers))

    def _upload(self, key: str, body: Any, size: int, overwrite: bool) -> bool:
        directory, name = os.path.split(key)
        tmp = "/".join(p for p in (directory, f".{name}.{uuid.uuid4().hex}.tmp") if p)
        status, response = self._open("PUT", self._url(tmp), data=body,
                                      headers={"Content-Length": str(size),
                                               "Content-Type": "application/octet-stream"}, ok=(200, 201, 204))
        if response is None:
            raise StoreError(f"{self.url}: HTTP {status} for PUT (does the server accept WebDAV uploads?)")
        response.close()
        try:
            status, response = self._open("MOVE", self._url(tmp), ok=(200, 201, 204), headers={
                "Destination": self._url(key), "Overwrite": "T" if overwrite else "F"})
        except BaseException:
            self._discard(tmp)
            raise
        if response is None:
            self._discard(tmp)
            if status == 412:
                return False  # another writer was first
            raise StoreError(f"{self.url}: HTTP {status} for MOVE of {key}")
        response.close()
        return True

    def _discard(self, key: str) -> None:
        try:
            self._delete(key)
        except (StoreError, Transient):
            pass  # a temporary name nobody reads; pruning removes it

    def _put(self, source: str, key: str) -> bool:
        if self._head(key) is not None:
            return False
        with open(source, "rb") as body:
            return self._upload(key, body, os.fstat(body.fileno()).st_size, overwrite=False)

    def _get_record(self, key: str) -> bytes | None:
        status, response = self._open("GET", self._url(key))
        if response is None:
            return None
        with response:
            data: bytes = response.read()
            return data

    def _put_record(self, key: str, data: bytes) -> bool:
        return self._upload(key, data, len(data), overwrite=False)

    def _set_record(self, key: str, data: bytes) -> None:
        self._upload(key, data, len(data), overwrite=True)

    def _delete(self, key: str) -> None:
        status, response = self._open("DELETE", self._url(key), ok=(200, 202, 204))
        if response is not None:
            response.close()

    def _entries(self) -> Iterator[Entry]:
        yield from self._walk("")

    def _walk(self, prefix: str) -> Iterator[Entry]:
        status, response = self._open("GET", self._url(prefix) if prefix else self.base)
        if response is None:
            return
        with response:
            kind = response.headers.get_content_type()
            text = response.read().decode("utf-8", "replace")
        if kind == "application/json":
            for item in json.loads(text):
                name = item.get("name", "")
                if not name or name.startswith(".") or "/" in name:
                    continue
                if item.get("type") == "directory":
                    yield from self._walk(f"{prefix}{name}/")
                else:
                    when = email.utils.parsedate_to_datetime(item["mtime"]).timestamp() if item.get("mtime") else 0.0
                    yield Entry(prefix + name, int(item.get("size") or 0), when)
            return
        links = _Links()
        links.feed(text)
        for href in links.hrefs:
            name = unquote(href.split("?", 1)[0])
            if not name or name.startswith((".", "/")) or "://" in name or name.count("/") > 1 \
                    or (name.endswith("/") is False and "/" in name):
                continue
            if name.endswith("/"):
                yield from self._walk(prefix + name)
            else:
                entry = self._head(prefix + name)
                if entry is not None:
                    yield entry


def _http_time(headers: Any) -> float:
    value = headers.get("Last-Modified")
    try:
        return email.utils.parsedate_to_datetime(value).timestamp() if value else 0.0
    except (TypeError, ValueError):
        return 0.0


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href and not href.startswith(("..", "#")) and urljoin("http://x/d/", href).startswith("http://x/d/"):
                self.hrefs.append(href)
