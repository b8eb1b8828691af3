"""PREMIRRORS and MIRRORS: "REGEX URL" pairs that rewrite a source URL into other places to try.

The rewriting follows BitBake's ``uri_replace``: the pattern and the URL are split into type, host,
path, user, password and parameters, each part of the pattern is a regular expression matched against
the same part of the URL, and ``TYPE``, ``HOST``, ``PATH``, ``BASENAME`` and ``MIRRORNAME`` in the
replacement stand for the parts of the original URL. When the replacement names a directory, the
download's file name is added to it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from layerbuild.fetch.errors import ChecksumError, NetworkAccess, UnreachableError
from layerbuild.fetch.url import decodeurl, encodeurl
from layerbuild.fetch.urldata import FetchContext, FetchData


class TransferFailed(Exception):
    """One source could not deliver (the next mirror is tried); the text says why."""


def uri_replace(url: str, basename: str | None, find: str, replace: str) -> str | None:
    """``url`` rewritten by one mirror pair, or None when the pattern does not match.

    ``basename`` is the download's file name for fetchers that download single files (so a mirror
    given as a directory gets it appended), None for repositories.
    """
    orig = list(decodeurl(url))
    pattern = list(decodeurl(find))
    target = list(decodeurl(replace))
    path = str(orig[2])
    substitutions = {"TYPE": str(orig[0]), "HOST": str(orig[1]), "PATH": path,
                     "BASENAME": path.split("/")[-1],
                     "MIRRORNAME": str(orig[1]).replace(":", ".") + path.replace("/", ".").replace("*", ".")}
    result: list[object] = ["", "", "", "", "", {}]
    for loc, regexp in enumerate(pattern):
        result[loc] = orig[loc]
        if loc == 5:
            assert isinstance(regexp, dict) and isinstance(orig[5], dict) and isinstance(target[5], dict)
            if any(orig[5].get(key) != value for key, value in regexp.items()):
                return None
            params = dict(orig[5])
            for key, value in target[5].items():
                for name, sub in substitutions.items():
                    value = value.replace(name, sub)
                params[key] = value
            result[5] = params
            continue
        assert isinstance(regexp, str)
        if loc in (3, 4) and target[loc]:
            result[loc] = target[loc]
            continue
        if loc == 0 and regexp and not regexp.endswith("$"):
            regexp += "$"  # anchored: "http" must not match (and rewrite) the start of "https"
        value = str(orig[loc])
        if not re.match(regexp, value):
            return None
        replacement = str(target[loc])
        if not replacement:
            result[loc] = ""
        else:
            for name, sub in substitutions.items():
                replacement = replacement.replace(name, sub)
            result[loc] = re.sub(regexp, replacement, value, count=1)
        if loc == 2 and basename:
            url_basename = os.path.basename(path)
            current = "/" + str(result[2])
            if url_basename and basename != url_basename and current.endswith("/" + url_basename):
                result[2] = current[1:-len(url_basename)] + basename
            elif not current.endswith("/" + basename):
                result[2] = os.path.join(current[1:], basename)
    rewritten = encodeurl(result)
    return None if rewritten == url else rewritten


def mirror_urls(url: str, basename: str | None, pairs: list[tuple[str, str]]) -> list[str]:
    """Every distinct rewriting of ``url`` by ``pairs``, in their order."""
    out: list[str] = []
    for find, replace in pairs:
        rewritten = uri_replace(url, basename, find, replace)
        if rewritten and rewritten not in out:
            out.append(rewritten)
    return out


def try_sources(ud: FetchData, ctx: FetchContext, basename: str | None, attempt: Callable[[str], None],
                network: Callable[[str], bool], usable: Callable[[str], bool]) -> None:
    """Call ``attempt`` on PREMIRRORS rewritings, then the URL itself, then MIRRORS, until one succeeds.

    ``attempt`` raises :class:`TransferFailed` to move on. A checksum mismatch also moves on (another
    mirror may have the right file) but is what gets reported when nothing else works. With
    ``BB_NO_NETWORK`` set, sources that need the network are skipped.
    """
    candidates: list[str] = []
    for source in (mirror_urls(ud.url, basename, list(ctx.premirrors)) + [ud.url]
                   + mirror_urls(ud.url, basename, list(ctx.mirrors))):
        if source not in candidates and usable(source):
            candidates.append(source)
    failures: list[str] = []
    offline: list[str] = []
    mismatch: ChecksumError | None = None
    for source in candidates:
        if ctx.no_network and network(source):
            offline.append(source)
            continue
        try:
            attempt(source)
            return
        except TransferFailed as exc:
            failures.append(f"tried {source}: {exc}")
        except ChecksumError as exc:
            mismatch = mismatch or exc
            failures.append(f"tried {source}: sha256 mismatch")
    if mismatch is not None:
        raise mismatch
    notes = failures + [f"not tried (needs network): {source}" for source in offline]
    if offline:
        raise ctx.fail(NetworkAccess, f"cannot fetch {ud.url}: BB_NO_NETWORK is set and the download "
                       "needs network access", notes,
                       hint="fetch once with network access (unset BB_NO_NETWORK), or list a file:// "
                       "mirror in PREMIRRORS")
    raise ctx.fail(UnreachableError, f"cannot fetch {ud.url}: no source could deliver it", notes,
                   hint="check the URL; PREMIRRORS and MIRRORS can name other places to fetch it from")
