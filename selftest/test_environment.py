"""``layerbuild -e``: bitbake -e's format, with history, escaping, exports and functions."""

from __future__ import annotations

from pathlib import Path

from conftest import Runner, make_build, make_layer

RECIPE = '''SUMMARY = 'Quote " and $HOME'
FOO = "a"
FOO += "b"
FOO:append = " c"
export BAR = "exported"
MULTI = "one \\
two"
do_compile() {
    echo "${FOO}"
}
python do_hello() {
    bb.note("hello")
}
'''


def _run(tmp_path: Path, lb: Runner, *args: str) -> tuple[Path, str]:
    layer = make_layer(tmp_path, "env", {"recipes/foo/foo_1.0.bb": RECIPE})
    build = make_build(tmp_path, [layer], local='FOO:append:pn-foo = " d"\n')
    status, out, err = lb("-B", str(build), "-e", *args)
    assert status == 0, err
    return layer, out


def test_history_and_value(tmp_path: Path, lb: Runner) -> None:
    # Appends apply in the order they were made: local.conf's (configuration) before the recipe's.
    layer, out = _run(tmp_path, lb, "foo")
    recipe = layer / "recipes/foo/foo_1.0.bb"
    local = tmp_path / "build/conf/local.conf"
    block = out.split("# $FOO [", 1)[1].split("\nFOO=", 1)
    history = "# $FOO [" + block[0]
    assert history.splitlines() == [
        "# $FOO [4 operations]",
        f"#   :append[pn-foo] {local}:3",
        '#     " d"',
        f"#   set {recipe}:2",
        '#     "a"',
        f"#   append {recipe}:3",
        '#     "b"',
        f"#   :append {recipe}:4",
        '#     " c"',
        "# pre-expansion value:",
        '#   "a b d c"',
    ]
    assert block[1].startswith('"a b d c"\n')


def test_override_variant_replaces_value_as_in_bitbake(tmp_path: Path, lb: Runner) -> None:
    # FOO:pn-foo:append creates the variant FOO:pn-foo, which replaces FOO when pn-foo is active.
    layer = make_layer(tmp_path, "env", {"recipes/foo/foo_1.0.bb": RECIPE})
    build = make_build(tmp_path, [layer], local='FOO:pn-foo:append = " d"\n')
    status, out, err = lb("-B", str(build), "-e", "foo")
    assert status == 0, err
    assert 'FOO=" d c"' in out.splitlines()
    assert f"#   override[pn-foo]::append {build / 'conf/local.conf'}:3" in out


def test_escaping_export_and_functions(tmp_path: Path, lb: Runner) -> None:
    layer, out = _run(tmp_path, lb, "foo")
    lines = out.splitlines()
    assert 'SUMMARY="Quote \\" and \\$HOME"' in lines
    assert 'export BAR="exported"' in lines
    assert 'MULTI="one two"' in lines
    recipe = layer / "recipes/foo/foo_1.0.bb"
    assert f"# line: 8, file: {recipe}\ndo_compile() {{\n    echo \"a b d c\"\n}}\n" in out
    assert "\npython do_hello () {\n    bb.note(\"hello\")\n}\n" in out


def test_global_environment_without_target(tmp_path: Path, lb: Runner) -> None:
    _layer, out = _run(tmp_path, lb)
    assert 'MACHINE="genericx86-64"' in out.splitlines()
    assert "FOO=" not in out
    assert f"#   set {tmp_path / 'build/conf/local.conf'}:1\n#     [_defaultval] \"genericx86-64\"" in out
