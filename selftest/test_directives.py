"""BitBake's configuration directives: ``addpylib``, ``addfragments`` and the base configuration's name.

Each layer here is written for the test in BitBake's syntax; the expected behaviour is BitBake's
(lib/bb/parse/parse_py/ConfHandler.py and ast.py: PyLibNode, AddFragmentsNode; cookerdata.py).
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import LAYER_CONF, Runner, make_build, make_layer

# -- addpylib ------------------------------------------------------------------------------------------


def _namespace() -> str:
    # Python imports a package once per process: each test gets a namespace of its own
    return f"lblib_{uuid.uuid4().hex[:8]}"


def _pylib_layer(tmp_path: Path, ns: str, extra_conf: str = "", files: dict[str, str] | None = None) -> Path:
    conf = LAYER_CONF.format(name="pylib", priority=6) + f"BB_GLOBAL_PYMODULES = \"json\"\n" \
        f"addpylib ${{LAYERDIR}}/lib {ns}\n" + extra_conf
    library = {
        f"lib/{ns}/__init__.py": 'BBIMPORTS = ["words", "paths"]\n',
        # bb and os are builtins, as BitBake makes them: the library uses both without importing them
        f"lib/{ns}/words.py": "import bb.utils\n\ndef shout(d):\n"
                              "    return bb.utils.filter('PLACES', 'home office', d).upper()\n",
        f"lib/{ns}/paths.py": "def joined(d):\n    return os.path.join(d.getVar('TOPDIR'), 'x')\n",
        f"lib/{ns}/lazy.py": "VALUE = 'lazy'\n",
        "recipes/foo/foo_1.0.bb": f'PLACES = "office garden home"\nSHOUT = "${{@{ns}.words.shout(d)}}"\n'
                                  f'JOINED = "${{@{ns}.paths.joined(d)}}"\n'
                                  'DUMPED = "${@json.dumps([1])}"\n',
        **(files or {}),
    }
    return make_layer(tmp_path, "pylib", library, layer_conf=conf)


def _env(out: str, name: str) -> str | None:
    for line in out.splitlines():
        if line.startswith(f"{name}="):
            return line.split("=", 1)[1].strip('"')
    return None


def test_addpylib_puts_the_namespace_and_its_bbimports_into_metadata_python(tmp_path: Path, lb: Runner) -> None:
    ns = _namespace()
    build = make_build(tmp_path, [_pylib_layer(tmp_path, ns)])
    status, out, err = lb("-B", str(build), "-e", "foo")
    assert status == 0, err
    assert _env(out, "SHOUT") == "HOME OFFICE" and _env(out, "DUMPED") == "[1]"
    assert _env(out, "JOINED") == f"{build}/x"
    assert f"{ns}.words" in sys.modules and f"{ns}.lazy" not in sys.modules  # BBIMPORTS, nothing more
    assert str(tmp_path / "meta-pylib" / "lib") in sys.path


def test_a_change_to_the_library_parses_the_recipes_again(tmp_path: Path) -> None:
    ns = _namespace()
    layer = _pylib_layer(tmp_path, ns)
    build = make_build(tmp_path, [layer])

    def parse() -> str:
        result = subprocess.run([sys.executable, "-m", "layerbuild.cli", "-B", str(build), "-p"], check=True,
                                capture_output=True, text=True)
        return result.stdout

    assert "(0 cached," in parse()
    assert " 0 parsed)" in parse()
    words = layer / "lib" / ns / "words.py"
    words.write_text(words.read_text() + "# changed\n")
    assert "(0 cached," in parse()
    assert " 0 parsed)" in parse()
    (layer / "lib" / ns / "lazy.py").write_text("VALUE = 'changed'\n")  # imported later, by a task
    assert "(0 cached," in parse()


@pytest.mark.parametrize("where", ["local.conf", "recipe"])
def test_addpylib_stands_only_in_the_base_configuration(tmp_path: Path, lb: Runner, where: str) -> None:
    line = "addpylib ${TOPDIR}/lib somewhere\n"
    layer = make_layer(tmp_path, "misplaced", {"recipes/foo/foo_1.0.bb": line if where == "recipe" else ""})
    build = make_build(tmp_path, [layer], local=line if where == "local.conf" else "")
    status, _out, err = lb("-B", str(build), "-e", "foo")
    path = build / "conf/local.conf" if where == "local.conf" else layer / "recipes/foo/foo_1.0.bb"
    number = 3 if where == "local.conf" else 1
    assert status == 1
    assert (f"{path}:{number}: error: addpylib ${{TOPDIR}}/lib somewhere: a layer's Python library is added in "
            "its conf/layer.conf\n  hint: BitBake reads addpylib only in bblayers.conf, layer.conf and the base "
            "configuration") in err


def test_a_library_that_fails_to_import_is_named_at_its_line(tmp_path: Path, lb: Runner) -> None:
    ns = _namespace()
    layer = _pylib_layer(tmp_path, ns, files={f"lib/{ns}/paths.py": "import os\n\nVALUE = os.missing_name\n"})
    build = make_build(tmp_path, [layer])
    status, _out, err = lb("-B", str(build), "-p")
    assert status == 1
    assert (f"{layer}/lib/{ns}/paths.py:3: error: addpylib: importing {ns}.paths raised AttributeError: module 'os' "
            "has no attribute 'missing_name'\n"
            f"  while adding the library of {layer}/conf/layer.conf:8") in err
    missing = make_layer(tmp_path, "nolib", layer_conf=LAYER_CONF.format(name="nolib", priority=6)
                         + "addpylib ${LAYERDIR}/lib lbnothere\n")
    status, _out, err = lb("-B", str(make_build(tmp_path / "b2", [missing])), "-p")
    assert status == 1
    assert (f"{missing}/conf/layer.conf:7: error: addpylib: cannot import lbnothere: No module named "
            "'lbnothere'") in err


# -- addfragments --------------------------------------------------------------------------------------

FRAGMENT_CONF = """addfragments conf/fragments FRAGMENTS FRAGMENT_METADATA FRAGMENTS_BUILTIN
"""


def _fragments_build(tmp_path: Path, local: str, other: dict[str, str] | None = None) -> tuple[Path, Path]:
    layer = make_layer(tmp_path, "frag", {
        "conf/fragments/tuning/fast.conf": 'FRAG_SUMMARY = "Build fast"\nFRAG_DESCRIPTION = "More threads"\n'
                                           'SPEED = "fast"\nSPEED:append = " indeed"\n',
        "conf/fragments/tuning/quiet.conf": 'FRAG_SUMMARY = "Quiet"\nNOISE = "low"\n',
        "recipes/foo/foo_1.0.bb": "",
    })
    layers = [layer]
    if other:
        layers.append(make_layer(tmp_path, "other", other))
    text = ('FRAGMENT_METADATA = "FRAG_SUMMARY FRAG_DESCRIPTION"\nFRAGMENTS_BUILTIN = "colour:FAVOURITE"\n'
            + local + FRAGMENT_CONF)
    return make_build(tmp_path, layers, local=text), layer


def test_fragments_are_included_from_their_layer_and_their_metadata_kept_in_flags(tmp_path: Path,
                                                                                  lb: Runner) -> None:
    build, layer = _fragments_build(tmp_path, 'FRAGMENTS = "frag/tuning/fast"\nFRAGMENTS += "frag/tuning/quiet"\n'
                                              'FRAGMENTS += "colour/blue"\n')
    status, out, err = lb("-B", str(build), "-e")
    assert status == 0, err
    assert (_env(out, "SPEED"), _env(out, "NOISE"), _env(out, "FAVOURITE")) == ("fast indeed", "low", "blue")
    assert _env(out, "FRAG_SUMMARY") is None
    lines = out.splitlines()
    # the builtin fragment's value comes from the line that listed it, as BitBake records it
    at = lines.index('FAVOURITE="blue"')
    assert lines[at - 2:at] == [f"#   set {build}/conf/local.conf:7", '#     "blue (FRAGMENTS contains "colour/blue")"']
    at = lines.index('SPEED="fast indeed"')
    assert f"#   set {layer}/conf/fragments/tuning/fast.conf:3" in lines[at - 8:at]
    status, out, err = lb("-B", str(build), "-e", "foo")
    assert status == 0, err
    from layerbuild.engine.config import load_configuration
    d = load_configuration(str(build)).d
    assert d.getVarFlags("FRAG_SUMMARY") == {"frag/tuning/fast": "Build fast", "frag/tuning/quiet": "Quiet"}
    assert d.getVarFlag("FRAG_DESCRIPTION", "frag/tuning/fast") == "More threads"
    assert d.getVarFlag("FRAG_DESCRIPTION", "frag/tuning/quiet") is None
    assert d.getVar("FRAG_SUMMARY") is None


def test_without_fragments_nothing_is_read(tmp_path: Path, lb: Runner) -> None:
    build, _layer = _fragments_build(tmp_path, "")
    status, out, err = lb("-B", str(build), "-e")
    assert status == 0, err
    assert _env(out, "SPEED") is None


def test_a_fragment_is_found_only_in_the_layer_it_names(tmp_path: Path, lb: Runner) -> None:
    build, _layer = _fragments_build(tmp_path, 'FRAGMENTS = "other/tuning/fast"\n')
    status, _out, err = lb("-B", str(build), "-e")
    assert status == 1
    assert f"{build}/conf/local.conf:5: error: Could not find fragment other/tuning/fast in enabled layers" in err
    # the file of that name in another layer is not it
    build, _layer = _fragments_build(tmp_path / "two", 'FRAGMENTS = "other/tuning/quiet"\n',
                                     other={"conf/fragments/tuning/quiet.conf": 'NOISE = "other"\n'})
    status, out, err = lb("-B", str(build), "-e")
    assert status == 0, err
    assert _env(out, "NOISE") == "other"


def test_a_builtin_fragment_refuses_a_variable_already_set(tmp_path: Path, lb: Runner) -> None:
    build, _layer = _fragments_build(tmp_path, 'FAVOURITE = "red"\nFRAGMENTS = "colour/blue"\n')
    status, _out, err = lb("-B", str(build), "-e")
    assert status == 1
    assert (f"{build}/conf/local.conf:5: error: A builtin fragment 'colour/blue' is used while FAVOURITE has "
            "already got an assignment") in err
    # a weak default is no assignment
    build, _layer = _fragments_build(tmp_path / "weak", 'FAVOURITE ??= "red"\nFRAGMENTS = "colour/blue"\n')
    status, out, err = lb("-B", str(build), "-e")
    assert status == 0, err
    assert _env(out, "FAVOURITE") == "blue"


def test_a_fragment_name_without_its_layer_is_an_error(tmp_path: Path, lb: Runner) -> None:
    build, _layer = _fragments_build(tmp_path, 'FRAGMENTS = "fast"\n')
    status, _out, err = lb("-B", str(build), "-e")
    assert status == 1
    assert f"{build}/conf/local.conf:5: error: FRAGMENTS: 'fast' is not a fragment name (LAYER/NAME)" in err


# -- the base configuration's name ---------------------------------------------------------------------


def test_a_tree_without_layerbuild_conf_is_read_through_bitbake_conf(tmp_path: Path, lb: Runner) -> None:
    conf = LAYER_CONF.format(name="bbcore", priority=5) + 'LAYERSERIES_CORENAMES = "alder"\n'
    core = make_layer(tmp_path, "bbcore", layer_conf=conf, files={
        "conf/bitbake.conf": 'require conf/distro.conf\nFROM_BITBAKE_CONF = "yes"\nPN = "${@bb.parse.'
                             'vars_from_file(d.getVar(\'FILE\', False),d)[0] or \'defaultpkgname\'}"\n'
                             'PV = "1.0"\nPR = "r0"\n'
                             "addpylib ${TOPDIR}/../meta-bbcore/lib bbcorelib_x\n",
        "conf/distro.conf": 'DISTRO_NAME = "plain"\nTMPDIR = "${TOPDIR}/tmp"\nDL_DIR = "${TOPDIR}/dl"\n'
                            'SSTATE_DIR = "${TOPDIR}/sstate"\nDEPLOY_DIR = "${TMPDIR}/deploy"\n',
        "lib/bbcorelib_x/__init__.py": "",
        "classes/base.bbclass": 'FROM_BASE_CLASS = "${DISTRO_NAME}"\n',
        "recipes/foo/foo_1.0.bb": 'DESCRIPTION = "${PN} from ${FROM_BITBAKE_CONF}"\n',
    })
    build = make_build(tmp_path, [core], core=False)
    status, out, err = lb("-B", str(build), "-e", "foo")
    assert status == 0, err
    assert (_env(out, "DESCRIPTION"), _env(out, "FROM_BASE_CLASS")) == ("foo from yes", "plain")
    # where both names are along BBPATH, layerbuild's own is the base configuration
    both = make_build(tmp_path / "both", [core])
    status, out, err = lb("-B", str(both), "-e")
    assert status == 0, err
    assert _env(out, "FROM_BITBAKE_CONF") is None


def test_neither_base_configuration_is_an_error(tmp_path: Path, lb: Runner) -> None:
    layer = make_layer(tmp_path, "bare", layer_conf='BBPATH .= ":${LAYERDIR}"\n')
    build = make_build(tmp_path, [layer], core=False)
    status, _out, err = lb("-B", str(build), "-p")
    assert status == 1
    assert (f"{build}/conf/bblayers.conf: error: neither conf/layerbuild.conf nor conf/bitbake.conf was found in "
            f"BBPATH ({build}:{layer})") in err
