"""LICENSE expressions, checked against Python's own reading of & and |, which is how OE reads them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from layerbuild.util import licenses
from layerbuild.util.licenses import All, Choice, LicenseError, Name

# -- expressions ---------------------------------------------------------------------------------------


class _Py:
    """A licence expression as Python evaluates ``&`` and ``|`` (OE quotes the names and parses the string
    with ``ast``): the independent reading the parser must agree with."""

    def __init__(self, node: Any) -> None:
        self.node = node

    def __and__(self, other: _Py) -> _Py:
        return _Py(("&", self.node, other.node))

    def __or__(self, other: _Py) -> _Py:
        return _Py(("|", self.node, other.node))


def _binary(node: licenses.Node | None) -> Any:
    """Our tree as nested binary operations, left to right, as Python builds them."""
    assert node is not None
    if isinstance(node, Name):
        return node.name
    op = "&" if isinstance(node, All) else "|"
    out = _binary(node.parts[0])
    for part in node.parts[1:]:
        out = (op, out, _binary(part))
    return out


def _python_reading(text: str) -> Any:
    elements = [e for e in re.split(r"([&|() ])", text) if e.strip()]
    code, names = [], {}
    for pos, element in enumerate(elements):
        if licenses.NAME.match(element):
            if pos and licenses.NAME.match(elements[pos - 1]):
                code.append("&")
            key = f"n{len(names)}"
            names[key] = _Py(element)
            code.append(key)
        else:
            code.append(element)
    return eval(" ".join(code), {"__builtins__": {}}, names).node  # noqa: S307 - names and operators only


LICENCE_NAMES = st.sampled_from(["MIT", "GPL-2.0-only", "BSD-3-Clause", "Zlib", "LGPL-2.1+", "PD", "x_y.z"])


@st.composite
def expressions(draw: st.DrawFn, depth: int = 3) -> str:
    if depth == 0 or draw(st.booleans()):
        return draw(LICENCE_NAMES)
    left, right = draw(expressions(depth - 1)), draw(expressions(depth - 1))
    op = draw(st.sampled_from([" & ", " | ", "&", "|", " "]))
    if op == " " and (left.endswith(")") or right.startswith("(")):
        op = " & "  # Python reads "MIT (Zlib)" as a call: juxtaposition is compared below
    text = f"{left}{op}{right}"
    return f"({text})" if draw(st.booleans()) else text


@given(expressions())
def test_expressions_read_as_python_reads_them(text: str) -> None:
    assert _binary(licenses.parse(text)) == _python_reading(text)


def test_precedence_implicit_and_and_names() -> None:
    assert licenses.parse("GPL-2.0-only | MIT & BSD-3-Clause") == \
        Choice((Name("GPL-2.0-only"), All((Name("MIT"), Name("BSD-3-Clause")))))
    assert licenses.parse("(GPL-2.0-only | MIT) BSD-3-Clause") == \
        All((Choice((Name("GPL-2.0-only"), Name("MIT"))), Name("BSD-3-Clause")))
    # OE reads "MIT (Zlib | PD)" through Python as a call, and its visitors take both as applying: &
    assert licenses.parse("MIT (Zlib | PD) (BSD-3-Clause)") == \
        All((Name("MIT"), Choice((Name("Zlib"), Name("PD"))), Name("BSD-3-Clause")))
    assert licenses.parse("  ") is None
    assert licenses.names("MIT & (Zlib | MIT) & PD") == ["MIT", "Zlib", "PD"]


@pytest.mark.parametrize(("text", "problem"), [
    ("MIT &", "a licence name is missing at the end"),
    ("MIT & | Zlib", "a licence name is missing before '|'"),
    ("(MIT | Zlib", "'(' is not closed"),
    ("MIT)", "unexpected ')'"),
    ("GPL-2.0/MIT", "'GPL-2.0/MIT' is not a licence name (letters, digits and . + _ - only)"),
    ("MIT, Zlib", "'MIT,' is not a licence name (letters, digits and . + _ - only)"),
])
def test_malformed_expressions(text: str, problem: str) -> None:
    with pytest.raises(LicenseError) as info:
        licenses.parse(text)
    assert info.value.message == problem


def test_policy_picks_the_side_of_a_choice_it_allows() -> None:
    gpl3 = licenses.expand_policy(["GPL-3.0*"])
    assert sorted(gpl3) == ["GPL-3.0-only", "GPL-3.0-or-later"]
    assert licenses.incompatible("GPL-3.0-only | MIT", gpl3) == []
    assert licenses.incompatible("MIT | GPL-3.0-or-later", gpl3) == []
    assert licenses.incompatible("GPL-3.0-only & MIT", gpl3) == ["GPL-3.0-only"]
    assert licenses.incompatible("(GPL-3.0-only | GPL-3.0-or-later) & MIT", gpl3) == ["GPL-3.0-or-later"]
    assert licenses.refused_for("foo", gpl3, ["foo:GPL-3.0-only", "bar:GPL-3.0-or-later"]) == ["GPL-3.0-or-later"]
    with pytest.raises(LicenseError, match="GPLv3 is an obsolete licence name"):
        licenses.expand_policy(["GPLv3"])
    with pytest.raises(LicenseError, match=r"GPL-2\.0\* is not a licence wildcard OE knows"):
        licenses.expand_policy(["GPL-2.0*"])
