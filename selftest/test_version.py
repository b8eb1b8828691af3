"""Version ordering (layerbuild/util/version.py) agrees with dpkg's, pair by pair.

dpkg itself is the oracle: ``dpkg --compare-versions`` on the same pairs, checked through one shell loop
per batch so that hundreds of pairs take a second or two.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerbuild.util.version import split_version, vercmp, vercmp_string

needs_dpkg = pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg not installed")

RELATION = {-1: "lt", 0: "eq", 1: "gt"}


def sign(n: int) -> int:
    return (n > 0) - (n < 0)


def dpkg_disagreements(pairs: list[tuple[str, str]]) -> list[str]:
    """The pairs for which dpkg does not hold the relation ``vercmp_string`` gives, with dpkg's own.

    One ``dpkg --compare-versions`` per pair asks whether our relation holds (lt, eq and gt exclude
    each other, so a yes confirms the sign); only a no is asked again for dpkg's answer. A warning
    from dpkg (a version it finds malformed) fails the batch: the generator must make valid ones.
    """
    ours = [RELATION[sign(vercmp_string(a, b))] for a, b in pairs]
    script = 'while read -r a op b; do dpkg --compare-versions "$a" "$op" "$b"; echo $?; done'
    lines = "".join(f"{a} {op} {b}\n" for (a, b), op in zip(pairs, ours, strict=True))
    done = subprocess.run(["sh", "-c", script], input=lines, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    codes = done.stdout.split()
    assert len(codes) == len(pairs) and set(codes) <= {"0", "1"}, done.stdout
    wrong = []
    for (a, b), op, code in zip(pairs, ours, codes, strict=True):
        if code != "0":
            theirs = next(rel for rel in ("lt", "eq", "gt") if subprocess.run(
                ["dpkg", "--compare-versions", a, rel, b], timeout=30).returncode == 0)
            wrong.append(f"{a} vs {b}: ours {op}, dpkg {theirs}")
    return wrong


# -- the generator: valid Debian versions, from a small alphabet so that pairs meet often --------------

_DIGITS = "00129"
_LETTERS = "abzAZ"
_SYMBOLS = ".+~"


def _chunk(extra: str) -> st.SearchStrategy[str]:
    return st.text(alphabet=_DIGITS + _LETTERS + _SYMBOLS + extra, max_size=5)


_REVISION = st.text(alphabet=_DIGITS + _LETTERS + _SYMBOLS, min_size=1, max_size=4)


@st.composite
def version_pairs(draw: st.DrawFn) -> tuple[str, str]:
    """Two versions ``[epoch:]upstream[-revision]`` sharing a stem; some the same, some differing only
    in the revision."""
    epochs = st.sampled_from(["", "", "0:", "1:", "2:", "01:", "10:"])
    first = draw(st.sampled_from("0123456789"))
    stem = first + draw(_chunk(""))

    def one() -> tuple[str, str]:
        epoch, revision = draw(epochs), draw(st.one_of(st.just(""), _REVISION))
        # ':' belongs to the upstream version only after an epoch, '-' only before a revision
        upstream = stem + draw(_chunk((":" if epoch else "") + ("-" if revision else "")))
        return f"{epoch}{upstream}", revision

    def joined(head: str, revision: str) -> str:
        return f"{head}-{revision}" if revision else head

    head, revision = one()
    a = joined(head, revision)
    mode = draw(st.integers(0, 9))
    if mode == 0:
        return a, a
    if mode <= 3:
        # an upstream version with a hyphen needs a revision after it
        other = draw(_REVISION if "-" in head else st.one_of(st.just(""), _REVISION))
        return a, joined(head, other)
    return a, joined(*one())


@needs_dpkg
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(version_pairs(), min_size=30, max_size=30))
def test_order_agrees_with_dpkg(pairs: list[tuple[str, str]]) -> None:
    assert dpkg_disagreements(pairs) == []


# -- the edges, each also put to dpkg ------------------------------------------------------------------

ORDERED = [
    # '~' sorts before everything, even the end of the string (the dpkg manual's example)
    ("1.0~~", "1.0~~a"), ("1.0~~a", "1.0~"), ("1.0~", "1.0"), ("1.0", "1.0a"),
    ("1.0~rc1", "1.0"), ("1.0-1~bpo1", "1.0-1"), ("1.0~rc1-1", "1.0-1"),
    # letters before non-letters, letters by ASCII (upper case first)
    ("1.0a", "1.0+"), ("1.0a", "1.0."), ("1.0Z", "1.0a"), ("1.0+", "1.0."),
    # digits compare as numbers
    ("1.9", "1.10"), ("1.0", "1.0.1"), ("2", "10"),
    # the epoch first
    ("9.9", "1:0.1"), ("1:9.9", "2:0.1"),
    # then the upstream version, then the revision
    ("1.0-9", "1.1-1"), ("1.0-1", "1.0-2"), ("1.0", "1.0-1"), ("1.0-9", "1.0-10"),
    # the revision starts after the last hyphen; a colon after the epoch belongs to the upstream version
    ("1.0-10", "1.0-2-1"), ("1:1.0", "1:1.0:1"),
]
EQUAL = [("1.0", "0:1.0"), ("1.01", "1.1"), ("1.001", "1.1"), ("1.0", "1.0-0"), ("01:1", "1:1"), ("1.0-a", "1.0-a")]


@pytest.mark.parametrize(("a", "b"), ORDERED)
def test_ordered(a: str, b: str) -> None:
    assert vercmp_string(a, b) == -1
    assert vercmp_string(b, a) == 1


@pytest.mark.parametrize(("a", "b"), EQUAL)
def test_equal(a: str, b: str) -> None:
    assert vercmp_string(a, b) == 0
    assert vercmp_string(b, a) == 0


@needs_dpkg
def test_the_edges_are_dpkg_s() -> None:
    assert dpkg_disagreements(ORDERED + EQUAL + [(b, a) for a, b in ORDERED]) == []


@pytest.mark.parametrize(("version", "parts"), [
    ("1.0", (0, "1.0", "")), ("2:1.0", (2, "1.0", "")), ("1.0-1", (0, "1.0", "1")),
    ("1:2.0-3-4", (1, "2.0-3", "4")), ("1:2:3-4", (1, "2:3", "4")), ("0:1.0~rc1-0ubuntu1", (0, "1.0~rc1", "0ubuntu1")),
])
def test_split_version(version: str, parts: tuple[int, str, str]) -> None:
    assert split_version(version) == parts


def test_vercmp_takes_the_parts() -> None:
    assert vercmp((1, "0.1", ""), (0, "9.9", "")) == 1
    assert vercmp((0, "1.0", "1"), (0, "1.0", "1")) == 0
    assert vercmp((0, "1.0", "1~x"), (0, "1.0", "1")) == -1
