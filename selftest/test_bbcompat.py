"""Small BitBake behaviours that metadata and BitBake's own tests rely on.

``bb.data.createCopy``, ``bb.data.expandKeys`` and ``bb.build.listtasks`` (their cases follow BitBake's
``lib/bb/tests/data.py`` and ``parse.py``), the key-expansion warning in BitBake's words, and ``-e`` output
that a shell can source without running anything.
"""

from __future__ import annotations

import ast
import logging
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import CORE, LAYER_CONF, Runner, make_build, make_layer

from layerbuild.engine.datastore import DataStore
from layerbuild.engine.envdump import escape_value
from layerbuild.engine.evaluate import Evaluator, new_datastore
from layerbuild.engine.recipe import parse_recipe


def _bb(d: DataStore) -> Any:
    return d.pyglobals["bb"]


def _parse(tmp_path: Path, text: str) -> DataStore:
    (tmp_path / "classes").mkdir()
    (tmp_path / "classes" / "base.bbclass").write_text("")
    recipe = tmp_path / "recipe_1.0.bb"
    recipe.write_text(text)
    d = new_datastore()
    d.setVar("BBPATH", str(tmp_path))
    return parse_recipe(d, Evaluator(), str(recipe))


def test_create_copy_is_independent_and_sees_its_own_overrides() -> None:
    d = new_datastore()
    d.setVar("OVERRIDES", "base")
    d.setVar("A", "plain")
    d.setVar("A:extra", "overridden")
    copy = _bb(d).data.createCopy(d)
    copy.setVar("OVERRIDES", "base:extra")
    copy.setVar("B", "only in the copy")
    assert copy.getVar("A") == "overridden"
    assert d.getVar("A") == "plain" and d.getVar("B") is None


def test_create_copy_from_anonymous_python(tmp_path: Path) -> None:
    d = _parse(tmp_path, 'A = "1"\npython () {\n    local = bb.data.createCopy(d)\n    local.setVar("A", "2")\n'
                         '    d.setVar("SEEN", local.getVar("A") + d.getVar("A"))\n}\n')
    assert d.getVar("SEEN") == "21" and d.getVar("A") == "1"


def test_expand_keys_warns_in_bitbakes_words(caplog: pytest.LogCaptureFixture) -> None:
    # BitBake's DataExpansions.test_keyexpand
    d = new_datastore()
    d.setVar("FOO", "foo")
    d.setVar("BAR", "foo")
    d.setVar("VAL_${FOO}", "A")
    d.setVar("VAL_${BAR}", "B")
    logger = logging.getLogger("layerbuild")
    propagate, logger.propagate = logger.propagate, True
    try:
        with caplog.at_level(logging.WARNING, logger="layerbuild"):
            _bb(d).data.expandKeys(d)
    finally:
        logger.propagate = propagate
    assert "Variable key VAL_${FOO} (A) replaces original key VAL_foo (B)." in caplog.text
    assert d.getVar("VAL_foo") == "A"
    assert "VAL_${FOO}" not in d and "VAL_${BAR}" not in d


def test_expand_keys_reads_names_from_readdata() -> None:
    alter = new_datastore()
    alter.setVar("X_${WHO}", "value")
    read = new_datastore()
    read.setVar("WHO", "me")
    _bb(alter).data.expandKeys(alter, read)
    assert alter.getVar("X_me") == "value"


def test_listtasks_after_addtask_and_deltask(tmp_path: Path) -> None:
    # BitBake's ParseTest.test_parse_addtask_deltask
    text = '''
addtask do_patch after do_foo after do_unpack before do_configure before do_compile
addtask do_fetch2 do_patch2

addtask do_myplaintask
addtask do_myplaintask2
deltask do_myplaintask2
addtask do_mytask# comment
addtask do_mytask2 # comment2
addtask do_mytask3
deltask do_mytask3# comment
deltask do_mytask4 # comment2

# Ensure a missing task prefix on after works
addtask do_mytask5 after mytask

MYVAR = "do_patch"
EMPTYVAR = ""
deltask do_fetch ${MYVAR} ${EMPTYVAR}
deltask ${EMPTYVAR}
'''
    d = _parse(tmp_path, text)
    assert _bb(d).build.listtasks(d) == ("do_fetch2", "do_patch2", "do_myplaintask", "do_mytask", "do_mytask2",
                                         "do_mytask5")
    assert d.getVarFlag("do_mytask5", "deps") == ["do_mytask"]


@pytest.mark.parametrize("value", ['a"b', "x `id` $(id) ${X}", "tail\\", 'a\\"b', "c:\\dir\\n", "a\\\\b",
                                   "`touch pwned`", "two\nlines"])
def test_escaped_values_read_back_unchanged_and_run_nothing(value: str, tmp_path: Path) -> None:
    script = f'V="{escape_value(value)}"\nprintf %s "$V"\n'
    got = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert got == value.replace("\n", " ")  # a newline continues the line, as BitBake's emit_var writes it
    assert not (tmp_path / "pwned").exists()


def test_escaping_matches_bitbake_where_bitbake_is_safe() -> None:
    # BitBake's emit_var: '"' and '$' escaped, a newline becomes ' \' and a newline; layerbuild adds backticks
    assert escape_value('say "$HOME"\nnext') == 'say \\"\\$HOME\\" \\\nnext'
    assert escape_value("run `id`") == "run \\`id\\`"
    assert escape_value("c:\\dir") == "c:\\dir"  # a backslash before an ordinary character stays as it is


def test_environment_output_can_be_sourced(tmp_path: Path, lb: Runner) -> None:
    recipe = 'SUMMARY = "uses `uname` and $(id)"\nexport GREETING = "hello `touch pwned` \\"\n'
    layer = make_layer(tmp_path, "env", {"recipes/foo/foo_1.0.bb": recipe})
    build = make_build(tmp_path, [layer])
    status, out, err = lb("-B", str(build), "-e", "foo")
    assert status == 0, err
    lines = sorted(line for line in out.splitlines() if line.startswith(("SUMMARY=", "export GREETING=")))
    assert lines == ['SUMMARY="uses \\`uname\\` and \\$(id)"', 'export GREETING="hello \\`touch pwned\\` \\\\"']
    script = "\n".join(lines) + '\nprintf "%s|%s" "$SUMMARY" "$GREETING"\n'
    got = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert got == "uses `uname` and $(id)|hello `touch pwned` \\"
    assert not (tmp_path / "pwned").exists()


def test_dangling_export_functions_fail_only_the_task_that_runs_them(tmp_path: Path, lb: Runner) -> None:
    """BitBake accepts an EXPORT_FUNCTIONS of a function the class lacks and fails only when that task
    runs: the recipe still parses (with a warning) and its other tasks build."""
    layer = make_layer(tmp_path, "x", {
        "classes/half.bbclass": "half_do_y() {\n    echo y-ran\n}\nEXPORT_FUNCTIONS do_x do_y\n",
        "recipes/foo/foo_1.0.bb": "inherit half\naddtask do_x\naddtask do_y\n"})
    build = make_build(tmp_path, [layer])
    status, out, err = lb("-B", str(build), "-p")
    assert status == 0, err
    assert f"WARNING: {layer}/classes/half.bbclass:4: EXPORT_FUNCTIONS names do_x, but half_do_x is not defined" in err
    status, _out, err = lb("-B", str(build), "foo:do_y")
    assert status == 0, err
    assert "y-ran" in (build / "tmp/work/x86_64/foo/1.0-r0/temp/log.do_y").read_text()
    status, _out, err = lb("-B", str(build), "foo:do_x")
    assert status == 1
    assert f"{layer}/classes/half.bbclass:4: error: EXPORT_FUNCTIONS names do_x, but half_do_x is not defined" in err


def test_comprehensions_generators_and_lambdas_in_expressions_see_d(tmp_path: Path) -> None:
    # BitBake runs ${@...} with d among the globals, which nested scopes see (its locals they do not)
    d = _parse(tmp_path, 'PKGS = "a b"\nSUFFIX = "-dev"\n'
                         'LIST = "${@\' \'.join([p + d.getVar(\'SUFFIX\') for p in d.getVar(\'PKGS\').split()])}"\n'
                         'GEN = "${@\' \'.join(p + d.getVar(\'SUFFIX\') for p in \'x y\'.split())}"\n'
                         'LAMBDA = "${@\' \'.join(map(lambda p: d.expand(\'${SUFFIX}\') + p, [\'1\']))}"\n'
                         'SETS = "${@sorted({k: d.getVar(k) for k in [\'SUFFIX\']}.items())}"\n')
    assert (d.getVar("LIST"), d.getVar("GEN"), d.getVar("LAMBDA")) == ("a-dev b-dev", "x-dev y-dev", "-dev1")
    assert d.getVar("SETS") == "[('SUFFIX', '-dev')]"
    # d is this datastore's while its expression runs, and no global of the recipe's Python afterwards
    copy = d.createCopy()
    copy.setVar("SUFFIX", "-copy")
    assert copy.getVar("LIST") == "a-copy b-copy" and d.getVar("LIST") == "a-dev b-dev"
    assert "d" not in d.pyglobals and "d" not in copy.pyglobals


def test_has_overrides_sees_conditional_variants_active_or_not(tmp_path: Path) -> None:
    d = _parse(tmp_path, 'OVERRIDES = "on"\nA:off = "x"\nB = "plain"\nC:on = "y"\nD:append:off = " z"\n'
                         "python () {\n    d.setVar('SEEN', ' '.join(v for v in 'A B C D E'.split() "
                         "if d.hasOverrides(v)))\n}\n")
    assert d.getVar("SEEN") == "A C"


def test_a_value_filter_rewrites_the_expanded_value_and_its_overrides() -> None:
    d = new_datastore()
    bb = _bb(d)

    @bb.filter.filter_proc(name="test_filters.native")
    def native(val: str, suffix: str) -> str:
        return " ".join(w if w.endswith(suffix) else w + suffix for w in val.split())

    d.setVar("OVERRIDES", "extra")
    d.setVar("DEPENDS", "zlib ${LIBS}")
    d.setVar("LIBS", "xz")
    d.setVar("DEPENDS:append", " bzip2-native")
    d.setVar("RDEPENDS:pkg", "keep")
    assert d.getVar("DEPENDS") == "zlib xz bzip2-native"
    d.setVarFilter("DEPENDS", "test_filters.native(val, '-native')")
    d.setVarFilter("RDEPENDS", "prefix(sort(val), 'lib')")
    assert d.getVar("DEPENDS") == "zlib-native xz-native bzip2-native"
    assert d.getVar("DEPENDS", False) == "zlib ${LIBS} bzip2-native"
    assert d.getVar("RDEPENDS:pkg") == "libkeep"
    copy = d.createCopy()
    copy.setVar("DEPENDS:extra", "m4")
    assert copy.getVar("DEPENDS") == "m4-native bzip2-native"
    d.setVarFilter("DEPENDS", None)
    assert d.getVar("DEPENDS") == "zlib xz bzip2-native" and copy.getVar("DEPENDS") == "m4-native bzip2-native"
    # filters call only what is registered for them: no builtins, no imports
    d.setVarFilter("LIBS", "__import__('os').getcwd()")
    with pytest.raises(Exception, match="__import__"):
        d.getVar("LIBS")


def test_bb_origenv_holds_the_whole_environment(tmp_path: Path, lb: Runner,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # BitBake keeps the environment it started in as a datastore; only approved names become variables
    monkeypatch.setenv("LB_TEST_ORIGIN", "from the shell")
    recipe = ('python () {\n    env = d.getVar("BB_ORIGENV", False)\n'
              '    d.setVar("SEEN", "%s|%s" % (env.getVar("LB_TEST_ORIGIN"), env.getVar("NOT_SET_ANYWHERE")))\n}\n')
    layer = make_layer(tmp_path, "env", {"recipes/foo/foo_1.0.bb": recipe})
    build = make_build(tmp_path, [layer])
    status, out, err = lb("-B", str(build), "-e", "foo")
    assert status == 0, err
    assert 'SEEN="from the shell|None"' in out.splitlines()
    assert not any(line.startswith("LB_TEST_ORIGIN=") for line in out.splitlines())


def test_the_environment_a_build_sees_is_bitbakes(tmp_path: Path, lb: Runner,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # bb.utils.approved_variables: BitBake's preserved list (PWD among them, exported), not LANG or
    # TERM; BB_ENV_PASSTHROUGH replaces the list, BB_PRESERVE_ENV keeps every variable
    monkeypatch.setenv("LANG", "xx_XX.UTF-8")
    monkeypatch.setenv("TERM", "test-term")
    monkeypatch.setenv("PWD", "/test/pwd")
    monkeypatch.setenv("LB_TEST_ONLY", "listed")
    monkeypatch.delenv("BB_ENV_PASSTHROUGH_ADDITIONS", raising=False)
    monkeypatch.delenv("BB_ENV_PASSTHROUGH", raising=False)
    monkeypatch.delenv("BB_PRESERVE_ENV", raising=False)
    build = make_build(tmp_path, [make_layer(tmp_path, "cfg", {})])

    def names() -> set[str]:
        status, out, err = lb("-B", str(build), "-e")
        assert status == 0, err
        return {line.split("=", 1)[0] for line in out.splitlines() if "=" in line and not line.startswith("#")}

    seen = names()
    assert "export PWD" in seen and "export HOME" in seen
    assert not {"LANG", "TERM", "LB_TEST_ONLY", "export LANG", "export TERM"} & seen
    monkeypatch.setenv("BB_ENV_PASSTHROUGH", "LB_TEST_ONLY TERM")
    seen = names()
    assert {"LB_TEST_ONLY", "TERM", "BB_ENV_PASSTHROUGH"} <= seen and "export PWD" not in seen
    monkeypatch.delenv("BB_ENV_PASSTHROUGH")
    monkeypatch.setenv("BB_PRESERVE_ENV", "1")
    assert {"LANG", "TERM", "LB_TEST_ONLY", "export PWD", "BB_PRESERVE_ENV"} <= names()


def test_the_configuration_ends_as_bitbakes_does(tmp_path: Path, lb: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    # BitBake's cooker: FILE is bblayers.conf after the layers and the base configuration; the variables
    # it exports when it takes them from the environment are exported; BB_ENV_PASSTHROUGH_ADDITIONS
    # is a variable itself; BB_CACHEDIR defaults to ${TOPDIR}/cache
    monkeypatch.setenv("SHELL", "/bin/test-shell")
    monkeypatch.setenv("BB_ENV_PASSTHROUGH_ADDITIONS", "LB_TEST_EXTRA")
    monkeypatch.setenv("LB_TEST_EXTRA", "extra")
    build = make_build(tmp_path, [make_layer(tmp_path, "cfg", {})])
    status, out, err = lb("-B", str(build), "-e")
    assert status == 0, err
    lines = out.splitlines()
    assert f'FILE="{build}/conf/bblayers.conf"' in lines and f'THISDIR="{build}/conf"' in lines
    assert 'export SHELL="/bin/test-shell"' in lines
    assert 'BB_ENV_PASSTHROUGH_ADDITIONS="LB_TEST_EXTRA"' in lines and 'LB_TEST_EXTRA="extra"' in lines
    assert f'BB_CACHEDIR="{build}/cache"' in lines
    at = lines.index('export SHELL="/bin/test-shell"')
    assert lines[at - 6:at - 2] == ["#   from env <environment>:0", '#     "/bin/test-shell"',
                                    "#   auto env export <environment>:0", '#     [export] "True"']


# -- what BitBake's finalisation leaves in the datastore ---------------------------------------------


def _bitbake_tree(tmp_path: Path, recipe: str, conf: str = "") -> tuple[Path, Path]:
    """A tree read through conf/bitbake.conf (no layerbuild.conf): one layer, one recipe foo."""
    ns = f"lbinc_{uuid.uuid4().hex[:8]}"
    core = make_layer(tmp_path, "bbcore", layer_conf=LAYER_CONF.format(name="bbcore", priority=5)
                     + 'LAYERSERIES_CORENAMES = "alder"\n', files={
        "conf/bitbake.conf": 'require conf/distro.conf\ninclude conf/missing.conf\n'
                             'PN = "${@bb.parse.vars_from_file(d.getVar(\'FILE\', False),d)[0] or \'none\'}"\n'
                             'PV = "1.0"\nPR = "r0"\n' + f"addpylib ${{TOPDIR}}/../meta-bbcore/lib {ns}\n" + conf,
        "conf/distro.conf": 'TMPDIR = "${TOPDIR}/tmp"\n',
        f"lib/{ns}/__init__.py": "",
        "classes/base.bbclass": 'FROM_BASE = "1"\n',
        "classes/tool.bbclass": 'FROM_TOOL = "1"\n',
        "recipes/foo/foo.inc": 'FROM_INC = "1"\n',
        "recipes/foo/foo_1.0.bb": recipe,
    })
    return core, make_build(tmp_path, [core], core=False)


def _value(out: str, name: str) -> str:
    found = [line.split("=", 1)[1] for line in out.splitlines() if line.startswith(f"{name}=")]
    assert len(found) == 1, f"{name} not in the output"
    return found[0][1:-1]


def test_bbincluded_names_the_files_the_parse_read_and_looked_for(tmp_path: Path, lb: Runner) -> None:
    # BitBake's bb.parse.get_file_depends: each include's candidates (the including file's directory,
    # then BBPATH) up to the one found, a class's along BBPATH in classes-TYPE/ then classes/; the
    # configuration's files, then the recipe's; no Python library file, nothing BitBake would not look for
    recipe = ('require foo.inc\ninherit tool\n'
              'python () {\n    d.setVar("SEEN", bb.parse.get_file_depends(d).split()[0])\n}\n')
    core, build = _bitbake_tree(tmp_path, recipe)
    status, out, err = lb("-B", str(build), "-e")
    assert status == 0, err
    config = [f"{build}/conf/bblayers.conf", f"{core}/conf/layer.conf",
              f"{build}/conf/bitbake.conf", f"{core}/conf/bitbake.conf",
              f"{core}/conf/conf/distro.conf", f"{build}/conf/distro.conf", f"{core}/conf/distro.conf",
              f"{core}/conf/conf/missing.conf", f"{build}/conf/missing.conf", f"{core}/conf/missing.conf",
              f"{build}/classes-global/base.bbclass", f"{core}/classes-global/base.bbclass",
              f"{build}/classes/base.bbclass", f"{core}/classes/base.bbclass"]
    assert _value(out, "BBINCLUDED").split() == config
    status, out, err = lb("-B", str(build), "-e", "foo")
    assert status == 0, err
    assert _value(out, "BBINCLUDED").split() == config + [
        f"{core}/recipes/foo/foo_1.0.bb", f"{core}/recipes/foo/foo.inc",
        f"{build}/classes-recipe/tool.bbclass", f"{core}/classes-recipe/tool.bbclass",
        f"{build}/classes/tool.bbclass", f"{core}/classes/tool.bbclass"]
    assert _value(out, "SEEN") == f"{build}/conf/bblayers.conf"


def test_task_deps_holds_each_tasks_flags_and_parents(tmp_path: Path, lb: Runner) -> None:
    # bb.build.add_tasks: the tasks in order, the tasks each comes after, and the dependency flags
    # each sets, expanded; with BB_RECIPE_VIRTUAL_PROVIDERS set, every task's [depends] is rewritten to
    # its expanded words (empty where it had none)
    recipe = ('DEP = "bar"\ndo_a[depends] = "${DEP}:do_x   virtual/cc:do_populate_sysroot"\n'
              'do_a[nostamp] = "1"\ndo_c[umask] = "022"\ndo_c[rdeptask] = "do_${DEP}"\n'
              'python do_a() {\n    pass\n}\ndo_b() {\n    :\n}\ndo_c() {\n    :\n}\n'
              'addtask a\naddtask b after do_a\naddtask c before do_b after do_a\n')
    conf = 'BB_RECIPE_VIRTUAL_PROVIDERS = "virtual/cc"\nPREFERRED_PROVIDER_virtual/cc = "cc-target"\n'
    _core, build = _bitbake_tree(tmp_path, recipe, conf)
    status, out, err = lb("-B", str(build), "-e", "foo")
    assert status == 0, err
    empty: dict[str, str] = {}
    assert ast.literal_eval(_value(out, "_task_deps")) == {
        "tasks": ["do_a", "do_b", "do_c"],
        # (a task's "before" goes first, as BitBake's addtask puts it)
        "parents": {"do_a": [], "do_b": ["do_c", "do_a"], "do_c": ["do_a"]},
        "mcdepends": empty,
        "depends": {"do_a": "bar:do_x cc-target:do_populate_sysroot", "do_b": "", "do_c": ""},
        "rdepends": empty, "deptask": empty, "rdeptask": {"do_c": "do_bar"}, "recrdeptask": empty,
        "recideptask": empty, "nostamp": {"do_a": "1"}, "fakeroot": empty, "noexec": empty,
        "umask": {"do_c": "022"}}


def test_date_and_time_come_from_the_base_configuration(tmp_path: Path, lb: Runner) -> None:
    # BitBake sets neither: OE's bitbake.conf does, as layerbuild.conf does
    _core, build = _bitbake_tree(tmp_path / "bb", "")
    status, out, err = lb("-B", str(build), "-e")
    assert status == 0, err
    assert not [line for line in out.splitlines() if line.startswith(("DATE=", "TIME="))]
    before = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    status, out, err = lb("-B", str(make_build(tmp_path / "lb", [])), "-e")
    assert status == 0, err
    after = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    assert before <= _value(out, "DATE") + _value(out, "TIME") == _value(out, "DATETIME") <= after
    assert f"#   immediate {CORE}/conf/layerbuild.conf:" in out.split("\nDATE=")[0].rsplit("# $DATE", 1)[1]
