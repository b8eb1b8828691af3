"""What a fetch knows about one SRC_URI entry (:class:`FetchData`) and about the recipe (:class:`FetchContext`).

The fetchers see the recipe only through these two objects, never through the rest of the engine.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from layerbuild.fetch.errors import FetchError, MalformedUrl, ParameterError
from layerbuild.fetch.url import decodeurl
from layerbuild.util.errors import Location
from layerbuild.util.fsutil import PathEscape, remove_under
from layerbuild.util.values import Typed
from layerbuild.util.vartypes import TYPES, to_boolean


def mirror_pairs(value: str | None) -> list[tuple[str, str]]:
    """The (pattern, replacement) pairs of a PREMIRRORS or MIRRORS value; a literal ``\\n`` separates."""
    words = (value or "").replace("\\n", " ").split()
    return list(zip(words[0::2], words[1::2], strict=False))


@dataclass(frozen=True)
class FetchContext:
    """The recipe-wide settings a fetch reads once: names for messages, DL_DIR, mirrors, network policy."""

    #: the recipe's variables (the datastore while parsing, a read-only view in a task)
    variables: Any
    pn: str
    location: Location | None
    dl_dir: str
    no_network: bool
    premirrors: tuple[tuple[str, str], ...]
    mirrors: tuple[tuple[str, str], ...]
    timeout: float
    #: DL_UPLOAD: the store every verified download is published to
    upload: str = ""

    @classmethod
    def from_variables(cls, variables: Any) -> FetchContext:
        get = variables.getVar
        recipe_file = get("FILE") or ""
        pn = get("PN") or os.path.basename(recipe_file) or "(no recipe)"
        location: Location | None = None
        finder = getattr(variables, "location", None)
        if callable(finder):
            location = finder("SRC_URI")
        if location is None and recipe_file:
            location = Location(recipe_file)
        typed = Typed(variables)
        return cls(variables=variables, pn=pn, location=location, dl_dir=get("DL_DIR") or "",
                   no_network=typed.bool("BB_NO_NETWORK"),
                   premirrors=tuple(mirror_pairs(get("PREMIRRORS"))),
                   mirrors=tuple(mirror_pairs(get("MIRRORS"))),
                   timeout=typed.number("BB_FETCH_TIMEOUT", 60), upload=(get("DL_UPLOAD") or "").strip())

    def fail(self, cls: type[FetchError], message: str, notes: Iterable[str] = (),
             hint: str | None = None) -> FetchError:
        """An error of type ``cls`` whose message starts with the recipe's name."""
        return cls(f"recipe {self.pn}: {message}", self.location, hint, tuple(notes))


class Method(Protocol):
    """One URL type: how to name, download and unpack its sources."""

    def setup(self, ud: FetchData, ctx: FetchContext) -> None: ...

    def download(self, ud: FetchData, ctx: FetchContext) -> None: ...

    def unpack(self, ud: FetchData, root: str, ctx: FetchContext) -> None: ...

    def clean(self, ud: FetchData, ctx: FetchContext) -> None: ...


#: an entry that starts with a variable expansion left as it was: ``${DEBIAN_MIRROR}/main/...``
_UNSET_START = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}(/[^;]*(?:;.*)?)\Z")
_UNSET_ANYWHERE = re.compile(r"\$\{([^}]*)\}")


class FetchData:
    """One SRC_URI entry, decoded, with where its download lives (BitBake's ``ud``).

    ``unset`` fetches an entry that starts with a variable that is not set (``${DEBIAN_MIRROR}/...``): such
    a download can still come from DL_DIR. Any other remote entry that holds an unexpanded ``${...}`` is an
    error (a ``file://`` one is looked for as written, and reported as not found, as BitBake does).
    """

    def __init__(self, url: str, ctx: FetchContext, methods: Mapping[str, Method],
                 unset: Method | None = None) -> None:
        self.url = url
        #: the variable an entry starts with that is not set (its ``unset`` method fetches it)
        self.unset_variable = ""
        start = _UNSET_START.match(url)
        if start is not None and unset is not None:
            self.unset_variable = start.group(1)
            url = "unset://" + start.group(2)
        elif not url.startswith("file://") and (anywhere := _UNSET_ANYWHERE.search(url)) is not None:
            name = anywhere.group(1)
            raise ctx.fail(MalformedUrl, f"{url}: the entry holds ${{{name}}}, and {name} is not set",
                           hint=f"set {name}, or write the entry without it")
        try:
            self.type, self.host, self.path, self.user, self.pswd, self.parm = decodeurl(url)
        except MalformedUrl as exc:
            raise ctx.fail(MalformedUrl, exc.message, hint=exc.hint) from None
        method = methods.get(self.type) if not self.unset_variable else unset
        if method is None:
            raise ctx.fail(MalformedUrl, f"{url}: no fetcher for URLs of type {self.type!r}",
                           hint=f"supported types: {', '.join(sorted(methods))}")
        self.method: Method = method
        self.localpath = ""
        self.basename = ""
        #: file://: the directories searched, in order
        self.searched: list[str] = []
        #: git: the commit, branch and protocol, the bare mirror and the checkout directory
        self.revision = ""
        self.branch = ""
        self.nobranch = False
        self.proto = ""
        self.destsuffix = ""
        method.setup(self, ctx)

    def __repr__(self) -> str:
        return f"FetchData({self.url!r}, localpath={self.localpath!r})"

    def int_param(self, name: str, default: int, ctx: FetchContext) -> int:
        value = self.parm.get(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            number = -1
        if number < 0:
            raise ctx.fail(ParameterError, f"{self.url}: {name}={value} is not a number of 0 or more")
        return number

    def bool_param(self, name: str, default: bool, ctx: FetchContext) -> bool:
        """A yes/no parameter (``unpack=0``), with BitBake's truth set."""
        try:
            return bool(to_boolean(self.parm.get(name), default))
        except ValueError:
            raise ctx.fail(ParameterError, f"{self.url}: {name}={self.parm[name]} is not a boolean",
                           hint=TYPES["boolean"].hint) from None

    def checksum_flag(self) -> str:
        """The SRC_URI flag holding this entry's sha256: ``sha256sum``, or ``NAME.sha256sum`` with ``name=``."""
        name = self.parm.get("name")
        return f"{name}.sha256sum" if name else "sha256sum"

    def expected_sha256(self, ctx: FetchContext) -> str | None:
        value = ctx.variables.getVarFlag("SRC_URI", self.checksum_flag())
        return value.strip().lower() if value else None


def clean_download(ud: FetchData, ctx: FetchContext, path: str) -> None:
    """Remove ``path`` (a download, its marker or a mirror) from DL_DIR without following a link out of it."""
    try:
        if remove_under(ctx.dl_dir, path):
            logging.getLogger("layerbuild.fetch").info("Removed %s", path)
    except PathEscape as exc:
        raise ctx.fail(FetchError, f"{ud.url}: not removing {path}: {exc.message}") from None


@contextlib.contextmanager
def locked(path: str) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed), so two builds sharing DL_DIR take turns."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield
