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
    from layerbuild.events import (
        BuildFinished,
        BuildStarted,
        TaskFailed,
        TaskSkipped,
        TaskStarted,
        TaskSucceeded,
    )
    from layerbuild.runqueue import RunQueue, make_plan
    from layerbuild.session import ensure_signatures, parse_recipes, start_configuration
    from layerbuild.taskgraph import TaskId, build_graph
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
    result = ensure_signatures(config, result, {t.fn for t in tg.graph.nodes})
    tg = build_graph(result.recipes, [("ok", "do_last")])
    events: list[object] = []
    ok = RunQueue(tg, make_plan(tg, set()), config, 1, events.append).execute()
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
