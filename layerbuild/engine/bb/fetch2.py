"""``bb.fetch2`` (and ``bb.fetch``): what metadata reads of the fetcher while parsing, and the fetcher.

``URI``, ``decodeurl``/``encodeurl`` and ``get_autorev`` are BitBake's and live here: OE's classes call
them for every recipe. The fetcher itself (``Fetch``, ``FetchData``, the exceptions,
``get_checksum_file_list``) is the artifact side's; it is imported on first use through the module the
session provides, so a parse that never names it never pays for it.
"""

from __future__ import annotations

import collections
import re
import urllib.parse
from collections.abc import Callable
from types import ModuleType
from typing import Any

#: the names the artifact side's fetch module answers for (BBFetchException is its FetchError)
FETCHER_NAMES = frozenset({"Fetch", "FetchError", "FetchData", "MalformedUrl", "ParameterError", "ChecksumError",
                           "NoChecksumError", "NetworkAccess", "UnpackError", "get_checksum_file_list",
                           "BBFetchException"})
_ALIASES = {"BBFetchException": "FetchError"}


class _Fetcher:
    """Where the fetcher comes from: the loader the session's hooks name, or none (engine-only use)."""

    def __init__(self) -> None:
        self.load: Callable[[], ModuleType] | None = None


_FETCHER = _Fetcher()


def provide(load: Callable[[], ModuleType] | None) -> None:
    """Make ``load`` (or nothing) the source of the fetcher names; the configuration calls this with its hooks."""
    _FETCHER.load = load


def __getattr__(name: str) -> Any:
    if name not in FETCHER_NAMES:
        raise AttributeError(f"module 'bb.fetch2' has no attribute {name!r}")
    if _FETCHER.load is None:
        from layerbuild.util.errors import LayerbuildError
        raise LayerbuildError(f"bb.fetch2.{name} is not available: this session has no fetchers")
    return getattr(_FETCHER.load(), _ALIASES.get(name, name))


class URI:
    """A URL as BitBake reads SRC_URI entries: ``scheme``, ``userinfo`` (``username``, ``password``),
    ``hostname``, ``port``, ``path``, the ``;name=value`` ``params`` and ``?`` ``query``; ``str()`` writes
    it back. ``file://relative/path`` and ``file:relative`` are relative (``relative`` is true)."""

    _relative_schemes = ("file", "git")
    _netloc_forbidden = ("file",)

    def __init__(self, uri: str | None = None) -> None:
        self.scheme = ""
        self.userinfo = ""
        self.hostname = ""
        self.port: int | None = None
        self._path = ""
        self.params: dict[str, str | None] = {}
        self.query: dict[str, str | None] = {}
        self.relative = False
        if not uri:
            return
        uri, _, param_str = uri.partition(";")
        self.scheme = urllib.parse.urlparse(uri).scheme
        if self.scheme in self._netloc_forbidden:
            # file://foo.diff is file:foo.diff (BitBake's usage, not the RFC's)
            uri = re.sub(r"(?<=:)//(?!/)", "", uri, count=1)
        parsed = urllib.parse.urlparse(uri)
        if not (self.scheme in self._relative_schemes and re.match(r"^\w+:(?!//)", uri)):
            self.hostname = parsed.hostname or ""
            self.port = parsed.port
            self.userinfo += parsed.username or ""
            if parsed.password:
                self.userinfo += f":{parsed.password}"
        self.path = urllib.parse.unquote(parsed.path)
        if param_str:
            self.params = self._split(param_str, ";")
        if parsed.query:
            self.query = self._split(parsed.query, "&")

    @staticmethod
    def _split(text: str, sep: str) -> dict[str, str | None]:
        result: dict[str, str | None] = collections.OrderedDict()
        for item in text.split(sep):
            if item:
                key, eq, value = item.partition("=")
                result[key] = value if eq else None
        return result

    def __str__(self) -> str:
        userinfo = f"{self.userinfo}@" if self.userinfo else ""
        query = "?" + "&".join(f"{k}={v}" if v else k for k, v in self.query.items()) if self.query else ""
        params = ";" + ";".join(f"{k}={v}" for k, v in self.params.items()) if self.params else ""
        return (f"{self.scheme}:{'' if self.relative else '//'}{userinfo}{self.hostport}{self.path_quoted}"
                f"{query}{params}")

    @property
    def hostport(self) -> str:
        return f"{self.hostname}:{self.port}" if self.port else self.hostname

    @property
    def path_quoted(self) -> str:
        return urllib.parse.quote(self.path)

    @path_quoted.setter
    def path_quoted(self, path: str) -> None:
        self.path = urllib.parse.unquote(path)

    @property
    def path(self) -> str:
        return self._path

    @path.setter
    def path(self, path: str) -> None:
        self._path = path
        self.relative = bool(path) and not path.startswith("/")

    @property
    def username(self) -> str:
        return self.userinfo.split(":", 1)[0] if self.userinfo else ""

    @username.setter
    def username(self, username: str) -> None:
        password = self.password
        self.userinfo = username + (f":{password}" if password else "")

    @property
    def password(self) -> str:
        return self.userinfo.split(":", 1)[1] if ":" in self.userinfo else ""

    @password.setter
    def password(self, password: str) -> None:
        self.userinfo = f"{self.username}:{password}"


def decodeurl(url: str) -> tuple[str, str, str, str, str, dict[str, str | None]]:
    """``(scheme, host[:port], path, user, password, params)`` of ``url``."""
    uri = URI(url)
    return uri.scheme, uri.hostport, uri.path or "/", uri.username, uri.password, uri.params


def encodeurl(decoded: Any) -> str:
    """The URL :func:`decodeurl` read (doubled slashes in the path collapse)."""
    kind, host, path, user, pswd, params = decoded
    if not kind:
        raise ValueError(f"cannot write a URL without a type: {decoded!r}")
    uri = URI()
    uri.scheme = kind
    if user and kind != "file":
        uri.username = user
        if pswd:
            uri.password = pswd
    if host and kind != "file":
        uri.hostname = host
    if path:
        while "//" in path:
            path = path.replace("//", "/")
        uri.path = path
        if kind == "file":
            uri.relative = False
    if params:
        uri.params = params
    return str(uri)


def mark_recipe_nocache(d: Any) -> None:
    if d.getVar("BB_SRCREV_POLICY") != "cache":
        d.setVar("BB_DONT_CACHE", "1")


def get_autorev(d: Any) -> str:
    """``AUTOREV``: the recipe follows its branch's newest revision (``AUTOINC`` until the fetcher
    resolves it), so it is not cached unless ``BB_SRCREV_POLICY`` is ``cache``."""
    mark_recipe_nocache(d)
    d.setVar("__BBAUTOREV_SEEN", True)
    return "AUTOINC"


def mirror_from_string(data: str | None) -> list[list[str]]:
    """``PREMIRRORS``/``MIRRORS`` as (find, replace) pairs; ``\\n`` between entries is ignored."""
    words = (data or "").replace("\\n", " ").split()
    if len(words) % 2:
        from layerbuild.engine.bb.messages import warn
        warn(f"Invalid mirror data {data}, should have paired members.")
    return [list(pair) for pair in zip(words[::2], words[1::2], strict=False)]
