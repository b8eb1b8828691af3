"""BBCLASSEXTEND variants: one file read once, parsed into a recipe per entry, each chosen by its own name.

The layer brings small native, nativesdk and multilib classes of its own (written for these tests, in
BitBake syntax), which set what OE's classes set for the engine to see: CLASSOVERRIDE, the variant's
PN, its PROVIDES.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import CORE_RECIPES as C
from conftest import CORE_TARGETS as CT
from conftest import LAYER_CONF, Runner, make_build, make_layer
from test_tasks import LOGTASKS

from layerbuild.engine.config import load_configuration
from layerbuild.engine.evaluate import Evaluator
from layerbuild.engine.recipe import parse_variants
from layerbuild.engine.variants import extensions, split_virtual, virtual_fn

NATIVE = '''
CLASSOVERRIDE = "class-native"
PACKAGE_ARCH = "${BUILD_ARCH}"
NATIVE_SEEN = "${PN}"
python native_virtclass_handler () {
    pn = e.data.getVar("PN")
    e.data.setVar("PROVIDES", " ".join(p + "-native" for p in (e.data.getVar("PROVIDES") or "").split()))
}
addhandler native_virtclass_handler
native_virtclass_handler[eventmask] = "bb.event.RecipePreFinalise"
'''

NATIVESDK = '''
CLASSOVERRIDE = "class-nativesdk"
python () {
    pn = d.getVar("PN")
    if pn.endswith("-nativesdk"):
        d.setVar("PN", "nativesdk-" + pn[:-len("-nativesdk")])
}
'''

MULTILIB = '''
python () {
    if d.getVar("BBEXTENDCURR") == "multilib":
        d.setVar("PN", d.getVar("BBEXTENDVARIANT") + "-" + d.getVar("PN"))
        d.appendVar("OVERRIDES", ":virtclass-multilib-" + d.getVar("BBEXTENDVARIANT"))
}
'''

ZLIB = '''SUMMARY = "compression"
LICENSE = "MIT"
PROVIDES = "libz"
KIND = "target"
KIND:class-native = "native"
KIND:class-nativesdk = "sdk"
KIND:virtclass-multilib-lib32 = "lib32"
BBCLASSEXTEND = "native nativesdk"
'''


def _layer(tmp_path: Path, files: dict[str, str] | None = None) -> Path:
    tree = {"classes/native.bbclass": NATIVE, "classes/nativesdk.bbclass": NATIVESDK,
            "classes/multilib.bbclass": MULTILIB, "recipes/zvlib/zvlib_1.3.bb": ZLIB}
    tree.update(files or {})
    # the layer's classes come first in BBPATH: its native class is found before the core layer's
    return make_layer(tmp_path, "v", tree, layer_conf=LAYER_CONF.format(name="v", priority=6).replace(
        'BBPATH .= ":${LAYERDIR}"', 'BBPATH =. "${LAYERDIR}:"'))


def _env(out: str) -> dict[str, str]:
    return dict(re.findall(r'^(?:export )?([A-Za-z0-9_:./+-]+)="(.*)"$', out, re.M))


def _counts(out: str) -> tuple[int, int, int]:
    m = re.search(r"\. (\d+) targets, (\d+) skipped", out)
    f = re.search(r"Parsing of (\d+) \.bb files", out)
    assert m and f, out
    return int(f.group(1)), int(m.group(1)), int(m.group(2))


def test_names() -> None:
    assert virtual_fn("/l/zvlib_1.3.bb", "native") == "virtual:native:/l/zvlib_1.3.bb"
    assert virtual_fn("/l/zvlib_1.3.bb", "") == "/l/zvlib_1.3.bb"
    assert split_virtual("virtual:multilib:lib32:/l/zvlib_1.3.bb") == ("/l/zvlib_1.3.bb", "multilib:lib32")
    assert split_virtual("/l/zvlib_1.3.bb") == ("/l/zvlib_1.3.bb", "")
    # BitBake's multi_finalize: X:ARG inherits X with BBEXTENDVARIANT = ARG; a third field is ignored
    assert extensions(" native multilib:lib32 a:b:c native") == {
        "native": ("native", None), "multilib:lib32": ("multilib", "lib32"), "a:b:c": ("a", "b")}


def test_variants_are_recipes_with_their_overrides(tmp_path: Path, lb: Runner) -> None:
    build = make_build(tmp_path, [_layer(tmp_path)])
    status, out, err = lb("-B", str(build), "-p")
    assert status == 0, err
    # as BitBake counts them: one file, three targets
    assert _counts(out) == (1 + C, 3 + CT, 0)
    expected = {"zvlib": ("zvlib", "class-target", "target"),
                "zvlib-native": ("zvlib-native", "class-native", "native"),
                "nativesdk-zvlib": ("nativesdk-zvlib", "class-nativesdk", "sdk")}
    for target, (pn, override, kind) in expected.items():
        status, out, err = lb("-B", str(build), "-e", target)
        assert status == 0, err
        env = _env(out)
        assert (env["PN"], env["CLASSOVERRIDE"], env["KIND"]) == (pn, override, kind), target
        assert override in env["OVERRIDES"].split(":")
        assert env["BBCLASSEXTEND"] == "native nativesdk"
    native = _env(lb("-B", str(build), "-e", "zvlib-native")[1])
    # the class is inherited after PN was given its suffix: what it reads of PN is the variant's
    assert native["NATIVE_SEEN"] == "zvlib-native" and native["PROVIDES"] == "libz-native"
    assert native["PACKAGE_ARCH"] == native["BUILD_ARCH"]
    target = _env(lb("-B", str(build), "-e", "zvlib")[1])
    assert "NATIVE_SEEN" not in target and target["PROVIDES"] == "libz"
    # the history says where the variant's PN came from: the BBCLASSEXTEND line
    out = lb("-B", str(build), "-e", "zvlib-native")[1]
    history = out.split("\n# $PN ", 1)[1].split('\nPN="', 1)[0]
    assert f"set {tmp_path}/meta-v/recipes/zvlib/zvlib_1.3.bb:8" in history


def test_variant_is_chosen_by_its_name_and_what_it_provides(tmp_path: Path, lb: Runner,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    layer = _layer(tmp_path, {"recipes/app/app_1.0.bb": 'LICENSE = "MIT"\nDEPENDS = "libz-native nativesdk-zvlib"\n'})
    build = make_build(tmp_path, [layer])
    monkeypatch.chdir(tmp_path)
    status, out, err = lb("-B", str(build), "-g", "app")
    assert status == 0, err
    buildlist = (tmp_path / "pn-buildlist").read_text().split()
    assert {"app", "zvlib-native", "nativesdk-zvlib"} <= set(buildlist) and "zvlib" not in buildlist
    dot = (tmp_path / "task-depends.dot").read_text()
    recipe = f"{layer}/recipes/zvlib/zvlib_1.3.bb"
    # BitBake's labels: PN, task, version, and the variant's virtual file name
    assert f'"zvlib-native.do_fetch" [label="zvlib-native do_fetch\\n:1.3-r0\\nvirtual:native:{recipe}"]' in dot
    assert f'"nativesdk-zvlib.do_fetch" [label="nativesdk-zvlib do_fetch\\n:1.3-r0\\nvirtual:nativesdk:{recipe}"]' in dot
    assert '"app.do_prepare_recipe_sysroot" -> "zvlib-native.do_populate_sysroot"' in dot


def test_show_recipes_lists_variants_as_bitbake_layers_does(tmp_path: Path, lb: Runner) -> None:
    skip = 'python () {\n    if d.getVar("CLASSOVERRIDE") == "class-target":\n' \
           '        raise bb.parse.SkipRecipe("only for the build host")\n}\n'
    layer = _layer(tmp_path, {"recipes/tool/tool_2.0.bb": 'LICENSE = "MIT"\nBBCLASSEXTEND = "native"\n' + skip})
    build = make_build(tmp_path, [layer])
    status, out, err = lb("-B", str(build), "show-recipes", "*zvlib*", "tool*", tool="layers")
    assert status == 0, err
    # a variant is listed only where its file's own recipe is skipped
    assert out.splitlines() == ["=== Available recipes: ===",
                                "tool:", "  v                    2.0                  (skipped: only for the build host)",
                                "tool-native:", "  v                    2.0",
                                "zvlib:", "  v                    1.3"]
    status, out, err = lb("-B", str(build), "show-recipes", "--show-variants", "*zvlib*", tool="layers")
    assert status == 0, err
    assert out.splitlines() == ["=== Available recipes: ===", "nativesdk-zvlib:", "  v                    1.3",
                                "zvlib:", "  v                    1.3", "zvlib-native:", "  v                    1.3"]


def test_skipped_recipe_keeps_its_variants(tmp_path: Path, lb: Runner) -> None:
    skip = 'python () {\n    if d.getVar("CLASSOVERRIDE") == "class-target":\n' \
           '        raise bb.parse.SkipRecipe("only for the build host")\n}\n'
    layer = _layer(tmp_path, {"recipes/zvlib/zvlib_1.3.bb": ZLIB + skip})
    build = make_build(tmp_path, [layer])
    status, out, err = lb("-B", str(build), "-p")
    assert status == 0, err
    assert _counts(out) == (1 + C, 3 + CT, 1)
    status, out, err = lb("-B", str(build), "-e", "zvlib-native")
    assert status == 0 and _env(out)["PN"] == "zvlib-native", err
    status, out, err = lb("-B", str(build), "-e", "zvlib")
    assert status == 1 and "target zvlib was skipped: only for the build host" in err


def test_multilib_entry(tmp_path: Path, lb: Runner) -> None:
    layer = _layer(tmp_path, {"recipes/zvlib/zvlib_1.3.bb": ZLIB.replace('"native nativesdk"', '"multilib:lib32"')})
    build = make_build(tmp_path, [layer])
    status, out, err = lb("-B", str(build), "-e", "lib32-zvlib")
    assert status == 0, err
    env = _env(out)
    # BitBake sets BBEXTENDCURR and BBEXTENDVARIANT and leaves PN to the class
    assert (env["PN"], env["BBEXTENDCURR"], env["BBEXTENDVARIANT"], env["KIND"]) == \
        ("lib32-zvlib", "multilib", "lib32", "lib32")
    env = _env(lb("-B", str(build), "-e", "zvlib")[1])
    assert (env["PN"], env["KIND"]) == ("zvlib", "target") and "BBEXTENDCURR" not in env


def test_extension_set_in_anonymous_python_and_deferred_inherit_order(tmp_path: Path, lb: Runner) -> None:
    """BBCLASSEXTEND is read from the finalised base recipe; the variant's class comes after the recipe's
    own deferred inherits, and the recipe's functions see what the variant's class defines."""
    layer = _layer(tmp_path, {
        "classes/late.bbclass": 'ORDER .= " late"\n',
        "classes/native.bbclass": NATIVE + 'ORDER .= " native"\ndef native_word(d):\n    return "from-native"\n',
        "recipes/zvlib/zvlib_1.3.bb": (
            'LICENSE = "MIT"\nORDER = "recipe"\ninherit_defer late\n'
            'python () {\n    d.setVar("BBCLASSEXTEND", "native")\n'
            '    if d.getVar("CLASSOVERRIDE") == "class-native":\n'
            '        d.setVar("WORD", native_word(d))\n}\n')})
    build = make_build(tmp_path, [layer])
    status, out, err = lb("-B", str(build), "-e", "zvlib-native")
    assert status == 0, err
    env = _env(out)
    assert (env["ORDER"], env["WORD"]) == ("recipe late native", "from-native")
    env = _env(lb("-B", str(build), "-e", "zvlib")[1])
    assert env["ORDER"] == "recipe late" and "WORD" not in env


def test_file_is_read_once_for_all_its_variants(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As BitBake's multi_finalize: the file and its appends are evaluated once, each variant is a copy."""
    layer = _layer(tmp_path, {"recipes/zvlib/zvlib_1.3.bbappend": 'APPENDED = "1"\n'})
    build = make_build(tmp_path, [layer])
    config = load_configuration(str(build))
    recipe, append = str(layer / "recipes/zvlib/zvlib_1.3.bb"), str(layer / "recipes/zvlib/zvlib_1.3.bbappend")
    evaluated: list[str] = []
    original = Evaluator.eval_file

    def counting(self: Evaluator, d: object, path: str, include: bool = True) -> None:
        evaluated.append(path)
        original(self, d, path, include)  # type: ignore[arg-type]

    monkeypatch.setattr(Evaluator, "eval_file", counting)
    stores = parse_variants(config.d, config.evaluator, recipe, (append,))
    assert sorted(stores) == ["", "native", "nativesdk"]
    assert evaluated.count(recipe) == 1 and evaluated.count(append) == 1
    assert [stores[v].getVar("PN") for v in ("", "native", "nativesdk")] == ["zvlib", "zvlib-native", "nativesdk-zvlib"]
    assert all(stores[v].getVar("APPENDED") == "1" for v in stores)


def test_parse_cache_keeps_variants_and_follows_their_classes(tmp_path: Path, lb: Runner) -> None:
    layer = _layer(tmp_path)
    build = make_build(tmp_path, [layer])
    lb("-B", str(build), "-p")
    status, out, err = lb("-B", str(build), "-p")
    assert status == 0 and f"({1 + C} cached, 0 parsed). {3 + CT} targets" in out, out + err
    # only the variants read native.bbclass; a change to it re-parses their files (this one, and the core
    # layer's with a native variant), and the variant sees it
    (layer / "classes/native.bbclass").write_text(NATIVE.replace('"class-native"', '"class-native:changed"'))
    status, out, err = lb("-B", str(build), "-p")
    assert status == 0 and f"({C - (CT - C)} cached, {1 + CT - C} parsed)" in out, out + err
    assert _env(lb("-B", str(build), "-e", "zvlib-native")[1])["CLASSOVERRIDE"] == "class-native:changed"


def test_recipe_virtual_providers(tmp_path: Path, lb: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    """A name of BB_RECIPE_VIRTUAL_PROVIDERS in DEPENDS or a task's [depends] is the recipe's own
    PREFERRED_PROVIDER_ for it: the variant and the target recipe depend on different compilers."""
    layer = _layer(tmp_path, {
        "recipes/cc/cc-target_1.0.bb": 'LICENSE = "MIT"\n',
        "recipes/cc/cc-host_1.0.bb": 'LICENSE = "MIT"\n',
        "recipes/zvlib/zvlib_1.3.bb": ZLIB + 'INHIBIT_DEFAULT_DEPS = "1"\nDEPENDS = "virtual/cc  other"\ndo_install[depends] += "virtual/cc:do_populate_sysroot"\n',
        "recipes/other/other_1.0.bb": 'LICENSE = "MIT"\nBBCLASSEXTEND = "native"\n'})
    local = ('BB_RECIPE_VIRTUAL_PROVIDERS = "virtual/cc"\nPREFERRED_PROVIDER_virtual/cc = "cc-target"\n'
             'PREFERRED_PROVIDER_virtual/cc:class-native = "cc-host"\n'
             'PREFERRED_PROVIDER_virtual/cc:class-nativesdk = "cc-host"\n')
    build = make_build(tmp_path, [layer], local=local)
    env = _env(lb("-B", str(build), "-e", "zvlib")[1])
    assert env["DEPENDS"] == "cc-target other"
    env = _env(lb("-B", str(build), "-e", "zvlib-native")[1])
    assert env["DEPENDS"] == "cc-host other"
    monkeypatch.chdir(tmp_path)
    status, out, err = lb("-B", str(build), "-g", "zvlib", "zvlib-native")
    assert status == 0, err
    dot = (tmp_path / "task-depends.dot").read_text()
    assert '"zvlib.do_install" -> "cc-target.do_populate_sysroot"' in dot
    assert '"zvlib-native.do_install" -> "cc-host.do_populate_sysroot"' in dot
    assert '"zvlib.do_install" -> "cc-host.do_populate_sysroot"' not in dot


def test_default_preference_keeps_a_development_variant_unchosen(tmp_path: Path, lb: Runner) -> None:
    """A devupstream-style variant keeps the recipe's name with a higher version; its DEFAULT_PREFERENCE of
    -1 keeps the release chosen, as in BitBake, unless PREFERRED_VERSION asks for it."""
    dev = 'python () {\n    if d.getVar("BBEXTENDCURR") == "devupstream":\n' \
          '        d.setVar("DEFAULT_PREFERENCE", "-1")\n        d.setVar("PV", d.getVar("PV") + "+git")\n}\n'
    layer = _layer(tmp_path, {"classes/devupstream.bbclass": dev,
                              "recipes/fw/fw_1.0.bb": 'LICENSE = "MIT"\nBBCLASSEXTEND = "devupstream:target"\n'})
    build = make_build(tmp_path, [layer])
    status, out, err = lb("-B", str(build), "-e", "fw")
    assert status == 0 and _env(out)["PV"] == "1.0", err
    status, out, err = lb("-B", str(build), "show-recipes", "fw", tool="layers")
    assert out.splitlines() == ["=== Available recipes: ===", "fw:", "  v                    1.0"], out + err
    with open(build / "conf/local.conf", "a") as fh:
        fh.write('PREFERRED_VERSION_fw = "1.0+git"\n')
    status, out, err = lb("-B", str(build), "-e", "fw")
    assert status == 0 and _env(out)["PV"] == "1.0+git", err


def test_the_recipe_itself_builds_and_a_nativesdk_variant_is_refused(tmp_path: Path, lb: Runner) -> None:
    layer = _layer(tmp_path, {"classes/logtasks.bbclass": LOGTASKS,
                              "recipes/zvlib/zvlib_1.3.bb": ZLIB + 'inherit logtasks\nMSG = "${KIND}"\n'})
    build = make_build(tmp_path, [layer])
    status, out, err = lb("-B", str(build), "zvlib")
    assert status == 0, err
    assert (build / "tmp/sysroots-components/zvlib/usr/share/zvlib/out.txt").read_text() == "target\n"
    ran = (build / "tasks.log").read_text()
    assert "zvlib:do_install end" in ran and "native" not in ran
    status, out, err = lb("-B", str(build), "nativesdk-zvlib")
    assert status == 1
    assert f"{layer}/recipes/zvlib/zvlib_1.3.bb:8: error: nativesdk-zvlib is the nativesdk variant of zvlib " \
        "(BBCLASSEXTEND), and layerbuild builds native variants only, not nativesdk ones yet" in err
    assert "Traceback" not in err and "native" not in (build / "tasks.log").read_text()
    # it is still parsed and shown
    status, out, err = lb("-B", str(build), "-e", "nativesdk-zvlib")
    assert status == 0 and _env(out)["CLASSOVERRIDE"] == "class-nativesdk", err


def test_signatures_of_variants_one_read_each_time_and_kept_together(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The signatures a build needs come from one more read of the file for all of its recipes the graph
    holds; the cache keeps them by recipe with the file's entry, which still follows every variant's class."""
    from layerbuild.session import parse_recipes, signatures_of, start_configuration

    layer = _layer(tmp_path, {"classes/logtasks.bbclass": LOGTASKS,
                              "recipes/zvlib/zvlib_1.3.bb": ZLIB + 'inherit logtasks\nMSG = "${KIND}"\n'})
    build = make_build(tmp_path, [layer])
    recipe = str(layer / "recipes/zvlib/zvlib_1.3.bb")
    native, sdk = virtual_fn(recipe, "native"), virtual_fn(recipe, "nativesdk")
    reads: list[str] = []
    original = Evaluator.eval_file

    def counting(self: Evaluator, d: object, path: str, include: bool = True, **kw: bool) -> None:
        if path == recipe:
            reads.append(path)
        original(self, d, path, include, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Evaluator, "eval_file", counting)

    def messages(*fns: str) -> list[str | None]:
        reads.clear()
        config = start_configuration(str(build))
        sigs = signatures_of(config, parse_recipes(config, jobs=1), fns, jobs=1)
        assert sorted(sigs.recipes) == sorted(fns)
        return [dict(sigs.recipes[fn]["do_compile"].values).get("KIND") for fn in fns]

    assert messages(recipe) == ["target"] and len(reads) == 2  # the summaries, then the signature
    # a signature parse of the recipe alone did not read native.bbclass; the entry follows it still
    (layer / "classes/native.bbclass").write_text(NATIVE + 'KIND:class-native = "native2"\n')
    assert messages(native) == ["native2"] and len(reads) == 2
    # the file parsed again has none of its signatures: one read gives the two the graph needs
    assert messages(recipe, sdk) == ["target", "sdk"] and len(reads) == 1
    assert messages(recipe, native, sdk) == ["target", "native2", "sdk"] and reads == []


def test_a_name_only_a_variant_reads_is_no_typo(tmp_path: Path, lb: Runner) -> None:
    """The check for names nothing reads looks at what the variants' classes read too."""
    layer = _layer(tmp_path, {"classes/native.bbclass": NATIVE + 'NATIVE_DEPS = "${DEPENDX}"\n',
                              "recipes/zvlib/zvlib_1.3.bb": ZLIB + 'DEPENDX = "x"\nSRC_URX = "y"\n'})
    build = make_build(tmp_path, [layer])
    status, out, err = lb("-B", str(build), "-p")
    assert status == 0, err
    assert "SRC_URX is set, but no class, recipe or layerbuild itself reads it: did you mean SRC_URI?" in err
    assert "DEPENDX" not in err
