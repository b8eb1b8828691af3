"""providers.choose: one recipe file per PN (PREFERRED_VERSION, then layer priority, then version) and
who provides each name (PREFERRED_PROVIDER between several); resolve() explains what it cannot find."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import pytest

from layerbuild.engine.providers import Recipes, choose
from layerbuild.engine.recipe import RecipeInfo
from layerbuild.util.errors import Location, TargetError


@contextlib.contextmanager
def _warnings(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Capture the providers' warnings even when the CLI has stopped layerbuild's loggers propagating."""
    logger = logging.getLogger("layerbuild.providers")
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger=logger.name):
            yield
    finally:
        logger.removeHandler(caplog.handler)


def _info(fn: str, pn: str, pv: str = "1.0", *, pe: str = "", pr: str = "r0", provides: tuple[str, ...] = (),
          skipped: str | None = None, preference: int = 0) -> RecipeInfo:
    return RecipeInfo(fn=fn, appends=(), pn=pn, pv=pv, pe=pe, pr=pr, provides=(pn, *provides), depends=(),
                      packages=(pn,), rdepends=(), rrecommends=(), rprovides=(), tasks=(), skipped=skipped,
                      preference=preference)


def _choose(infos: list[RecipeInfo], priorities: dict[str, int] | None = None,
            settings: dict[str, str] | None = None) -> Recipes:
    prio = priorities or {}
    return choose({i.fn: i for i in infos}, lambda fn: prio.get(fn.split("/")[0], 0), (settings or {}).get)


def test_highest_version_wins_within_a_priority() -> None:
    r = _choose([_info("a/foo_1.9.bb", "foo", "1.9"), _info("a/foo_1.10.bb", "foo", "1.10"),
                 _info("a/foo_1.2.bb", "foo", "1.2")])
    assert r.chosen == {"foo": "a/foo_1.10.bb"}  # dpkg ordering: 1.10 > 1.9


def test_epoch_counts_before_the_version() -> None:
    r = _choose([_info("a/foo_2.0.bb", "foo", "2.0"), _info("a/foo_1.0.bb", "foo", "1.0", pe="1")])
    assert r.chosen["foo"] == "a/foo_1.0.bb"


def test_layer_priority_beats_version() -> None:
    r = _choose([_info("low/foo_2.0.bb", "foo", "2.0"), _info("high/foo_1.0.bb", "foo", "1.0")],
                {"low": 5, "high": 10})
    assert r.chosen["foo"] == "high/foo_1.0.bb"


def test_default_preference_counts_after_priority_before_version() -> None:
    """BitBake's findLatestProvider: within the highest priority, the highest DEFAULT_PREFERENCE, then
    the highest version."""
    infos = [_info("a/foo_2.0.bb", "foo", "2.0", preference=-1), _info("a/foo_1.0.bb", "foo", "1.0"),
             _info("a/foo_0.9.bb", "foo", "0.9", preference=1), _info("b/foo_0.1.bb", "foo", "0.1", preference=5)]
    assert _choose(infos[:2]).chosen["foo"] == "a/foo_1.0.bb"
    assert _choose(infos[:3]).chosen["foo"] == "a/foo_0.9.bb"
    assert _choose(infos, {"a": 10, "b": 5}).chosen["foo"] == "a/foo_0.9.bb"


def test_preferred_version_beats_priority_and_takes_a_percent_suffix() -> None:
    infos = [_info("high/foo_2.0.bb", "foo", "2.0"), _info("low/foo_1.4.2.bb", "foo", "1.4.2"),
             _info("low/foo_1.5.bb", "foo", "1.5", pr="r3")]
    prio = {"low": 1, "high": 10}
    assert _choose(infos, prio, {"PREFERRED_VERSION_foo": "1.4%"}).chosen["foo"] == "low/foo_1.4.2.bb"
    assert _choose(infos, prio, {"PREFERRED_VERSION_foo": "1.5_r3"}).chosen["foo"] == "low/foo_1.5.bb"
    assert _choose(infos, prio, {"PREFERRED_VERSION_foo": "1.5_r4"}).chosen["foo"] == "high/foo_2.0.bb"


def test_unavailable_preferred_version_warns_and_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    with _warnings(caplog):
        r = _choose([_info("a/foo_1.0.bb", "foo", "1.0")], settings={"PREFERRED_VERSION_foo": "3.%"})
    assert r.chosen["foo"] == "a/foo_1.0.bb"
    assert "preferred version 3.% of foo is not available (have 1.0)" in caplog.text


def test_provided_names_and_preferred_provider() -> None:
    infos = [_info("a/glibc.bb", "glibc", provides=("virtual/libc",)),
             _info("a/musl.bb", "musl", provides=("virtual/libc",))]
    r = _choose(infos)
    assert r.providers["virtual/libc"] == ("glibc", "musl")
    assert r.resolve("virtual/libc") == "a/glibc.bb"  # no preference: the first by name
    r = _choose(infos, settings={"PREFERRED_PROVIDER_virtual/libc": "musl"})
    assert r.resolve("virtual/libc") == "a/musl.bb" and r.resolve("glibc") == "a/glibc.bb"
    assert r.names() == ["glibc", "musl", "virtual/libc"]


def test_a_preferred_provider_that_does_not_provide_is_an_error() -> None:
    # building another provider than the one asked for would silently build the wrong thing
    r = _choose([_info("a/glibc.bb", "glibc", provides=("virtual/libc",)), _info("a/zlib.bb", "zlib")],
                settings={"PREFERRED_PROVIDER_virtual/libc": "zlib"})
    with pytest.raises(TargetError) as info:
        r.resolve("virtual/libc")
    assert info.value.message == 'PREFERRED_PROVIDER_virtual/libc = "zlib", but zlib does not provide it'
    assert info.value.hint == "virtual/libc is provided by: glibc"


def test_unknown_names_get_close_matches_and_the_asking_location() -> None:
    r = _choose([_info("a/hello.bb", "hello"), _info("a/help2man.bb", "help2man")])
    with pytest.raises(TargetError) as info:
        r.resolve("helo", asked_by=Location("a/x.bb", 3), what="build dependency")
    err = info.value
    assert err.message == "nothing provides 'helo' (build dependency)"
    assert err.location == Location("a/x.bb", 3)
    assert err.hint is not None and err.hint.startswith("closest recipe names: hello")
    with pytest.raises(TargetError) as info:
        r.resolve("zzz")
    assert info.value.hint == "run 'layerbuild-layers show-recipes' to list them"


def test_skipped_recipes_are_not_chosen_and_say_why() -> None:
    r = _choose([_info("a/arm-only.bb", "arm-only", skipped="incompatible with machine genericx86-64")])
    assert r.chosen == {}
    with pytest.raises(TargetError, match="target arm-only was skipped: incompatible with machine genericx86-64"):
        r.resolve("arm-only")
