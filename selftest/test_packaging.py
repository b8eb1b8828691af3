"""Packages from the sample layer and small test recipes, checked with dpkg-deb.

Splitting and the default PACKAGES/FILES, automatic shared-library dependencies found from ELF files,
the missing-library error, dpkg-deb reading every package in agreement with its pkgdata, and
byte-identical packages from two clean builds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import CORE, Runner, make_build, make_layer

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")

SAMPLES = ("glibc-external", "base-files", "lb-init", "hello", "libgreet", "greet", "lb-echod")


def _debs(build: Path) -> dict[str, Path]:
    return {p.name: p for p in sorted((build / "tmp/deploy/deb").rglob("*.deb"))}


def _field(deb: Path, name: str) -> str:
    return subprocess.run(["dpkg-deb", "--field", str(deb), name], check=True, capture_output=True,
                          text=True).stdout.strip()


def _contents(deb: Path) -> list[str]:
    out = subprocess.run(["dpkg-deb", "--contents", str(deb)], check=True, capture_output=True, text=True).stdout
    return [line.split()[5] for line in out.splitlines()]


@pytest.fixture(scope="module")
def sample_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample layer built from a clean build directory (shared by the tests of this module)."""
    from layerbuild.cli import main
    root = tmp_path_factory.mktemp("samples")
    build = make_build(root, [])
    assert main(["-B", str(build), *SAMPLES]) == 0
    return build


def test_every_sample_builds_and_a_second_build_runs_nothing(sample_build: Path, lb: Runner) -> None:
    status, _, err = lb("-B", str(sample_build), *SAMPLES)
    assert status == 0 and "0 tasks run" in err, err
    names = set(_debs(sample_build))
    for pkg in ("greet_1.0-r0_amd64.deb", "libgreet_1.0-r0_amd64.deb", "libgreet-dev_1.0-r0_amd64.deb",
                "hello_1.0-r0_amd64.deb", "lb-init_1.0-r0_amd64.deb", "lb-echod_1.0-r0_amd64.deb",
                "base-files_1.0-r0_amd64.deb"):
        assert pkg in names, sorted(names)
    assert any(n.startswith("libc6_") for n in names)


def test_greet_depends_on_libgreet_and_libc_from_its_elf_file(sample_build: Path) -> None:
    debs = _debs(sample_build)
    depends = _field(debs["greet_1.0-r0_amd64.deb"], "Depends")
    names = [d.split()[0] for d in depends.split(", ")]
    assert names == ["libgreet", "libc6"], depends
    recipe = Path(__file__).resolve().parents[1] / "recipes/recipes-example/greet/greet_1.0.bb"
    assert "RDEPENDS" not in recipe.read_text()


def test_split_defaults(sample_build: Path) -> None:
    debs = _debs(sample_build)
    assert _contents(debs["libgreet_1.0-r0_amd64.deb"]) == [
        "./", "./usr/", "./usr/lib/", "./usr/lib/libgreet.so.1", "./usr/lib/libgreet.so.1.0"]
    assert _contents(debs["libgreet-dev_1.0-r0_amd64.deb"]) == [
        "./", "./usr/", "./usr/include/", "./usr/include/greet.h", "./usr/lib/", "./usr/lib/libgreet.so"]
    assert _field(debs["libgreet-dev_1.0-r0_amd64.deb"], "Depends") == "libgreet (= 1.0-r0)"
    dbg = _contents(debs["libgreet-dbg_1.0-r0_amd64.deb"])
    assert "./usr/lib/debug/usr/lib/libgreet.so.1.0.debug" in dbg
    unit = "./usr/lib/systemd/system/lb-echod.service"
    assert unit in _contents(debs["lb-echod_1.0-r0_amd64.deb"])
    # the stripped binary keeps a debuglink to its -dbg file
    out = subprocess.run(["readelf", "--string-dump=.gnu_debuglink",
                          str(sample_build / "tmp/work/x86_64/greet/1.0-r0/packages-split/greet/usr/bin/greet")],
                         capture_output=True, text=True).stdout
    assert "greet.debug" in out
    assert not any(n.startswith(("hello-dev", "hello-doc", "hello-locale", "hello-staticdev")) for n in debs)


def test_dpkg_deb_agrees_with_pkgdata(sample_build: Path) -> None:
    pkgdata = sample_build / "tmp/pkgdata/genericx86-64/runtime"
    for name, deb in _debs(sample_build).items():
        pkg = _field(deb, "Package")
        data = json.loads((pkgdata / f"{pkg}.json").read_text())
        assert _field(deb, "Version") == data["VERSION"], name
        assert _field(deb, "Depends") == data["RDEPENDS"], name
        listed = {p.rstrip("/").lstrip(".") for p in _contents(deb)} - {""}
        assert set(data["FILES"]) <= listed, name
        subprocess.run(["dpkg-deb", "--info", str(deb)], check=True, capture_output=True)
        ar = subprocess.run(["ar", "t", str(deb)], check=True, capture_output=True, text=True).stdout.split()
        assert ar == ["debian-binary", "control.tar.zst", "data.tar.zst"]


def test_base_files_layout_and_os_release(sample_build: Path) -> None:
    deb = next(p for n, p in _debs(sample_build).items() if n.startswith("base-files_"))
    contents = _contents(deb)
    for path in ("./etc/hostname", "./etc/machine-id", "./etc/resolv.conf", "./usr/lib/os-release", "./bin"):
        assert path in contents
    root = sample_build / "tmp/work/genericx86_64/base-files/1.0-r0/image"
    # os-release(5) is shell-compatible: the shell reads it independently of our parser
    fields = subprocess.run(["sh", "-c", '. "$1" && printf "%s|%s" "$ID" "$VERSION_ID"', "sh",
                             str(root / "usr/lib/os-release")], capture_output=True, text=True, check=True).stdout
    assert fields == "lbdistro|1.0"
    assert (root / "etc/machine-id").read_bytes() == b""
    assert _field(deb, "Architecture") == "amd64"


@pytest.mark.slow  # two more clean builds; the default run keeps test_two_clean_builds_give_identical_images
def test_clean_builds_give_identical_debs(sample_build: Path, tmp_path: Path) -> None:
    from layerbuild.cli import main
    other = make_build(tmp_path, [])
    assert main(["-B", str(other), "greet", "libgreet", "hello"]) == 0
    first, second = _debs(sample_build), _debs(other)
    for name in ("greet_1.0-r0_amd64.deb", "libgreet_1.0-r0_amd64.deb", "libgreet-dev_1.0-r0_amd64.deb",
                 "hello_1.0-r0_amd64.deb", "greet-dbg_1.0-r0_amd64.deb"):
        a = hashlib.sha256(first[name].read_bytes()).hexdigest()
        b = hashlib.sha256(second[name].read_bytes()).hexdigest()
        assert a == b, name


def test_missing_library_is_a_build_error(tmp_path: Path, lb: Runner) -> None:
    layer = make_layer(tmp_path, "pk", {
        "recipes/needy/files/needy.c": "int main(void) { return 0; }\n",
        "recipes/needy/needy_1.0.bb": (
            'LICENSE = "MIT"\nSRC_URI = "file://needy.c"\nS = "${UNPACKDIR}"\n'
            "do_compile() {\n    echo 'int f(void) { return 1; }' > nowhere.c\n"
            "    ${CC} -shared -fPIC -Wl,-soname,libnowhere.so.3 -o libnowhere.so.3 nowhere.c\n"
            "    ${CC} ${CFLAGS} ${LDFLAGS} -o needy ${S}/needy.c -L. -Wl,--no-as-needed -l:libnowhere.so.3\n}\n"
            "do_install() {\n    install -D -m 0755 needy ${D}${bindir}/needy\n}\n"),
    })
    build = make_build(tmp_path, [layer])
    status, _, err = lb("-B", str(build), "needy")
    assert status == 1
    # the recipe, where DEPENDS belongs, not the class line that prepends the C library to every DEPENDS
    recipe = layer / "recipes/needy/needy_1.0.bb"
    assert f"{recipe}: error: needy: /usr/bin/needy (package needy) needs libnowhere.so.3, which no package " \
           "provides" in err, err
    assert "base.bbclass" not in err
    # the commands' output the task log holds is intact, and the error comes after it
    log = (build / "tmp/work/x86_64/needy/1.0-r0/temp/log.do_package").read_text()
    package = build / "tmp/work/x86_64/needy/1.0-r0/package"
    strip = f"$ strip --remove-section=.comment --remove-section=.note {package}/usr/bin/needy\n"
    assert strip in log and log.index(strip) < log.index("ERROR: "), log
    excerpt = [line[2:] for line in err.splitlines() if line.startswith("| ")]
    assert excerpt and all(line in log.splitlines() for line in excerpt), excerpt
    with open(build / "conf/local.conf", "a") as fh:
        fh.write('SHLIB_ALLOWLIST = "libnowhere.so.3"\n')
    status, _, err = lb("-B", str(build), "needy")
    assert status == 0, err


def test_unshipped_files_are_an_error(tmp_path: Path, lb: Runner) -> None:
    layer = make_layer(tmp_path, "pk", {
        "recipes/stray/stray_1.0.bb": ('LICENSE = "MIT"\nINHIBIT_DEFAULT_DEPS = "1"\n'
                                       "do_install() {\n    install -d ${D}/weird/place\n"
                                       "    echo x > ${D}/weird/place/file\n}\n"),
    })
    build = make_build(tmp_path, [layer])
    status, _, err = lb("-B", str(build), "stray")
    assert status == 1
    assert "stray: 1 installed file(s) are in no package:" in err and "/weird/place/file" in err


def test_package_fields_scripts_owners_and_allarch(tmp_path: Path, lb: Runner) -> None:
    layer = make_layer(tmp_path, "pk", {
        "recipes/tool/tool_1.0.bb": (
            'LICENSE = "MIT"\ninherit allarch\nSUMMARY = "A tool"\nPACKAGES = "${PN}-data ${PN}"\n'
            'FILES:${PN}-data = "${datadir}/tool"\n'
            'RDEPENDS:${PN} = "${PN}-data (>= 1.0) hello"\nRRECOMMENDS:${PN} = "extra"\n'
            'RSUGGESTS:${PN} = "docs-viewer (> 1)"\nRPROVIDES:${PN} = "tool-api"\nRCONFLICTS:${PN} = "oldtool (< 2.0)"\nRREPLACES:${PN} = "oldtool"\n'
            "pkg_postinst:${PN}() {\n    echo configured\n}\n"
            "do_install() {\n    install -d ${D}${bindir} ${D}${datadir}/tool ${D}${sysconfdir}\n"
            "    printf '#!/bin/sh\\necho tool\\n' > ${D}${bindir}/tool\n    chmod 0755 ${D}${bindir}/tool\n"
            "    echo data > ${D}${datadir}/tool/data.txt\n    chown 1234:5678 ${D}${datadir}/tool/data.txt\n"
            "    echo setting=1 > ${D}${sysconfdir}/tool.conf\n}\n"),
    })
    build = make_build(tmp_path, [layer])
    status, _, err = lb("-B", str(build), "tool")
    assert status == 0, err
    deb = build / "tmp/deploy/deb/all/tool_1.0-r0_all.deb"
    data_deb = build / "tmp/deploy/deb/all/tool-data_1.0-r0_all.deb"
    assert _field(deb, "Architecture") == "all"
    assert _field(deb, "Depends") == "tool-data (>= 1.0), hello"
    assert _field(deb, "Recommends") == "extra"
    assert _field(deb, "Suggests") == "docs-viewer (>> 1)"
    assert _field(deb, "Provides") == "tool-api"
    assert _field(deb, "Conflicts") == "oldtool (<< 2.0)"
    assert _field(deb, "Replaces") == "oldtool"
    postinst = subprocess.run(["dpkg-deb", "--info", str(deb), "postinst"], capture_output=True, text=True,
                              check=True).stdout
    assert postinst == "#!/bin/sh\nset -e\n    echo configured\n"
    conffiles = subprocess.run(["dpkg-deb", "--info", str(deb), "conffiles"], capture_output=True, text=True,
                               check=True).stdout
    assert conffiles == "/etc/tool.conf\n"
    listing = subprocess.run(["dpkg-deb", "--contents", str(data_deb)], capture_output=True, text=True,
                             check=True).stdout
    assert "1234/5678" in next(line for line in listing.splitlines() if line.endswith("data.txt"))


def test_control_fields_beyond_the_known_ones_are_written_not_dropped(tmp_path: Path) -> None:
    from layerbuild.packaging.deb import write_deb
    root = tmp_path / "root"
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/tool").write_text("#!/bin/sh\n")
    fields = {"Package": "tool", "Version": "1.0", "Architecture": "all", "Maintainer": "M <m@example.invalid>",
              "Depends": "libc6", "Pre-Depends": "dpkg (>= 1.19)", "Breaks": "old (<< 1)", "Essential": "yes",
              "X-Origin": "layerbuild", "Multi-Arch": "foreign"}
    info = write_deb(str(root), str(tmp_path / "out"), fields, "A tool", "", {}, [], 0)
    shown = subprocess.run(["dpkg-deb", "-f", info.path], capture_output=True, text=True, check=True).stdout
    names = [line.split(":", 1)[0] for line in shown.splitlines() if not line.startswith(" ")]
    assert names == ["Package", "Version", "Architecture", "Essential", "Maintainer", "Installed-Size",
                     "Pre-Depends", "Depends", "Breaks", "Multi-Arch", "X-Origin", "Description"]
    assert "Pre-Depends: dpkg (>= 1.19)\n" in shown and "X-Origin: layerbuild\n" in shown
    with pytest.raises(ValueError, match="not a control field name"):
        write_deb(str(root), str(tmp_path / "out"), {**fields, "Bad Name": "x"}, "A tool", "", {}, [], 0)
    with pytest.raises(ValueError, match="the field Depends again"):
        write_deb(str(root), str(tmp_path / "out"), {**fields, "depends": "x"}, "A tool", "", {}, [], 0)


def test_a_file_name_with_a_newline_is_refused_at_the_recipe(tmp_path: Path, lb: Runner) -> None:
    """dpkg refuses such names: they would break the one-name-a-line file lists of its database."""
    layer = make_layer(tmp_path, "pk", {
        "recipes/nl/nl_1.0.bb": ('LICENSE = "MIT"\nINHIBIT_DEFAULT_DEPS = "1"\nPACKAGE_ARCH = "all"\n'
                                 "do_install() {\n    install -d ${D}${datadir}/nl\n"
                                 "    printf x > \"${D}${datadir}/nl/a\nb\"\n}\n"),
    })
    build = make_build(tmp_path, [layer])
    status, _, err = lb("-B", str(build), "nl")
    assert status == 1
    assert (f"{layer}/recipes/nl/nl_1.0.bb:4: error: nl: the file name '/usr/share/nl/a\\nb' (package nl) contains "
            "a newline, which a package may not hold (dpkg refuses it: its file lists hold one name a line)") in err
    assert not list((build / "tmp/deploy/deb").rglob("nl_*.deb"))


def test_file_names_that_are_not_utf8_are_carried_through(tmp_path: Path, lb: Runner) -> None:
    """dpkg takes any bytes but a newline in a name: the package, its md5sums, the image's database and
    dpkg's own reading of that database keep them exactly."""
    layer = make_layer(tmp_path, "pk", {
        "recipes/odd/odd_1.0.bb": (
            'LICENSE = "MIT"\nINHIBIT_DEFAULT_DEPS = "1"\nPACKAGE_ARCH = "all"\n'
            "do_install() {\n    install -d ${D}${datadir}/odd\n"
            "    printf hi > \"${D}${datadir}/odd/caf$(printf '\\351')\"\n"
            "    ln -s \"caf$(printf '\\351')\" \"${D}${datadir}/odd/link-$(printf '\\377')\"\n}\n"),
        "recipes/images/odd-image.bb": 'inherit image\nIMAGE_INSTALL = "odd"\n',
    })
    build = make_build(tmp_path, [layer])
    status, _, err = lb("-B", str(build), "odd-image")
    assert status == 0, err
    deb = next((build / "tmp/deploy/deb/all").glob("odd_*.deb"))
    md5sums = subprocess.run(["dpkg-deb", "--info", str(deb), "md5sums"], capture_output=True, check=True).stdout
    assert md5sums == hashlib.md5(b"hi").hexdigest().encode() + b"  usr/share/odd/caf\xe9\n"
    # the real dpkg installs the package with the same bytes
    theirs = tmp_path / "dpkg-root"
    (theirs / "var/lib/dpkg/info").mkdir(parents=True)
    (theirs / "var/lib/dpkg/status").write_text("")
    subprocess.run(["dpkg", f"--root={theirs}", "--force-script-chrootless", "--force-not-root", "--log=/dev/null",
                    "-i", str(deb)], check=True, capture_output=True)
    ours = next((build / "tmp/work").glob("*/odd-image/*/rootfs"))
    for root in (theirs, ours):
        assert sorted(os.listdir(os.fsencode(root / "usr/share/odd"))) == [b"caf\xe9", b"link-\xff"]
        assert os.readlink(os.fsencode(root / "usr/share/odd") + b"/link-\xff") == b"caf\xe9"
    assert (ours / "var/lib/dpkg/info/odd.list").read_bytes() == \
        (theirs / "var/lib/dpkg/info/odd.list").read_bytes()
    assert b"/usr/share/odd/caf\xe9\n" in (ours / "var/lib/dpkg/info/odd.list").read_bytes()
    listed = subprocess.run(["dpkg-query", f"--admindir={ours}/var/lib/dpkg", "-L", "odd"], capture_output=True,
                            check=True).stdout
    assert b"/usr/share/odd/caf\xe9\n" in listed and b"/usr/share/odd/link-\xff\n" in listed
    verify = subprocess.run(["dpkg", f"--root={ours}", "--verify", "odd"], capture_output=True)
    assert (verify.returncode, verify.stdout, verify.stderr) == (0, b"", b"")


def _compiled(name: str, extra: str = "") -> str:
    return ('LICENSE = "MIT"\nINHIBIT_DEFAULT_DEPS = "1"\n' + extra +
            "do_compile() {\n    echo 'int main(void) { return 0; }' > x.c\n    ${CC} ${CFLAGS} -o " + name + " x.c\n}\n"
            "do_install() {\n    install -D -m 0755 " + name + " ${D}${bindir}/" + name + "\n}\n")


def test_an_elf_file_of_another_architecture_is_refused(tmp_path: Path, lb: Runner) -> None:
    """A compiler that claims to build for AArch64 but builds for the host (the check before the build
    cannot see that): do_package refuses the x86-64 binary in an arm64 package, naming package and file."""
    cc = tmp_path / "tools" / "aarch64-linux-gnu-gcc"
    cc.parent.mkdir()
    cc.write_text('#!/bin/sh\n[ "$1" = -dumpmachine ] && { echo aarch64-linux-gnu; exit 0; }\nexec gcc "$@"\n')
    cc.chmod(0o755)
    layer = make_layer(tmp_path, "pk", {
        "conf/machine/myboard.conf": 'TARGET_ARCH = "aarch64"\nTUNE_PKGARCH = "aarch64"\nDPKG_ARCH = "arm64"\n',
        "recipes/lying/lying_1.0.bb": _compiled("lying", 'SHLIB_ALLOWLIST = "libc.so.6"\n')})
    build = make_build(tmp_path, [layer], local=f'MACHINE = "myboard"\nCC = "{cc}"\n')
    status, _, err = lb("-B", str(build), "lying")
    assert status == 1
    assert (f"{layer}/conf/machine/myboard.conf:1: error: lying: /usr/bin/lying (package lying) is an ELF file for "
            "x86_64, but the package is for aarch64 (TARGET_ARCH)") in err, err
    header = subprocess.run(["readelf", "-h", str(build / "tmp/work/aarch64/lying/1.0-r0/image/usr/bin/lying")],
                            check=True, capture_output=True, text=True).stdout
    assert "Advanced Micro Devices X86-64" in header
    assert not list((build / "tmp/deploy").rglob("*.deb"))
    with open(build / "conf/local.conf", "a") as fh:
        fh.write('INSANE_SKIP:lying:pn-lying = "arch"\n')
    status, _, err = lb("-B", str(build), "lying")
    assert status == 0, err
    assert _field(build / "tmp/deploy/deb/aarch64/lying_1.0-r0_arm64.deb", "Architecture") == "arm64"


@pytest.mark.skipif(shutil.which("aarch64-linux-gnu-gcc") is None, reason="needs gcc-aarch64-linux-gnu")
def test_genericarm64_compiles_strips_and_packages_aarch64_code(tmp_path: Path, lb: Runner) -> None:
    """The cross compiler builds, the cross strip strips (the host's strip is never run on AArch64 code),
    and the package is arm64: checked with pyelftools and dpkg-deb."""
    from elftools.elf.elffile import ELFFile
    recipe = ('LICENSE = "MIT"\nINHIBIT_DEFAULT_DEPS = "1"\n'
              "do_compile() {\n    echo 'void _start(void) { for (;;); }' > x.c\n"
              "    ${CC} ${CFLAGS} -nostdlib -static -o tiny x.c\n}\n"
              "do_install() {\n    install -D -m 0755 tiny ${D}${bindir}/tiny\n}\n")
    build = make_build(tmp_path, [make_layer(tmp_path, "pk", {"recipes/tiny/tiny_1.0.bb": recipe})],
                       local='MACHINE = "genericarm64"\n')
    status, _, err = lb("-B", str(build), "tiny")
    assert status == 0, err
    work = build / "tmp/work/aarch64/tiny/1.0-r0"
    assert "aarch64-linux-gnu-strip --remove-section=.comment" in next((work / "temp").glob("log.do_package.*")).read_text()
    deb = build / "tmp/deploy/deb/aarch64/tiny_1.0-r0_arm64.deb"
    assert _field(deb, "Architecture") == "arm64"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path / "x")], check=True)
    with open(tmp_path / "x/usr/bin/tiny", "rb") as fh:
        elf = ELFFile(fh)
        assert elf["e_machine"] == "EM_AARCH64"
        assert elf.get_section_by_name(".symtab") is None and elf.get_section_by_name(".gnu_debuglink") is not None


def test_an_allarch_package_holds_no_elf_file(tmp_path: Path, lb: Runner) -> None:
    layer = make_layer(tmp_path, "pk", {"recipes/notall/notall_1.0.bb": _compiled("notall", "inherit allarch\n")})
    build = make_build(tmp_path, [layer])
    status, _, err = lb("-B", str(build), "notall")
    assert status == 1
    assert (f"{CORE}/classes/allarch.bbclass:2: error: notall: /usr/bin/notall (package notall) is an ELF file "
            'for x86_64, and an allarch package (PACKAGE_ARCH = "all") holds no compiled code') in err, err
    assert not list((build / "tmp/deploy").rglob("*.deb"))
