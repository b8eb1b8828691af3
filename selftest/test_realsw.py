"""Real software from Debian's orig tarballs: zlib (its own configure) and dropbear (autotools, zlib through
the recipe sysroot), checked with dpkg-deb, installed with dpkg --root and run from that root.

The sources come through DEBIAN_MIRROR (the host's apt mirror) into a DL_DIR kept between runs
(LAYERBUILD_TEST_DL_DIR, else layerbuild-test-downloads in the temporary directory), so only the first
run downloads; with neither a mirror nor the files, the tests are skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest
from conftest import CORE, BuildDir, make_build
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

from layerbuild.util.aptsources import debian_mirror

pytestmark = pytest.mark.slow

DL_DIR = Path(os.environ.get("LAYERBUILD_TEST_DL_DIR") or Path(tempfile.gettempdir()) / "layerbuild-test-downloads")
SOURCES = ("zlib_1.2.13.dfsg.orig.tar.bz2", "dropbear_2022.83.orig.tar.bz2")
MULTIARCH = "x86_64-linux-gnu"


def dynamic(path: Path) -> tuple[list[str], str | None]:
    """DT_NEEDED entries and DT_SONAME of an ELF file."""
    with open(path, "rb") as fh:
        tags = [tag for section in ELFFile(fh).iter_sections() if isinstance(section, DynamicSection)
                for tag in section.iter_tags()]
    return ([t.needed for t in tags if t.entry.d_tag == "DT_NEEDED"],
            next((t.soname for t in tags if t.entry.d_tag == "DT_SONAME"), None))


def build_id(path: Path) -> str:
    """The GNU build id: the same in a library as linked and as packaged (stripped)."""
    with open(path, "rb") as fh:
        for section in ELFFile(fh).iter_sections():
            if section.name == ".note.gnu.build-id":
                for note in section.iter_notes():
                    return str(note["n_desc"])
    raise AssertionError(f"{path} has no build id")


def dpkg_deb(*args: str) -> str:
    return subprocess.run(["dpkg-deb", *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> BuildDir:
    if debian_mirror() is None and not all((DL_DIR / f"{name}.done").exists() for name in SOURCES):
        pytest.skip("the host's apt sources name no Debian mirror, and DL_DIR does not hold the sources")
    top = make_build(tmp_path_factory.mktemp("realsw"), [], local=f'DL_DIR = "{DL_DIR}"\n')
    build = BuildDir(top)
    build.run("zlib", "dropbear")
    return build


def feed(build: BuildDir, name: str) -> Path:
    (deb,) = (build.top / "tmp/deploy/deb").glob(f"*/{name}_*.deb")
    return deb


@pytest.fixture(scope="module")
def root(build: BuildDir, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty root with dpkg's database, the packages installed into it by dpkg --root."""
    root = tmp_path_factory.mktemp("root")
    for directory in ("var/lib/dpkg/updates", "var/lib/dpkg/info", "var/log"):
        (root / directory).mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text("")
    debs = [str(feed(build, name)) for name in ("libc6", "libgcc1", "zlib", "zlib-dev", "dropbear")]
    subprocess.run(["dpkg", f"--root={root}", "--log=/dev/null", "-i", *debs], check=True, capture_output=True)
    return root


def run_in(root: Path, *argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """A program of the root, with the root's dynamic loader and libraries (none of the host's)."""
    libs = f"{root}/usr/lib/{MULTIARCH}:{root}/usr/lib"
    return subprocess.run([str(root / "usr/lib64/ld-linux-x86-64.so.2"), "--inhibit-cache", "--library-path", libs,
                           *argv], capture_output=True, text=True, cwd=cwd)


def test_zlib_packages(build: BuildDir) -> None:
    zlib, dev = feed(build, "zlib"), feed(build, "zlib-dev")
    fields = dpkg_deb("-f", str(zlib), "Package", "Version", "Depends").splitlines()
    assert fields[:2] == ["Package: zlib", "Version: 1.2.13-r0"]
    # the C library's version is the build host's
    assert fields[2].startswith("Depends: libc6 (>= ") and "," not in fields[2]
    assert dpkg_deb("-f", str(dev), "Depends").strip() == "zlib (= 1.2.13-r0)"
    listing = dpkg_deb("-c", str(zlib))
    assert "./usr/lib/libz.so.1 -> libz.so.1.2.13\n" in listing and " ./usr/lib/libz.so.1.2.13\n" in listing
    dev_listing = dpkg_deb("-c", str(dev))
    for path in ("./usr/include/zlib.h", "./usr/include/zconf.h", "./usr/lib/libz.so -> libz.so.1.2.13",
                 "./usr/lib/pkgconfig/zlib.pc"):
        assert path in dev_listing
    assert "./usr/lib/libz.a" in dpkg_deb("-c", str(feed(build, "zlib-staticdev")))


def test_zlib_installs_and_compresses(build: BuildDir, root: Path, tmp_path: Path) -> None:
    status = subprocess.run(["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W", "-f", "${Package} ${Version}\n"],
                            capture_output=True, text=True, check=True).stdout
    assert "zlib 1.2.13-r0\n" in status and "zlib-dev 1.2.13-r0\n" in status
    assert dynamic(root / "usr/lib/libz.so.1.2.13")[1] == "libz.so.1"
    # a program built against the recipe sysroot's zlib, run against the installed package
    sysroot = next((build.top / "tmp/work").glob("*/dropbear/*/recipe-sysroot"))
    source = tmp_path / "roundtrip.c"
    source.write_text("""\
#include <stdio.h>
#include <string.h>
#include <zlib.h>
int main(void) {
    const char text[] = "layerbuild layerbuild layerbuild layerbuild";
    unsigned char packed[256], unpacked[256];
    uLongf plen = sizeof packed, ulen = sizeof unpacked;
    if (compress(packed, &plen, (const Bytef *)text, sizeof text) != Z_OK) return 1;
    if (uncompress(unpacked, &ulen, packed, plen) != Z_OK || memcmp(text, unpacked, sizeof text)) return 2;
    printf("%s %lu<%lu\\n", zlibVersion(), (unsigned long)plen, (unsigned long)sizeof text);
    return 0;
}
""")
    subprocess.run(["gcc", f"--sysroot={sysroot}", f"-specs={sysroot}/usr/lib/sysroot.specs", "-o",
                    str(tmp_path / "roundtrip"), str(source), "-lz"], check=True)
    result = run_in(root, str(tmp_path / "roundtrip"))
    assert result.returncode == 0, result.stderr
    version, sizes = result.stdout.split()
    assert version == "1.2.13" and int(sizes.split("<")[0]) < int(sizes.split("<")[1])


def test_zlib_licence_is_the_checked_text(build: BuildDir) -> None:
    deployed = build.top / "tmp/deploy/licenses/zlib"
    assert sorted(p.name for p in deployed.iterdir()) == ["generic_Zlib", "recipeinfo", "zlib.h"]
    with tarfile.open(DL_DIR / SOURCES[0]) as tar:
        member = tar.extractfile("zlib-1.2.13.dfsg/zlib.h")
        assert member is not None
        header = member.read()
    assert (deployed / "zlib.h").read_bytes() == b"".join(header.splitlines(keepends=True)[5:23])
    md5 = subprocess.run(["md5sum", str(deployed / "zlib.h")], capture_output=True, text=True, check=True).stdout
    assert md5.split()[0] == "5377232268e952e9ef63bc555f7aa6c0"


def test_dropbear_links_zlib_from_the_sysroot(build: BuildDir, root: Path) -> None:
    deb = feed(build, "dropbear")
    fields = dpkg_deb("-f", str(deb), "Depends", "Provides")
    assert "Depends: zlib (>= 1.2.13-r0), libc6 (>= " in fields and "Provides: ssh, sshd" in fields
    listing = dpkg_deb("-c", str(deb))
    for path in ("./usr/sbin/dropbearmulti", "./usr/sbin/dropbear -> ./dropbearmulti",
                 "./usr/bin/dbclient -> /usr/sbin/dropbearmulti", "./usr/lib/systemd/system/dropbear.socket",
                 "./usr/lib/systemd/system/dropbear@.service"):
        assert path in listing
    work = next((build.top / "tmp/work").glob("*/dropbear/*"))
    needed, _ = dynamic(work / "image/usr/sbin/dropbearmulti")
    assert needed == ["libz.so.1", "libc.so.6"]
    # each library it needs is in the sysroot it was linked against, and the installed root provides it
    sonames = {}
    for lib in (work / "recipe-sysroot/usr/lib").rglob("lib*.so*"):
        if lib.is_file() and not lib.is_symlink() and lib.read_bytes()[:4] == b"\x7fELF":
            sonames[dynamic(lib)[1]] = lib
    assert set(needed) <= set(sonames)
    assert build_id((root / "usr/lib/libz.so.1").resolve()) == build_id(sonames["libz.so.1"])
    # configure found zlib and nothing else of the host: not even the host's libcrypt
    log = next((work / "temp").glob("log.do_configure.*")).read_text()
    assert "checking for deflate in -lz... yes" in log and "checking for crypt in -lcrypt... no" in log


def test_dropbear_runs_from_the_installed_root(root: Path, tmp_path: Path) -> None:
    status = subprocess.run(["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W", "dropbear"],
                            capture_output=True, text=True, check=True).stdout
    assert status.split() == ["dropbear", "2022.83-r0"]
    multi = str(root / "usr/sbin/dropbearmulti")
    made = run_in(root, multi, "dropbearkey", "-t", "ed25519", "-f", str(tmp_path / "hostkey"))
    assert made.returncode == 0, made.stderr
    public = run_in(root, multi, "dropbearkey", "-y", "-f", str(tmp_path / "hostkey"))
    assert public.returncode == 0 and "ssh-ed25519 AAAA" in public.stdout
    version = run_in(root, multi, "dropbear", "-V")
    assert "Dropbear v2022.83" in version.stderr


def test_dropbear_licences(build: BuildDir) -> None:
    deployed = build.top / "tmp/deploy/licenses/dropbear"
    names = sorted(p.name for p in deployed.iterdir())
    assert names == ["LICENSE.0", "LICENSE.1", "LICENSE.2", "generic_BSD-2-Clause", "generic_BSD-3-Clause",
                     "generic_MIT", "generic_PD", "recipeinfo"]
    sums = sorted(hashlib.md5((deployed / n).read_bytes()).hexdigest() for n in names if n.startswith("LICENSE"))
    assert sums == sorted(["25cf44512b7bc8966a48b6b1a9b7605f", "71baacc459522324ef3e2b9e052e8180",
                           "23e7e0a32e53a2b1d35f5fd9ef053402"])


def test_a_shared_dl_dir_builds_offline(build: BuildDir, tmp_path: Path) -> None:
    """A second build directory with the same DL_DIR fetches nothing: BB_NO_NETWORK holds."""
    top = make_build(tmp_path, [], local=f'DL_DIR = "{DL_DIR}"\nBB_NO_NETWORK = "1"\n')
    BuildDir(top).run("-c", "unpack", "zlib", "dropbear")
    assert (next((top / "tmp/work").glob("*/zlib/*")) / "sources/zlib-1.2.13.dfsg/zlib.h").is_file()


def test_spdx_records_name_the_fetched_sources(build: BuildDir) -> None:
    """do_create_spdx (create-spdx, the distro's default): where each source came from, and the sha256 of
    the tarball in DL_DIR; the upstream name and version CVE records use."""
    build.run("-c", "create_spdx", "zlib", "dropbear")
    for name, version in (("zlib", "1.2.13"), ("dropbear", "2022.83")):
        (path,) = (build.top / "tmp/deploy/spdx/3.0.1").glob(f"*/recipes/{name}.json")
        record = json.loads(path.read_text())
        assert record["CVE_PRODUCT"] == [name] and record["CVE_VERSION"] == version
        remote = [s for s in record["sources"] if not s["location"].startswith("file:")]
        (tarball,) = remote
        assert record["download_location"] == tarball["location"]
        assert tarball["location"].endswith(f"/main/{name[0]}/{name}/{tarball['name']}") and ";" not in tarball["location"]
        assert tarball["sha256"] == hashlib.sha256((DL_DIR / tarball["name"]).read_bytes()).hexdigest()
        for local in (s for s in record["sources"] if s["location"].startswith("file:")):
            (found,) = [p for p in Path(CORE, "recipes").rglob(Path(local["name"]).name)
                        if hashlib.sha256(p.read_bytes()).hexdigest() == local["sha256"]]
            assert found.is_file()
