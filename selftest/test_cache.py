"""The parse cache: an unchanged tree re-parses nothing; a change re-parses exactly what read it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from conftest import CORE_RECIPES as C
from conftest import CORE_TARGETS as CT
from conftest import Runner, make_build, make_layer


def _counts(out: str) -> tuple[int, int]:
    m = re.search(r"\((\d+) cached, (\d+) parsed\)", out)
    assert m, out
    return int(m.group(1)), int(m.group(2))


def _tree(tmp_path: Path) -> tuple[Path, Path]:
    files = {f"recipes/r{i}/r{i}_1.0.bb": ("inherit special\n" if i % 3 == 0 else "") + f'N = "{i}"\n'
             for i in range(12)}
    files["classes/special.bbclass"] = 'SPECIAL = "1"\n'
    files["recipes/r1/r1.inc"] = 'INC = "1"\n'
    files["recipes/r1/r1_1.0.bb"] = "require r1.inc\n"
    layer = make_layer(tmp_path, "c", files)
    return layer, make_build(tmp_path, [layer])


def test_unchanged_tree_reparses_nothing(tmp_path: Path, lb: Runner) -> None:
    _layer, build = _tree(tmp_path)
    assert _counts(lb("-B", str(build), "-p")[1]) == (0, 12 + C)
    assert _counts(lb("-B", str(build), "-p")[1]) == (12 + C, 0)


def test_the_directory_the_command_runs_in_does_not_reparse(tmp_path: Path, lb: Runner,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # PWD is a variable of the build (BitBake passes it through) but, as in BitBake's configuration
    # hash, not part of what keys the parse cache
    _layer, build = _tree(tmp_path)
    monkeypatch.setenv("PWD", str(tmp_path))
    lb("-B", str(build), "-p")
    monkeypatch.setenv("PWD", str(build))
    assert _counts(lb("-B", str(build), "-p")[1]) == (12 + C, 0)


def test_changed_class_reparses_exactly_its_users(tmp_path: Path, lb: Runner) -> None:
    layer, build = _tree(tmp_path)
    lb("-B", str(build), "-p")
    (layer / "classes/special.bbclass").write_text('SPECIAL = "2"\n')
    assert _counts(lb("-B", str(build), "-p")[1]) == (8 + C, 4)
    status, out, _ = lb("-B", str(build), "-e", "r3")
    assert status == 0 and 'SPECIAL="2"' in out


def test_changed_include_reparses_its_recipe(tmp_path: Path, lb: Runner) -> None:
    layer, build = _tree(tmp_path)
    lb("-B", str(build), "-p")
    (layer / "recipes/r1/r1.inc").write_text('INC = "2"\n')
    assert _counts(lb("-B", str(build), "-p")[1]) == (11 + C, 1)


def test_touch_without_change_reparses_nothing(tmp_path: Path, lb: Runner) -> None:
    layer, build = _tree(tmp_path)
    lb("-B", str(build), "-p")
    path = layer / "classes/special.bbclass"
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert _counts(lb("-B", str(build), "-p")[1]) == (12 + C, 0)


def test_changed_local_conf_reparses_everything(tmp_path: Path, lb: Runner) -> None:
    _layer, build = _tree(tmp_path)
    lb("-B", str(build), "-p")
    with open(build / "conf/local.conf", "a") as fh:
        fh.write('EXTRA = "1"\n')
    assert _counts(lb("-B", str(build), "-p")[1]) == (0, 12 + C)


def test_new_file_earlier_in_search_path_reparses(tmp_path: Path, lb: Runner) -> None:
    layer, build = _tree(tmp_path)
    lb("-B", str(build), "-p")
    # r1 requires r1.inc, found next to it; a class in an earlier BBPATH entry shadows special.bbclass
    shadow = build / "classes"
    shadow.mkdir()
    (shadow / "special.bbclass").write_text('SPECIAL = "shadow"\n')
    assert _counts(lb("-B", str(build), "-p")[1]) == (8 + C, 4)
    status, out, _ = lb("-B", str(build), "-e", "r0")
    assert 'SPECIAL="shadow"' in out


def test_new_and_removed_recipes(tmp_path: Path, lb: Runner) -> None:
    layer, build = _tree(tmp_path)
    lb("-B", str(build), "-p")
    (layer / "recipes/r2/r2_1.0.bb").unlink()
    (layer / "recipes/new").mkdir()
    (layer / "recipes/new/new_1.0.bb").write_text("")
    status, out, _ = lb("-B", str(build), "-p")
    assert _counts(out) == (11 + C, 1) and f"{12 + CT} targets" in out


def test_corrupt_cache_is_ignored(tmp_path: Path, lb: Runner) -> None:
    _layer, build = _tree(tmp_path)
    lb("-B", str(build), "-p")
    caches = list((build / "tmp/cache").glob("recipes.*.pickle"))
    assert caches
    caches[0].write_bytes(b"\x80\x04garbage")
    status, out, _ = lb("-B", str(build), "-p")
    assert status == 0 and _counts(out) == (0, 12 + C)


def test_entries_pickled_by_workers_are_saved_and_read_back(tmp_path: Path) -> None:
    """The summaries worker processes send as the cache keeps them are saved as they are, and the next
    parse reads every recipe back from the file, equal to a parse in this process."""
    from layerbuild.session import parse_recipes, start_configuration

    files = {f"recipes/r{i}/r{i}_1.{i}.bb": f'DEPENDS = "r{i - 1}"\nSUMMARY = "recipe ${{PN}} at ${{PV}}"\n'
             for i in range(1, 30)}
    build = make_build(tmp_path, [make_layer(tmp_path, "many", files)])
    config = start_configuration(str(build))

    parallel = parse_recipes(config, jobs=2)
    assert parallel.parsed == 29 + C and parallel.cached == 0
    saved = list((build / "tmp" / "cache").glob("recipes.*.pickle"))
    assert len(saved) == 1 and saved[0].stat().st_size > 0

    again = parse_recipes(start_configuration(str(build)), jobs=2)
    serial = parse_recipes(config, jobs=1, use_cache=False)
    assert again.parsed == 0 and again.cached == 29 + C
    assert again.recipes.infos == parallel.recipes.infos == serial.recipes.infos
    assert "r6" in again.recipes.infos[again.recipes.chosen["r7"]].depends


def test_parallel_parse_matches_serial(tmp_path: Path) -> None:
    """Worker processes give the same recipe summaries and task signatures as parsing in this process."""
    from layerbuild.session import parse_recipes, signatures_of, start_configuration

    pids = tmp_path / "pids"
    pids.mkdir()
    files = {f"recipes/r{i}/r{i}_1.{i}.bb":
             f'DEPENDS = "r{i - 1}"\nX = "${{@int(d.getVar("PV").split(".")[1]) * 2}}"\n'
             "do_compile() {\n    echo ${X}\n}\n"
             "python __anonymous() {\n"
             f'    open("{pids}/" + d.getVar("PN"), "w").write(str(os.getpid()))\n'
             "}\n"
             for i in range(1, 40)}
    layer = make_layer(tmp_path, "many", files)
    build = make_build(tmp_path, [layer])
    config = start_configuration(str(build))

    serial = parse_recipes(config, jobs=1, use_cache=False)
    serial_sigs = signatures_of(config, serial, serial.recipes.infos, jobs=1)
    serial_pids = {p.read_text() for p in pids.iterdir()}
    parallel = parse_recipes(config, jobs=2, use_cache=False)
    parallel_sigs = signatures_of(config, parallel, parallel.recipes.infos, jobs=2)
    parallel_pids = {p.read_text() for p in pids.iterdir()}

    assert serial_pids == {str(os.getpid())}
    assert str(os.getpid()) not in parallel_pids and parallel_pids, "the second parse did not run in workers"
    assert serial.parsed == parallel.parsed == 39 + C
    assert serial.recipes.infos == parallel.recipes.infos
    assert serial.recipes.chosen == parallel.recipes.chosen
    r17 = serial.recipes.infos[serial.recipes.chosen["r17"]]
    assert "r16" in r17.depends
    assert serial_sigs == parallel_sigs
    assert dict(serial_sigs.recipes[r17.fn]["do_compile"].values)["X"] == '${@int(d.getVar("PV").split(".")[1]) * 2}'


def test_parse_warnings_come_back_from_the_cache(tmp_path: Path, lb: Runner) -> None:
    """A recipe read from the parse cache shows the warnings its parse gave; a line several recipes
    read gives one warning."""
    layer = make_layer(tmp_path, "w", {
        "recipes/a/a_1.0.bb": 'require own.inc\nrequire include/common.inc\n',
        "recipes/b/b_1.0.bb": 'require own.inc\nrequire include/common.inc\n',
        "recipes/a/own.inc": 'FOO:append += "x"\n',
        "recipes/b/own.inc": 'FOO:append += "x"\n',
        "include/common.inc": 'BAR:prepend .= "y"\n'})
    build = make_build(tmp_path, [layer])
    first = lb("-B", str(build), "-p")
    second = lb("-B", str(build), "-p")
    assert _counts(second[1]) == (2 + C, 0)
    warning = "WARNING: {}:1: {} is not a recommended operator combination, please replace it"
    for status, _out, err in (first, second):
        assert status == 0
        assert [line for line in err.splitlines() if line.startswith("WARNING:")] == [
            warning.format(f"{layer}/recipes/a/own.inc", "FOO:append +="),
            warning.format(f"{layer}/include/common.inc", "BAR:prepend .="),
            warning.format(f"{layer}/recipes/b/own.inc", "FOO:append +=")], err


def test_task_signatures_come_from_one_parse_of_the_graphs_recipes_then_from_the_cache(tmp_path: Path) -> None:
    """After the task graph, the recipes it needs (and only those) are parsed once more for their task
    signatures; the parse cache keeps them, so the next build parses nothing."""
    from layerbuild.engine.taskgraph import build_graph
    from layerbuild.session import parse_recipes, signatures_of, start_configuration

    parses = tmp_path / "parses"
    parses.mkdir()
    files = {f"recipes/r{i}/r{i}_1.0.bb":
             'INHIBIT_DEFAULT_DEPS = "1"\nLICENSE = "MIT"\n' + (f'DEPENDS = "r{i - 1}"\n' if i else "")
             + f'do_compile() {{\n    echo {i}\n}}\n'
             "python __anonymous() {\n"
             f'    with open("{parses}/" + d.getVar("PN"), "a") as fh:\n        fh.write("parse\\n")\n'
             "}\n"
             for i in range(5)}
    build = make_build(tmp_path, [make_layer(tmp_path, "sigs", files)])

    def count() -> dict[str, int]:
        return {p.name: len(p.read_text().splitlines()) for p in sorted(parses.iterdir())}

    config = start_configuration(str(build))
    result = parse_recipes(config, jobs=1)
    assert count() == {f"r{i}": 1 for i in range(5)}
    tg = build_graph(result.recipes, [("r2", "do_compile")])
    needed = {tid.fn for tid in tg.graph.nodes}
    assert {result.recipes.infos[fn].pn for fn in needed} == {"r0", "r1", "r2"}
    signatures = signatures_of(config, result, needed, jobs=1)
    assert count() == {"r0": 2, "r1": 2, "r2": 2, "r3": 1, "r4": 1}
    assert set(signatures.recipes) == needed
    r2 = result.recipes.chosen["r2"]
    assert dict(signatures.recipes[r2]["do_compile"].values)["do_compile"] == "    echo 2\n"

    config = start_configuration(str(build))
    again = parse_recipes(config, jobs=1)
    assert again.parsed == 0
    assert signatures_of(config, again, needed, jobs=1) == signatures
    assert count() == {"r0": 2, "r1": 2, "r2": 2, "r3": 1, "r4": 1}
