"""taskgraph.build_graph: the tasks targets need, with an edge per reason (addtask order, [depends],
[deptask] over DEPENDS, [rdeptask] over RDEPENDS, [recrdeptask]); cycles and bad references are explained."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from layerbuild.engine.providers import Recipes, choose
from layerbuild.engine.recipe import RecipeInfo, TaskInfo
from layerbuild.engine.taskgraph import TaskId, build_graph, write_dot
from layerbuild.util.errors import Location, TargetError


def _task(name: str, after: tuple[str, ...] = (), line: int = 1, **flags: Any) -> TaskInfo:
    items = [("deps", after), ("_addtask_loc", ("classes/base.bbclass", line)), *flags.items()]
    return TaskInfo(name, tuple(items))


#: The recipe tasks of a tiny base class: fetch -> compile -> install -> build, package after install.
BASE = (
    _task("do_fetch"),
    _task("do_compile", ("do_fetch",), 2, deptask="do_install"),
    _task("do_install", ("do_compile",), 3),
    _task("do_package", ("do_install",), 4, rdeptask="do_install"),
    _task("do_build", ("do_compile", "do_package"), 5),
)


def _info(pn: str, depends: tuple[str, ...] = (), rdepends: tuple[str, ...] = (), rprovides: tuple[str, ...] = (),
          tasks: tuple[TaskInfo, ...] = BASE, provides: tuple[str, ...] = ()) -> RecipeInfo:
    fn = f"/layer/{pn}.bb"
    return RecipeInfo(fn=fn, appends=(), pn=pn, pv="1.0", pe="", pr="r0", provides=(pn, *provides),
                      depends=depends, packages=(pn, f"{pn}-dev"), rdepends=((pn, rdepends),), rrecommends=(),
                      rprovides=((pn, rprovides),), tasks=tasks, skipped=None,
                      locations=(("DEPENDS", fn, 7), ("RDEPENDS", fn, 8)))


def _recipes(*infos: RecipeInfo) -> Recipes:
    return choose({i.fn: i for i in infos}, lambda fn: 0, lambda name: None)


def T(pn: str, task: str) -> TaskId:  # noqa: N802
    return TaskId(f"/layer/{pn}.bb", task)


def test_addtask_order_within_a_recipe_and_only_what_the_target_needs() -> None:
    tg = build_graph(_recipes(_info("a")), [("a", "install")])
    assert tg.targets == [T("a", "do_install")]
    assert set(tg.graph.nodes) == {T("a", "do_fetch"), T("a", "do_compile"), T("a", "do_install")}
    edge = tg.graph.edges[T("a", "do_compile"), T("a", "do_install")]
    assert edge == {"why": "addtask do_install after do_compile", "loc": Location("classes/base.bbclass", 3)}
    assert tg.label(T("a", "do_fetch")) == "a:do_fetch"


def test_deptask_follows_depends_through_provided_names() -> None:
    tg = build_graph(_recipes(_info("app", depends=("virtual/lib",)), _info("lib", provides=("virtual/lib",))),
                     [("app", "do_compile")])
    edge = tg.graph.edges[T("lib", "do_install"), T("app", "do_compile")]
    assert edge == {"why": "do_compile[deptask] over DEPENDS", "loc": Location("/layer/app.bb", 7)}
    assert T("lib", "do_compile") in tg.graph  # what lib's do_install needs comes along


def test_rdeptask_follows_runtime_dependencies_through_packages_and_rprovides() -> None:
    recipes = _recipes(_info("app", rdepends=("lib-dev", "shell")), _info("lib"), _info("busybox", rprovides=("shell",)))
    tg = build_graph(recipes, [("app", "do_package")])
    assert tg.graph.edges[T("lib", "do_install"), T("app", "do_package")]["why"] == "do_package[rdeptask] over RDEPENDS"
    assert (T("busybox", "do_install"), T("app", "do_package")) in tg.graph.edges
    assert tg.runtime["shell"] == "/layer/busybox.bb" and tg.runtime["lib-dev"] == "/layer/lib.bb"


def test_a_missing_runtime_dependency_names_where_it_was_asked_for() -> None:
    with pytest.raises(TargetError) as info:
        build_graph(_recipes(_info("app", rdepends=("nothere",))), [("app", "do_package")])
    assert info.value.message == "nothing provides runtime dependency 'nothere' (in RDEPENDS:app)"
    assert info.value.location == Location("/layer/app.bb", 8)


def test_depends_flag_names_another_recipes_task() -> None:
    tasks = (*BASE, _task("do_image", ("do_build",), 9, depends="tools:do_install"))
    tg = build_graph(_recipes(_info("img", tasks=tasks), _info("tools")), [("img", "do_image")])
    assert tg.graph.edges[T("tools", "do_install"), T("img", "do_image")]["why"] == \
        "do_image[depends] = tools:do_install"


@pytest.mark.parametrize(("entry", "message"), [
    ("tools", "img: do_image[depends] entry 'tools' is not of the form recipe:task"),
    ("tools:do_nothing", "img: do_image[depends] names tools:do_nothing, but tools has no task do_nothing"),
])
def test_bad_depends_entries(entry: str, message: str) -> None:
    tasks = (*BASE, _task("do_image", ("do_build",), 9, depends=entry))
    with pytest.raises(TargetError) as info:
        build_graph(_recipes(_info("img", tasks=tasks), _info("tools")), [("img", "do_image")])
    assert info.value.message == message
    assert info.value.location is not None and info.value.location.path == "/layer/img.bb"


def test_recrdeptask_reaches_every_recipe_below() -> None:
    tasks = (*BASE, _task("do_rootfs", ("do_build",), 9, recrdeptask="do_package"))
    recipes = _recipes(_info("img", rdepends=("app",), tasks=tasks), _info("app", depends=("lib",)), _info("lib"))
    tg = build_graph(recipes, [("img", "rootfs")])
    for pn in ("img", "app", "lib"):
        assert (T(pn, "do_package"), T("img", "do_rootfs")) in tg.graph.edges, pn


def test_unknown_task_of_a_target_lists_the_tasks() -> None:
    with pytest.raises(TargetError) as info:
        build_graph(_recipes(_info("a")), [("a", "do_deploy")])
    assert info.value.message == "a has no task do_deploy"
    assert info.value.hint == "its tasks are: do_build, do_compile, do_fetch, do_install, do_package"


def test_a_cycle_is_reported_with_each_edge_and_where_it_was_declared() -> None:
    tasks = (_task("do_a", ("do_b",), 10), _task("do_b", ("do_a",), 20))
    with pytest.raises(TargetError) as info:
        build_graph(_recipes(_info("loop", tasks=tasks)), [("loop", "do_a")])
    err = info.value
    assert err.message.startswith("dependency cycle: loop:do_")
    assert sorted(err.notes) == [
        "loop:do_a needs loop:do_b: addtask do_a after do_b (classes/base.bbclass:10)",
        "loop:do_b needs loop:do_a: addtask do_b after do_a (classes/base.bbclass:20)",
    ]


def test_write_dot_as_bitbake_g_writes_it(tmp_path: Path) -> None:
    tg = build_graph(_recipes(_info("app", depends=("lib",)), _info("lib")), [("app", "do_compile")])
    dot, buildlist = write_dot(tg, str(tmp_path))
    text = Path(dot).read_text().splitlines()
    assert text[0] == "digraph depends {" and text[-1] == "}"
    assert '"app.do_compile" -> "lib.do_install"' in text
    assert '"app.do_compile" [label="app do_compile\\n1.0-r0\\n/layer/app.bb"]' in text
    assert Path(buildlist).read_text() == "app\nlib\n"
