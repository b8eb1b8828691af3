"""Dependency lists as recipes write them (``foo (>= 1.0) bar``) and as Debian control files want them."""

from __future__ import annotations

import re

from layerbuild.util.errors import LayerbuildError
from layerbuild.util.relations import deb_provides, metadata_entries

# a version never starts with an operator character: ``foo (>> )`` is refused, not read as ``>> >``
_TOKEN = re.compile(r"\s*([^\s(]+)(?:\s*\(\s*(<=|>=|<<|>>|=|<|>)\s*([^)\s<>=][^)\s]*)\s*\))?")
_DEBIAN_OP = {"<": "<<", ">": ">>", "<=": "<=", ">=": ">=", "=": "=", "<<": "<<", ">>": ">>"}
_CONSTRAINT = re.compile(r"\s*(<=|>=|<<|>>|=|<|>)\s*([^)\s<>=][^)\s]*)\s*$")


def parse_depends(text: str | None) -> list[tuple[str, str | None, str | None]]:
    """``(name, operator, version)`` for each entry; operator and version are None when unversioned."""
    out: list[tuple[str, str | None, str | None]] = []
    text = (text or "").replace(",", " ")
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise LayerbuildError(f"cannot read dependency list '{text.strip()}' near '{text[pos:].strip()}'")
        name, op, version = m.group(1), m.group(2), m.group(3)
        out.append((name, _DEBIAN_OP[op] if op else None, version))
        pos = m.end()
    return out


def metadata_depends(text: str | None) -> list[tuple[str, str | None, str | None]]:
    """A relationship variable as BitBake reads it (:func:`relations.metadata_entries`), never refused:
    ``(name, operator, version)`` with Debian's operators where the constraint reads as one, else
    ``(name, None, constraint as written)``, which :func:`format_depends` keeps as it is: the package
    writer refuses the variable at its line, should that package be written."""
    out: list[tuple[str, str | None, str | None]] = []
    for entry in metadata_entries(text):
        if entry.constraint is None:
            out.append((entry.name, None, None))
            continue
        m = _CONSTRAINT.match(entry.constraint) if entry.closed else None
        if m:
            out.append((entry.name, _DEBIAN_OP[m.group(1)], m.group(2)))
        else:
            out.append((entry.name, None, entry.constraint))
    return out


def format_depends(entries: list[tuple[str, str | None, str | None]]) -> str:
    """The Debian form: ``foo (>= 1.0), bar``; duplicates dropped, order kept. An entry without an
    operator but with a version (:func:`metadata_depends`) keeps its constraint as written."""
    seen = set()
    parts = []
    for name, op, version in entries:
        if version is not None and not op:
            text = f"{name} ({version})"
        else:
            text = f"{name} ({op} {version})" if op and version else name
        if text not in seen:
            seen.add(text)
            parts.append(text)
    return ", ".join(parts)


def deb_provides_field(text: str) -> str:
    """The Provides field of a package from its pkgdata RPROVIDES, without the entries a ``.deb`` cannot
    carry (:func:`relations.deb_provides`)."""
    return ", ".join(part for part in (p.strip() for p in text.split(",")) if part
                     and deb_provides(part.split(" (", 1)[0]))
