"""Metadata BitBake accepts is accepted: what only our packaging needs is a warning at the line when a
recipe is read, and an error only where a package that cannot be written is written (OE-core holds each
of these constructs)."""

from __future__ import annotations

from pathlib import Path

from conftest import Runner, make_build, make_layer


def _lines(text: str, start: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(start)]


def test_addtask_after_a_task_the_recipe_lacks(tmp_path: Path, lb: Runner) -> None:
    # a class that is not inherited, a task deleted: BitBake leaves the ordering out, silently; a name one
    # letter from a task of the recipe is likely a typo, and warned about
    layer = make_layer(tmp_path, "ok", {
        "recipes/tasks/tasks_1.0.bb": 'SUMMARY = "t"\ndo_x() {\n    touch ${WORKDIR}/x-ran\n}\n'
                                      'addtask do_x after do_populate_lic before do_build\n'
                                      'do_y() {\n    :\n}\naddtask do_y after do_complie\n'})
    build = make_build(tmp_path, [layer])
    status, _out, err = lb("-B", str(build), "tasks:do_x")
    assert status == 0, err
    assert _lines(err, "WARNING: ") == [
        f"WARNING: {layer}/recipes/tasks/tasks_1.0.bb:9: do_y is to run after do_complie, which is not a task of "
        "this recipe (the ordering is left out); did you mean do_compile?"]
    assert next((build / "tmp" / "work").glob("*/tasks/1.0-r0/x-ran")).is_file()
