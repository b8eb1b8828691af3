"""taskgraph.build_graph: the tasks targets need, with an edge per reason (addtask order, [depends],
[deptask] over DEPENDS, [rdeptask] over RDEPENDS, [recrdeptask]); cycles and bad references are explained."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import Runner, make_build, make_layer

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
    # BitBake writes the epoch before the version, with its colon when it is empty
    assert '"app.do_compile" [label="app do_compile\\n:1.0-r0\\n/layer/app.bb"]' in text
    assert Path(buildlist).read_text() == "app\nlib\n"


def _choose_with(infos: list[RecipeInfo], settings: dict[str, str]) -> Recipes:
    return choose({i.fn: i for i in infos}, lambda fn: 0, settings.get)


def test_packages_dynamic_provides_a_runtime_name_no_recipe_lists() -> None:
    """BitBake's getRuntimeProviders: with no PACKAGES or RPROVIDES naming it, a name that a recipe's
    PACKAGES_DYNAMIC matches (``+`` literal) is that recipe's."""
    tools = replace(_info("tools"), packages_dynamic=("^tools-.*", "^g++-.*"))
    recipes = _recipes(_info("app", rdepends=("tools-flock", "g++-extra")), tools)
    tg = build_graph(recipes, [("app", "do_package")])
    assert (T("tools", "do_install"), T("app", "do_package")) in tg.graph.edges
    assert tg.runtime["tools-flock"] == tg.runtime["g++-extra"] == "/layer/tools.bb"


def test_runtime_names_of_the_recipe_and_preferred_rproviders() -> None:
    """RPROVIDES of the recipe (not of a package) counts; between several providers,
    PREFERRED_RPROVIDER_<name> chooses, else the provider whose PN is the name, else a provider a
    PREFERRED_PROVIDER of one of its names chose, else the first PN."""
    sh = replace(_info("sh"), rprovides=(("", ("shell",)), ("sh", ())))
    recipes = [_info("app", rdepends=("shell", "editor", "pager", "grep")), sh,
               _info("ed", rprovides=("editor",)), _info("vim", rprovides=("editor",)),
               _info("less", rprovides=("pager",)), _info("more", rprovides=("pager",), provides=("virtual/pager",)),
               _info("grep"), _info("busybox", rprovides=("grep",))]
    tg = build_graph(_choose_with(recipes, {}), [("app", "do_package")])
    assert [tg.runtime[n] for n in ("shell", "editor", "pager", "grep")] == \
        ["/layer/sh.bb", "/layer/ed.bb", "/layer/less.bb", "/layer/grep.bb"]
    tg = build_graph(_choose_with(recipes, {"PREFERRED_RPROVIDER_editor": "vim", "PREFERRED_RPROVIDER_grep": "busybox",
                                            "PREFERRED_PROVIDER_virtual/pager": "more"}), [("app", "do_package")])
    assert [tg.runtime[n] for n in ("editor", "pager", "grep")] == ["/layer/vim.bb", "/layer/more.bb", "/layer/busybox.bb"]
    assert (T("vim", "do_install"), T("app", "do_package")) in tg.graph.edges
    assert (T("ed", "do_install"), T("app", "do_package")) not in tg.graph.edges


def test_assume_provided_names_are_no_dependency() -> None:
    """ASSUME_PROVIDED (a name, or a regular expression starting with ^ or ending with $): the host
    has it; no recipe is needed for it, at build time or at run time."""
    app = _info("app", depends=("hosttool-native", "lib"), rdepends=("hostlib", "perl-module-x"))
    recipes = _choose_with([app, _info("lib")], {"ASSUME_PROVIDED": "hosttool-native hostlib ^perl-module-.*"})
    tg = build_graph(recipes, [("app", "do_build")])
    assert {tid.fn for tid in tg.graph.nodes} == {"/layer/app.bb", "/layer/lib.bb"}
    assert tg.runtime["hostlib"] is None


def test_preferred_provider_wins_over_a_recipe_of_that_name() -> None:
    """BitBake's filterProviders: PREFERRED_PROVIDER_<name> chooses even when a recipe is named <name>."""
    recipes = _choose_with([_info("app", depends=("make",)), _info("make"), _info("remake", provides=("make",))],
                           {"PREFERRED_PROVIDER_make": "remake"})
    tg = build_graph(recipes, [("app", "do_compile")])
    assert (T("remake", "do_install"), T("app", "do_compile")) in tg.graph.edges
    assert T("make", "do_install") not in tg.graph


def test_rdepends_flag_names_a_runtime_providers_task() -> None:
    tasks = (*BASE, _task("do_image", ("do_build",), 9, rdepends="shell:do_package"))
    recipes = _recipes(_info("img", tasks=tasks), _info("busybox", rprovides=("shell",)))
    tg = build_graph(recipes, [("img", "do_image")])
    assert tg.graph.edges[T("busybox", "do_package"), T("img", "do_image")]["why"] == \
        "do_image[rdepends] = shell:do_package"


def test_recrdeptask_follows_every_task_dependency_and_recideptask() -> None:
    """As BitBake's run queue: the recipes a [recrdeptask] task reaches are those of every task it needs,
    through [depends] flags too, and through the tasks its [recideptask] names."""
    img_tasks = (*BASE, _task("do_rootfs", ("do_build",), 9, recrdeptask="do_package", depends="tool:do_install"),
                 _task("do_all", (), 10, recrdeptask="do_package", recideptask="do_image"),
                 _task("do_image", (), 11, depends="extra:do_install"))
    tool_tasks = (*BASE[:3], _task("do_package", ("do_install",), 4), _task("do_build", ("do_package",), 5))
    tool_tasks = tuple(replace(t, flags=(*t.flags, ("depends", "helper:do_fetch"))) if t.name == "do_install" else t
                       for t in tool_tasks)
    recipes = _recipes(_info("img", tasks=img_tasks), _info("tool", tasks=tool_tasks), _info("helper"),
                       _info("extra"))
    tg = build_graph(recipes, [("img", "do_rootfs")])
    for pn in ("tool", "helper"):
        assert tg.graph.edges[T(pn, "do_package"), T("img", "do_rootfs")]["why"] == "do_rootfs[recrdeptask] = do_package"
    tg = build_graph(recipes, [("img", "do_all")])
    assert (T("extra", "do_package"), T("img", "do_all")) in tg.graph.edges


GRAPH_CLASS = '''
do_pack() {
    :
}
addtask pack
do_gather() {
    :
}
addtask gather
do_gather[rdeptask] = "do_pack"
'''


def test_g_reads_runtime_providers_from_the_recipes(tmp_path: Path, lb: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a parsed recipe offers at run time, as BitBake's recipe cache reads it: a recipe without
    PACKAGES (an image) is the package of its name (its RDEPENDS:${PN} counts), RPROVIDES of the recipe,
    PACKAGES_DYNAMIC; the labels carry the epoch, as ``bitbake -g`` writes them."""
    layer = make_layer(tmp_path, "graph", {
        "classes/graphtest.bbclass": GRAPH_CLASS,
        "recipes/img/img.bb": 'LICENSE = "MIT"\ninherit graphtest\nPACKAGES = ""\nRDEPENDS:${PN} = "tool-flock shell"\n',
        "recipes/tool/tool_1.0.bb": 'LICENSE = "MIT"\ninherit graphtest\nPACKAGES_DYNAMIC = "^${PN}-.*"\n',
        "recipes/sh/sh_1.0.bb": 'LICENSE = "MIT"\ninherit graphtest\nRPROVIDES = "shell"\nPE = "2"\n',
    })
    build = make_build(tmp_path, [layer])
    monkeypatch.chdir(tmp_path)
    status, out, err = lb("-B", str(build), "-g", "img", "-c", "gather")
    assert status == 0, err
    dot = (tmp_path / "task-depends.dot").read_text().splitlines()
    assert '"img.do_gather" -> "tool.do_pack"' in dot and '"img.do_gather" -> "sh.do_pack"' in dot
    assert f'"sh.do_pack" [label="sh do_pack\\n2:1.0-r0\\n{layer}/recipes/sh/sh_1.0.bb"]' in dot
    assert f'"img.do_gather" [label="img do_gather\\n:1.0-r0\\n{layer}/recipes/img/img.bb"]' in dot


def test_recrdeptask_leaves_out_the_recipes_own_later_tasks() -> None:
    """A recipe whose packages need its own (``${PN}-dev`` needs ``${PN}``): a [recrdeptask] on a task that
    runs before the named one does not wait for the recipe's own, which would be a cycle."""
    tasks = (_task("do_fetch"), _task("do_sysroot", ("do_fetch",), 2, recrdeptask="do_install"),
             _task("do_install", ("do_sysroot",), 3))
    tg = build_graph(_recipes(_info("app", depends=("lib",), rdepends=("app",), tasks=tasks), _info("lib")),
                     [("app", "do_install")])
    assert (T("lib", "do_install"), T("app", "do_sysroot")) in tg.graph.edges
    assert (T("app", "do_install"), T("app", "do_sysroot")) not in tg.graph.edges
