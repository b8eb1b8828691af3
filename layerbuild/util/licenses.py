"""LICENSE expressions as OE reads them, and which licences a policy (INCOMPATIBLE_LICENSE) refuses.

An expression is licence names (letters, digits and ``. + _ -``) joined by ``&`` (all of them apply)
and ``|`` (a choice), with parentheses; ``&`` binds tighter than ``|``, as in OE (which evaluates the
string as a Python expression of ``&`` and ``|``), and two names side by side mean ``&``. So
``GPL-2.0-only | MIT & BSD-3-Clause`` offers GPL-2.0-only, or MIT with BSD-3-Clause. (OE also takes
``MIT (Zlib | PD)``, which Python reads as a call whose parts all apply: side by side is ``&`` here too.)
SPDX's words, which newer OE recipes use, are read too: ``AND`` is ``&``, ``OR`` is ``|``, and
``GPL-2.0-only WITH Linux-syscall-note`` is the licence GPL-2.0-only with that exception (a policy
refusing GPL-2.0-only refuses it).

The choice follows OE's ``oe.license``: a policy picks, for each ``|``, the side with no refused licence
(the left one when both are fine or both are refused).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from layerbuild.util.errors import LayerbuildError

_OPERATOR = re.compile(r"([&|() ])")
NAME = re.compile(r"[a-zA-Z0-9.+_\-]+\Z")

#: a recipe with this LICENSE ships no licence text and is never checked
CLOSED = "CLOSED"

#: the INCOMPATIBLE_LICENSE wildcards OE understands, and what each stands for
WILDCARDS = {
    "AGPL-3.0*": ("AGPL-3.0-only", "AGPL-3.0-or-later"),
    "GPL-3.0*": ("GPL-3.0-only", "GPL-3.0-or-later"),
    "LGPL-3.0*": ("LGPL-3.0-only", "LGPL-3.0-or-later"),
}

#: names OE no longer accepts in INCOMPATIBLE_LICENSE: a policy naming one would match no recipe that uses the
#: SPDX name, so it is refused rather than silently ineffective
OBSOLETE = frozenset((
    "AGPL-3 AGPL-3+ AGPLv3 AGPLv3+ AGPLv3.0 AGPLv3.0+ AGPL-3.0 AGPL-3.0+ BSD-0-Clause GPL-1 GPL-1+ GPLv1 GPLv1+ "
    "GPLv1.0 GPLv1.0+ GPL-1.0 GPL-1.0+ GPL-2 GPL-2+ GPLv2 GPLv2+ GPLv2.0 GPLv2.0+ GPL-2.0 GPL-2.0+ GPL-3 GPL-3+ "
    "GPLv3 GPLv3+ GPLv3.0 GPLv3.0+ GPL-3.0 GPL-3.0+ LGPLv2 LGPLv2+ LGPLv2.0 LGPLv2.0+ LGPL-2.0 LGPL-2.0+ LGPL2.1 "
    "LGPL2.1+ LGPLv2.1 LGPLv2.1+ LGPL-2.1 LGPL-2.1+ LGPLv3 LGPLv3+ LGPL-3.0 LGPL-3.0+ MPL-1 MPLv1 MPLv1.1 MPLv2 "
    "MIT-X MIT-style openssl PSF PSFv2 Python-2 Apachev2 Apache-2 Artisticv1 Artistic-1 AFL-2 AFL-1 AFLv2 AFLv1 "
    "CDDLv1 CDDL-1 EPLv1.0 FreeType Nauman tcl vim SGIv1").split())


class LicenseError(LayerbuildError):
    """A LICENSE expression that cannot be read, or a licence policy that cannot be applied."""


@dataclass(frozen=True)
class Name:
    name: str
    #: an SPDX exception (``GPL-2.0-only WITH Linux-syscall-note``): the licence still applies, with it
    exception: str = ""


@dataclass(frozen=True)
class All:
    """``a & b & ...``: every part applies."""
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Choice:
    """``a | b | ...``: one of the parts applies."""
    parts: tuple[Node, ...]


Node = Name | All | Choice


#: SPDX's operator words, which OE's newer recipes write (LICENSE = "MIT AND BSD-3-Clause")
_SPDX = {"AND": "&", "OR": "|"}
WITH = "WITH"


def _is_name(token: str) -> bool:
    return token != WITH and NAME.match(token) is not None


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    for element in (e for e in _OPERATOR.split(text) if e.strip()):
        element = _SPDX.get(element, element)
        if _is_name(element):
            if tokens and _is_name(tokens[-1]):
                tokens.append("&")  # two names side by side: both apply, as OE reads them
        elif element != WITH and not _OPERATOR.match(element):
            raise LicenseError(f"'{element}' is not a licence name (letters, digits and . + _ - only)")
        tokens.append(element)
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0

    def fail(self, problem: str) -> LicenseError:
        return LicenseError(problem)

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expression(self) -> Node:
        parts = [self.conjunction()]
        while self.peek() == "|":
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else Choice(tuple(parts))

    def conjunction(self) -> Node:
        parts = [self.atom()]
        while (token := self.peek()) is not None and (token in "&(" or _is_name(token)):
            if token == "&":
                self.take()
            parts.append(self.atom())
        return parts[0] if len(parts) == 1 else All(tuple(parts))

    def atom(self) -> Node:
        token = self.peek()
        if token is None:
            raise self.fail("a licence name is missing at the end")
        self.take()
        if token == "(":
            node = self.expression()
            if self.peek() != ")":
                raise self.fail("'(' is not closed")
            self.take()
            return node
        if _is_name(token):
            if self.peek() != WITH:
                return Name(token)
            self.take()
            exception = self.peek()
            if exception is None or not _is_name(exception):
                raise self.fail(f"an exception name is missing after '{token} WITH'")
            self.take()
            return Name(token, exception)
        raise self.fail(f"a licence name is missing before '{token}'")


def parse(text: str) -> Node | None:
    """The expression ``text`` (None when it names no licence); :class:`LicenseError` when it is malformed,
    whose message says what is wrong (the caller names the variable and its value)."""
    parser = _Parser(text)
    if not parser.tokens:
        return None
    node = parser.expression()
    if parser.peek() is not None:
        raise parser.fail(f"unexpected '{parser.peek()}'")
    return node


def names(text: str) -> list[str]:
    """Every licence the expression mentions, once each, in order (OE's ``list_licenses``)."""
    out: list[str] = []

    def walk(node: Node) -> None:
        if isinstance(node, Name):
            if node.name not in out:
                out.append(node.name)
        else:
            for part in node.parts:
                walk(part)

    node = parse(text)
    if node is not None:
        walk(node)
    return out


def flattened(text: str, choose: Callable[[list[str], list[str]], list[str]]) -> list[str]:
    """The licences that apply once ``choose(left, right)`` has picked a side of every ``|``."""
    def walk(node: Node) -> list[str]:
        if isinstance(node, Name):
            return [node.name]
        if isinstance(node, All):
            return [lic for part in node.parts for lic in walk(part)]
        chosen = walk(node.parts[0])
        for part in node.parts[1:]:
            chosen = choose(chosen, walk(part))
        return chosen

    node = parse(text)
    return walk(node) if node is not None else []


def license_ok(license: str, refused: Iterable[str]) -> bool:
    """Whether ``license`` matches none of the ``refused`` patterns."""
    return not any(fnmatchcase(license, pattern) for pattern in refused)


def incompatible(text: str, refused: Iterable[str]) -> list[str]:
    """The refused licences of ``text`` that no choice avoids, sorted (empty: compatible)."""
    bad = list(refused)

    def choose(left: list[str], right: list[str]) -> list[str]:
        return left if all(license_ok(lic, bad) for lic in left) else right

    return sorted({lic for lic in flattened(text, choose) if not license_ok(lic, bad)})


def expand_policy(words: Iterable[str]) -> list[str]:
    """INCOMPATIBLE_LICENSE with OE's wildcards expanded; an obsolete name or another wildcard is an error."""
    out: list[str] = []
    for word in words:
        for lic in WILDCARDS.get(word, (word,)):
            if lic in OBSOLETE:
                raise LicenseError(f"{lic} is an obsolete licence name, which no recipe that uses the SPDX name "
                                   "matches", hint="use the SPDX name (GPL-2.0-only, GPL-3.0-or-later, ...)")
            if "*" in lic:
                raise LicenseError(f"{lic} is not a licence wildcard OE knows",
                                   hint=f"the wildcards are {', '.join(WILDCARDS)}; otherwise name each licence")
            if lic not in out:
                out.append(lic)
    return out


def refused_for(package: str, refused: Iterable[str], exceptions: Iterable[str]) -> list[str]:
    """``refused`` without the licences INCOMPATIBLE_LICENSE_EXCEPTIONS allows ``package`` (``pkg:licence``)."""
    allowed = set(exceptions)
    return [lic for lic in refused if f"{package}:{lic}" not in allowed]
