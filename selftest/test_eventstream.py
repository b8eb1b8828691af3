"""``--log-format json``: the build's events as JSON lines, each valid against docs/events.schema.json."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from conftest import Runner, make_build, make_layer

SCHEMA = json.loads((Path(__file__).parent.parent / "docs" / "events.schema.json").read_text())

RECIPE = ('INHIBIT_DEFAULT_DEPS = "1"\nLICENSE = "MIT"\n'
          'python do_fetch() {\n    pass\n}\n'
          'addtask bad after do_fetch\n'
          'do_bad() {\n    echo about to fail\n    exit 3\n}\n'
          'addtask last after do_bad\ndo_last[noexec] = "1"\n')


def _events(text: str) -> list[dict[str, object]]:
    events = [json.loads(line) for line in text.splitlines()]
    for event in events:
        jsonschema.validate(event, SCHEMA)
    return events


@pytest.fixture
def failing_build(tmp_path: Path) -> Path:
    layer = make_layer(tmp_path, "ev", {"recipes/ok/ok_1.0.bb": RECIPE + 'SUMARY = "a typo"\n'})
    return make_build(tmp_path, [layer])


def test_a_failing_build_as_json_lines_on_stdout(failing_build: Path, lb: Runner) -> None:
    status, out, err = lb("-B", str(failing_build), "--log-format", "json", "ok:do_last")
    assert status == 1
    assert "NOTE: Running task" not in err  # stdout carries the events, the console says nothing of them
    events = _events(out)
    names = [e["event"] for e in events]
    assert names[-1] == "exit" and events[-1]["status"] == 1
    assert names.index("build_started") < names.index("task_started") < names.index("build_finished")
    recipe = str(failing_build.parent / "meta-ev" / "recipes" / "ok" / "ok_1.0.bb")
    # the typo warning names its place
    typo = next(e for e in events if e["event"] == "warning" and "SUMARY" in str(e["message"]))
    assert typo["file"] == recipe and typo["line"] == 13
    failed = [e for e in events if e["event"] == "task_failed"]
    assert len(failed) == 1
    fail = failed[0]
    assert fail["task"] == "ok:do_bad" and fail["task_name"] == "do_bad" and fail["recipe_file"] == recipe
    log = Path(str(fail["log"]))
    assert log.is_file() and log.is_relative_to(failing_build) and "about to fail" in log.read_text()
    assert "about to fail" in fail["tail"]  # type: ignore[operator]
    assert "do_bad exited with status 3" in str(fail["reason"])
    assert fail["file"] == recipe and fail["line"] == 7  # where do_bad is defined
    assert isinstance(fail["seconds"], float) and fail["seconds"] > 0
    done = {e["task"]: e for e in events if e["event"] == "task_succeeded"}
    assert "ok:do_fetch" in done
    skipped = next(e for e in events if e["event"] == "task_skipped")
    assert skipped["task"] == "ok:do_last" and "ok:do_bad" in str(skipped["reason"])
    summary = next(e for e in events if e["event"] == "build_finished")
    assert summary["status"] == "failed" and summary["failed"] == 1 and summary["skipped"] == 1


def test_a_log_file_keeps_the_console(failing_build: Path, lb: Runner, tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    status, out, err = lb("-B", str(failing_build), "--log-format", "json", "--log-file", str(log), "ok:do_last")
    assert status == 1 and out == ""
    assert "ERROR: Task ok:do_bad failed" in err and "Build failed:" in err
    events = _events(log.read_text())
    assert any(e["event"] == "task_failed" and e["task"] == "ok:do_bad" for e in events)
    assert events[-1] == {**events[-1], "event": "exit", "status": 1}


def test_an_error_that_ends_the_command_has_its_place(tmp_path: Path, lb: Runner) -> None:
    layer = make_layer(tmp_path, "bad", {"recipes/x/x_1.0.bb": 'LICENSE = "MIT"\nA = "${@1/0}"\nB := "${A}"\n'})
    build = make_build(tmp_path, [layer])
    status, out, err = lb("-B", str(build), "--log-format", "json", "x")
    assert status == 1 and "error:" in err
    events = _events(out)
    error = next(e for e in events if e["event"] == "error")
    assert error["file"] == str(layer / "recipes" / "x" / "x_1.0.bb") and error["line"] == 2
    assert events[-1]["event"] == "exit" and events[-1]["status"] == 1


def test_log_file_without_json_is_a_usage_error(tmp_path: Path, lb: Runner) -> None:
    status, _out, err = lb("-B", str(tmp_path / "b"), "--log-file", str(tmp_path / "x"), "x")
    assert status == 2 and "--log-file needs --log-format json" in err


def test_the_schema_refuses_a_malformed_event() -> None:
    good = {"schema": 1, "event": "exit", "time": 1.0, "status": 0}
    jsonschema.validate(good, SCHEMA)
    for bad in ({**good, "status": "0"}, {**good, "event": "exited"}, {**good, "extra": 1}, {**good, "schema": 2}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, SCHEMA)
