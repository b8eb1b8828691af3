"""os-release syntax: systemd's environment-file rules, both ways."""

from __future__ import annotations

from pathlib import Path

import pytest

from layerbuild.util import osrelease
from layerbuild.util.errors import UnexpandedError
from layerbuild.util.osrelease import OsReleaseError


def test_parse_quotes_escapes_comments() -> None:
    text = (
        "# a comment\n"
        "; another\n"
        "ID=debian\n"
        'NAME="Debian GNU/Linux"\n'
        "PRETTY_NAME='it''s \"raw\" $HOME'\n"
        'ESCAPED="a \\"b\\" \\\\ \\$x \\`y\\` \\n stays"\n'
        "BARE=a\\ b\\#c   \n"
        "  SPACED  =   value with  spaces   \n"
        'JOINED="one"two\'three\'\n'
        'CONT="first \\\nsecond"\n'
        "EMPTY=\n"
        "NOEQUALS\n"
        "ID=overridden\n"
        "HASH=a#b\n"
    )
    assert osrelease.parse(text) == {
        "ID": "overridden",
        "NAME": "Debian GNU/Linux",
        "PRETTY_NAME": 'its "raw" $HOME',
        "ESCAPED": 'a "b" \\ $x `y` \\n stays',
        "BARE": "a b#c",
        "SPACED": "value with  spaces",
        "JOINED": "onetwothree",
        "CONT": "first second",
        "EMPTY": "",
        "HASH": "a#b",
    }


def test_escaped_trailing_space_is_kept() -> None:
    assert osrelease.parse("A=x\\ \n") == {"A": "x "}
    assert osrelease.parse('A="x  "\n') == {"A": "x  "}


def test_multiline_single_quotes_and_crlf() -> None:
    assert osrelease.parse("A='x\ny'\r\nB=2") == {"A": "x\ny", "B": "2"}


def test_errors_have_locations() -> None:
    with pytest.raises(OsReleaseError) as exc:
        osrelease.parse('ID=x\nNAME="open\n', "base/os-release")
    assert str(exc.value) == "base/os-release:2: error: unterminated \" quote"
    with pytest.raises(OsReleaseError) as exc:
        osrelease.parse("\nBAD-KEY=1\n", "f")
    assert str(exc.value) == "f:2: error: invalid field name 'BAD-KEY'"


def test_render_round_trip(tmp_path: Path) -> None:
    fields = {"ID": "lbdistro", "VERSION_ID": "1.0", "NAME": 'My "OS" $1 `x` \\', "SYSEXT_LEVEL": "1.2",
              "ARCHITECTURE": "x86-64", "EMPTY": ""}
    text = osrelease.render(fields)
    assert text.splitlines()[:2] == ["ID=lbdistro", "VERSION_ID=1.0"]
    assert 'NAME="My \\"OS\\" \\$1 \\`x\\` \\\\"' in text
    assert 'EMPTY=""' in text
    path = tmp_path / "os-release"
    path.write_text(text)
    assert osrelease.read(path) == fields


def test_render_rejects_bad_fields() -> None:
    with pytest.raises(OsReleaseError, match="invalid os-release field name"):
        osrelease.render({"1X": "a"})
    with pytest.raises(OsReleaseError, match="line break"):
        osrelease.render({"X": "a\nb"})


def test_render_refuses_a_reference_expansion_left() -> None:
    """A ``${NAME}`` BitBake kept because NAME is unset would reach systemd as text: never written."""
    with pytest.raises(UnexpandedError) as err:
        osrelease.render({"ID": "lbdistro", "VERSION_ID": "${DISTRO_VERSION}"})
    assert err.value.message == "the os-release field VERSION_ID would hold ${DISTRO_VERSION} literally: " \
                                "DISTRO_VERSION is not set"
    with pytest.raises(UnexpandedError) as err:
        osrelease.render({"ID": "a${b"}, "extension-release")
    assert err.value.message == "the extension-release field ID would hold a literal '${'"
    assert osrelease.render({"NAME": "costs $5 {or} $x"}) == 'NAME="costs \\$5 {or} \\$x"\n'


def test_shell_agrees(tmp_path: Path) -> None:
    """What render writes, a POSIX shell reads back the same (os-release is meant to be sourceable)."""
    import subprocess
    fields = {"A": 'q"uo$te`s\\', "B": "plain", "C": "two words"}
    path = tmp_path / "os-release"
    path.write_text(osrelease.render(fields))
    out = subprocess.run(["sh", "-c", f'. {path}; printf "%s\\n%s\\n%s\\n" "$A" "$B" "$C"'], check=True,
                         capture_output=True, text=True).stdout
    assert out.splitlines() == list(fields.values())
