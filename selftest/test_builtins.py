"""The builtin task table: every builtin declares what it reads, and those reads are in the signatures.

A builtin's reads are the rows of the variable table that name it. Each builtin runs once over the
sample layer with a recording variable view; a read that is neither declared (a signature dependency)
nor explicitly unhashed fails the test, so a builtin that starts reading a new variable cannot leave
stale packages or images behind, and every read resolves to a row of the table.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_build

from layerbuild.builtins import BUILTINS
from layerbuild.session import parse_recipes, parse_target_recipe, start_configuration
from layerbuild.taskapi import context_from
from layerbuild.util.errors import Location, VariableError
from layerbuild.util.variables import UnknownVariable, lookup

#: (recipe, task, builtin) covering every builtin of the table
PLAN = [
    ("hello", "do_fetch", "fetch"), ("hello", "do_unpack", "unpack"), ("hello", "do_patch", "patch"),
    ("hello", "do_prepare_recipe_sysroot", "prepare_recipe_sysroot"),
    ("hello", "do_populate_sysroot", "populate_sysroot"), ("hello", "do_populate_lic", "populate_lic"),
    ("hello", "do_package", "package"),
    ("hello", "do_package_write_deb", "package_write_deb"), ("package-index", "do_package_index", "package_index"),
    ("base-files", "do_install", "os_release"),
    ("some-core-image", "do_rootfs", "rootfs"), ("some-core-image", "do_rootfs", "read_only_rootfs"),
    ("some-core-image", "do_rootfs", "empty_root_password"), ("some-core-image", "do_rootfs", "systemd_preset_all"), ("some-core-image", "do_image_squashfs", "image"),
    ("some-core-image", "do_pkgdbfs", "pkgdbfs"), ("some-core-image", "do_image_complete", "image_complete"),
    ("extending-image", "do_rootfs", "extension_rootfs"), ("extending-image", "do_rootfs", "extension_check"),
    ("extending-image", "do_image_squashfs", "image"), ("demo-portable", "do_rootfs", "portable_rootfs"),
    ("some-core-image", "do_testimage", "testimage"),
    ("hello", "do_create_spdx", "create_spdx"), ("extending-image", "do_create_image_sbom_spdx", "image_sbom"),
    ("some-core-image", "do_image", "buildhistory_image"),
]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    top = make_build(tmp_path_factory.mktemp("builtins"), [], local='INHERIT += "buildhistory"\n')
    subprocess.run([sys.executable, "-m", "layerbuild.cli", "-B", str(top), "extending-image", "demo-portable",
                    "package-index"], check=True, capture_output=True)
    return top


def test_plan_covers_every_builtin() -> None:
    assert {name for _pn, _task, name in PLAN} == set(BUILTINS)


def _has_row(read: str) -> bool:
    """``X``, ``X:pkg`` and the flag reads ``X[flag]``/``X[]`` resolve to X's row (or its family's)."""
    try:
        lookup(read.split("[")[0])
    except UnknownVariable:
        return False
    return True


def test_unhashed_reads_name_rows() -> None:
    """What a builtin declares besides its rows also names rows, but for the flags of its own task."""
    for builtin in BUILTINS.values():
        for read in builtin.unhashed:
            assert read.startswith("{task}[") or _has_row(read), f"{builtin.name}: {read} has no row"


def test_every_builtin_declares_what_it_reads(built: Path) -> None:
    config = start_configuration(str(built))
    parsed = parse_recipes(config)
    ignored = set((config.d.getVar("BB_BASEHASH_IGNORE_VARS") or "").split())
    problems = []
    cwd = os.getcwd()
    try:
        for pn, task, name in PLAN:
            if name == "testimage" and os.geteuid() != 0:
                continue
            fn = parsed.recipes.resolve(pn)
            d = parse_target_recipe(config, fn, parsed.recipes.infos[fn].appends)
            d.setVar("BB_CURRENT_TASK", task[3:])
            os.makedirs(d.getVar("T"), exist_ok=True)
            if name.endswith("rootfs") and name != "read_only_rootfs":
                shutil.rmtree(d.getVar("IMAGE_ROOTFS"), ignore_errors=True)
                os.makedirs(d.getVar("IMAGE_ROOTFS"))
            os.chdir(d.getVar("WORKDIR"))
            reads: set[str] = set()
            builtin = BUILTINS[name]
            builtin.func(context_from(d, task, record=reads))
            packages = (d.getVar("PACKAGES") or "").split()
            allowed = set(builtin.vardeps(packages, lambda var, data=d: (data.getVar(var) or "").split())) | ignored
            allowed |= {u.replace("{task}", task) for u in builtin.unhashed}
            for read in sorted(reads - allowed):
                problems.append(f"{name} ({pn}:{task}) reads {read}, which no row of layerbuild/util/variables.py "
                                "names it in tasks and its Builtin entry does not list as unhashed")
            for read in sorted(r for r in reads if not r.startswith(f"{task}[") and not _has_row(r)):
                problems.append(f"{name} ({pn}:{task}) reads {read}, which has no row in layerbuild/util/variables.py")
    finally:
        os.chdir(cwd)
    assert not problems, "\n".join(problems)


#: the builtins that read SOURCE_DATE_EPOCH: packages, root filesystems, images and snapshots
EPOCH_READERS = [entry for entry in PLAN if entry[2] in (
    "package_write_deb", "rootfs", "image", "pkgdbfs", "extension_rootfs", "portable_rootfs")]


@pytest.mark.parametrize(("pn", "task", "name"), EPOCH_READERS, ids=[f"{n}-{p}" for p, _t, n in EPOCH_READERS])
def test_a_bad_epoch_is_an_error_at_its_line_in_every_reader(built: Path, pn: str, task: str, name: str) -> None:
    """One parser for SOURCE_DATE_EPOCH: each builtin that reads it stops at the line that set it."""
    config = start_configuration(str(built))
    parsed = parse_recipes(config)
    fn = parsed.recipes.resolve(pn)
    d = parse_target_recipe(config, fn, parsed.recipes.infos[fn].appends)
    d.setVar("BB_CURRENT_TASK", task[3:])
    d.setVar("SOURCE_DATE_EPOCH", "soon", file=fn, line=99)
    os.makedirs(d.getVar("T"), exist_ok=True)
    if name.endswith("rootfs"):
        shutil.rmtree(d.getVar("IMAGE_ROOTFS"), ignore_errors=True)
        os.makedirs(d.getVar("IMAGE_ROOTFS"))
    cwd = os.getcwd()
    os.chdir(d.getVar("WORKDIR"))
    try:
        with pytest.raises(VariableError) as info:
            BUILTINS[name].func(context_from(d, task))
    finally:
        os.chdir(cwd)
    assert info.value.location == Location(fn, 99)
    assert info.value.message == "SOURCE_DATE_EPOCH is not a whole number of seconds since 1970: 'soon'"


def _ran(err: str) -> list[str]:
    return sorted(line.split("(")[1].rstrip(")") for line in err.splitlines() if "Running task" in line)


#: (variable, new value, the task its change must run again)
CHANGED_INPUTS = [
    ("SUMMARY", "A different summary", "hello:do_package_write_deb"),
    ("DESCRIPTION", "Another description.", "hello:do_package_write_deb"),
    ("FILES:hello:append", " /usr/share/hello", "hello:do_package"),
    ("ALLOW_EMPTY:hello-dev", "1", "hello:do_package"),
    ("RDEPENDS:hello", "libc6 (>= 2.0)", "hello:do_package"),
    ("pkg_postinst:hello", "echo configured", "hello:do_package_write_deb"),
]


def test_a_changed_input_rebuilds_the_package(tmp_path: Path) -> None:
    """Each input the packaging builtins read, changed in turn after a build, runs its task again."""
    top = make_build(tmp_path, [])
    cmd = [sys.executable, "-m", "layerbuild.cli", "-B", str(top), "hello"]
    subprocess.run(cmd, check=True, capture_output=True)
    for var, value, task in CHANGED_INPUTS:
        with open(top / "conf" / "local.conf", "a") as fh:
            fh.write(f'{var}:pn-hello = "{value}"\n' if ":" not in var else f'{var} = "{value}"\n')
        result = subprocess.run(cmd, check=True, capture_output=True, text=True)
        assert task in _ran(result.stderr), f"{var} changed, {task} did not run:\n{result.stderr}"
