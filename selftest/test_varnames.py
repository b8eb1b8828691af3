"""Variables set where nothing reads them, one edit from a known name: a warning with the suggestion."""

from __future__ import annotations

from pathlib import Path

from conftest import Runner, make_build, make_layer

from layerbuild.engine.varnames import Names, _one_edit

IMAGE = 'SUMMARY = "mine"\ninherit core-image\nIMAGE_INSTAL = "hello"\n'


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("WARNING:")]


def test_a_typo_in_an_image_recipe_is_a_warning_at_its_line_also_from_the_cache(tmp_path: Path, lb: Runner) -> None:
    layer = make_layer(tmp_path, "t", {"recipes/images/my-image.bb": IMAGE})
    build = make_build(tmp_path, [layer])
    expected = [f"WARNING: {layer}/recipes/images/my-image.bb:3: IMAGE_INSTAL is set, but no class, recipe or "
                "layerbuild itself reads it: did you mean IMAGE_INSTALL?"]
    for cached in ("0 cached", "cached, 0 parsed"):
        status, out, err = lb("-B", str(build), "-p")
        assert status == 0 and cached in out, out
        assert _warnings(err) == expected, err


def test_a_bbappend_and_local_conf_are_checked_too(tmp_path: Path, lb: Runner) -> None:
    layer = make_layer(tmp_path, "t", {"recipes/images/my-image.bb": 'inherit core-image\nIMAGE_INSTALL = "hello"\n',
                                       "recipes/images/my-image.bbappend": 'IMAGE_FEATURE += "x"\n'})
    build = make_build(tmp_path, [layer], local='DISTRO_FEATURE = "usrmerge"\n')
    for _ in range(2):
        status, _out, err = lb("-B", str(build), "-p")
        assert status == 0
        assert _warnings(err) == [
            f"WARNING: {build}/conf/local.conf:3: DISTRO_FEATURE is set, but no class, recipe or layerbuild itself "
            "reads it: did you mean DISTRO_FEATURES?",
            f"WARNING: {layer}/recipes/images/my-image.bbappend:1: IMAGE_FEATURE is set, but no class, recipe or "
            "layerbuild itself reads it: did you mean IMAGE_FEATURES?"], err


def test_a_near_miss_of_a_name_the_recipe_itself_reads(tmp_path: Path, lb: Runner) -> None:
    layer = make_layer(tmp_path, "t", {"recipes/foo/foo_1.0.bb": (
        'GREETING_TEXT = "hi"\ndo_install() {\n    echo "${GREETNG_TEXT}" > ${D}/greeting\n}\n')})
    status, _out, err = lb("-B", str(make_build(tmp_path, [layer])), "-p")
    assert status == 0
    assert _warnings(err) == [f"WARNING: {layer}/recipes/foo/foo_1.0.bb:1: GREETING_TEXT is set, but no class, recipe "
                              "or layerbuild itself reads it: did you mean GREETNG_TEXT?"], err


def test_names_something_reads_give_no_warning(tmp_path: Path, lb: Runner) -> None:
    """One edit from a known name but read: by a class through getVar, by [vardeps], by Python that builds
    the name from a list in another variable, by a layer's lib/ Python, by a shell task; or too short."""
    layer = make_layer(tmp_path, "t", {
        "classes/reader.bbclass": ('python () {\n    d.getVar("IMAGE_INSTALX")\n'
                                   '    for name in (d.getVar("EXTRA_NAMES") or "").split():\n'
                                   '        d.getVar(name)\n}\ndo_compile[vardeps] += "DISTRO_FEATUREX"\n'),
        "lib/helper/__init__.py": 'def f(d):\n    return d.getVar("IMAGE_FEATUREX")\n',
        "recipes/images/my-image.bb": ('inherit core-image reader\nIMAGE_INSTALX = "a"\nDISTRO_FEATUREX = "b"\n'
                                       'EXTRA_NAMES = "IMAGE_NAMX"\nIMAGE_NAMX = "c"\nIMAGE_FEATUREX = "d"\n'
                                       'PNN = "e"\nDEPENDX = "f"\ndo_x() {\n    echo ${DEPENDX}\n}\n')})
    status, _out, err = lb("-B", str(make_build(tmp_path, [layer])), "-p")
    assert status == 0
    assert _warnings(err) == [], err


def test_one_edit() -> None:
    for a, b in (("IMAGE_INSTAL", "IMAGE_INSTALL"), ("IMGAE_INSTALL", "IMAGE_INSTALL"),
                 ("IMAGE_INSTALX", "IMAGE_INSTALL"), ("IMAGE_INSTALLL", "IMAGE_INSTALL")):
        assert _one_edit(a, b) and _one_edit(b, a)
    for a, b in (("IMAGE_INSTALL", "IMAGE_INSTALL"), ("IMAGE_INST", "IMAGE_INSTALL"), ("XIMAGE_INSTAL", "IMAGE_INSTALL"),
                 ("IMGAE_INSTALX", "IMAGE_INSTALL")):
        assert not _one_edit(a, b) and not _one_edit(b, a)
    names = Names({"IMAGE_INSTALL", "IMAGE_FEATURES", "DISTRO_FEATURES", "IMAGE_INSTALLS"})
    big = Names({*names.names, *(f"UNRELATED_{i}" for i in range(100))})
    for source in (names, big):  # searched name by name, and through the index of a larger set
        assert source.near("IMAGE_INSTAL") == {"IMAGE_INSTALL"}
        assert source.near("IMAGE_INSTALLX") == {"IMAGE_INSTALL", "IMAGE_INSTALLS"}
        assert source.near("IMAGE_INSTALL") == {"IMAGE_INSTALLS"}
        assert source.near("IMGAE_FEATURES") == {"IMAGE_FEATURES"}
        assert source.near("MACHINE") == set()


def test_the_variables_addfragments_names_are_read(tmp_path: Path, lb: Runner) -> None:
    # OE's bitbake.conf reads OE_FRAGMENTS only through its addfragments line
    conf = ('BBPATH .= ":${LAYERDIR}"\nBBFILE_COLLECTIONS += "frag"\nBBFILE_PATTERN_frag = "^${LAYERDIR}/"\n'
            'LAYERSERIES_COMPAT_frag = "alder"\n'
            "addfragments conf/fragments LB_FRAGMENTS LB_FRAGMENTS_METADATA LB_FRAGMENTS_BUILTIN\n")
    layer = make_layer(tmp_path, "frag", {"conf/fragments/a.conf": ""}, layer_conf=conf)
    build = make_build(tmp_path, [layer], local='LB_FRAGMENT = "frag/a"\nLB_FRAGMENTS_BUILTIN = ""\n')
    status, _out, err = lb("-B", str(build), "-p")
    assert status == 0, err
    assert _warnings(err) == [f"WARNING: {build}/conf/local.conf:3: LB_FRAGMENT is set, but no class, recipe or "
                              "layerbuild itself reads it: did you mean LB_FRAGMENTS?"], err
