"""Dependency lists as recipes write them (``foo (>= 1.0) bar``) and as Debian control files want them."""

from __future__ import annotations

import re

from layerbuild.util.errors import LayerbuildError

# a version never starts with an operator character: ``foo (>> )`` is refused, not read as ``>> >``
_TOKEN = re.compile(r"\s*([^\s(]+)(?:\s*\(\s*(<=|>=|<<|>>|=|<|>)\s*([^)\s<>=][^)\s]*)\s*\))?")
_DEBIAN_OP = {"<": "<<", ">": ">>", "<=": "<=", ">=": ">=", "=": "=", "<<": "<<", ">>": ">>"}


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


def format_depends(entries: list[tuple[str, str | None, str | None]]) -> str:
    """The Debian form: ``foo (>= 1.0), bar``; duplicates dropped, order kept."""
    seen = set()
    parts = []
    for name, op, version in entries:
        text = f"{name} ({op} {version})" if op and version else name
        if text not in seen:
            seen.add(text)
            parts.append(text)
    return ", ".join(parts)
