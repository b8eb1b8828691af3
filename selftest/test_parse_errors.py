"""Parse errors do not hide each other: ``-p`` reports every recipe that fails, ``-e TARGET`` shows its
recipe when another one fails, and every command that parses exits 1 when any recipe failed."""

from __future__ import annotations

from pathlib import Path

from conftest import CORE_RECIPES, CORE_TARGETS, Runner, make_build, make_layer

RECIPES = {
    "recipes/good/good_1.0.bb": 'SUMMARY = "good"\nGOOD_MARK = "here"\n',
    "recipes/bad/bad_1.0.bb": 'SUMMARY = "bad"\nrequire missing.inc\n',
    "recipes/worse/worse_1.0.bb": 'SUMMARY = "worse"\nX = "unclosed\n',
}


def _build(tmp_path: Path) -> tuple[Path, Path]:
    layer = make_layer(tmp_path, "p", RECIPES)
    return layer, make_build(tmp_path, [layer])


def _errors(layer: Path) -> list[str]:
    return [f"{layer}/recipes/bad/bad_1.0.bb:2: error: could not require file missing.inc",
            f"{layer}/recipes/worse/worse_1.0.bb:2: error: unparsed line: 'X = \"unclosed'"]


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "error: " in line and not line.startswith(" ")]


def test_parse_reports_every_failing_recipe_and_counts_them(tmp_path: Path, lb: Runner) -> None:
    layer, build = _build(tmp_path)
    status, out, err = lb("-B", str(build), "-p")
    assert status == 1
    total = CORE_RECIPES + 3
    assert out == f"Parsing of {total} .bb files complete (0 cached, {total} parsed). {total - 2 + CORE_TARGETS - CORE_RECIPES} targets, " \
        "0 skipped, 0 masked, 2 errors.\n"
    assert _error_lines(err) == _errors(layer)
    assert "Traceback" not in err
    # the recipes that parsed come from the cache next time; the failing ones are read (and reported) again
    status, out, again = lb("-B", str(build), "-p")
    assert status == 1 and f"({total - 2} cached, 2 parsed)" in out and _error_lines(again) == _errors(layer)


def test_environment_of_a_recipe_that_parses_while_others_fail(tmp_path: Path, lb: Runner) -> None:
    layer, build = _build(tmp_path)
    status, out, err = lb("-B", str(build), "-e", "good")
    assert status == 1
    assert 'GOOD_MARK="here"' in out.splitlines() and 'PN="good"' in out.splitlines()
    assert _error_lines(err) == _errors(layer)


def test_environment_of_a_recipe_that_fails_is_its_error(tmp_path: Path, lb: Runner) -> None:
    layer, build = _build(tmp_path)
    status, out, err = lb("-B", str(build), "-e", "bad")
    assert status == 1 and out == ""
    assert _error_lines(err) == _errors(layer)
    # an unknown target: the failures (it may be among them) and the target's own error
    status, out, err = lb("-B", str(build), "-e", "nosuch")
    assert status == 1 and out == ""
    assert _error_lines(err) == [*_errors(layer), "error: nothing provides 'nosuch' (target)"]


def test_a_build_stops_before_any_task_when_a_recipe_fails(tmp_path: Path, lb: Runner) -> None:
    layer, build = _build(tmp_path)
    status, _out, err = lb("-B", str(build), "good")
    assert status == 1
    assert _error_lines(err) == _errors(layer)
    assert not (build / "tmp" / "work").exists()


def test_show_recipes_lists_what_parsed_and_reports_the_rest(tmp_path: Path, lb: Runner) -> None:
    layer, build = _build(tmp_path)
    status, out, err = lb("-B", str(build), "show-recipes", "good", "bad", tool="layers")
    assert status == 1
    assert out == "=== Available recipes: ===\ngood:\n  p                    1.0\n"
    assert _error_lines(err) == _errors(layer)


def test_parse_counts_variants_as_targets_and_failing_files_as_errors(tmp_path: Path, lb: Runner) -> None:
    from test_variants import NATIVE, ZLIB, _counts, _env

    # a file with variants parses to three targets; a failing one (variants and all) gives none, one error
    layer = make_layer(tmp_path, "p", {**RECIPES, "classes/native.bbclass": NATIVE,
                                       "classes/nativesdk.bbclass": 'CLASSOVERRIDE = "class-nativesdk"\n',
                                       "recipes/zlib/zlib_1.3.bb": ZLIB,
                                       "recipes/bad/bad_1.0.bb": 'BBCLASSEXTEND = "native"\nrequire missing.inc\n'})
    build = make_build(tmp_path, [layer])
    status, out, err = lb("-B", str(build), "-p")
    assert status == 1
    files = CORE_RECIPES + 4
    assert _counts(out) == (files, CORE_TARGETS + 1 + 3, 0) and out.endswith(" 2 errors.\n"), out
    assert _error_lines(err) == [f"{layer}/recipes/bad/bad_1.0.bb:2: error: could not require file missing.inc",
                                 _errors(layer)[1]]
    # a variant is shown while other files fail, and the failures follow
    status, out, err = lb("-B", str(build), "-e", "zlib-native")
    assert status == 1 and _env(out)["PN"] == "zlib-native"
    assert len(_error_lines(err)) == 2
