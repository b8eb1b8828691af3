"""Bad input as located errors, beyond the failing corpus: dpkg's grammar for relationship fields, and what
``--debug`` adds to a failed python task (the corpus checks the messages themselves)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import Runner, make_build, make_layer

from layerbuild.cli import DEBUG_ENV
from layerbuild.packaging.deps import parse_depends
from layerbuild.util.errors import LayerbuildError
from layerbuild.util.relations import package_name_problem, relationship_problem, version_problem


@pytest.mark.parametrize("text", ["", "foo", "foo bar", "foo (>= 1.0) bar (<< 2:1.0-r0)", "foo (>=1), bar",
                                  "foo (= 1.0+git~rc1-r0.1)", "lib32-foo (> 1)", "a (< 1)"])
def test_relationship_fields_dpkg_accepts(text: str) -> None:
    assert relationship_problem(text) is None


@pytest.mark.parametrize(("text", "problem"), [
    ("foo (>> )", "the version constraint '(>>)' of foo has an operator but no version"),
    ("foo (=> 1)", "'=>' in '(=> 1)' of foo is not a version operator; did you mean '>='?"),
    ("foo (~ 1)", "has no operator"),
    ("foo (1.0)", "has no operator"),
    ("foo (>= 1.0", "is not closed"),
    ("(>= 1.0)", "follows no package name"),
    ("Foo", "contains 'F'"),
    ("foo/bar", "contains '/'"),
    ("foo_bar", "contains '_'"),
    ("-foo", "must start with a lower-case letter or a digit"),
    ("foo (>= x:1)", "the epoch 'x'"),
    ("foo (>= 1.0-)", "an empty revision"),
    ("foo (>= 1.0_1)", "contains '_'"),
    ("foo (>= 1-r_0)", "the revision of version '1-r_0' contains '_'"),
])
def test_relationship_fields_dpkg_refuses(text: str, problem: str) -> None:
    found = relationship_problem(text)
    assert found is not None and problem in found, found


def test_provides_takes_only_equals() -> None:
    assert relationship_problem("foo (= 1.0)", ("=",)) is None
    assert "only =" in (relationship_problem("foo (>= 1.0)", ("=",)) or "")


def test_names_and_versions() -> None:
    assert package_name_problem("libgreet-dev") is None and package_name_problem("g++") is None
    assert version_problem("1:2.0~rc1+git3-r0.1") is None
    assert version_problem("") == "the version is empty"
    assert version_problem("1.0 2") == "version '1.0 2' contains a space"


def test_package_time_parsing_refuses_an_empty_version() -> None:
    # it used to read "foo (>> )" as foo (>> >) and write that into Depends:
    with pytest.raises(LayerbuildError):
        parse_depends("foo (>> )")
    assert parse_depends("foo (>= 1.0), bar") == [("foo", ">=", "1.0"), ("bar", None, None)]


RECIPE = 'SUMMARY = "foo"\npython do_x() {\n    names = d.getVar("FOO_NAMES")\n    first = names.split()[0]\n}\n' \
         'addtask do_x\n'


def _python_task_failure(tmp_path: Path, lb: Runner, *options: str) -> tuple[str, str]:
    layer = make_layer(tmp_path, "t", {"recipes/foo/foo_1.0.bb": RECIPE})
    build = make_build(tmp_path, [layer])
    status, _out, err = lb(*options, "-B", str(build), "foo:do_x")
    assert status == 1
    log = next((build / "tmp" / "work").glob("*/foo/*/temp/log.do_x"))
    return err, log.read_text()


def test_python_task_failure_is_one_located_line(tmp_path: Path, lb: Runner) -> None:
    err, log = _python_task_failure(tmp_path, lb)
    recipe = tmp_path / "meta-t/recipes/foo/foo_1.0.bb"
    line = f"{recipe}:4: error: do_x failed: AttributeError: 'NoneType' object has no attribute 'split'"
    assert f"ERROR: Task foo:do_x failed: {line}\n" in err
    assert "Traceback" not in err and "Traceback" not in log
    assert f"ERROR: {line}\n" in log


def test_debug_puts_the_full_traceback_in_the_task_log(tmp_path: Path, lb: Runner) -> None:
    assert DEBUG_ENV not in os.environ
    _err, log = _python_task_failure(tmp_path, lb, "--debug")
    recipe = tmp_path / "meta-t/recipes/foo/foo_1.0.bb"
    assert "Traceback (most recent call last):" in log
    assert f'File "{recipe}", line 4, in do_x\n    first = names.split()[0]' in log
    assert DEBUG_ENV not in os.environ  # the command line restores the environment it changed
