"""Parse-time events reach addhandler handlers as BitBake calls them: handler(e, d), with e.fn."""

from __future__ import annotations

from pathlib import Path

from conftest import Runner, make_build, make_layer

HANDLER = '''python seen_handler() {
    d.appendVar("SEEN", " %s:%s" % (bb.event.getName(e) if hasattr(bb.event, "getName") else type(e).__name__,
                                    os.path.basename(e.fn)))
}
addhandler seen_handler
seen_handler[eventmask] = "bb.event.RecipePreDeferredInherits bb.event.RecipeParsed"
'''


def test_handlers_get_event_and_datastore(tmp_path: Path, lb: Runner) -> None:
    layer = make_layer(tmp_path, "ev", {"classes/seen.bbclass": HANDLER,
                                        "recipes/foo/foo_1.0.bb": "inherit seen\n"})
    build = make_build(tmp_path, [layer])
    status, out, err = lb("-B", str(build), "-e", "foo")
    assert status == 0, err
    assert 'SEEN=" RecipePreDeferredInherits:foo_1.0.bb RecipeParsed:foo_1.0.bb"' in out.splitlines()


def test_scheduler_events_carry_task_ids(tmp_path: Path) -> None:
    from layerbuild.engine.events import (
        BuildFinished,
        BuildStarted,
        TaskFailed,
        TaskSkipped,
        TaskStarted,
        TaskSucceeded,
    )
    from layerbuild.engine.plan import make_plan
    from layerbuild.engine.runqueue import RunQueue
    from layerbuild.engine.taskgraph import TaskId, build_graph
    from layerbuild.session import parse_recipes, signatures_of, start_configuration
    recipes = {
        "recipes/ok/ok_1.0.bb": 'INHIBIT_DEFAULT_DEPS = "1"\nLICENSE = "MIT"\n'
                                'python do_fetch() {\n    pass\n}\naddtask two after do_fetch\n'
                                'do_two[noexec] = "1"\naddtask bad after do_two\n'
                                'do_bad() {\n    echo failing\n    exit 3\n}\naddtask last after do_bad\n'
                                'do_last[noexec] = "1"\n',
    }
    build = make_build(tmp_path, [make_layer(tmp_path, "sched", recipes)])
    config = start_configuration(str(build))
    result = parse_recipes(config)
    tg = build_graph(result.recipes, [("ok", "do_last")])
    signatures = signatures_of(config, result, {t.fn for t in tg.graph.nodes})
    events: list[object] = []
    ok = RunQueue(tg, make_plan(tg, signatures, set()), config, 1, events.append).execute()
    assert not ok
    assert isinstance(events[0], BuildStarted) and isinstance(events[-1], BuildFinished)
    task_events = [e for e in events if isinstance(e, (TaskStarted, TaskSucceeded, TaskFailed, TaskSkipped))]
    for ev in task_events:
        assert isinstance(ev.tid, TaskId) and ev.tid in tg.graph and ev.label == tg.label(ev.tid)
    by_type = {type(e).__name__: [x.tid.task for x in task_events if type(x) is type(e)] for e in task_events}
    assert by_type["TaskSucceeded"] == ["do_fetch", "do_two"]
    assert by_type["TaskSkipped"] == ["do_last"]
    failed = next(e for e in task_events if isinstance(e, TaskFailed))
    assert failed.tid.task == "do_bad" and failed.log and failed.log.startswith(str(build))
    assert "do_bad exited with status 3" in failed.reason and "failing" in "\n".join(failed.tail)


def test_task_results_reach_the_summary_after_the_counts(tmp_path: Path, lb: Runner) -> None:
    """What a task gives for the summary (TaskContext.result: a test run's counts) travels from its worker
    in the task's event, and the reporter prints it after the build's counts, for a failed task too."""
    result_task = ('python do_{name}() {{\n    import logging\n'
                   '    logging.getLogger("layerbuild.task.result").info("{name}: 3 passed, 0 failed")\n'
                   '    if d.getVar("FAIL_{name}"):\n        bb.fatal("{name} failed")\n}}\n'
                   'addtask {name}\n')
    recipes = {"recipes/ok/ok_1.0.bb": 'INHIBIT_DEFAULT_DEPS = "1"\nLICENSE = "MIT"\nFAIL_second = "1"\n'
                                       + result_task.format(name="first") + result_task.format(name="second")}
    build = make_build(tmp_path, [make_layer(tmp_path, "res", recipes)])
    status, _out, err = lb("-B", str(build), "-k", "ok:do_first", "ok:do_second")
    assert status == 1
    tail = err.split("Build failed:", 1)[1].splitlines()[1:]
    assert sorted(tail) == ["first: 3 passed, 0 failed", "second: 3 passed, 0 failed"], err
    # and in the task log, where it was written
    log = (build / "tmp/work/x86_64/ok/1.0-r0/temp/log.do_first").read_text()
    assert "first: 3 passed, 0 failed" in log


def test_reporter_prints_results_after_the_counts() -> None:
    import io

    from layerbuild.engine.events import BuildFinished, TaskSucceeded
    from layerbuild.engine.reporters import PlainReporter
    from layerbuild.engine.taskgraph import TaskId
    out = io.StringIO()
    report = PlainReporter(out)
    report(TaskSucceeded(TaskId("/r/img.bb", "do_testimage"), "img:do_testimage", 1.0,
                         ("testimage img: 2 passed, 0 failed, 1 skipped (report: /d/img.xml)", "  basic: 2 passed")))
    report(BuildFinished(1, 0, 0, 0, 0))
    assert out.getvalue().splitlines()[-3:] == [
        "Build succeeded: 1 tasks run, 0 restored from sstate, 0 up to date, 0 failed.",
        "testimage img: 2 passed, 0 failed, 1 skipped (report: /d/img.xml)", "  basic: 2 passed"]
