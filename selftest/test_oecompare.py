"""The OE-core comparison script (selftest/bench/oecompare.py) reads both tools' ``-e`` output back
exactly: on text written the way ``bitbake -e`` writes it, and on layerbuild's own emitter."""

from __future__ import annotations

import io
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from layerbuild.engine.datastore import DataStore
from layerbuild.engine.envdump import emit_env, escape_value

sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))

import oecompare  # noqa: E402
from oecompare import Item, compare_env, normalise, parse_dot, parse_env  # noqa: E402

# What `bitbake -e zlib` prints (console notes first; escaping as lib/bb/data.py emit_var does it:
# `"`, `$` and backticks get a backslash, a backslash does not, a newline becomes ` \` + newline).
BITBAKE_OUTPUT = r'''NOTE: Reconnecting to bitbake server...
Loading cache...done.
#
# INCLUDE HISTORY:
#
# /build/conf/bblayers.conf
#
# $TOPDIR
#   set? /build/conf/bblayers.conf:1
#     "/build"
TOPDIR="/build"
COREBASE="/src/oe-core"
DATE="20261207"
DATETIME="20261207113340"
#
# $CC [2 operations]
#   set /src/oe-core/meta/conf/bitbake.conf:10
#     "gcc"
export CC="gcc -isystem/build/tmp/sysroot"
unset LC_ALL
QUOTED="say \"hi\" for \$HOME and \`id\`; c:\dir and a\\"b"
MULTI="first \
# not a comment \
last"
EMPTY=""
IMAGE_NAME="core-image-minimal-20261207113340"
LOG="/build/tmp/log/cooker/20261207113311.log"
OTHER_BUILD="/build2/x"
# expansion of BROKEN threw ExpansionError: Failure expanding variable BROKEN
which triggered exception AttributeError: 'NoneType' object has no attribute 'split'
ZZZ="after the error"
# line: 12, file: /src/oe-core/meta/classes-global/base.bbclass
do_install() {
	install -d /build/tmp/image
	if true; then
}

# still the body
	fi
}

# expansion of IMAGE_CMD:multiubi threw ExpansionError: Failure expanding variable IMAGE_CMD:multiubi
	for name in ${MULTIUBI_BUILD}; do
The variable dependency chain for the failure is: IMAGE_CMD:multiubi

# line: 30, file: /src/oe-core/meta/classes-global/base.bbclass
oe_runmake() {
	make "$@"
}



python do_fetch () {
    bb.build.exec_func('base_do_fetch', d)
}


python no_newline () {
    pass}

'''


def test_bitbake_output_read_back() -> None:
    env = parse_env(BITBAKE_OUTPUT, "bitbake")
    assert env.problems == []
    items = env.items
    assert items["TOPDIR"] == Item("var", "/build")
    assert items["CC"] == Item("export", "gcc -isystem/build/tmp/sysroot")
    assert items["LC_ALL"] == Item("unset", "")
    assert items["QUOTED"].value == 'say "hi" for $HOME and `id`; c:\\dir and a\\"b'
    assert items["MULTI"].value == "first\n# not a comment\nlast"
    assert items["EMPTY"] == Item("var", "")
    assert items["BROKEN"].kind == "error"
    assert items["ZZZ"].value == "after the error"
    assert items["do_install"] == Item(
        "shell", "\tinstall -d /build/tmp/image\n\tif true; then\n}\n\n# still the body\n\tfi")
    assert items["IMAGE_CMD:multiubi"].kind == "error"
    assert items["oe_runmake"] == Item("shell", '\tmake "$@"')
    assert items["do_fetch"] == Item("python", "    bb.build.exec_func('base_do_fetch', d)\n")
    assert items["no_newline"] == Item("python", "    pass")
    assert "NOTE:" not in "".join(items)


def test_normalise_paths_and_time_stamps() -> None:
    env = parse_env(BITBAKE_OUTPUT, "bitbake")
    items = normalise(env, {"BITBAKE": "/opt/bitbake"})
    assert items["TOPDIR"].value == "${TOPDIR}"
    assert items["COREBASE"].value == "${COREBASE}"
    assert items["CC"].value == "gcc -isystem${TOPDIR}/tmp/sysroot"
    assert items["OTHER_BUILD"].value == "/build2/x"  # a longer name is not the build directory
    assert items["do_install"].value.startswith("\tinstall -d ${TOPDIR}/tmp/image")
    assert items["IMAGE_NAME"].value == "core-image-minimal-${DATETIME}"
    assert items["LOG"].value == "${TOPDIR}/tmp/log/cooker/${DATETIME}.log"
    assert items["DATE"].value == "${DATE}"


def test_normalise_process_ids_object_reprs_and_set_order() -> None:
    bb = parse_env('LOGFIFO="/b/temp/fifo.11613"\nPID="11613"\nCHECK="log.do_$target.11613 and 11613 and 116130"\n'
                   'BB_ORIGENV="<bb.data_smart.DataSmart object at 0x7f99eef72810>"\n'
                   'COMBINED_FEATURES="vfat pci alsa"\nOTHER_FEATURES="vfat pci alsa"\n', "bitbake")
    lb = parse_env('LOGFIFO="/b/temp/fifo.1305"\nPID="1305"\nCHECK="log.do_$target.1305 and 11613 and 116130"\n'
                   'BB_ORIGENV="<layerbuild.engine.datastore.store.DataStore object at 0x7f6804033560>"\n'
                   'COMBINED_FEATURES="alsa vfat pci"\nOTHER_FEATURES="alsa vfat pci"\n', "layerbuild")
    x, y = normalise(bb, {}), normalise(lb, {})
    assert x["LOGFIFO"] == y["LOGFIFO"] == Item("var", "/b/temp/fifo.${PID}")
    assert x["PID"] == y["PID"] == Item("var", "${PID}")
    # only after a dot: the same number elsewhere is a value like any other
    assert x["CHECK"].value == "log.do_$target.${PID} and 11613 and 116130"
    assert y["CHECK"].value == "log.do_$target.${PID} and 11613 and 116130"
    assert x["BB_ORIGENV"] == y["BB_ORIGENV"] == Item("var", "<object>")
    assert x["COMBINED_FEATURES"] == y["COMBINED_FEATURES"]
    assert compare_env("-e t", x, y).differing == ["OTHER_FEATURES"]


def test_compare_env_counts() -> None:
    bb = {"A": Item("var", "1"), "B": Item("export", "x"), "C": Item("var", "only"),
          "E": Item("error", "BitBake's words"), "BB_CMDLINE": Item("var", "['bitbake']")}
    lb = {"A": Item("var", "1"), "B": Item("var", "x"), "D": Item("shell", "echo"),
          "E": Item("error", "layerbuild's words"), "BB_CMDLINE": Item("var", "['layerbuild']")}
    c = compare_env("-e t", bb, lb)
    assert (c.compared, c.agreeing, c.differing, c.only_bitbake, c.only_layerbuild) == (3, 2, ["B"], ["C"], ["D"])
    assert "B: BitBake export, layerbuild var" in c.details[0]
    assert not c.ok


def test_layerbuild_emitter_read_back() -> None:
    d = DataStore()
    d.setVar("PLAIN", 'a "quoted" $word\\ with `cmd`\nand a second line \\')
    d.setVar("EXPORTED", "1")
    d.setVarFlag("EXPORTED", "export", "1")
    d.setVar("GONE", "x")
    d.setVarFlag("GONE", "unexport", "1")
    d.setVar("do_thing", "\techo hi\n}\n")
    d.setVarFlag("do_thing", "func", "1")
    d.setVar("py_thing", "    d.setVar('X', '1')\n")
    d.setVarFlag("py_thing", "func", "1")
    d.setVarFlag("py_thing", "python", "1")
    out = io.StringIO()
    emit_env(d, out)
    env = parse_env(out.getvalue(), "layerbuild")
    assert env.problems == []
    assert env.items["PLAIN"] == Item("var", 'a "quoted" $word\\ with `cmd`\nand a second line \\')
    assert env.items["EXPORTED"] == Item("export", "1")
    assert env.items["GONE"] == Item("unset", "")
    assert env.items["do_thing"] == Item("shell", "\techo hi\n}")
    assert env.items["py_thing"] == Item("python", "    d.setVar('X', '1')\n")


@given(st.text(alphabet=st.sampled_from(['a', ' ', '\\', '"', '$', '`', '\n', '#', '}'])))
def test_layerbuild_escaping_round_trip(value: str) -> None:
    assert parse_env(f'#\nV="{escape_value(value)}"\n', "layerbuild").items["V"].value == value


def test_dot_graph_compared() -> None:
    bb = ('digraph depends {\n"z.do_build" [label="z do_build\\n:1.0-r0\\n/bb/oe/z_1.0.bb"]\n'
          '"z.do_fetch" [label="z do_fetch\\n:1.0-r0\\n/bb/oe/z_1.0.bb"]\n"z.do_build" -> "z.do_fetch"\n}\n')
    lb = ('digraph depends {\n"z.do_build" [label="z do_build\\n:1.0-r0\\n/lb/oe/z_1.0.bb"]\n'
          '"z.do_unpack" [label="z do_unpack\\n:1.0-r0\\n/lb/oe/z_1.0.bb"]\n"z.do_build" -> "z.do_unpack"\n}\n')
    assert parse_dot(bb)[1] == {("z.do_build", "z.do_fetch")}
    nodes, edges = oecompare.compare_graph(bb, lb, {"COREBASE": "/bb/oe"}, {"COREBASE": "/lb/oe"})
    assert (nodes.compared, nodes.agreeing, nodes.only_bitbake, nodes.only_layerbuild) == \
        (1, 1, ["z.do_fetch"], ["z.do_unpack"])
    assert (edges.only_bitbake, edges.only_layerbuild) == (["z.do_build -> z.do_fetch"], ["z.do_build -> z.do_unpack"])
    # a count per kind of task, then the differences themselves
    assert edges.details[:2] == ["1 edges do_build -> do_fetch only in BitBake",
                                 "1 edges do_build -> do_unpack only in layerbuild"]
    assert nodes.details[0] == "1 nodes do_fetch only in BitBake"


def test_skip_reasons_compared_with_quoted_words_sorted() -> None:
    def entry(fn: str, reason: str) -> dict[str, object]:
        return {"fn": fn, "pn": "libpam", "pe": "", "pv": "1", "pr": "r0", "skipped": reason, "preferred": False}

    reason = "missing required distro features '{}' (not in DISTRO_FEATURES)"
    bb = [entry("/a/x.bb", reason.format("systemd pam")), entry("/a/y.bb", reason.format("pam"))]
    lb = [entry("/a/x.bb", reason.format("pam systemd")), entry("/a/y.bb", reason.format("x11"))]
    skipped = oecompare.compare_recipes(bb, lb, {}, {})[1]
    assert (skipped.compared, skipped.agreeing, skipped.differing) == (2, 1, ["/a/y.bb"])
