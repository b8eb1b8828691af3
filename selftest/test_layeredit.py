"""``layerbuild-layers add-layer``, ``remove-layer``, ``create-layer`` (and ``bitbake-layers``, the same under
BitBake's name): ``bblayers.conf`` edited as bitbake-layers edits it, BitBake's messages, and a created layer
that parses and builds its example recipe."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CORE, make_build, make_layer

from layerbuild.cli import bitbake_layers_main, layers_main, main
from layerbuild.layeredit import edit_bblayers

BBLAYERS_CONF = """\
# my comment, kept
BBPATH = "${TOPDIR}"
BBFILES ?= ""

BBLAYERS ?= " \\
  CORE \\
  "
BBLAYERS_NON_REMOVABLE ?= "CORE"
"""


def _run(capsys: pytest.CaptureFixture[str], *args: str, entry=layers_main) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    capsys.readouterr()
    try:
        status = entry(list(args))
    except SystemExit as exc:
        status = int(exc.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


def _build(tmp_path: Path) -> Path:
    build = make_build(tmp_path, [])
    (build / "conf" / "bblayers.conf").write_text(BBLAYERS_CONF.replace("CORE", CORE))
    return build


def test_add_and_remove_keep_the_rest_of_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build = _build(tmp_path)
    alpha = make_layer(tmp_path, "alpha")
    beta = make_layer(tmp_path, "beta")
    status, out, err = _run(capsys, "-B", str(build), "add-layer", str(alpha), str(beta))
    assert (status, err) == (0, "")
    conf = build / "conf" / "bblayers.conf"
    assert conf.read_text() == BBLAYERS_CONF.replace("CORE", CORE).replace(
        f"  {CORE} \\\n", f"  {CORE} \\\n  {alpha} \\\n  {beta} \\\n")
    status, out, _ = _run(capsys, "-B", str(build), "show-layers")
    assert [line.split()[0] for line in out.splitlines()[2:]] == ["core", "alpha", "beta"]

    # already there: said on stderr, the file unchanged, success (as bitbake-layers)
    before = conf.read_text()
    status, out, err = _run(capsys, "-B", str(build), "add-layer", str(alpha))
    assert (status, err) == (0, f"Specified layer {alpha} is already in BBLAYERS\n")
    assert conf.read_text() == before

    # by name (the directory's), then by path; the other assignment naming the core layer is not a layer list
    status, _, err = _run(capsys, "-B", str(build), "remove-layer", "meta-alpha", str(beta), entry=bitbake_layers_main)
    assert (status, err) == (0, "")
    assert conf.read_text() == BBLAYERS_CONF.replace("CORE", CORE)
    status, _, err = _run(capsys, "-B", str(build), "remove-layer", "meta-gone")
    assert status == 1
    assert err == f"{conf}: error: No layers matching */meta-gone found in BBLAYERS\n"


def test_several_plus_equals_get_a_line_each(tmp_path: Path) -> None:
    conf = tmp_path / "bblayers.conf"
    conf.write_text('BBLAYERS = ""\nBBLAYERS += "/a"\nBBLAYERS += "/b/"\n# end\n')
    assert edit_bblayers(str(conf), ["/c", "/a"], ["*/b"]) == (["/a"], [])
    assert conf.read_text() == 'BBLAYERS = ""\nBBLAYERS += "/a"\n# end\nBBLAYERS += "/c"\n'


@pytest.mark.parametrize("make, message", [
    (lambda top: top / "meta-none", "Specified layer directory {layer} doesn't exist"),
    (lambda top: (top / "meta-bare").mkdir() or top / "meta-bare",
     "Specified layer directory {layer} doesn't contain a conf/layer.conf file"),
])
def test_add_layer_refuses_what_is_not_a_layer(tmp_path: Path, capsys: pytest.CaptureFixture[str], make, message) -> None:  # type: ignore[no-untyped-def]
    build = _build(tmp_path)
    layer = make(tmp_path)
    status, out, err = _run(capsys, "-B", str(build), "add-layer", str(layer))
    assert status == 1
    assert err == "error: " + message.format(layer=layer) + "\n"
    assert (build / "conf" / "bblayers.conf").read_text() == BBLAYERS_CONF.replace("CORE", CORE)


def test_add_layer_with_unmet_layerdepends_puts_the_file_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build = _build(tmp_path)
    needy = make_layer(tmp_path, "needy")
    with open(needy / "conf" / "layer.conf", "a") as fh:
        fh.write('LAYERDEPENDS_needy = "networking"\n')
    status, out, err = _run(capsys, "-B", str(build), "add-layer", str(needy))
    assert status == 1
    conf = build / "conf" / "bblayers.conf"
    assert err.splitlines() == [
        f"{needy}/conf/layer.conf:7: error: layer needy depends on layer networking, which is not in BBLAYERS",
        "  hint: add the layer that provides collection 'networking' to BBLAYERS",
        f"{conf}: error: Parse failure with the specified layer added, exiting.",
    ]
    assert conf.read_text() == BBLAYERS_CONF.replace("CORE", CORE)
    # -F adds it without reading the configuration
    status, _, err = _run(capsys, "-B", str(build), "-F", "add-layer", str(needy))
    assert (status, err) == (0, "")
    assert str(needy) in conf.read_text()


def test_create_layer_parses_and_its_example_builds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build = _build(tmp_path)
    layer = tmp_path / "meta-new"
    status, out, err = _run(capsys, "-B", str(build), "create-layer", str(layer), "-a", "--priority", "9",
                            "-e", "hello-new", entry=bitbake_layers_main)
    assert (status, err) == (0, "")
    assert out == f"Layer added {layer}\n"
    layer_conf = (layer / "conf" / "layer.conf").read_text()
    assert 'BBFILE_COLLECTIONS += "meta-new"' in layer_conf
    assert 'BBFILE_PRIORITY_meta-new = "9"' in layer_conf
    assert 'LAYERDEPENDS_meta-new = "core"' in layer_conf
    assert 'LAYERSERIES_COMPAT_meta-new = "alder"' in layer_conf  # the core layer's LAYERSERIES_CORENAMES
    assert (layer / "recipes-hello-new" / "hello-new" / "hello-new_0.1.bb").is_file()
    status, out, _ = _run(capsys, "-B", str(build), "show-recipes", "hello-new")
    assert out.splitlines()[1:] == ["hello-new:", "  meta-new             0.1"]
    # its example task runs, and prints its banner into the task log
    status, out, err = _run(capsys, "-B", str(build), "-c", "display_banner", "hello-new", entry=main)
    assert status == 0, err
    log = next(build.glob("tmp/work/*/hello-new/0.1-r0/temp/log.do_display_banner"))
    assert "*  Example recipe created by bitbake-layers   *" in log.read_text()

    status, _, err = _run(capsys, "-B", str(build), "create-layer", str(layer))
    assert (status, err) == (1, f"error: Specified layer directory exists: {layer}\n")
    status, out, err = _run(capsys, "-B", str(build), "create-layer", str(tmp_path / "meta-other"), "-i", "other")
    assert out == f"Add your new layer with 'layerbuild-layers add-layer {tmp_path / 'meta-other'}'\n"
    assert 'BBFILE_COLLECTIONS += "other"' in (tmp_path / "meta-other" / "conf" / "layer.conf").read_text()


def test_show_overlayed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    demo = "SUMMARY = 'd'\nLICENSE = 'MIT'\n"
    alpha = make_layer(tmp_path, "alpha", {"recipes/demo/demo_1.0.bb": demo, "recipes/solo/solo_1.0.bb": demo,
                                           "classes/mine.bbclass": ""}, priority=6)
    beta = make_layer(tmp_path, "beta", {"recipes/demo/demo_1.5.bb": demo, "classes/mine.bbclass": ""}, priority=7)
    build = make_build(tmp_path, [alpha, beta])
    status, out, err = _run(capsys, "-B", str(build), "show-overlayed")
    assert (status, err) == (0, "")
    # BBPATH: each layer appends itself, so alpha's class is found first
    assert out == ("=== Overlayed recipes ===\ndemo:\n  beta                 1.5\n  alpha                1.0\n"
                   "=== Overlayed classes ===\nmine.bbclass:\n  alpha\n  beta\n")
    status, out, err = _run(capsys, "-B", str(build), "show-overlayed", "-s")
    assert out == "=== Overlayed classes ===\nmine.bbclass:\n  alpha\n  beta\n"
    status, out, err = _run(capsys, "-B", str(build), "show-overlayed", "-f")
    assert out.splitlines()[:3] == ["=== Overlayed recipes ===", f"{beta}/recipes/demo/demo_1.5.bb",
                                    f"  {alpha}/recipes/demo/demo_1.0.bb"]
