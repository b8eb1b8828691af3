"""signatures: a task's basehash covers its code and every variable and function it reaches, and nothing
else; the taskhash adds its dependencies' hashes; sigdata is written atomically."""

from __future__ import annotations

import os
from pathlib import Path

from layerbuild.engine.datastore import DataStore
from layerbuild.engine.evaluate import new_datastore
from layerbuild.engine.signatures import TaskSignature, read_sigdata, task_signatures, taskhash, write_sigdata


def _shell(d: DataStore, name: str, body: str) -> None:
    d.setVarFlag(name, "func", 1)
    d.setVar(name, body)


def _python(d: DataStore, name: str, body: str) -> None:
    d.setVarFlag(name, "func", 1)
    d.setVarFlag(name, "python", "1")
    d.setVar(name, body)


def _recipe() -> DataStore:
    d = DataStore()
    d.setVar("CFLAGS", "-O2 ${EXTRA}")
    d.setVar("EXTRA", "-g")
    d.setVar("UNRELATED", "1")
    d.setVar("B", "/work/build")
    _shell(d, "do_compile", "cd ${B}\noe_runmake CFLAGS='${CFLAGS}'\n")
    _shell(d, "oe_runmake", "make \"$@\"\n")
    _python(d, "do_package", "    pkgs = d.getVar('PACKAGES')\n    helper(d)\n")
    _python(d, "helper", "    d.getVar('HELPER_INPUT')\n")
    d.setVar("PACKAGES", "a a-dev")
    d.setVar("HELPER_INPUT", "x")
    return d


def _sig(d: DataStore, task: str) -> TaskSignature:
    return task_signatures(d, [task])[task]


def test_basehash_covers_the_transitive_references_of_shell_and_python_tasks() -> None:
    d = _recipe()
    sig = _sig(d, "do_compile")
    assert dict(sig.deps)["do_compile"] == ("B", "CFLAGS", "oe_runmake")
    assert dict(sig.values) == {"do_compile": "cd ${B}\noe_runmake CFLAGS='${CFLAGS}'\n", "B": "/work/build",
                                "CFLAGS": "-O2 ${EXTRA}", "EXTRA": "-g", "oe_runmake": 'make "$@"\n'}
    pkg = _sig(d, "do_package")
    assert set(dict(pkg.values)) == {"do_package", "PACKAGES", "helper", "HELPER_INPUT"}


def test_a_referenced_change_changes_the_basehash_and_an_unrelated_one_does_not() -> None:
    d = _recipe()
    before = _sig(d, "do_compile").basehash
    d.setVar("UNRELATED", "2")
    assert _sig(d, "do_compile").basehash == before
    d.setVar("EXTRA", "-g3")  # two steps away, through CFLAGS
    assert _sig(d, "do_compile").basehash != before
    d = _recipe()
    d.setVar("HELPER_INPUT", "y")  # read by a python function the task calls
    assert _sig(d, "do_package").basehash != _sig(_recipe(), "do_package").basehash


def test_vardeps_vardepsexclude_and_the_ignore_list() -> None:
    d = _recipe()
    d.setVarFlag("do_compile", "vardeps", "UNRELATED")
    assert "UNRELATED" in dict(_sig(d, "do_compile").values)
    d.setVarFlag("do_compile", "vardepsexclude", "CFLAGS")
    assert "CFLAGS" not in dict(_sig(d, "do_compile").values) and "EXTRA" not in dict(_sig(d, "do_compile").values)
    d = _recipe()
    d.setVar("BB_BASEHASH_IGNORE_VARS", "B")
    before = _sig(d, "do_compile").basehash
    d.setVar("B", "/elsewhere")
    assert _sig(d, "do_compile").basehash == before


def test_vardepvalue_stands_for_the_value() -> None:
    d = _recipe()
    d.setVar("DATE", "20260101")
    _shell(d, "do_deploy", "echo ${DATE}\n")
    d.setVarFlag("DATE", "vardepvalue", "fixed")
    before = _sig(d, "do_deploy")
    assert dict(before.values)["DATE"] == "fixed"
    d.setVar("DATE", "20270101")
    assert _sig(d, "do_deploy").basehash == before.basehash


def test_file_checksums_cover_file_and_directory_contents(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "x.c").write_text("int x;\n")
    (tmp_path / "patch").write_text("--- a\n")
    d = _recipe()
    d.setVarFlag("do_compile", "file-checksums", f"{tmp_path}/patch:True {tmp_path}/dir {tmp_path}/missing:False")
    sig = _sig(d, "do_compile")
    files = dict(sig.files)
    assert set(files) == {f"{tmp_path}/patch", f"{tmp_path}/dir", f"{tmp_path}/missing"}
    assert files[f"{tmp_path}/missing"] is None
    (tmp_path / "dir" / "x.c").write_text("int y;\n")
    assert _sig(d, "do_compile").basehash != sig.basehash


def test_same_metadata_gives_the_same_basehash_in_another_datastore() -> None:
    assert _sig(_recipe(), "do_compile") == _sig(_recipe(), "do_compile")
    assert _sig(_recipe().createCopy(), "do_package") == _sig(_recipe(), "do_package")


def test_taskhash_adds_dependency_hashes_in_any_order_and_a_taint() -> None:
    base = "b" * 64
    h = taskhash(base, ["1" * 64, "2" * 64])
    assert h == taskhash(base, ["2" * 64, "1" * 64])
    assert h != taskhash(base, ["1" * 64])
    assert h != taskhash(base, ["1" * 64, "2" * 64], taint="forced")
    assert len(h) == 64 and taskhash(base, []) != base


def test_sigdata_round_trip_without_temporaries(tmp_path: Path) -> None:
    sig = _sig(_recipe(), "do_compile")
    data = sig.sigdata("hello", "t" * 64, {})
    path = tmp_path / "stamps" / "hello.do_compile.sigdata"
    write_sigdata(str(path), data)
    assert read_sigdata(str(path)) == data
    assert data["basehash"] == sig.basehash and data["values"]["CFLAGS"] == "-O2 ${EXTRA}"
    assert os.listdir(path.parent) == [path.name]


def test_a_remove_that_takes_effect_is_part_of_the_signature() -> None:
    """BitBake's TaskHash test: the removed value and what it references are dependencies."""
    def recipe(removed: str) -> DataStore:
        d = DataStore()
        d.setVar("FEATURES", "one two three")
        d.setVar("FEATURES:remove", "${DROP}")
        d.setVar("DROP", removed)
        _shell(d, "do_compile", "echo ${FEATURES}\n")
        return d

    sig = _sig(recipe("two"), "do_compile")
    assert "DROP" in dict(sig.deps)["FEATURES"]
    assert "_remove of ${DROP}" in dict(sig.values)["FEATURES"]
    # another value to remove changes what the task sees, and its signature
    assert _sig(recipe("three"), "do_compile").basehash != sig.basehash
    # a remove that removes nothing leaves the value as it was
    assert "_remove of" not in dict(_sig(recipe("four"), "do_compile").values)["FEATURES"]


def test_taskhash_follows_bitbakes_taskhash_test() -> None:
    """BitBake's lib/bb/tests/data.py TaskHash test, step by step, on our datastore."""
    d = new_datastore()
    d.setVar("__BBTASKS", ["mytask"])
    _shell(d, "mytask", "${MYCOMMAND}")
    d.setVar("MYCOMMAND", "${VAR}; foo; bar; exit 0")
    d.setVar("VAR", "val")
    orig = _sig(d, "mytask").basehash
    d.setVar("VAR", "val2")  # a change of a referenced variable
    assert _sig(d, "mytask").basehash != orig
    d.setVar("VAR", "val")
    d.setVar("BAR", "notbar")
    d.setVar("MYCOMMAND:remove", "${BAR}")  # a removal that removes nothing
    assert _sig(d, "mytask").basehash == orig
    d.setVar("BAR", "bar;")  # one that takes effect
    assert _sig(d, "mytask").basehash != orig
    d.setVar("VAR", "${@bb.utils.contains('VAR2', 'A', 'val', '', d)}")  # a contains() that does not hold
    orig = _sig(d, "mytask").basehash
    d.setVar("VAR2", "A")  # it holds now
    assert _sig(d, "mytask").basehash != orig
    d.setVar("VAR2", "B")  # another value, and it does not hold again: the basehash it had
    assert _sig(d, "mytask").basehash == orig


def _features() -> DataStore:
    d = new_datastore()
    d.setVar("DISTRO_FEATURES", "systemd x11")
    d.setVar("MACHINE_FEATURES", "wifi")
    d.setVar("CONFIG", "${@bb.utils.contains('DISTRO_FEATURES', 'systemd', 'sd', '', d)} "
                       "${@bb.utils.contains_any('MACHINE_FEATURES', 'wifi bt', 'net', '', d)} "
                       "${@bb.utils.filter('PACKAGECONFIG', 'a b', d)} ${@d.getVar('READ')}")
    _shell(d, "do_configure", "configure ${CONFIG}\n")
    return d


def test_contains_records_its_answer_not_the_variables_value() -> None:
    d = _features()
    sig = _sig(d, "do_configure")
    # asked about, not read: their values are no dependency, the answers are part of CONFIG's value
    assert dict(sig.deps)["CONFIG"] == ("READ",)
    assert dict(sig.values)["CONFIG"].split("\n")[1:] == [
        "DISTRO_FEATURES{systemd} = Set", "MACHINE_FEATURES{bt} = Unset", "MACHINE_FEATURES{wifi} = Set",
        "PACKAGECONFIG{a} = Unset", "PACKAGECONFIG{b} = Unset"]
    before = sig.basehash
    d.setVar("DISTRO_FEATURES", "systemd wayland")  # other words: the same answers
    d.setVar("PACKAGECONFIG", "c")
    assert _sig(d, "do_configure").basehash == before
    d.setVar("DISTRO_FEATURES", "x11")  # systemd gone: another answer
    assert _sig(d, "do_configure").basehash != before
    d = _features()
    d.setVar("READ", "anything")  # a variable read with getVar: its value counts
    assert _sig(d, "do_configure").basehash != before


def test_contains_in_a_python_task_and_what_is_not_a_literal_question() -> None:
    d = new_datastore()
    d.setVar("DISTRO_FEATURES", "systemd")
    d.setVar("WANTED", "systemd")
    _python(d, "do_x", "    if bb.utils.contains('DISTRO_FEATURES', 'systemd', True, False, d):\n"
                       "        bb.note(d.getVar('UNIT'))\n"
                       "    bb.utils.contains('MACHINE_FEATURES', d.getVar('WANTED'), 1, 0, d)\n")
    sig = _sig(d, "do_x")
    # words that are not a literal: the variable's whole value counts, as in BitBake
    assert dict(sig.deps)["do_x"] == ("MACHINE_FEATURES", "UNIT", "WANTED")
    assert dict(sig.values)["do_x"].endswith("\nDISTRO_FEATURES{systemd} = Set")
    before = sig.basehash
    d.setVar("DISTRO_FEATURES", "systemd usrmerge")
    assert _sig(d, "do_x").basehash == before
    d.setVar("DISTRO_FEATURES", "sysvinit")
    assert _sig(d, "do_x").basehash != before
    d.setVarFlag("do_x", "vardepsexclude", "DISTRO_FEATURES")  # excluded: no answer recorded either
    assert "DISTRO_FEATURES{" not in dict(_sig(d, "do_x").values)["do_x"]


def test_overrides_follow_a_variable_contains_asks_about() -> None:
    # what OVERRIDES asks contains() about is an override variable: changing it recomputes the overrides
    d = new_datastore()
    d.setVar("OVERRIDES", "base${@bb.utils.contains('DISTRO_FEATURES', 'systemd', ':sd', '', d)}")
    d.setVar("INIT", "sysv")
    d.setVar("INIT:sd", "systemd")
    assert d.getVar("INIT") == "sysv"
    d.setVar("DISTRO_FEATURES", "systemd")
    assert d.getVar("INIT") == "systemd"


def test_a_recipe_asking_contains_keeps_its_basehash_while_the_answer_stays(tmp_path: Path) -> None:
    # through the parser, the configuration and the core classes, as a build computes it
    from conftest import make_build, make_layer

    from layerbuild.session import parse_recipes, signatures_of, start_configuration

    layer = make_layer(tmp_path, "sig", {"recipes/foo/foo_1.0.bb": (
        'LICENSE = "MIT"\n'
        'EXTRA_OPTS = "${@bb.utils.contains(\'DISTRO_FEATURES\', \'zeroconf\', \'--with-avahi\', \'\', d)}"\n'
        'do_configure() {\n    echo ${EXTRA_OPTS} > ${B}/opts\n}\n')})

    def basehash(features: str) -> str:
        build = make_build(tmp_path, [layer], local=f'DISTRO_FEATURES:append = " {features}"\n')
        config = start_configuration(str(build))
        result = parse_recipes(config, jobs=1, use_cache=False)
        fn = result.recipes.resolve("foo")
        return signatures_of(config, result, [fn], jobs=1).recipes[fn]["do_configure"].basehash

    before = basehash("")
    assert basehash("some-other-feature") == before
    assert basehash("zeroconf") != before
