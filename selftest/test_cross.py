"""genericarm64: building for AArch64 with Debian's cross toolchain, from a clean build directory with
``MACHINE = "genericarm64"`` in local.conf.

Everything is checked with tools that know nothing of layerbuild: pyelftools reads the ELF headers,
dpkg-deb the packages, the real dpkg installs them into the arm64 root file system (its database is
dpkg's, with arm64 added as an architecture), qemu-user runs the programs against that root, and the
host's systemd-sysext refuses to merge the arm64 extension where it merges the x86-64 one. The debug
tools' testimage boots the arm64 images in a subhost with binfmt_misc running their programs.

The sources of the debug tools come through DEBIAN_MIRROR into the DL_DIR the other real-software tests
keep (LAYERBUILD_TEST_DL_DIR); with neither a mirror nor the files, the tests are skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import BuildDir, device_with_extension, make_build, sysext_merge
from elftools.elf.elffile import ELFFile
from test_debugtools import SOURCES
from test_realsw import DL_DIR

from layerbuild.util import qemuuser
from layerbuild.util.aptsources import debian_mirror

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("aarch64-linux-gnu-gcc") is None,
                                 reason="needs Debian's cross toolchain (gcc-aarch64-linux-gnu)"),
              pytest.mark.skipif(shutil.which("qemu-aarch64-static") is None, reason="needs qemu-user-static")]

ARM = "genericarm64"
X86 = "genericx86-64"
RAN = re.compile(r"^NOTE: Running task \d+ of \d+ \((\S+)\)$", re.M)


def set_machine(top: Path, machine: str) -> BuildDir:
    (top / "conf/local.conf").write_text(f'MACHINE = "{machine}"\nDISTRO = "lbdistro"\nDL_DIR = "{DL_DIR}"\n')
    return BuildDir(top, machine)


@pytest.fixture(scope="module")
def arm(tmp_path_factory: pytest.TempPathFactory) -> BuildDir:
    """debug-tools-sysext, extending-image and the allarch greet-conf for genericarm64, from clean."""
    if debian_mirror() is None and not all((DL_DIR / f"{name}.done").exists() for name in SOURCES):
        pytest.skip("the host's apt sources name no Debian mirror, and DL_DIR does not hold the sources")
    top = make_build(tmp_path_factory.mktemp("cross"), [])
    build = set_machine(top, ARM)
    build.run("debug-tools-sysext", "extending-image", "greet-conf")
    return build


@pytest.fixture(scope="module")
def x86(arm: BuildDir) -> tuple[BuildDir, list[str]]:
    """extending-image and greet-conf for genericx86-64 in the same build directory afterwards, and the
    tasks that build ran."""
    build = set_machine(arm.top, X86)
    result = build.run("extending-image", "greet-conf")
    set_machine(arm.top, ARM)
    return build, RAN.findall(result.stdout + result.stderr)


def deb(build: BuildDir, name: str) -> Path:
    (path,) = (build.top / "tmp/deploy/deb/aarch64").glob(f"{name}_*_arm64.deb")
    return path


def field(path: Path, name: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(path), name], capture_output=True, text=True, check=True).stdout.strip()


def elf_machine(path: Path) -> tuple[str, str | None]:
    with open(path, "rb") as fh:
        elf = ELFFile(fh)
        interp = next((s.get_interp_name() for s in elf.iter_segments() if s["p_type"] == "PT_INTERP"), None)
        return elf["e_machine"], interp


def rootfs(build: BuildDir, tmp_path: Path) -> Path:
    """some-core-image's arm64 root file system, unpacked, with greet and libgreet installed by dpkg."""
    root = tmp_path / "root"
    root.mkdir()
    subprocess.run(["tar", "-C", str(root), "--zstd", "-xf", str(build.deploy / f"some-core-image-{ARM}.rootfs.tar.zst")],
                   check=True)
    subprocess.run(["dpkg", f"--root={root}", "--add-architecture", "arm64"], check=True)
    subprocess.run(["dpkg", f"--root={root}", "-i", str(deb(build, "libgreet")), str(deb(build, "greet"))],
                   check=True, capture_output=True)
    return root


def test_greet_is_an_aarch64_program_in_an_arm64_package(arm: BuildDir, tmp_path: Path) -> None:
    greet = deb(arm, "greet")
    assert field(greet, "Architecture") == "arm64"
    depends = field(greet, "Depends")
    assert re.fullmatch(r"libgreet \(>= 1\.0-r0\), libc6 \(>= [0-9.]+-r0\)", depends), depends
    # the packages it depends on are the arm64 ones, holding AArch64 code too
    for name, library in (("libgreet", "usr/lib/libgreet.so.1"), ("libc6", "usr/lib/aarch64-linux-gnu/libc.so.6")):
        assert field(deb(arm, name), "Architecture") == "arm64"
        subprocess.run(["dpkg-deb", "-x", str(deb(arm, name)), str(tmp_path / name)], check=True)
        assert elf_machine(tmp_path / name / library)[0] == "EM_AARCH64"
    subprocess.run(["dpkg-deb", "-x", str(greet), str(tmp_path / "greet")], check=True)
    assert elf_machine(tmp_path / "greet/usr/bin/greet") == ("EM_AARCH64", "/lib/ld-linux-aarch64.so.1")
    # stripped with the cross strip: no symbol table left, the debug information in greet-dbg
    readelf = subprocess.run(["readelf", "-S", str(tmp_path / "greet/usr/bin/greet")], capture_output=True, text=True,
                             check=True).stdout
    assert ".symtab" not in readelf and ".gnu_debuglink" in readelf
    # cross-configured real software: autotools, CMake and Meson builds of the debug tools are AArch64 too
    for pn, program in (("tcpdump", "usr/bin/tcpdump"), ("iperf3", "usr/bin/iperf3"), ("strace", "usr/bin/strace"),
                        ("dropbear", "usr/sbin/dropbear")):
        subprocess.run(["dpkg-deb", "-x", str(deb(arm, pn)), str(tmp_path / pn)], check=True)
        assert elf_machine(tmp_path / pn / program)[0] == "EM_AARCH64", pn


def test_greet_runs_under_qemu_user_against_the_arm64_rootfs(arm: BuildDir, tmp_path: Path) -> None:
    root = rootfs(arm, tmp_path)
    listed = subprocess.run(["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W", "-f", "${Package}:${Architecture}\n"],
                            capture_output=True, text=True, check=True).stdout.split()
    assert {"greet:arm64", "libgreet:arm64", "libc6:arm64"} <= set(listed)
    result = qemuuser.run(str(root), ["/usr/bin/greet", "board"], "aarch64")
    assert result.stdout == b"Hello, board! (libgreet 1.0)\n"
    # the root's own loader and C library ran it: without the root, the program has no interpreter
    alone = subprocess.run(["qemu-aarch64-static", str(root / "usr/bin/greet")], capture_output=True, text=True)
    assert alone.returncode != 0 and "ld-linux-aarch64.so.1" in alone.stderr


def test_the_arm64_extension_is_refused_by_the_hosts_systemd_sysext(arm: BuildDir, x86: tuple[BuildDir, list[str]],
                                                                   tmp_path: Path) -> None:
    if shutil.which("systemd-sysext") is None or os.geteuid() != 0:
        pytest.skip("needs systemd-sysext and root")
    x86_build, _ran = x86
    releases = {}
    for machine, build, arch in ((ARM, arm, "arm64"), (X86, x86_build, "x86-64")):
        raw = build.deploy / "extending-image.raw"
        release = subprocess.run(["unsquashfs", "-cat", str(raw), "usr/lib/extension-release.d/extension-release.extending-image"],
                                 capture_output=True, text=True, check=True).stdout
        assert f"ARCHITECTURE={arch}\n" in release
        releases[machine] = release.replace(f"ARCHITECTURE={arch}\n", "")
        root = tmp_path / machine
        device_with_extension(root, build.deploy / f"some-core-image-{machine}.rootfs.tar.zst", raw)
        mounts, out = sysext_merge(root, "")
        if machine == ARM:
            # systemd 252 says only that it ignored one (its debug log names the architecture)
            assert mounts == "" and "1 ignored" in out, out
        else:
            assert "overlay" in mounts, out
    # the architecture is all that differs: the arm64 extension was refused for it
    assert releases[ARM] == releases[X86]


def test_allarch_output_is_shared_and_nothing_target_specific(arm: BuildDir, x86: tuple[BuildDir, list[str]]) -> None:
    _build, ran = x86
    # the allarch recipe built for genericarm64 is not built again for genericx86-64 ...
    assert not [t for t in ran if t.startswith("greet-conf:")], ran
    # ... and every target recipe is
    for task in ("glibc-external:do_install", "libgreet:do_compile", "greet:do_compile", "base-files:do_install"):
        assert task in ran, task
    work = arm.top / "tmp/work"
    assert {p.name for p in work.iterdir()} >= {"aarch64", "x86_64", "all", "genericarm64", "genericx86_64"}
    assert (work / "all/greet-conf").is_dir() and not (work / "aarch64/greet-conf").exists()


def test_the_debug_tools_testimage_runs_under_qemu_user(arm: BuildDir) -> None:
    problem = qemuuser.binfmt_problem("arm64")
    before = sorted(os.listdir(qemuuser.BINFMT_DIR)) if os.path.isdir(qemuuser.BINFMT_DIR) else []
    result = arm.run("-c", "testimage", "debug-tools-sysext", check=False, timeout=900)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    report = ET.parse(arm.deploy / f"debug-tools-sysext-{ARM}.testimage.xml").getroot()
    cases = {str(case.get("name")).rsplit(".", 1)[-1]: case for case in report.iter("testcase")}
    if problem:
        assert f"skipped: the image is for arm64 and this host cannot run it: {problem}" in out
        return
    skipped = {name for name, case in cases.items() if case.find("skipped") is not None}
    assert not [c for c in cases.values() if c.find("failure") is not None or c.find("error") is not None], out
    # everything ran but what qemu-user does not emulate (ptrace, the SIOCETHTOOL ioctl), and the greet test
    # of the sysext suite, which has no greet to run in this extension (as on x86-64)
    assert skipped == {"test_strace_traces_a_program_of_the_extension", "test_tcpdump_lists_the_cable",
                       "test_greet_runs_with_libgreet_from_the_extension"}, skipped
    assert {"test_dropbear_sends_its_ssh_banner_over_the_cable", "test_tcpdump_runs_with_libpcap",
            "test_iperf3_runs_with_libiperf", "test_strace_runs"} <= set(cases)
    # the host's binfmt_misc rules are as they were
    assert (sorted(os.listdir(qemuuser.BINFMT_DIR)) if os.path.isdir(qemuuser.BINFMT_DIR) else []) == before
