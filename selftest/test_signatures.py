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


def test_variables_read_by_bb_utils_in_an_expansion_are_dependencies() -> None:
    d = new_datastore()
    d.setVar("DISTRO_FEATURES", "systemd x11")
    d.setVar("MACHINE_FEATURES", "wifi")
    d.setVar("CONFIG", "${@bb.utils.contains('DISTRO_FEATURES', 'systemd', 'sd', '', d)} "
                       "${@bb.utils.contains_any('MACHINE_FEATURES', 'wifi bt', 'net', '', d)} "
                       "${@bb.utils.filter('PACKAGECONFIG', 'a b', d)}")
    _shell(d, "do_configure", "configure ${CONFIG}\n")
    deps = dict(_sig(d, "do_configure").deps)["CONFIG"]
    assert {"DISTRO_FEATURES", "MACHINE_FEATURES", "PACKAGECONFIG"} <= set(deps)
    before = _sig(d, "do_configure").basehash
    d.setVar("DISTRO_FEATURES", "x11")
    assert _sig(d, "do_configure").basehash != before
