"""os-release and extension-release files: systemd's environment-file syntax, read and written.

The reading follows systemd's ``parse_env_file``: ``KEY=VALUE`` lines; ``#`` or ``;`` at the start
of a line begins a comment; whitespace around the key and the value is dropped; a value may be
single-quoted (taken literally), double-quoted (``\\`` escapes ``"``, ``\\``, ``$`` and `````, and a
backslash-newline joins lines; other backslashes stay) or bare (a backslash escapes any character,
backslash-newline joins lines); quoted and bare pieces written back to back form one value. Lines
without ``=`` are ignored, as systemd ignores them. Later assignments win.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from layerbuild.util.errors import LayerbuildError, Location, check_expanded

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_BARE = re.compile(r"[A-Za-z0-9._-]+\Z")
_SHELL_ESCAPED = "\"\\`$"
_NEWLINE = "\n\r"
_SPACE = " \t\n\r"


class OsReleaseError(LayerbuildError):
    """An os-release file that cannot be read or fields that cannot be written."""


def parse(text: str, path: str = "os-release") -> dict[str, str]:
    """The fields of an os-release file, in file order."""
    fields: dict[str, str] = {}
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c in _NEWLINE:
            line += c == "\n"
            i += 1
            continue
        if c in " \t":
            i += 1
            continue
        if c in "#;":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        start_line = line
        end = i
        while end < n and text[end] not in "=\n":
            end += 1
        if end >= n or text[end] == "\n":
            i = end  # no '=': ignored, as systemd does
            continue
        key = text[i:end].strip()
        if not _KEY.match(key):
            raise OsReleaseError(f"invalid field name '{key}'", Location(path, start_line))
        value, i, line = _value(text, end + 1, line, path)
        fields[key] = value
    return fields


def _value(text: str, i: int, line: int, path: str) -> tuple[str, int, int]:
    """Read one value starting at ``i``; returns it, the index after its line, and the line number."""
    n = len(text)
    out: list[str] = []
    keep = 0  # length of ``out`` that trailing-whitespace trimming must not cut into
    while i < n and text[i] in " \t":
        i += 1
    while i < n:
        c = text[i]
        if c in _NEWLINE:
            break
        if c in "'\"":
            start_line = line
            close = text.find(c, i + 1) if c == "'" else _close_double(text, i + 1)
            if close < 0:
                raise OsReleaseError(f"unterminated {c} quote", Location(path, start_line))
            raw = text[i + 1:close]
            line += raw.count("\n")
            out.append(raw if c == "'" else _unescape_double(raw))
            keep = len("".join(out))
            i = close + 1
            # whitespace between pieces is skipped, as systemd's PRE_VALUE state does
            while i < n and text[i] in " \t":
                i += 1
            continue
        if c == "\\":
            if i + 1 < n:
                nxt = text[i + 1]
                if nxt == "\n":
                    line += 1
                elif nxt != "\r":
                    out.append(nxt)
                    keep = len("".join(out))
                i += 2
            else:
                i += 1
            continue
        out.append(c)
        i += 1
    value = "".join(out)
    head, tail = value[:keep], value[keep:]
    return head + tail.rstrip(_SPACE), i, line


def _close_double(text: str, i: int) -> int:
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i
        i += 1
    return -1


def _unescape_double(raw: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            if nxt in _SHELL_ESCAPED:
                out.append(nxt)
            elif nxt != "\n":
                out.append("\\" + nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def read(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read and parse the os-release file at ``path``."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            text = fh.read()
    except OSError as exc:
        raise OsReleaseError(f"cannot read {os.fspath(path)}: {exc.strerror}") from exc
    return parse(text, os.fspath(path))


def quote(value: str) -> str:
    """``value`` as os-release(5) wants it: bare when it is plain, else double-quoted and escaped."""
    if _BARE.match(value):
        return value
    return '"' + "".join("\\" + c if c in _SHELL_ESCAPED else c for c in value) + '"'


def render(fields: Mapping[str, str], kind: str = "os-release") -> str:
    """The text of an os-release file holding ``fields`` in the order given (``kind`` names the file in
    errors: ``os-release`` or ``extension-release``). A value with a literal ``${`` is refused."""
    lines = []
    for key, value in fields.items():
        if not _KEY.match(key):
            raise OsReleaseError(f"invalid {kind} field name '{key}'")
        if "\n" in value or "\r" in value or "\0" in value:
            raise OsReleaseError(f"{kind} field {key}: the value holds a line break or NUL")
        check_expanded(value, f"the {kind} field {key}")
        lines.append(f"{key}={quote(value)}\n")
    return "".join(lines)
