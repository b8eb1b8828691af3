"""The table of engine-known variables and the reads that go through it.

The table generates docs/variables.md and covers the core configuration; every typed read parses the
value with its row's type and reports a bad value at the line that set it; configuration checking walks
the table; booleans have one truth set (BitBake's) and SOURCE_DATE_EPOCH one parser.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import CORE, Runner, make_build
from hypothesis import given, settings
from hypothesis import strategies as st

from layerbuild.builtins import BUILTINS
from layerbuild.engine.config import load_configuration
from layerbuild.engine.datastore import DataStore
from layerbuild.engine.evaluate import new_datastore
from layerbuild.fetch.urldata import FetchContext
from layerbuild.taskapi import VarView
from layerbuild.util.errors import Location, VariableError
from layerbuild.util.values import Environment, Typed
from layerbuild.util.variables import VARIABLES, UnknownVariable, lookup, markdown
from layerbuild.util.vartypes import TYPES, flag_set, to_boolean

ROOT = Path(__file__).resolve().parents[1]


def test_docs_match_table() -> None:
    text = (ROOT / "docs" / "variables.md").read_text()
    assert text == markdown(), "docs/variables.md is stale: run python -m layerbuild.util.variables > docs/variables.md"


def test_core_configuration_is_covered(tmp_path: Path) -> None:
    """Every variable the core layer's conf/layerbuild.conf and conf/layer.conf set has a row."""
    config = load_configuration(str(make_build(tmp_path, [])), tracking=True)
    history = config.d.history
    assert history is not None
    core_files = {str(Path(CORE, "conf", "layerbuild.conf")), str(Path(CORE, "conf", "layer.conf"))}
    assigned: set[str] = set()
    for name in config.d.keys():
        if any(e.file in core_files and e.flag in (None, "_defaultval") for e in history.events(name)):
            assigned.add(name)
    assert {"PN", "OVERRIDES", "SOURCE_DATE_EPOCH", "BBFILE_PRIORITY_core"} <= assigned  # it saw the files
    missing = []
    for name in sorted(assigned):
        try:
            lookup(name)
        except UnknownVariable:
            missing.append(name)
    assert not missing, f"variables the core configuration sets but layerbuild/util/variables.py does not list: {missing}"


def test_table_is_well_formed() -> None:
    names = [v.name for v in VARIABLES]
    assert len(names) == len(set(names)), "a variable is listed twice"
    for var in VARIABLES:
        assert var.type in TYPES, f"{var.name}: unknown type {var.type}"
        assert var.doc.strip(), f"{var.name}: no doc"
        unknown = set(var.tasks) - set(BUILTINS)
        assert not unknown, f"{var.name}: tasks names builtins that do not exist: {unknown}"
        assert var.minimum is None or var.type == "integer", f"{var.name}: a minimum needs an integer"


def test_families_and_overrides_resolve_to_their_rows() -> None:
    assert lookup("BBFILE_PRIORITY_core").name == "BBFILE_PRIORITY_<collection>"
    assert lookup("RDEPENDS:hello-dev").name == "RDEPENDS:<package>"
    assert lookup("SUMMARY:hello").name == "SUMMARY:<package>"
    assert lookup("IMAGE_INSTALL:pn-foo").name == "IMAGE_INSTALL"
    assert lookup("SOURCE_DATE_EPOCH").type == "epoch"
    for name in ("NOT_A_VARIABLE", "BBFILE_PRIORITY_", "not_a_variable:hello"):
        with pytest.raises(UnknownVariable):
            lookup(name)


def _store(**values: str) -> DataStore:
    d = DataStore()
    for line, (name, value) in enumerate(values.items(), 1):
        d.setVar(name, value, file="/layer/recipes/foo/foo_1.0.bb", line=line)
    return d


@pytest.mark.parametrize(("name", "value", "read", "message"), [
    ("SOURCE_DATE_EPOCH", "soon", "epoch", "SOURCE_DATE_EPOCH is not a whole number of seconds since 1970: 'soon'"),
    ("SOURCE_DATE_EPOCH", "-5", "epoch", "SOURCE_DATE_EPOCH is not a whole number of seconds since 1970: '-5'"),
    ("NO_RECOMMENDATIONS", "on", "bool", "NO_RECOMMENDATIONS is not a boolean: 'on'"),
    ("IMAGE_SQUASHFS_BLOCK_SIZE", "128K", "int", "IMAGE_SQUASHFS_BLOCK_SIZE is not a number: '128K'"),
    ("BB_NUMBER_THREADS", "0", "int", "BB_NUMBER_THREADS must be a whole number of at least 1, not '0'"),
    ("BB_FETCH_TIMEOUT", "soon", "number", "BB_FETCH_TIMEOUT is not a number: 'soon'"),
    ("BBFILE_PRIORITY_core", "high", "int", "BBFILE_PRIORITY_core is not a number: 'high'"),
])
def test_a_bad_value_is_an_error_at_the_line_that_set_it(name: str, value: str, read: str, message: str) -> None:
    d = _store(PN="foo", **{name: value})
    for reader in (Typed(d), VarView(d)):
        with pytest.raises(VariableError) as info:
            getattr(reader, read)(name)
        assert info.value.location == Location("/layer/recipes/foo/foo_1.0.bb", 2)
        assert info.value.message == message


def test_a_bad_value_the_datastore_cannot_place_points_at_the_recipe() -> None:
    d = DataStore()
    d.setVar("FILE", "/layer/recipes/foo/foo_1.0.bb")
    d.setVar("SOURCE_DATE_EPOCH", "soon")
    with pytest.raises(VariableError) as info:
        VarView(d).epoch("SOURCE_DATE_EPOCH")
    assert info.value.location == Location("/layer/recipes/foo/foo_1.0.bb")


def test_typed_reads_parse_through_the_row() -> None:
    d = _store(SOURCE_DATE_EPOCH=" 1600000000", BB_NUMBER_THREADS="${@2 * 2}", NO_RECOMMENDATIONS="Yes",
               ALLOW_EMPTY="yes", INHIBIT_PACKAGE_STRIP="1", IMAGE_INSTALL="a  b\tc", FILESPATH="/a::/b",
               BB_FETCH_TIMEOUT="2.5", IMAGE_ROOTFS="/work/rootfs", LAYERDIR_RE="^/layer/")
    v = VarView(d)
    assert v.epoch("SOURCE_DATE_EPOCH") == 1600000000
    assert v.int("BB_NUMBER_THREADS") == 4
    assert v.bool("NO_RECOMMENDATIONS") is True
    assert v.switch("ALLOW_EMPTY") is False  # OE's "1" only
    assert v.switch("INHIBIT_PACKAGE_STRIP") is True
    assert v.list("IMAGE_INSTALL") == ["a", "b", "c"]
    assert v.list("FILESPATH") == ["/a", "/b"]
    assert v.number("BB_FETCH_TIMEOUT") == 2.5
    assert v.path("IMAGE_ROOTFS") == "/work/rootfs"
    pattern = v.regex("LAYERDIR_RE")
    assert pattern is not None and pattern.match("/layer/x")
    # unset or empty: the default
    empty = VarView(_store(SOURCE_DATE_EPOCH="", BB_NUMBER_THREADS=" "))
    assert empty.epoch("SOURCE_DATE_EPOCH") == 0
    assert empty.epoch("SOURCE_DATE_EPOCH", None) is None
    assert empty.int("BB_NUMBER_THREADS") is None
    assert empty.bool("NO_RECOMMENDATIONS", True) is True
    assert empty.list("IMAGE_INSTALL") == []


def test_reading_without_a_row_or_as_another_type_is_a_programming_error() -> None:
    v = VarView(_store(IMAGE_INSTALL="a", MY_OWN_SETTING="1"))
    with pytest.raises(UnknownVariable):
        v.bool("MY_OWN_SETTING")
    with pytest.raises(TypeError):
        v.bool("IMAGE_INSTALL")
    with pytest.raises(TypeError):
        v.int("SOURCE_DATE_EPOCH")


# -- one truth set ------------------------------------------------------------------------------------
#: BitBake's bb.utils.to_boolean (lib/bb/utils.py), word by word
BITBAKE_TRUE = ("y", "yes", "1", "true", "Y", "YES", "True", "TRUE")
BITBAKE_FALSE = ("n", "no", "0", "false", "N", "No", "FALSE")
NOT_BOOLEAN = ("on", "off", "2", "t", "f", "maybe", "yes please")


def test_to_boolean_is_bitbakes() -> None:
    for word in BITBAKE_TRUE:
        assert to_boolean(word) is True
    for word in BITBAKE_FALSE:
        assert to_boolean(word) is False
    for word in NOT_BOOLEAN:
        with pytest.raises(ValueError):
            to_boolean(word)
    assert to_boolean("", True) is True and to_boolean(None) is None and to_boolean(0, True) is True
    assert to_boolean(3) is True
    # metadata Python sees the same function as bb.utils.to_boolean
    d = new_datastore()
    assert d.pyglobals["bb"].utils.to_boolean is to_boolean


@settings(deadline=None)
@given(st.text(max_size=8) | st.sampled_from(BITBAKE_TRUE + BITBAKE_FALSE + NOT_BOOLEAN))
def test_every_reader_of_a_boolean_has_the_same_truth_set(text: str) -> None:
    try:
        expected: bool | None = to_boolean(text.strip(), False)
    except ValueError:
        expected = None
    d = _store(BB_NO_NETWORK=text, NO_RECOMMENDATIONS=text)
    readers = [lambda: VarView(d).bool("NO_RECOMMENDATIONS"), lambda: Typed(d).bool("BB_NO_NETWORK"),
               lambda: FetchContext.from_variables(d).no_network]
    for read in readers:
        if expected is None:
            with pytest.raises(VariableError):
                read()
        else:
            assert read() is expected
    # a task flag: what the truth set does not know sets it, as BitBake takes any value
    try:
        flag = bool(to_boolean(text, False))
    except ValueError:
        flag = True
    assert flag_set(text) is flag


def test_an_environment_value_is_named_as_such() -> None:
    with pytest.raises(VariableError) as info:
        Environment({"SOURCE_DATE_EPOCH": "soon"}).epoch("SOURCE_DATE_EPOCH")
    assert info.value.location is None
    assert info.value.message == \
        "the environment variable SOURCE_DATE_EPOCH is not a whole number of seconds since 1970: 'soon'"
    assert Environment({}).epoch("SOURCE_DATE_EPOCH", None) is None
    assert Environment({"SOURCE_DATE_EPOCH": "1600000000"}).epoch("SOURCE_DATE_EPOCH") == 1600000000


def test_a_bad_environment_epoch_stops_the_build(tmp_path: Path, lb: Runner,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    build = make_build(tmp_path, [])
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "soon")
    status, _out, err = lb("-B", str(build), "-p")
    assert status == 1
    assert err.startswith("error: the environment variable SOURCE_DATE_EPOCH is not a whole number of seconds "
                          "since 1970: 'soon'\n"), err


@pytest.mark.parametrize("value", ["${@d.getVar('NOT_SET_HERE').upper()}", "${NOT_SET_HERE}"])
def test_configuration_leaves_what_it_cannot_read_to_the_recipes(tmp_path: Path, lb: Runner, value: str) -> None:
    """A typed value that needs the recipe to expand is not checked against the configuration alone."""
    build = make_build(tmp_path, [], local=f'IMAGE_SQUASHFS_BLOCK_SIZE = "{value}"\n')
    status, _out, err = lb("-B", str(build), "-p")
    assert status == 0, err


# -- the variables the code reads ---------------------------------------------------------------------
#: ``getVar("X")``, ``getVarFlag("X", ...)`` on any object, and ``get("X")``, ``words("X")``, ``flag("X", ...)``
#: and the typed reads (``int("X")``, ``bool``, ``epoch``...) on a variable view (``ctx.vars``, or
#: ``v``/``d`` bound to it) or ``Typed(...)`` in Python; an f-string ``getVar(f"X:{pkg}")`` reads X with
#: a package override. Names are upper case. Other mappings (``os.environ``, os-release fields, unit-file
#: settings) are not the datastore and are not read. A builtin's reads are also checked as it runs
#: (selftest/test_builtins.py); this covers the engine and the classes.
_PY_READ = re.compile(r"""(?:\b(?:getVar|getVarFlag|getVarFlags)|(?:\.vars|\bv|\bd|Typed\([^()]*\)|\btyped)\."""
                      r"""(?:get|words|flag|int|bool|switch|number|epoch|list|path|regex))"""
                      r"""\(\s*f?["'](_*[A-Z][A-Z0-9_]*)(?=["':{])""")
#: ``${X}`` and ``d.getVar('X')`` in classes (upper case: lower-case ``${...}`` are also shell variables).
_CLASS_READ = (re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}"), re.compile(r"""getVar\(\s*["']([A-Za-z_][A-Za-z0-9_]*)"""))


def _family_covered(name: str, names: set[str]) -> bool:
    """X:<package> and X_<collection> families are listed by the family name or by X itself."""
    base = name.rstrip("_")  # f"BBFILE_PATTERN_{name}" reads BBFILE_PATTERN_<collection>
    return name in names or any(n.startswith((f"{base}:<", f"{base}_<")) for n in names)


def _reads() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "layerbuild").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for m in _PY_READ.finditer(line):
                found.setdefault(m.group(1), []).append(f"{rel}:{number}")
    for path in sorted((ROOT / "classes").glob("*.bbclass")):
        rel = path.relative_to(ROOT).as_posix()
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for pattern in _CLASS_READ:
                for m in pattern.finditer(line):
                    found.setdefault(m.group(1), []).append(f"{rel}:{number}")
    return found


def test_variables_the_code_reads_are_in_the_table() -> None:
    names = {v.name for v in VARIABLES}
    reads = _reads()
    # the patterns read the code at all, typed reads of the engine included
    assert {"SRC_URI", "PN", "BB_DANGLINGAPPENDS_WARNONLY", "SOURCE_DATE_EPOCH"} <= set(reads)
    # names starting with __ (__BBTASKS, __SKIPPED...) are the engine's own bookkeeping, as in BitBake
    missing = {name: where for name, where in reads.items()
               if not name.startswith("__") and not _family_covered(name, names)}
    assert not missing, ("variables the code reads but layerbuild/util/variables.py does not list (add each with "
                         "type, default and doc, then run python -m layerbuild.util.variables > docs/variables.md):\n"
                         + "\n".join(f"  {name}: {', '.join(where[:3])}" for name, where in sorted(missing.items())))
