"""Layers and recipe selection: priorities, PREFERRED_VERSION, bbappends, BBMASK, BBFILES_DYNAMIC."""

from __future__ import annotations

from pathlib import Path

from conftest import LAYER_CONF, Runner, make_build, make_layer


def _env_value(out: str, name: str) -> str:
    for line in out.splitlines():
        for prefix in (f"{name}=", f"export {name}="):
            if line.startswith(prefix):
                return line[len(prefix) + 1:-1]
    raise AssertionError(f"{name} not in output")


def test_higher_priority_layer_wins_over_newer_version(tmp_path: Path, lb: Runner) -> None:
    low = make_layer(tmp_path, "low", {"recipes/foo/foo_2.0.bb": 'ORIGIN = "low"\n'}, priority=5)
    high = make_layer(tmp_path, "high", {"recipes/foo/foo_1.0.bb": 'ORIGIN = "high"\n'}, priority=10)
    build = make_build(tmp_path, [low, high])
    status, out, _ = lb("-B", str(build), "-e", "foo")
    assert status == 0
    assert _env_value(out, "ORIGIN") == "high"
    assert _env_value(out, "PV") == "1.0"


def test_same_priority_takes_highest_version(tmp_path: Path, lb: Runner) -> None:
    layer = make_layer(tmp_path, "a", {"recipes/foo/foo_1.9.bb": "", "recipes/foo/foo_1.10.bb": "",
                                       "recipes/foo/foo_1.2.bb": ""})
    build = make_build(tmp_path, [layer])
    status, out, _ = lb("-B", str(build), "-e", "foo")
    assert status == 0 and _env_value(out, "PV") == "1.10"


def test_preferred_version_overrides_priority(tmp_path: Path, lb: Runner) -> None:
    low = make_layer(tmp_path, "low", {"recipes/foo/foo_2.1.bb": ""}, priority=5)
    high = make_layer(tmp_path, "high", {"recipes/foo/foo_1.0.bb": ""}, priority=10)
    build = make_build(tmp_path, [low, high], local='PREFERRED_VERSION_foo = "2.%"\n')
    status, out, _ = lb("-B", str(build), "-e", "foo")
    assert status == 0 and _env_value(out, "PV") == "2.1"


def test_bbappend_percent_matches_and_applies_in_layer_order(tmp_path: Path, lb: Runner) -> None:
    base = make_layer(tmp_path, "base", {"recipes/foo/foo_1.2.3.bb": 'X = "base"\n'})
    one = make_layer(tmp_path, "one", {"recipes/foo/foo_1.%.bbappend": 'X .= "-one"\n',
                                      "recipes/foo/foo_2.%.bbappend": 'X .= "-never"\n'})
    two = make_layer(tmp_path, "two", {"recipes/foo/foo_%.bbappend": 'X .= "-two"\n',
                                      "recipes/bar/bar_1.0.bb": ""})
    build = make_build(tmp_path, [base, one, two], local='BB_DANGLINGAPPENDS_WARNONLY = "1"\n')
    status, out, _ = lb("-B", str(build), "-e", "foo")
    assert status == 0 and _env_value(out, "X") == "base-one-two"
    status, out, _ = lb("-B", str(build), "show-appends", tool="layers")
    assert status == 0
    assert "foo_1.2.3.bb:\n" in out
    assert str(one / "recipes/foo/foo_1.%.bbappend") in out
    assert "=== Appends without a matching recipe ===" in out and "foo_2.%.bbappend" in out


def test_bbmask_hides_recipes(tmp_path: Path, lb: Runner) -> None:
    layer = make_layer(tmp_path, "m", {"recipes/foo/foo_1.0.bb": "", "recipes/broken/broken_1.0.bb": "A = x\n"})
    build = make_build(tmp_path, [layer], local='BBMASK = "recipes/broken/"\n')
    status, out, err = lb("-B", str(build), "-p")
    assert status == 0, err
    assert "1 masked" in out
    status, out, err = lb("-B", str(build), "-e", "broken")
    assert status == 1 and "nothing provides 'broken'" in err


def test_bbfiles_dynamic_follows_collections(tmp_path: Path, lb: Runner) -> None:
    conf = (
        'BBPATH .= ":${LAYERDIR}"\n'
        'BBFILE_COLLECTIONS += "dyn"\n'
        'BBFILE_PATTERN_dyn = "^${LAYERDIR}/"\n'
        'BBFILE_PRIORITY_dyn = "6"\n'
        'LAYERSERIES_COMPAT_dyn = "alder"\n'
        'BBFILES_DYNAMIC += "core:${LAYERDIR}/dynamic-layers/core/*/*.bb '
        'networking:${LAYERDIR}/dynamic-layers/networking/*/*.bb"\n')
    layer = make_layer(tmp_path, "dyn", {"dynamic-layers/core/foo/foo_1.0.bb": "",
                                        "dynamic-layers/networking/bar/bar_1.0.bb": ""}, layer_conf=conf)
    build = make_build(tmp_path, [layer])
    status, out, err = lb("-B", str(build), "show-recipes", "foo", "bar", tool="layers")
    assert status == 0, err
    assert "foo:\n  dyn" in out and "bar:" not in out


def test_show_layers_and_recipes(tmp_path: Path, lb: Runner) -> None:
    layer = make_layer(tmp_path, "extra", {"recipes/foo/foo_1.0.bb": "", "recipes/foo/foo_2.0.bb": ""}, priority=8)
    build = make_build(tmp_path, [layer])
    status, out, err = lb("-B", str(build), "show-layers", tool="layers")
    assert status == 0, err
    rows = [line.split() for line in out.splitlines()[2:]]
    assert ["core", str(Path(__file__).resolve().parents[1]), "5"] in rows
    assert ["extra", str(layer), "8"] in rows
    status, out, err = lb("-B", str(build), "show-recipes", "foo", tool="layers")
    assert status == 0, err
    assert out.splitlines() == ["=== Available recipes: ===", "foo:", "  extra                2.0",
                                "  extra                1.0                  (not chosen)"]


def test_skipped_recipe_reports_reason(tmp_path: Path, lb: Runner) -> None:
    layer = make_layer(tmp_path, "s", {"recipes/foo/foo_1.0.bb": (
        'python () {\n    raise bb.parse.SkipRecipe("needs the x11 feature")\n}\n')})
    build = make_build(tmp_path, [layer])
    status, out, _ = lb("-B", str(build), "-p")
    assert status == 0 and "1 skipped" in out
    status, _, err = lb("-B", str(build), "-e", "foo")
    assert status == 1 and "foo was skipped: needs the x11 feature" in err


def test_layerdepends_with_versions(tmp_path: Path, lb: Runner) -> None:
    base = ('BBPATH .= ":${{LAYERDIR}}"\nBBFILE_COLLECTIONS += "{n}"\nBBFILE_PATTERN_{n} = "^${{LAYERDIR}}/"\n'
            'BBFILE_PRIORITY_{n} = "6"\nLAYERSERIES_COMPAT_{n} = "alder"\n')
    lib = make_layer(tmp_path, "lib", layer_conf=base.format(n="lib") + 'LAYERVERSION_lib = "3"\n')
    app = make_layer(tmp_path, "app", layer_conf=base.format(n="app") + 'LAYERDEPENDS_app = "core lib (>= 2)"\n')
    build = make_build(tmp_path, [lib, app])
    status, _, err = lb("-B", str(build), "-p")
    assert status == 0, err
    (app / "conf/layer.conf").write_text(base.format(n="app") + 'LAYERDEPENDS_app = "lib (>= 4)"\n')
    status, _, err = lb("-B", str(build), "-p")
    assert status == 1
    assert err.startswith(f"{app}/conf/layer.conf:6: error: layer app needs lib version >= 4, but it is 3")


def test_invalid_pattern_offset_is_into_the_written_text(tmp_path: Path, lb: Runner) -> None:
    """The same layer.conf gives the same message wherever the layer lives: the offset and the caret
    point into the pattern as written, not into the layer's path that replaced ${LAYERDIR}."""
    conf = ('BBPATH .= ":${LAYERDIR}"\nBBFILE_COLLECTIONS += "x"\nBBFILE_PATTERN_x = "^${LAYERDIR_RE}/[recipes"\n'
            'BBFILE_PRIORITY_x = "6"\nLAYERSERIES_COMPAT_x = "alder"\n')
    messages = []
    for root in (tmp_path / "a", tmp_path / "a-much-longer-directory-name" / "and" / "deeper"):
        layer = make_layer(root, "x", layer_conf=conf)
        status, _, err = lb("-B", str(make_build(root, [layer])), "-p")
        assert status == 1
        messages.append(err.replace(str(root), "@ROOT@"))
    assert messages[0] == messages[1]
    assert messages[0].splitlines()[:3] == [
        "@ROOT@/meta-x/conf/layer.conf:3: error: BBFILE_PATTERN_x is not a valid regular expression: "
        'unterminated character set at position 16 of "^${LAYERDIR_RE}/[recipes"',
        "  ^${LAYERDIR_RE}/[recipes",
        "                  ^"]


def test_a_recipe_has_one_layer_name_in_the_parse_the_environment_and_its_tasks(tmp_path: Path, lb: Runner) -> None:
    """FILE_LAYERNAME is the collection whose BBFILE_PATTERN matches the recipe file (the longest one)."""
    from layerbuild.session import start_configuration
    recipe = ('INHIBIT_DEFAULT_DEPS = "1"\nLICENSE = "MIT"\nNAMED := "${FILE_LAYERNAME}"\n'
              'python do_showlayer() {\n'
              '    open(d.getVar("TOPDIR") + "/layername", "w").write(d.getVar("FILE_LAYERNAME"))\n'
              '}\naddtask showlayer\n')
    outer = make_layer(tmp_path, "outer", {"recipes/foo/foo_1.0.bb": recipe})
    # a collection nested in another's directory: its longer pattern wins for its own files
    inner = make_layer(outer / "recipes", "inner", {"recipes/bar/bar_1.0.bb": recipe})
    build = make_build(tmp_path, [outer, inner])
    layerset = start_configuration(str(build)).layerset
    assert layerset.layer_name(str(outer / "recipes/foo/foo_1.0.bb")) == "outer"
    assert layerset.layer_name(str(inner / "recipes/bar/bar_1.0.bb")) == "inner"
    assert layerset.layer_name(str(tmp_path / "elsewhere/baz_1.0.bb")) == ""
    for pn, name in (("foo", "outer"), ("bar", "inner")):
        status, out, err = lb("-B", str(build), "-e", pn)
        assert status == 0, err
        assert _env_value(out, "FILE_LAYERNAME") == _env_value(out, "NAMED") == name
        status, _, err = lb("-B", str(build), f"{pn}:do_showlayer")
        assert status == 0, err
        assert (build / "layername").read_text() == name
    status, out, err = lb("-B", str(build), "show-recipes", "bar", tool="layers")
    assert status == 0, err
    assert out.splitlines()[2].split() == ["inner", "1.0"]


def test_layerdir_in_a_weak_default_of_layer_conf(tmp_path: Path, lb: Runner) -> None:
    """BitBake replaces ${LAYERDIR} in what getVar(var, False) gives after layer.conf, a ??= default
    included, and sets that back: such a default is an assignment from then on (a later ?= leaves it);
    one that does not name LAYERDIR stays weak."""
    conf = (LAYER_CONF.format(name="w", priority=6) + 'W_TOOLS ??= "${LAYERDIR}/tools"\n'
            'W_KEPT ??= "${LAYERDIR}/kept"\nW_WEAK ??= "weak"\n')
    layer = make_layer(tmp_path, "w", {"recipes/foo/foo_1.0.bb": ""}, layer_conf=conf)
    build = make_build(tmp_path, [layer], local='W_KEPT ?= "/elsewhere"\nW_WEAK ?= "local"\n')
    status, out, err = lb("-B", str(build), "-e")
    assert status == 0, err
    assert _env_value(out, "W_TOOLS") == f"{layer}/tools"
    assert _env_value(out, "W_KEPT") == f"{layer}/kept"
    assert _env_value(out, "W_WEAK") == "local"
