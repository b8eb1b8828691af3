"""The debug tools from Debian's orig tarballs (libpcap, tcpdump, iperf3, strace, with zlib and dropbear)
and debug-tools-sysext, which ships them as a system extension of some-core-image.

Each recipe's .debs are read with dpkg-deb and installed with dpkg --root into an empty root, where the
programs run under chroot; the libraries a binary needs (DT_NEEDED, read with pyelftools) are the ones in
the recipe sysroot it was linked against, the very files the installed packages hold (same build id).
The extension is listed with unsquashfs and booted on its base by ``-c testimage``.

The sources come through DEBIAN_MIRROR into the DL_DIR the other real-software tests keep
(LAYERBUILD_TEST_DL_DIR); with neither a mirror nor the files, the tests are skipped.
"""

from __future__ import annotations

import hashlib
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import BuildDir, make_build
from test_realsw import DL_DIR, build_id, dpkg_deb, dynamic, feed

from layerbuild.util.aptsources import debian_mirror

pytestmark = pytest.mark.slow

SOURCES = ("zlib_1.2.13.dfsg.orig.tar.bz2", "dropbear_2022.83.orig.tar.bz2", "libpcap_1.10.3.orig.tar.gz",
           "tcpdump_4.99.3.orig.tar.gz", "iperf3_3.9.orig.tar.gz", "strace_6.1.orig.tar.xz")
IMAGE = "debug-tools-sysext"
#: what the extension ships: the tools and the libraries some-core-image lacks
EXTENSION_PACKAGES = ["dropbear", "iperf3", "libpcap", "strace", "tcpdump", "zlib"]


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> BuildDir:
    if debian_mirror() is None and not all((DL_DIR / f"{name}.done").exists() for name in SOURCES):
        pytest.skip("the host's apt sources name no Debian mirror, and DL_DIR does not hold the sources")
    top = make_build(tmp_path_factory.mktemp("debugtools"), [], local=f'DL_DIR = "{DL_DIR}"\n')
    build = BuildDir(top)
    build.run(IMAGE)
    return build


def work(build: BuildDir, pn: str) -> Path:
    (directory,) = (build.top / "tmp/work").glob(f"*/{pn}/*")
    return directory


def configure_log(build: BuildDir, pn: str) -> str:
    return next((work(build, pn) / "temp").glob("log.do_configure.*")).read_text()


def sysroot_sonames(build: BuildDir, pn: str) -> dict[str, Path]:
    """The shared libraries of the recipe sysroot ``pn`` was linked against, by SONAME."""
    sonames = {}
    for lib in (work(build, pn) / "recipe-sysroot/usr/lib").rglob("lib*.so*"):
        if lib.is_file() and not lib.is_symlink() and lib.read_bytes()[:4] == b"\x7fELF":
            soname = dynamic(lib)[1]
            if soname:
                sonames[soname] = lib
    return sonames


@pytest.fixture(scope="module")
def root(build: BuildDir, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty root with dpkg's database, the tools installed into it by dpkg --root."""
    root = tmp_path_factory.mktemp("root")
    for directory in ("var/lib/dpkg/updates", "var/lib/dpkg/info", "var/log"):
        (root / directory).mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text("")
    debs = [str(feed(build, name)) for name in ("base-files", "libc6", *EXTENSION_PACKAGES)]
    subprocess.run(["dpkg", f"--root={root}", "--log=/dev/null", "-i", *debs], check=True, capture_output=True)
    return root


def chroot(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """A program of the installed root, run in it: its loader, its libraries, nothing of the host's."""
    return subprocess.run(["chroot", str(root), *argv], capture_output=True, text=True, timeout=60)


def licences(build: BuildDir, pn: str) -> dict[str, str]:
    deployed = build.top / "tmp/deploy/licenses" / pn
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in deployed.iterdir() if p.name != "recipeinfo"}


def test_libpcap_packages_and_licence(build: BuildDir) -> None:
    lib, dev = feed(build, "libpcap"), feed(build, "libpcap-dev")
    fields = dpkg_deb("-f", str(lib), "Package", "Version", "Depends").splitlines()
    assert fields[:2] == ["Package: libpcap", "Version: 1.10.3-r0"]
    assert fields[2].startswith("Depends: libc6 (>= ") and "," not in fields[2]
    assert "./usr/lib/libpcap.so.1 -> libpcap.so.1.10.3\n" in dpkg_deb("-c", str(lib))
    assert dynamic(work(build, "libpcap") / "image/usr/lib/libpcap.so.1.10.3") == (["libc.so.6"], "libpcap.so.1")
    listing = dpkg_deb("-c", str(dev))
    assert "./usr/include/pcap/pcap.h" in listing and "./usr/lib/pkgconfig/libpcap.pc" in listing
    # other recipes find libpcap through libpcap.pc: pcap-config, which prints build paths, is not shipped
    assert "pcap-config" not in listing and not (work(build, "libpcap") / "image/usr/bin").exists()
    assert licences(build, "libpcap") == {"LICENSE": "5eb289217c160e2920d2e35bddc36453",
                                          "pcap.h": "39af3510e011f34b8872f120b1dc31d2",
                                          "generic_BSD-3-Clause": licences(build, "tcpdump")["generic_BSD-3-Clause"]}
    log = configure_log(build, "libpcap")
    assert "--with-pcap=linux" in log and "--without-dag" in log and "--disable-ipv6" in log


def test_tcpdump_finds_libpcap_through_pkg_config_in_its_sysroot(build: BuildDir, root: Path) -> None:
    deb = feed(build, "tcpdump")
    depends = dpkg_deb("-f", str(deb), "Depends").strip()
    assert depends.startswith("libpcap (>= 1.10.3-r0), libc6 (>= ")
    assert "./usr/bin/tcpdump\n" in dpkg_deb("-c", str(deb))
    needed, _ = dynamic(work(build, "tcpdump") / "image/usr/bin/tcpdump")
    assert needed == ["libpcap.so.1", "libc.so.6"]
    sonames = sysroot_sonames(build, "tcpdump")
    assert set(needed) <= set(sonames)
    # the libpcap it linked against is the one the installed package holds
    assert build_id((root / "usr/lib/libpcap.so.1").resolve()) == build_id(sonames["libpcap.so.1"])
    log = configure_log(build, "tcpdump")
    assert "checking whether to look for a local libpcap... no" in log
    assert "checking whether there are .pc files for libpcap... yes" in log
    assert "--without-crypto" in log and "--without-cap-ng" in log
    makefile = (work(build, "tcpdump") / "build/Makefile").read_text()
    (incls,) = [line for line in makefile.splitlines() if line.startswith("INCLS =")]
    assert "/usr/include" not in incls and "/usr/local" not in incls


def test_iperf3_packages_its_library(build: BuildDir) -> None:
    deb = feed(build, "iperf3")
    depends = dpkg_deb("-f", str(deb), "Depends").strip()
    # libiperf.so.0 is in the package itself; libm is the C runtime's
    assert depends.startswith("libc6 (>= ") and "," not in depends
    listing = dpkg_deb("-c", str(deb))
    assert "./usr/bin/iperf3\n" in listing and "./usr/lib/libiperf.so.0 -> libiperf.so.0.0.0\n" in listing
    image = work(build, "iperf3") / "image"
    assert dynamic(image / "usr/bin/iperf3")[0] == ["libiperf.so.0", "libc.so.6"]
    assert dynamic(image / "usr/lib/libiperf.so.0.0.0") == (["libm.so.6", "libc.so.6"], "libiperf.so.0")
    assert {"libm.so.6", "libc.so.6"} <= set(sysroot_sonames(build, "iperf3"))
    assert "./usr/include/iperf_api.h" in dpkg_deb("-c", str(feed(build, "iperf3-dev")))
    assert licences(build, "iperf3")["LICENSE"] == "b7fb682e9941a49f1214dcd7441410d7"
    log = configure_log(build, "iperf3")
    assert "--without-openssl" in log and "checking for netinet/sctp.h... (cached) no" in log


def test_strace_without_the_libraries_it_has_no_recipe_for(build: BuildDir) -> None:
    deb = feed(build, "strace")
    depends = dpkg_deb("-f", str(deb), "Depends").strip()
    assert depends.startswith("libc6 (>= ") and "," not in depends
    assert "./usr/bin/strace\n" in dpkg_deb("-c", str(deb))
    assert dynamic(work(build, "strace") / "image/usr/bin/strace")[0] == ["libc.so.6"]
    log = configure_log(build, "strace")
    assert "--enable-mpers=no" in log and "checking whether to enable stack tracing support... no" in log
    assert licences(build, "strace")["COPYING"] == "59a33f0a3e6122d67c0b3befccbdaa6b"
    assert {"generic_GPL-2.0-or-later", "generic_LGPL-2.1-or-later"} <= set(licences(build, "strace"))


def test_the_tools_run_in_the_installed_root(root: Path) -> None:
    status = subprocess.run(["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W", "-f", "${Package} ${Version}\n",
                             *EXTENSION_PACKAGES], capture_output=True, text=True, check=True).stdout
    assert status.splitlines() == ["dropbear 2022.83-r0", "iperf3 3.9-r0", "libpcap 1.10.3-r0", "strace 6.1-r0",
                                   "tcpdump 4.99.3-r0", "zlib 1.2.13-r0"]
    tcpdump = chroot(root, "/usr/bin/tcpdump", "--version")
    assert tcpdump.returncode == 0, tcpdump.stderr
    assert "tcpdump version 4.99.3" in tcpdump.stdout and "libpcap version 1.10.3" in tcpdump.stdout
    iperf3 = chroot(root, "/usr/bin/iperf3", "--version")
    assert iperf3.returncode == 0, iperf3.stderr
    assert iperf3.stdout.startswith("iperf 3.9 ")
    strace = chroot(root, "/usr/bin/strace", "-V")
    assert strace.returncode == 0 and "strace -- version 6.1" in strace.stdout
    traced = chroot(root, "/usr/bin/strace", "-e", "trace=execve", "/usr/bin/iperf3", "--version")
    assert traced.returncode == 0, traced.stderr
    assert 'execve("/usr/bin/iperf3", ["/usr/bin/iperf3", "--version"]' in traced.stderr
    dropbear = chroot(root, "/usr/sbin/dropbear", "-V")
    assert "Dropbear v2022.83" in dropbear.stderr


def test_the_extension_ships_only_what_the_base_lacks(build: BuildDir) -> None:
    manifest = (build.deploy / f"{IMAGE}-genericx86-64.manifest").read_text().splitlines()
    assert [line.split()[0] for line in manifest] == EXTENSION_PACKAGES
    base = (build.deploy / "some-core-image-genericx86-64.manifest").read_text()
    assert "libc6 " in base and "dropbear" not in base
    listing = subprocess.run(["unsquashfs", "-lc", "-d", "", str(build.deploy / f"{IMAGE}.raw")],
                             capture_output=True, text=True, check=True).stdout.split()
    for path in ("/usr/sbin/dropbearmulti", "/usr/lib/systemd/system/dropbear.service", "/usr/bin/tcpdump",
                 "/usr/lib/libpcap.so.1.10.3", "/usr/bin/iperf3", "/usr/lib/libiperf.so.0.0.0", "/usr/bin/strace",
                 "/usr/lib/libz.so.1.2.13", f"/usr/lib/extension-release.d/extension-release.{IMAGE}"):
        assert path in listing
    # dropbear's socket is enabled beside its unit, and the manager reloads after the merge to see it
    links = subprocess.run(["unsquashfs", "-ll", "-d", "", str(build.deploy / f"{IMAGE}.raw")],
                           capture_output=True, text=True, check=True).stdout
    assert "/usr/lib/systemd/system/sockets.target.wants/dropbear.socket -> ../dropbear.socket\n" in links
    release = subprocess.run(["unsquashfs", "-cat", str(build.deploy / f"{IMAGE}.raw"),
                              f"usr/lib/extension-release.d/extension-release.{IMAGE}"],
                             capture_output=True, text=True, check=True).stdout
    assert release.splitlines() == ["ID=lbdistro", "VERSION_ID=1.0", "ARCHITECTURE=x86-64", "EXTENSION_RELOAD_MANAGER=1"]
    # the C runtime is the base's, and nothing outside /usr ships
    assert not [p for p in listing if "x86_64-linux-gnu" in p or "ld-linux" in p]
    assert all(p.startswith("/usr/") for p in listing)


def test_testimage_boots_the_base_with_the_extension(build: BuildDir) -> None:
    result = build.run("-c", "testimage", IMAGE)
    assert "debugtools: 7 passed, 0 failed, 0 skipped" in result.stdout + result.stderr
    report = ET.parse(build.deploy / f"{IMAGE}-genericx86-64.testimage.xml").getroot()
    (suite,) = [s for s in report.iter("testsuite") if s.get("name") == "debugtools"]
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert len(cases) == 7
    for name in ("test_dropbear_sends_its_ssh_banner_over_the_cable", "test_tcpdump_runs_with_libpcap",
                 "test_iperf3_runs_with_libiperf", "test_strace_runs"):
        assert list(cases[f"DebugToolsTest.{name}"]) == []  # no failure, error or skipped element
