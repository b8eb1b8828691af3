"""The host's apt sources, and the first Debian mirror among them: the default of ``DEBIAN_MIRROR``.

OE's recipes fetch Debian's orig tarballs as ``${DEBIAN_MIRROR}/main/z/zlib/...``. The mirror a build
host can reach is the one its apt already uses, so it is read here, at run time, and no host name is
written into a layer.

apt's files are read as apt reads them (sources.list(5)): ``/etc/apt/sources.list`` in the one-line
format, then the files of ``/etc/apt/sources.list.d/`` in name order, ``*.list`` one-line and
``*.sources`` deb822 (``Enabled: no`` stanzas skipped); other names are ignored, as apt ignores them.
A source is a Debian archive when a component of its URI's path is ``debian``, the archive's root on
Debian's mirrors (``/debian``, ``/archive/debian/<date>`` on snapshot.debian.org), or, for a mirror or
proxy under another name, when the Release file apt downloaded for it says ``Origin: Debian`` and
``Label: Debian`` (the security archive's label is ``Debian-Security``: it is not the archive).
"""

from __future__ import annotations

import os
import re
import urllib.parse
from dataclasses import dataclass

from layerbuild.util.errors import Location

#: where apt's configuration is (apt's Dir::Etc) and where it keeps the Release files it downloaded
ETC_APT = "/etc/apt"
APT_LISTS = "/var/lib/apt/lists"

#: the files, as a message names them
SOURCE_FILES = "/etc/apt/sources.list, /etc/apt/sources.list.d/*.list and *.sources"

#: apt ignores files in sources.list.d with other characters in their names
_PART_NAME = re.compile(r"[A-Za-z0-9_.-]+\Z")
_FETCHABLE = ("http", "https")


@dataclass(frozen=True)
class AptSource:
    """One URI of one ``deb`` or ``deb-src`` entry."""

    kind: str
    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]
    #: the line that names the URI
    location: Location

    @property
    def pool(self) -> str:
        """The archive's pool, which ``DEBIAN_MIRROR`` names (as OE's ``http://ftp.debian.org/debian/pool``)."""
        return self.uri.rstrip("/") + "/pool"


def read_sources(etc_apt: str | None = None) -> list[AptSource]:
    """Every enabled source of the apt configuration in ``etc_apt`` (default ``/etc/apt``), in apt's order."""
    etc = etc_apt or ETC_APT
    sources = _one_line(os.path.join(etc, "sources.list"))
    parts = os.path.join(etc, "sources.list.d")
    try:
        names = sorted(os.listdir(parts))
    except OSError:
        names = []
    for name in names:
        path = os.path.join(parts, name)
        if not _PART_NAME.match(name) or not os.path.isfile(path):
            continue
        if name.endswith(".list"):
            sources.extend(_one_line(path))
        elif name.endswith(".sources"):
            sources.extend(_deb822(path))
    return sources


def debian_mirror(etc_apt: str | None = None, lists: str | None = None) -> AptSource | None:
    """The first source that is a Debian archive reachable over http(s), or None."""
    for source in read_sources(etc_apt):
        if urllib.parse.urlsplit(source.uri).scheme in _FETCHABLE and is_debian_archive(source, lists):
            return source
    return None


def is_debian_archive(source: AptSource, lists: str | None = None) -> bool:
    path = urllib.parse.urlsplit(source.uri).path
    if "debian" in path.split("/"):
        return True
    for suite in source.suites:
        fields = _release_fields(lists or APT_LISTS, source.uri, suite)
        if fields.get("origin") == "Debian" and fields.get("label") == "Debian":
            return True
    return False


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return None


def _one_line(path: str) -> list[AptSource]:
    """``deb [ option=value ... ] uri suite [component ...]`` lines; ``#`` starts a comment."""
    text = _read(path)
    out: list[AptSource] = []
    for number, raw in enumerate((text or "").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        kind, _, rest = line.partition(" ")
        if kind not in ("deb", "deb-src"):
            continue
        rest = rest.strip()
        if rest.startswith("["):
            close = rest.find("]")
            if close < 0:
                continue  # apt refuses the line; so does the search for a mirror
            rest = rest[close + 1:]
        words = rest.split()
        if len(words) < 2:
            continue
        out.append(AptSource(kind, words[0], (words[1],), tuple(words[2:]), Location(path, number)))
    return out


def _deb822(path: str) -> list[AptSource]:
    """Stanzas of ``Types:``, ``URIs:``, ``Suites:``, ``Components:`` (and ``Enabled:``), separated by blank
    lines; lines starting with ``#`` are comments, lines starting with white space continue a field."""
    text = _read(path)
    out: list[AptSource] = []
    stanza: dict[str, str] = {}
    uri_lines: dict[str, int] = {}
    field = ""

    def close() -> None:
        if stanza and stanza.get("enabled", "yes").strip().lower() not in ("no", "false", "0"):
            uris = stanza.get("uris", "").split()
            suites = tuple(stanza.get("suites", "").split())
            components = tuple(stanza.get("components", "").split())
            for kind in stanza.get("types", "").split():
                if kind in ("deb", "deb-src") and suites:
                    out.extend(AptSource(kind, uri, suites, components, Location(path, uri_lines.get(uri, 0)))
                               for uri in uris)
        stanza.clear()
        uri_lines.clear()

    for number, line in enumerate((text or "").splitlines(), 1):
        if line.startswith("#"):
            continue
        if not line.strip():
            close()
            field = ""
            continue
        if line[0] in " \t":
            if field:
                stanza[field] += " " + line.strip()
                if field == "uris":
                    for uri in line.split():
                        uri_lines.setdefault(uri, number)
            continue
        name, colon, value = line.partition(":")
        if not colon:
            continue
        field = name.strip().lower()
        stanza[field] = value.strip()
        if field == "uris":
            for uri in value.split():
                uri_lines.setdefault(uri, number)
    close()
    return out


def _list_name(uri: str) -> str:
    """apt's name in its lists directory for a URI (``URItoFileName``): no scheme and no user, some
    characters %-quoted, ``/`` as ``_``."""
    parts = urllib.parse.urlsplit(uri)
    text = parts.netloc.rpartition("@")[2] + parts.path
    quoted = "".join(f"%{ord(c):02x}" if c in "\\|{}[]<>\"^~_=!@#$%&*" or ord(c) <= 0x20 or ord(c) >= 0x7f
                     else c for c in text)
    return quoted.replace("/", "_")


def _release_fields(lists: str, uri: str, suite: str) -> dict[str, str]:
    """Origin and Label of the Release apt downloaded for ``uri`` and ``suite`` (empty when there is none)."""
    if suite.endswith("/"):
        return {}  # a flat repository has no dists/
    base = _list_name(uri.rstrip("/") + "/dists/" + suite)
    for name in ("InRelease", "Release"):
        text = _read(os.path.join(lists, f"{base}_{name}"))
        if text is None:
            continue
        fields: dict[str, str] = {}
        for line in text.splitlines():
            if line.startswith("-----BEGIN PGP SIGNATURE"):
                break
            key, colon, value = line.partition(":")
            if colon and key.lower() in ("origin", "label") and key.lower() not in fields:
                fields[key.lower()] = value.strip()
        return fields
    return {}
