"""Native recipes (native.bbclass): a BBCLASSEXTEND = "native" variant or a recipe that inherits native is
built for the build host, staged in the native sysroot of what depends on it, with its programs on PATH,
never packaged, and the same for every MACHINE.

The mini layer is selftest/data/native: shell-script tools, so nothing compiles; the sample of the core
layer (greet-gen-native generating the table greetings compiles) is built by the slow test at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import CORE, Runner, make_build

LAYER = Path(__file__).parent / "data" / "native"
PROVIDERS = 'PREFERRED_PROVIDER_virtual/fmt = "fmt-a"\nPREFERRED_PROVIDER_virtual/fmt-native = "fmt-b-native"\n'
BUILD_ARCH = os.uname().machine


def _build(tmp_path: Path, machine: str = "genericx86-64") -> Path:
    build = make_build(tmp_path, [LAYER], local=PROVIDERS)
    local = build / "conf" / "local.conf"
    local.write_text(local.read_text().replace('MACHINE ??= "genericx86-64"', f'MACHINE ??= "{machine}"'))
    return build


def _env(out: str) -> dict[str, str]:
    return dict(re.findall(r'^(?:export )?([A-Za-z0-9_:./+-]+)="(.*)"$', out, re.M))


def _ran(err: str) -> list[str]:
    """The tasks a build ran, from its log of events."""
    return re.findall(r"^NOTE: Running task \d+ of \d+ \((\S+)\)$", err, re.M)


def test_native_variant_environment_and_graph(tmp_path: Path, lb: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    build = _build(tmp_path)
    status, out, err = lb("-B", str(build), "-e", "gen-table-native")
    assert status == 0, err
    env = _env(out)
    assert (env["PN"], env["BPN"], env["BUILT_FOR"]) == ("gen-table-native", "gen-table", "the build host")
    assert env["CLASSOVERRIDE"] == "class-native" and "class-native" in env["OVERRIDES"].split(":")
    # the machine's overrides and features are gone; the architecture is the build host's
    assert "genericx86-64" not in env["OVERRIDES"].split(":") and env["MACHINE_FEATURES"] == ""
    assert env["PACKAGE_ARCH"] == env["TARGET_ARCH"] == env["HOST_ARCH"] == BUILD_ARCH
    # the host compiler, with no sysroot of a target
    assert (env["CC"], env["CXX"], env["AR"], env["STRIP"]) == ("gcc", "g++", "ar", "strip")
    workdir = f"{build}/tmp/work/{BUILD_ARCH}/gen-table-native/1.0-r0"
    assert env["WORKDIR"] == workdir
    assert env["STAMP"] == f"{build}/tmp/stamps/{BUILD_ARCH}/gen-table-native/1.0-r0"
    # installed into its own prefix under the native sysroot
    assert env["STAGING_DIR_NATIVE"] == f"{workdir}/recipe-sysroot-native"
    assert env["prefix"] == f"{workdir}/recipe-sysroot-native/usr"
    assert env["bindir"] == env["STAGING_BINDIR_NATIVE"] == f"{workdir}/recipe-sysroot-native/usr/bin"
    # its dependencies and what it provides are native names: virtual/ resolves among native providers
    assert env["DEPENDS"].split() == ["virtual/fmt-native"] and env["PROVIDES"] == ""
    assert env["PACKAGES"] == ""
    target = _env(lb("-B", str(build), "-e", "gen-table")[1])
    assert (target["PN"], target["BUILT_FOR"], target["CLASSOVERRIDE"]) == ("gen-table", "target", "class-target")
    assert target["DEPENDS"].split() == ["virtual/fmt"] and target["PACKAGE_ARCH"] == "x86_64"
    assert target["CC"].startswith("gcc --sysroot=")
    provider = _env(lb("-B", str(build), "-e", "fmt-a-native")[1])
    assert provider["PROVIDES"] == "virtual/fmt-native"
    # a recipe that inherits native itself
    pack = _env(lb("-B", str(build), "-e", "pack-native")[1])
    assert (pack["PN"], pack["BPN"], pack["CLASSOVERRIDE"], pack["PACKAGE_ARCH"]) == \
        ("pack-native", "pack", "class-native", BUILD_ARCH)

    monkeypatch.chdir(tmp_path)

    status, out, err = lb("-B", str(build), "-g", "gentable")
    assert status == 0, err
    buildlist = (tmp_path / "pn-buildlist").read_text().split()
    assert sorted(buildlist) == ["fmt-a", "fmt-b-native", "gen-table-native", "gentable", "pack-native"]
    dot = (tmp_path / "task-depends.dot").read_text()
    assert '"gentable.do_prepare_recipe_sysroot" -> "gen-table-native.do_populate_sysroot"' in dot
    assert '"gentable.do_prepare_recipe_sysroot" -> "fmt-a.do_populate_sysroot"' in dot
    # virtual/fmt of the native variant is virtual/fmt-native: PREFERRED_PROVIDER_virtual/fmt-native
    assert '"gen-table-native.do_prepare_recipe_sysroot" -> "fmt-b-native.do_populate_sysroot"' in dot
    assert '"gen-table-native.do_install"' in dot and "virtual:native:" in dot
    # no packaging tasks for a native recipe
    assert '"gen-table-native.do_package"' not in dot and '"gen-table-native.do_package_write_deb"' not in dot
    assert '"gentable.do_package_write_deb"' in dot


def _hashes(build: Path) -> dict[str, str]:
    """Each task's hash (pn:do_task) of the graph for gentable, as the build would compute it."""
    from layerbuild.engine.plan import compute_hashes
    from layerbuild.engine.taskgraph import build_graph
    from layerbuild.session import parse_recipes, signatures_of, start_configuration

    config = start_configuration(str(build))
    parsed = parse_recipes(config, jobs=1)
    tg = build_graph(parsed.recipes, [("gentable", "do_build"), ("gen-table", "do_build")])
    hashes = compute_hashes(tg, signatures_of(config, parsed, {tid.fn for tid in tg.graph.nodes}, 1)).taskhashes
    return {f"{tg.info(tid).pn}:{tid.task}": h for tid, h in hashes.items()}


def test_native_signatures_do_not_depend_on_the_machine(tmp_path: Path) -> None:
    """Another MACHINE (another architecture, vendor, tuning, features, overrides) gives every native task
    the hash it had, and every target task another one."""
    build = _build(tmp_path)
    first = _hashes(build)
    local = build / "conf" / "local.conf"
    local.write_text(local.read_text().replace('MACHINE ??= "genericx86-64"', 'MACHINE ??= "armboard"'))
    second = _hashes(build)
    assert first.keys() == second.keys()
    native = [task for task in first if task.split(":")[0].endswith("-native")]
    target = [task for task in first if task not in native]
    assert len(native) > 20 and len(target) > 20
    assert [task for task in native if first[task] != second[task]] == []
    assert [task for task in target if first[task] == second[task] and task.endswith("do_compile")] == []


@pytest.mark.slow
def test_native_tool_runs_in_the_target_build_and_is_shared_by_machines(tmp_path: Path, lb: Runner) -> None:
    build = _build(tmp_path)
    status, out, err = lb("-B", str(build), "gentable")
    assert status == 0, err
    ran = _ran(err)
    assert {"gen-table-native:do_compile", "fmt-b-native:do_populate_sysroot", "pack-native:do_install"} <= set(ran)
    tmp = build / "tmp"
    work = tmp / "work" / "x86_64" / "gentable" / "1.0-r0"
    table = (work / "image/usr/share/gentable/table.txt").read_text().splitlines()
    # the tool came from gentable's native sysroot, through PATH; built by the host compiler for the
    # build host, against the native provider of virtual/fmt
    tool = work / "recipe-sysroot-native/usr/bin/gen-table"
    assert table[0] == f"# generated by {tool} (built by gcc for the build host, with fmt-b class-native)"
    assert table[1:] == ["entry serial", "packed table.txt"]
    assert (work / "recipe-sysroot-native/usr/bin/pack").is_file()
    assert (tmp / "sysroots-components" / BUILD_ARCH / "pack-native/usr/bin/pack").is_file()
    assert not (work / "recipe-sysroot/usr/bin/gen-table").exists()
    assert (work / "recipe-sysroot/usr/share/fmt/which").read_text() == "fmt-a class-target\n"
    # the native recipe's own work, stamps and sysroot component are the build host's architecture's
    native_work = tmp / "work" / BUILD_ARCH / "gen-table-native" / "1.0-r0"
    assert (native_work / "recipe-sysroot-native/usr/share/fmt/which").read_text() == "fmt-b class-native\n"
    assert (tmp / "sysroots-components" / BUILD_ARCH / "gen-table-native/usr/bin/gen-table").is_file()
    assert list((tmp / "stamps" / BUILD_ARCH / "gen-table-native").glob("1.0-r0.do_populate_sysroot.*"))
    # packages for the target recipe, none for a native one
    debs = sorted(p.name for p in (tmp / "deploy" / "deb").rglob("*.deb"))
    assert debs == ["fmt-a-dev_1.0-r0_amd64.deb", "fmt-a_1.0-r0_amd64.deb", "gentable_1.0-r0_amd64.deb"]
    contents = subprocess.run(["dpkg-deb", "--contents", str(next((tmp / "deploy/deb").rglob("gentable_*.deb")))],
                              capture_output=True, text=True, check=True).stdout
    assert "./usr/share/gentable/table.txt" in contents

    # another machine: the target recipe is built again with its features, no native task runs again
    local = build / "conf" / "local.conf"
    local.write_text(local.read_text().replace('MACHINE ??= "genericx86-64"', 'MACHINE ??= "othermachine"'))
    status, out, err = lb("-B", str(build), "gentable")
    assert status == 0, err
    ran = _ran(err)
    assert "gentable:do_compile" in ran
    assert [task for task in ran if task.split(":")[0].endswith("-native")] == []
    table = (work / "image/usr/share/gentable/table.txt").read_text().splitlines()
    assert table[1:] == ["entry screen", "entry wifi", "packed table.txt"]


@pytest.mark.slow
def test_the_chosen_native_provider_is_staged_when_another_was_built_before(tmp_path: Path, lb: Runner) -> None:
    """virtual/fmt-native provided by fmt-a-native, then by fmt-b-native: both components are there for
    the second build, and gen-table-native gets the one the build chose."""
    build = _build(tmp_path)
    local = build / "conf" / "local.conf"
    native_sysroot = build / "tmp/work" / BUILD_ARCH / "gen-table-native/1.0-r0/recipe-sysroot-native"
    for provider in ("fmt-a-native", "fmt-b-native"):
        local.write_text(re.sub(r'(PREFERRED_PROVIDER_virtual/fmt-native = )"[^"]*"', rf'\1"{provider}"',
                                local.read_text()))
        status, out, err = lb("-B", str(build), "gen-table-native")
        assert status == 0, err
        assert {f"{provider}:do_populate_sysroot", "gen-table-native:do_prepare_recipe_sysroot"} <= set(_ran(err))
        assert (native_sysroot / "usr/share/fmt/which").read_text() == f"{provider[:5]} class-native\n"
    components = build / "tmp/sysroots-components" / BUILD_ARCH
    assert {"fmt-a-native", "fmt-b-native"} <= {p.name for p in components.iterdir()}
    # the .pc file names the sysroot it was staged in; the component, a placeholder for it
    assert (components / "fmt-b-native/usr/lib/pkgconfig/fmt.pc").read_text().startswith(
        "prefix=FIXMESTAGINGDIRHOST/usr\n")
    pc = native_sysroot / "usr/lib/pkgconfig"
    assert (pc / "fmt.pc").read_text().startswith(f"prefix={native_sysroot}/usr\n")
    pkg_config = shutil.which("pkg-config")
    if pkg_config:  # and pkg-config reads it so
        cflags = subprocess.run([pkg_config, "--cflags", "fmt"], env={**os.environ, "PKG_CONFIG_PATH": str(pc)},
                                capture_output=True, text=True, check=True).stdout.split()
        assert cflags == [f"-I{native_sysroot}/usr/include"]


@pytest.mark.slow
def test_sample_code_generator_runs_natively_in_the_target_build(tmp_path: Path, lb: Runner) -> None:
    """greet-gen-native, built from C with the host compiler, generates the table greetings compiles."""
    build = make_build(tmp_path, [])
    status, out, err = lb("-B", str(build), "greetings")
    assert status == 0, err
    assert {"greet-gen-native:do_compile", "greetings:do_compile"} <= set(_ran(err))
    tmp = build / "tmp"
    work = tmp / "work" / "x86_64" / "greetings" / "1.0-r0"
    header = (work / "sources" / "greetings-table.h").read_text()
    assert header.startswith("/* Generated by greet-gen 1.0: 5 greetings, sorted by language. Do not edit. */")
    tool = work / "recipe-sysroot-native" / "usr" / "bin" / "greet-gen"
    staged = tmp / "sysroots-components" / BUILD_ARCH / "greet-gen-native" / "usr" / "bin" / "greet-gen"
    assert tool.read_bytes() == staged.read_bytes()
    # the tool is a build-host program: its ELF header says so (readelf, independent of layerbuild)
    header_info = subprocess.run(["readelf", "-h", str(tool)], capture_output=True, text=True, check=True).stdout
    assert {"x86_64": "X86-64", "aarch64": "AArch64"}[BUILD_ARCH] in header_info
    # the generator's own output, run again here, is what the build compiled
    generated = subprocess.run([str(tool), f"{CORE}/recipes/recipes-example/greetings/files/greetings.txt"],
                               capture_output=True, text=True, check=True).stdout
    assert generated == header
    deb = next((tmp / "deploy" / "deb").rglob("greetings_1.0-r0_*.deb"))
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    greetings = str(root / "usr" / "bin" / "greetings")
    # sorted by the generator (the list in the layer is not), found by binary search in the program
    assert subprocess.run([greetings], capture_output=True, text=True, check=True).stdout.splitlines() == [
        "de: Hallo", "en: Hello", "es: Hola", "fr: Bonjour", "sv: Hej", "(5 languages, table from greet-gen 1.0)"]
    assert subprocess.run([greetings, "sv", "Ann"], capture_output=True, text=True, check=True).stdout == "Hej, Ann!\n"
    assert not list((tmp / "deploy" / "deb").rglob("greet-gen-native*"))
