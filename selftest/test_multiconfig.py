"""Multiconfig: BBMULTICONFIG configurations, ``mc:NAME:`` targets in one task graph, ``[mcdepends]``."""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest
from conftest import Runner, make_build, make_layer

#: each task writes what its configuration says into its own TMPDIR's deploy directory
HELLO = '''INHIBIT_DEFAULT_DEPS = "1"
LICENSE = "MIT"
do_out() {
    mkdir -p ${DEPLOY_DIR}
    echo "mc=${BB_CURRENT_MC} features=${DISTRO_FEATURES}" > ${DEPLOY_DIR}/hello.txt
}
addtask out
do_common() {
    mkdir -p ${DEPLOY_DIR}
    echo "${MACHINE}" > ${DEPLOY_DIR}/common.txt
}
addtask common
'''
#: a task of the default configuration that needs hello's do_out of multiconfig a, and reads its output
IMG = '''INHIBIT_DEFAULT_DEPS = "1"
LICENSE = "MIT"
do_out() {
    mkdir -p ${DEPLOY_DIR}
    cp ${TOPDIR}/tmp-a/deploy/hello.txt ${DEPLOY_DIR}/from-a.txt
}
addtask out
do_out[mcdepends] = "mc::a:hello:do_out mc:b:a:hello:do_common"
'''
#: the core layer's recipes are left out: these tests need only their own
LOCAL = 'BBMASK = "/recipes/recipes-"\nBBMULTICONFIG = "a b"\n'


def _build(tmp_path: Path, img: str = IMG, local: str = LOCAL, mcs: dict[str, str] | None = None) -> Path:
    layer = make_layer(tmp_path, "mc", {"recipes/hello/hello_1.0.bb": HELLO, "recipes/img/img_1.0.bb": img})
    build = make_build(tmp_path, [layer], local=local)
    mcs = {"a": 'TMPDIR = "${TOPDIR}/tmp-a"\nDISTRO_FEATURES:append = " feature-a"\n',
           "b": 'TMPDIR = "${TOPDIR}/tmp-b"\n'} if mcs is None else mcs
    for name, text in mcs.items():
        (build / "conf" / "multiconfig").mkdir(exist_ok=True)
        (build / "conf" / "multiconfig" / f"{name}.conf").write_text(text)
    return build


def test_two_configurations_one_command(tmp_path: Path, lb: Runner) -> None:
    build = _build(tmp_path)
    status, _out, err = lb("-B", str(build), "mc:a:hello:do_out", "mc:b:hello:out", "hello:do_out")
    assert status == 0, err
    assert (build / "tmp-a/deploy/hello.txt").read_text().startswith("mc=a features=")
    assert "feature-a" in (build / "tmp-a/deploy/hello.txt").read_text()
    b = (build / "tmp-b/deploy/hello.txt").read_text()
    assert b.startswith("mc=b features=") and "feature-a" not in b
    assert (build / "tmp/deploy/hello.txt").read_text().startswith("mc= features=")
    assert "Running task 3 of 3" in err and "mc:a:hello:do_out" in err
    # one run queue for all: nothing runs again
    status, _out, err = lb("-B", str(build), "mc:a:hello:do_out", "mc:b:hello:out", "hello:do_out")
    assert status == 0, err
    assert "0 tasks run, 0 restored from sstate, 3 up to date" in err
    # each configuration's parse cache is its own file (a and b differ in TMPDIR: their own directories)
    assert {p.name for p in (build / "tmp-a/cache").glob("recipes.*")} == {"recipes.v18.mc-a.pickle"}


def test_graph_names_multiconfig_tasks(tmp_path: Path, lb: Runner) -> None:
    build = _build(tmp_path)
    os.chdir(build)
    status, _out, err = lb("-g", "mc:a:hello:do_out", "img:do_out")
    assert status == 0, err
    dot = (build / "task-depends.dot").read_text()
    # BitBake's names: mc:NAME:pn for a multiconfig's recipe
    assert '"mc:a:hello.do_out" [label="mc:a:hello do_out\\n:1.0-r0\\n' in dot
    assert '"img.do_out" -> "mc:a:hello.do_out"' in dot
    # the entry whose FROM is b applies to b's img only, which is not in the graph
    assert "do_common" not in dot
    assert (build / "pn-buildlist").read_text().split() == ["img", "mc:a:hello"]


def test_mcdepends_orders_across_configurations(tmp_path: Path, lb: Runner) -> None:
    build = _build(tmp_path)
    status, _out, err = lb("-B", str(build), "img:do_out")
    assert status == 0, err
    assert (build / "tmp/deploy/from-a.txt").read_text().startswith("mc=a features=")
    started = re.findall(r"Running task \d+ of \d+ \((\S+)\)", err)
    assert started == ["mc:a:hello:do_out", "img:do_out"]
    # b's img needs a's hello:do_common ([mcdepends] mc:b:a:...)
    status, _out, err = lb("-B", str(build), "mc:b:img:do_out")
    assert status == 0, err
    assert re.findall(r"Running task \d+ of \d+ \((\S+)\)", err) == ["mc:a:hello:do_common", "mc:b:img:do_out"]


def test_undefined_multiconfig_is_one_error_line(tmp_path: Path, lb: Runner) -> None:
    build = _build(tmp_path, img=IMG.replace("mc::a:hello:do_out", "mc::nope:hello:do_out"))
    status, _out, err = lb("-B", str(build), "img:do_out")
    recipe = tmp_path / "meta-mc/recipes/img/img_1.0.bb"
    assert status == 1
    assert err.splitlines()[0] == (f"{recipe}:8: error: img: do_out[mcdepends] entry 'mc::nope:hello:do_out' "
                                   "names multiconfig 'nope', which BBMULTICONFIG does not enable")
    assert "Traceback" not in err
    status, _out, err = lb("-B", str(build), "mc:nope:hello")
    assert status == 1
    assert err.splitlines()[0] == (f"{build}/conf/local.conf:4: error: mc:nope: names multiconfig 'nope', "
                                   "which BBMULTICONFIG does not enable")


def test_multiconfig_without_its_file(tmp_path: Path, lb: Runner) -> None:
    build = _build(tmp_path, mcs={"a": 'TMPDIR = "${TOPDIR}/tmp-a"\n'})
    status, _out, err = lb("-B", str(build), "-p")
    assert status == 1
    assert err.splitlines()[0] == (f"{build}/conf/local.conf:4: error: BBMULTICONFIG names 'b', but no "
                                   "conf/multiconfig/b.conf is in BBPATH")


@pytest.mark.parametrize(("target", "expected"), [
    ("mc:a:hello", ['BB_CURRENT_MC="a"', 'TMPDIR="{build}/tmp-a"']),
    ("mc:a", ['BB_CURRENT_MC="a"', 'TMPDIR="{build}/tmp-a"']),
    ("hello", ['BB_CURRENT_MC=""', 'TMPDIR="{build}/tmp"']),
])
def test_environment_of_a_multiconfig(tmp_path: Path, lb: Runner, target: str, expected: list[str]) -> None:
    build = _build(tmp_path)
    status, out, err = lb("-B", str(build), "-e", target)
    assert status == 0, err
    lines = out.splitlines()
    for line in expected:
        assert line.format(build=build) in lines
    features = next(line for line in lines if line.startswith("DISTRO_FEATURES="))
    assert ("feature-a" in features) == target.startswith("mc:a")
    if target.startswith("mc:a"):  # the multiconfig file's line is in the history
        assert f"#   :append {build}/conf/multiconfig/a.conf:2" in lines
    assert ('PN="hello"' in lines) == (target != "mc:a")


def test_parse_reads_every_configuration(tmp_path: Path, lb: Runner) -> None:
    build = _build(tmp_path)
    status, out, err = lb("-B", str(build), "-p")
    assert status == 0, err
    assert out.startswith("Parsing of 6 .bb files complete (0 cached, 6 parsed). 6 targets,")
    status, out, err = lb("-B", str(build), "-p")
    assert out.startswith("Parsing of 6 .bb files complete (6 cached, 0 parsed). 6 targets,")
    status, out, err = lb("show-recipes", tool="layerbuild-layers")
    assert status == 0, err
    assert out.count("hello") == 1


def test_shared_tmpdir_runs_an_identical_task_once(tmp_path: Path, lb: Runner) -> None:
    build = _build(tmp_path, local='BBMASK = "/recipes/recipes-"\nBBMULTICONFIG = "same other"\n',
                   mcs={"same": "", "other": 'DISTRO_FEATURES:append = " feature-other"\n'})
    status, _out, err = lb("-B", str(build), "hello:do_common", "mc:same:hello:do_common", "mc:other:hello:common")
    assert status == 0, err
    # do_common reads MACHINE only: one task in one stamp directory for all three configurations
    assert "1 tasks run" in err or "Build succeeded: 1 tasks run" in err, err
    stamps = list((build / "tmp/stamps").rglob("*.do_common.*"))
    assert len([s for s in stamps if ".sigdata." not in s.name]) == 1
    # do_out reads DISTRO_FEATURES: two different tasks over one work directory are refused
    status, _out, err = lb("-B", str(build), "hello:do_out", "mc:other:hello:do_out")
    assert status == 1
    assert err.splitlines()[0] == ("error: hello:do_out and mc:other:hello:do_out would share the stamp and work "
                                   f"directory {build}/tmp/stamps/x86_64/hello, with different task signatures")


@pytest.mark.slow
def test_two_machines_extending_image_in_one_command(tmp_path: Path) -> None:
    """The core layer's x86 and arm multiconfigs (genericx86-64 with the host compiler, genericarm64 with
    Debian's cross toolchain): one graph holds both images' tasks, one command builds both, each image's
    programs are of its machine, the allarch and native tasks one configuration ran are restored, not run
    again, by the other, and a second command runs nothing."""
    import subprocess
    import sys

    from elftools.elf.elffile import ELFFile
    dl = os.environ.get("LAYERBUILD_TEST_DL_DIR")
    build = make_build(tmp_path, [], local='BBMULTICONFIG = "x86 arm"\n' + (f'DL_DIR = "{dl}"\n' if dl else ""))
    # greetings runs the native greet-gen at build time; greet-conf is allarch
    targets = [f"mc:{mc}:{pn}" for mc in ("x86", "arm") for pn in ("extending-image", "greetings", "greet-conf")]

    def lb(*args: str) -> str:
        r = subprocess.run([sys.executable, "-m", "layerbuild.cli", *args], cwd=build, capture_output=True,
                           text=True)
        assert r.returncode == 0, r.stdout + r.stderr[-4000:]
        return r.stderr

    lb("-g", *targets)
    dot = (build / "task-depends.dot").read_text()
    assert '"mc:x86:extending-image.do_rootfs" -> "mc:x86:greet.do_package_write_deb"' in dot
    assert '"mc:arm:extending-image.do_rootfs" -> "mc:arm:greet.do_package_write_deb"' in dot
    assert '"extending-image.' not in dot  # the default configuration has no task in it
    err = lb(*targets)
    ran = re.findall(r"^NOTE: Running task \d+ of \d+ \((\S+)\)$", err, re.M)
    shared = [label for label in ran if label.split(":")[2] in ("greet-gen-native", "greet-conf")
              and not label.endswith(":do_build")]
    # each of their tasks ran in one configuration (the first planned publishes, the other restores); each
    # configuration's do_build, which only stands for its targets, is its own
    assert shared and all(n == 1 for n in Counter(label.split(":", 2)[2] for label in shared).values()), shared
    for mc, machine, arch, dpkg, elf, systemd in (("x86", "genericx86-64", "x86_64", "amd64", "EM_X86_64", "x86-64"),
                                                  ("arm", "genericarm64", "aarch64", "arm64", "EM_AARCH64", "arm64")):
        raw = build / f"tmp-{mc}/deploy/images/{machine}/extending-image.raw"
        release = subprocess.run(["unsquashfs", "-cat", str(raw),
                                  "usr/lib/extension-release.d/extension-release.extending-image"],
                                 capture_output=True, text=True, check=True).stdout
        assert f"ARCHITECTURE={systemd}" in release.splitlines()
        deb = build / f"tmp-{mc}/deploy/deb/{arch}/greet_1.0-r0_{dpkg}.deb"
        fields = subprocess.run(["dpkg-deb", "-f", str(deb), "Package", "Architecture"], capture_output=True,
                                text=True, check=True).stdout
        assert fields == f"Package: greet\nArchitecture: {dpkg}\n"
        unpacked = tmp_path / f"greet-{mc}"
        subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
        with open(unpacked / "usr/bin/greet", "rb") as f:
            assert ELFFile(f).header["e_machine"] == elf
    assert "Build succeeded: 0 tasks run, 0 restored from sstate, 6 up to date" in lb(*targets)


def test_a_warning_every_configuration_gives_shows_once(tmp_path: Path, lb: Runner) -> None:
    build = _build(tmp_path, local=LOCAL + 'DISTRO_FEATURSE = "x"\n')
    status, _out, err = lb("-B", str(build), "-p")
    assert status == 0, err
    warnings = [line for line in err.splitlines() if "DISTRO_FEATURSE" in line]
    assert len(warnings) == 1, err


PUB = '''INHIBIT_DEFAULT_DEPS = "1"
LICENSE = "MIT"
do_prep() {
    mkdir -p ${WORKDIR}
    echo prepared > ${WORKDIR}/prep.txt
}
addtask prep
do_pub() {
    cp ${WORKDIR}/prep.txt ${WORKDIR}/pub-out/pub.txt
}
addtask pub after do_prep
do_pub[cleandirs] = "${WORKDIR}/pub-out"
do_pub[sstate-inputdirs] = "${WORKDIR}/pub-out"
do_pub[sstate-outputdirs] = "${DEPLOY_DIR}/pub"
SSTATETASKS += "do_pub"
'''


def test_a_shared_state_task_of_two_configurations_runs_once(tmp_path: Path, lb: Runner) -> None:
    """With a TMPDIR each, a task with the same signature in two configurations runs in one and the other
    restores its shared state once it is published; what only the restored one needed does not run."""
    layer = make_layer(tmp_path, "pub", {"recipes/pub/pub_1.0.bb": PUB})
    build = make_build(tmp_path, [layer], local='BBMASK = "/recipes/recipes-"\nBBMULTICONFIG = "x86"\n')
    (build / "conf/multiconfig").mkdir()
    (build / "conf/multiconfig/x86.conf").write_text('TMPDIR = "${TOPDIR}/tmp-x86"\n')
    status, out, err = lb("-B", str(build), "-n", "pub:do_pub", "mc:x86:pub:do_pub")
    assert status == 0, err
    assert "  restore  mc:x86:pub:do_pub (after pub:do_pub)" in out.splitlines()
    status, _out, err = lb("-B", str(build), "pub:do_pub", "mc:x86:pub:do_pub")
    assert status == 0, err
    assert re.findall(r"Running task \d+ of \d+ \((\S+)\)", err) == ["pub:do_prep", "pub:do_pub"]
    assert "Build succeeded: 2 tasks run, 1 restored from sstate" in err
    assert (build / "tmp-x86/deploy/pub/pub.txt").read_text() == "prepared\n"
    assert not (build / "tmp-x86/work").exists() or not list((build / "tmp-x86/work").rglob("prep.txt"))


def test_a_failed_publisher_leaves_the_deferred_task_unrun(tmp_path: Path, lb: Runner) -> None:
    layer = make_layer(tmp_path, "pub", {"recipes/pub/pub_1.0.bb": PUB.replace("    cp ", "    false\n    cp ")})
    build = make_build(tmp_path, [layer], local='BBMASK = "/recipes/recipes-"\nBBMULTICONFIG = "x86"\n')
    (build / "conf/multiconfig").mkdir()
    (build / "conf/multiconfig/x86.conf").write_text('TMPDIR = "${TOPDIR}/tmp-x86"\n')
    status, _out, err = lb("-B", str(build), "-k", "pub:do_pub", "mc:x86:pub:do_pub")
    assert status == 1
    assert "NOTE: Not running mc:x86:pub:do_pub: its shared state comes from pub:do_pub, which failed" in err
    assert "1 not run" in err


def test_a_deferred_task_follows_its_publisher_to_an_equivalent_unihash(tmp_path: Path, lb: Runner) -> None:
    """Hash equivalence: the publisher's code changes but not its output, so its output takes the unihash
    of the first build; the other configuration's task, deferred to it, is restored from the object
    published under that unihash."""
    recipe = PUB.replace("do_pub() {\n", 'NOTE ?= "first"\ndo_pub() {\n    echo "${NOTE}" > /dev/null\n')
    layer = make_layer(tmp_path, "pub", {"recipes/pub/pub_1.0.bb": recipe})
    local = 'BBMASK = "/recipes/recipes-"\nBBMULTICONFIG = "x86"\n'
    build = make_build(tmp_path, [layer], local=local)
    (build / "conf/multiconfig").mkdir()
    (build / "conf/multiconfig/x86.conf").write_text('TMPDIR = "${TOPDIR}/tmp-x86"\n')
    status, _out, err = lb("-B", str(build), "pub:do_pub", "mc:x86:pub:do_pub")
    assert status == 0, err
    (build / "conf/local.conf").write_text((build / "conf/local.conf").read_text() + 'NOTE = "second"\n')
    (build / "tmp-x86/deploy/pub/pub.txt").unlink()
    status, _out, err = lb("-B", str(build), "pub:do_pub", "mc:x86:pub:do_pub")
    assert status == 0, err
    assert re.findall(r"Running task \d+ of \d+ \((\S+)\)", err) == ["pub:do_pub"]
    assert "pub:do_pub: unihash" in err and "equivalent of taskhash" in err
    assert "Build succeeded: 1 tasks run, 1 restored from sstate" in err
    assert (build / "tmp-x86/deploy/pub/pub.txt").read_text() == "prepared\n"
    objects = list((build / "sstate-cache").rglob("sstate:pub:*_do_pub.tar.zst"))
    assert len(objects) == 1  # both builds' outputs are one object, named by the first build's unihash
