"""Datastore properties: copies are independent, expansion is lazy, history records every change."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layerbuild.engine.datastore import DataStore
from layerbuild.engine.evaluate import new_datastore
from layerbuild.util.errors import ExpansionError

NAMES = st.sampled_from(["A", "B", "C", "D"])
VALUES = st.text(alphabet="ab ${}ABCD", max_size=8)
OPS = st.lists(st.tuples(st.sampled_from(["set", "append", "prepend", "remove", "flag", "del", "override"]),
                         NAMES, VALUES), max_size=12)


def _apply(d: DataStore, ops: list[tuple[str, str, str]]) -> None:
    for op, name, value in ops:
        if op == "set":
            d.setVar(name, value, parsing=True)
        elif op == "append":
            d.setVar(name + ":append", value, parsing=True)
        elif op == "prepend":
            d.setVar(name + ":prepend", value, parsing=True)
        elif op == "remove":
            d.setVar(name + ":remove", value, parsing=True)
        elif op == "flag":
            d.setVarFlag(name, "doc", value)
        elif op == "override":
            d.setVar(name + ":ov", value, parsing=True)
        else:
            d.delVar(name)


def _snapshot(d: DataStore) -> dict[str, object]:
    out: dict[str, object] = {}
    for name in ("A", "B", "C", "D", "OVERRIDES"):
        try:
            out[name] = d.getVar(name)
        except (ExpansionError, RecursionError) as exc:
            out[name] = f"error: {type(exc).__name__}"
        out[name + "[doc]"] = d.getVarFlag(name, "doc", False)
    return out


@settings(max_examples=150, deadline=None)
@given(OPS, OPS, OPS)
def test_copy_on_write_isolation(before: list, parent_after: list, child_after: list) -> None:
    d = DataStore()
    d.setVar("OVERRIDES", "ov")
    _apply(d, before)
    reference = DataStore()
    reference.setVar("OVERRIDES", "ov")
    _apply(reference, before)
    _apply(reference, parent_after)
    child = d.createCopy()
    _apply(child, child_after)
    _apply(d, parent_after)
    # the parent sees only its own changes, whatever the child did
    assert _snapshot(d) == _snapshot(reference)
    fresh = DataStore()
    fresh.setVar("OVERRIDES", "ov")
    _apply(fresh, before)
    _apply(fresh, child_after)
    assert _snapshot(child) == _snapshot(fresh)


def test_expansion_is_lazy_and_cached_values_invalidate() -> None:
    d = DataStore()
    d.setVar("A", "${B}-x")
    d.setVar("B", "one")
    assert d.getVar("A") == "one-x"
    d.setVar("B", "two")
    assert d.getVar("A") == "two-x"
    assert d.getVar("A", False) == "${B}-x"


def test_rename_moves_the_value_its_appends_and_override_variants() -> None:
    # bb.data.expandKeys renames FILES:${PN}-dev and the like in every recipe (BitBake's renameVar)
    d = DataStore()
    d.setVar("PN", "zlib")
    d.setVar("FILES:${PN}-dev", "/usr/include")
    d.setVar("FILES:${PN}-dev:append", " /usr/lib/*.so")
    d.setVar("RDEPENDS:${PN}", "base")
    d.setVar("RDEPENDS:${PN}:class-native", "native-base")
    d.setVar("OVERRIDES", "class-native")
    assert d.getVar("RDEPENDS:zlib") is None
    d.renameVar("FILES:${PN}-dev", "FILES:zlib-dev")
    d.renameVar("RDEPENDS:${PN}", "RDEPENDS:zlib")
    assert d.getVar("FILES:zlib-dev") == "/usr/include /usr/lib/*.so"
    assert d.getVar("RDEPENDS:zlib") == "native-base"  # its override variant went with it
    assert d.getVar("FILES:${PN}-dev", False) is None and d.getVar("RDEPENDS:${PN}", False) is None
    assert "FILES:${PN}-dev" not in d.keys_to_expand()
    # a name that is not set: nothing happens (OE's class extension renames every package variable)
    before = {name: d.getVar(name, False) for name in d.keys()}
    d.renameVar("RSUGGESTS:${PN}-doc", "RSUGGESTS:zlib-doc")
    assert {name: d.getVar(name, False) for name in d.keys()} == before
    assert d.getVar("RSUGGESTS:zlib-doc") is None


def test_history_records_file_line_and_operation() -> None:
    d = DataStore(tracking=True)
    d.setVar("A", "1", file="x.conf", line=3)
    d.setVar("A:append", " 2", parsing=True, file="y.bb", line=7)
    d.setVarFlag("A", "doc", "docs", file="z.conf", line=1)
    events = d.history.events("A") if d.history else []
    assert [(e.op, e.file, e.line, e.detail, e.flag) for e in events] == [
        ("set", "x.conf", 3, "1", None), (":append", "y.bb", 7, " 2", None), ("set", "z.conf", 1, "docs", "doc")]
    child = d.createCopy()
    child.setVar("A", "3", file="c.bb", line=2)
    assert len(d.history.events("A")) == 3 if d.history else False
    assert len(child.history.events("A")) == 4 if child.history else False


def test_python_in_metadata_sees_bitbake_names() -> None:
    d = new_datastore()
    d.setVar("FEATURES", "x11 wayland")
    d.setVar("HAS", "${@bb.utils.contains('FEATURES', 'x11', 'yes', 'no', d)}")
    d.setVar("ONLY", "${@bb.utils.filter('FEATURES', 'wayland opengl', d)}")
    d.setVar("BARE", "${@FEATURES.upper()}")
    assert (d.getVar("HAS"), d.getVar("ONLY"), d.getVar("BARE")) == ("yes", "wayland", "X11 WAYLAND")


def test_metadata_python_runs_with_the_globals_the_store_is_given() -> None:
    """The evaluator hands the store its globals (the datastore imports neither it nor the bb namespace):
    a bare store knows Python's builtins only (``bb`` and ``os`` are builtins, as in BitBake, once any
    evaluator datastore has installed the namespace), and a copy shares what its original was given."""
    bare = DataStore()
    bare.setVar("N", "${@len('abc')}")
    bare.setVar("B", "${@glob.escape('yes')}", file="x.bb", line=4)
    assert bare.getVar("N") == "3"
    with pytest.raises(ExpansionError, match="NameError: name 'glob' is not defined"):
        bare.getVar("B")
    new_datastore()
    bare.setVar("C", "${@bb.utils.to_boolean('yes')}")
    assert bare.getVar("C") == "True"
    given = DataStore(pyglobals={"answer": lambda: 42})
    given.setVar("A", "${@answer()}")
    assert given.createCopy().getVar("A") == "42"


def test_errors_survive_pickling_with_location() -> None:
    d = DataStore()
    d.setVar("A", "${A}", file="f.bb", line=9)
    try:
        d.getVar("A")
    except ExpansionError as exc:
        again = pickle.loads(pickle.dumps(exc))
        assert again.format() == exc.format()
        assert str(again.location) == "f.bb:9"
    else:
        raise AssertionError("self reference not detected")


def test_functions_are_the_func_flagged_variables_keys_holds() -> None:
    config = DataStore()
    config.setVar("do_site", "bb.note('x')\n")
    config.setVarFlag("do_site", "func", 1)
    config.setVarFlag("do_weak", "_defaultval_flag_func", "1")  # do_weak[func] ??= "1"
    config.setVar("do_weak", "true\n")
    config.setVar("do_plain", "not a function")
    d = config.createCopy()
    d.setVar("do_own", "pass\n")
    d.setVarFlag("do_own", "func", 1)
    d.setVar("helper", "pass\n")
    d.setVarFlag("helper", "func", 1)
    d.setVar("do_gone", "pass\n")
    d.setVarFlag("do_gone", "func", 1)
    d.delVar("do_gone")
    d.setVarFlag("do_site", "func", 0)  # no longer a function in the copy
    bb_copy = d.createCopy()  # a copy inside the recipe's own Python loses nothing
    expected = {k for k in d.keys() if d.getVarFlag(k, "func", False)}
    assert d.functions() == expected == {"do_weak", "do_own", "helper"}
    assert d.functions("do_") == {"do_weak", "do_own"}
    assert bb_copy.functions() == expected
    assert config.functions() == {"do_site", "do_weak"}


def test_a_weak_default_after_an_assignment_leaves_its_location() -> None:
    """``??=`` after ``=`` changes neither the value nor where it comes from (local.conf, then a default)."""
    d = DataStore()
    d.setVar("DISTRO", "mine", parsing=True, file="local.conf", line=2)
    d.setVarFlag("DISTRO", "_defaultval", "nodistro", op="set??", file="layerbuild.conf", line=9)
    assert d.getVar("DISTRO") == "mine"
    assert str(d.location("DISTRO")) == "local.conf:2"
    d.setVarFlag("OTHER", "_defaultval", "x", op="set??", file="layerbuild.conf", line=10)
    assert str(d.location("OTHER")) == "layerbuild.conf:10"


def test_a_default_after_an_assignment_leaves_its_location() -> None:
    """``?=`` that finds a value keeps it and where it was set: an error about the value names that line."""
    d = DataStore()
    d.setVar("GENERATOR", "Make", parsing=True, file="local.conf", line=3)
    d.setVar("GENERATOR", "Make", parsing=True, op="set?", file="cmake.bbclass", line=17)
    assert d.getVar("GENERATOR") == "Make"
    assert str(d.location("GENERATOR")) == "local.conf:3"
    d.setVar("UNSET", "Ninja", parsing=True, op="set?", file="cmake.bbclass", line=18)
    assert str(d.location("UNSET")) == "cmake.bbclass:18"


def _doubling(d: DataStore, levels: int, line: int = 1) -> None:
    d.setVar("A0", "0123456789abcdef", file="bomb.bb", line=line)
    for i in range(1, levels):
        d.setVar(f"A{i}", f"${{A{i - 1}}}${{A{i - 1}}}", file="bomb.bb", line=line + i)


def test_a_value_growing_past_the_bound_is_an_error_at_its_line() -> None:
    """A chain in which each variable doubles the one before fails at the first value past the bound,
    naming the chain, instead of exhausting memory (64 MiB is 2**22 times the 16 bytes of A0)."""
    d = DataStore()
    _doubling(d, 40)
    d.setVar("SUMMARY", "${A39}", file="bomb.bb", line=50)
    try:
        d.getVar("SUMMARY")
    except ExpansionError as exc:
        assert str(exc.location) == "bomb.bb:24"
        assert exc.message == "the value of A23 grows past 64 MiB when expanded (at ${A22})"
        assert exc.notes[0] == "while reading SUMMARY (set at bomb.bb:50)"
        assert exc.notes[-2:] == ("which uses A23 (set at bomb.bb:24)", "which uses A22 (set at bomb.bb:23)")
    else:
        raise AssertionError("no error")
    assert len(d.getVar("A22")) == 64 * 1024 * 1024  # at the bound itself: allowed


def test_a_line_naming_a_large_value_several_times_is_bounded_too() -> None:
    d = DataStore()
    _doubling(d, 21)  # A20 is 16 MiB
    d.setVar("WIDE", "${A20}" * 5, file="bomb.bb", line=30)
    try:
        d.getVar("WIDE")
    except ExpansionError as exc:
        assert str(exc.location) == "bomb.bb:30"
        assert exc.message == "the value of WIDE grows past 64 MiB when expanded (at ${A20})"
    else:
        raise AssertionError("no error")


def test_a_line_too_wide_to_join_is_the_same_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A line naming a large variable so many times that joining the pieces fails (malloc refuses)."""
    def refusing(*_args: object) -> str:
        raise MemoryError  # as "".join of the pieces does when malloc refuses

    d = DataStore()
    d.setVar("BIG", "x" * 100, file="bomb.bb", line=1)
    d.setVar("WIDE", "${BIG}" * 3, file="bomb.bb", line=2)
    monkeypatch.setattr(DataStore, "_var_sub", refusing)
    try:
        d.getVar("WIDE")
    except ExpansionError as exc:
        assert str(exc.location) == "bomb.bb:2"
        assert exc.message.startswith("the value of WIDE grows past 64 MiB when expanded")
    else:
        raise AssertionError("no error")


def test_python_expression_past_the_bound_is_an_error() -> None:
    d = DataStore()
    d.setVar("BIG", "${@'x' * (65 * 1024 * 1024)}", file="bomb.bb", line=3)
    try:
        d.getVar("BIG")
    except ExpansionError as exc:
        assert str(exc.location) == "bomb.bb:3"
        assert exc.message.startswith("the value of BIG grows past 64 MiB when expanded (at ${@'x'")
    else:
        raise AssertionError("no error")
