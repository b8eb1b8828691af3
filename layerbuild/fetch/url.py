"""SRC_URI entries: ``TYPE://[USER[:PSWD]@]HOST/PATH;param=value;...`` read and written as BitBake does."""

from __future__ import annotations

import re
import urllib.parse

from layerbuild.fetch.errors import MalformedUrl

#: (type, host, path, user, password, parameters), the tuple ``bb.fetch2.decodeurl`` returns
Decoded = tuple[str, str, str, str, str, dict[str, str]]

_URL = re.compile(r"(?P<type>[^:]*)://((?P<user>[^/;]+)@)?(?P<location>[^;]+)(;(?P<parm>.*))?")


def decodeurl(url: str) -> Decoded:
    """Split ``url`` into its parts; ``file://`` URLs keep a relative path as written."""
    m = _URL.match(url)
    if not m:
        raise MalformedUrl(f"malformed URL {url!r}", hint="a SRC_URI entry reads TYPE://HOST/PATH;name=value")
    kind = m.group("type")
    location = m.group("location")
    slash = location.find("/")
    if kind.lower() == "file":
        host, path = "", location
    elif slash != -1:
        host, path = location[:slash], location[slash:]
    else:
        host, path = location, "/"
    user = pswd = ""
    if m.group("user") and kind.lower() == "file":
        path = m.group("user") + "@" + path  # a local name with an '@' (dropbear@.service), as BitBake reads it
    elif m.group("user"):
        user, _, pswd = m.group("user").partition(":")
    params: dict[str, str] = {}
    for item in (m.group("parm") or "").split(";"):
        if not item:
            continue
        if "=" not in item:
            raise MalformedUrl(f"malformed URL {url!r}: parameter {item!r} has no value (missing '=')")
        key, value = item.split("=", 1)
        params[key] = value
    return kind, host, urllib.parse.unquote(path), user, pswd, params


def encodeurl(decoded: Decoded | list[object]) -> str:
    """The inverse of :func:`decodeurl` (doubled slashes in the path collapse, as in BitBake)."""
    kind, host, path, user, pswd, params = decoded
    if not kind:
        raise MalformedUrl(f"cannot write a URL without a type: {decoded!r}")
    parts = [f"{kind}://"]
    if user and kind != "file":
        parts.append(str(user))
        if pswd:
            parts.append(f":{pswd}")
        parts.append("@")
    if host and kind != "file":
        parts.append(str(host))
    if path:
        text = str(path)
        while "//" in text:
            text = text.replace("//", "/")
        parts.append(urllib.parse.quote(text))
    assert isinstance(params, dict)
    parts.extend(f";{key}={value}" for key, value in params.items())
    return "".join(parts)
