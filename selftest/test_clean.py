"""do_clean, do_cleansstate and do_cleanall in real builds: what each removes, what the next build then
does, that other recipes' outputs stay, and that nothing is removed through a link planted to lead out.

The recipe ``mk`` builds with make, which does not see CFLAGS: after a flag is reverted, make keeps the
binary built with it. The packages are checked with dpkg-deb and their programs run.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest
from conftest import BuildDir, make_build, make_layer

GREET_C = """\
#include <stdio.h>
int main(void) {
#ifdef LOUD
    puts("LOUD");
#else
    puts("plain");
#endif
    return 0;
}
"""
MAKEFILE = "greet: greet.c\n\t$(CC) $(CFLAGS) $(LDFLAGS) -o greet greet.c\n"
MK = """\
LICENSE = "MIT"
SRC_URI = "file://greet.c file://Makefile"
S = "${UNPACKDIR}"
do_install() {
    install -D -m 0755 greet ${D}${bindir}/greet
}
"""
LOUD = 'TARGET_CFLAGS:append:pn-mk = " -DLOUD"\n'


def _layer(root: Path, extra: dict[str, str] | None = None) -> Path:
    return make_layer(root, "clean", {"recipes/mk/mk_1.0.bb": MK, "recipes/mk/files/greet.c": GREET_C,
                                      "recipes/mk/files/Makefile": MAKEFILE, **(extra or {})})


def _run_packaged(deb: Path, program: str, scratch: Path) -> str:
    """Unpack ``deb`` with dpkg-deb and run ``program`` from it."""
    subprocess.run(["rm", "-rf", str(scratch)], check=True)
    subprocess.run(["dpkg-deb", "-x", str(deb), str(scratch)], check=True)
    return subprocess.run([str(scratch / program.lstrip("/"))], capture_output=True, text=True, check=True).stdout


def _snapshot(*tops: Path) -> dict[str, str]:
    """Every path below ``tops`` with a digest of its content (links: their target)."""
    out: dict[str, str] = {}
    for top in tops:
        for root, dirs, files in os.walk(top):
            for name in dirs + files:
                path = Path(root, name)
                if path.is_symlink():
                    out[str(path)] = "-> " + os.readlink(path)
                elif path.is_file():
                    out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
                else:
                    out[str(path)] = "dir"
    return out


def _libc_outputs(tmp: Path, sstate: Path) -> dict[str, str]:
    """What the C runtime recipe (another recipe mk builds against) has in the build."""
    found = _snapshot(tmp / "sysroots-components/glibc-external", tmp / "stamps/x86_64/glibc-external",
                      *(tmp / "work/x86_64").glob("glibc-external"))
    found.update({str(p): "deb" for p in (tmp / "deploy/deb").rglob("libc6*.deb")})
    found.update({str(p): "pkgdata" for p in (tmp / "pkgdata").rglob("libc6*")})
    found.update({str(p): "object" for p in sstate.rglob("sstate:glibc-external:*")})
    assert any(k.endswith(".deb") for k in found) and any("sstate:" in k for k in found)
    return found


def _left_of_mk(tmp: Path) -> list[str]:
    """Whatever in TMPDIR is named for the recipe mk (its clean logs aside)."""
    return sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if "cleanlogs" not in p.parts and (
        p.name == "mk" or p.name.startswith(("mk_", "mk-", "mk.")) or "-mk." in p.name))


def test_clean_and_cleansstate_after_a_reverted_flag(tmp_path: Path) -> None:
    top = make_build(tmp_path, [_layer(tmp_path)], local=LOUD)
    build = BuildDir(top)
    tmp, sstate, deb = top / "tmp", top / "sstate-cache", top / "tmp/deploy/deb/x86_64/mk_1.0-r0_amd64.deb"
    build.run("mk")
    assert _run_packaged(deb, "/usr/bin/greet", tmp_path / "x") == "LOUD\n"
    # the flag is reverted: do_compile runs again, but make finds greet newer than greet.c and keeps it
    (top / "conf/local.conf").write_text((top / "conf/local.conf").read_text().replace(LOUD, ""))
    build.run("mk")
    assert _run_packaged(deb, "/usr/bin/greet", tmp_path / "x") == "LOUD\n"
    others = _libc_outputs(tmp, sstate)
    objects = sorted(p.name for p in sstate.rglob("sstate:mk:*"))
    assert objects

    result = build.run("-c", "clean", "mk")
    assert "Running task 1 of 1 (mk:do_clean)" in result.stderr
    workdir = tmp / "work/x86_64/mk/1.0-r0"
    assert not workdir.exists() and not (tmp / "work/x86_64/mk").exists()
    assert list((tmp / "stamps/x86_64").glob("mk/*")) == []  # stamps, sigdata; no stamp for do_clean itself
    assert not list((tmp / "deploy").rglob("mk*.deb")) and not list((tmp / "pkgdata").rglob("mk*"))
    assert not (tmp / "sysroots-components/mk").exists()
    assert not list((tmp / "sstate-control").glob("manifest-*-mk.*"))
    assert _left_of_mk(tmp) == []
    assert "Removed the work directory" in (tmp / "log/cleanlogs/mk/log.do_clean").read_text()
    assert sorted(p.name for p in sstate.rglob("sstate:mk:*")) == objects  # the shared state stays
    assert _libc_outputs(tmp, sstate) == others

    # the next build starts from an empty work directory: the tasks that are not shared state all run
    result = build.run("-c", "install", "mk")
    for task in ("do_fetch", "do_unpack", "do_configure", "do_compile", "do_install"):
        assert f"(mk:{task})" in result.stderr, result.stderr
    assert subprocess.run([workdir / "image/usr/bin/greet"], capture_output=True, text=True).stdout == "plain\n"
    # a full build still restores the published outputs from shared state, which hold the stale binary
    result = build.run("mk")
    assert "Restored mk:do_package_write_deb from sstate" in result.stderr
    assert _run_packaged(deb, "/usr/bin/greet", tmp_path / "x") == "LOUD\n"

    result = build.run("-c", "cleansstate", "mk")
    assert "(mk:do_clean)" in result.stderr and "(mk:do_cleansstate)" in result.stderr
    assert not list(sstate.rglob("sstate:mk:*")) and not list(sstate.rglob(".sstate:mk:*"))
    assert _libc_outputs(tmp, sstate) == others
    result = build.run("mk")
    assert "Restored mk:" not in result.stderr and "(mk:do_compile)" in result.stderr
    assert _run_packaged(deb, "/usr/bin/greet", tmp_path / "x") == "plain\n"

    # none of them is part of a build
    assert "clean" not in build.run("-n", "mk").stdout
    assert "do_clean" not in build.run("-f", "mk").stderr


@pytest.mark.slow  # a clean build, cleanall and a build that fetches again
def test_cleanall_removes_the_download_and_the_next_build_fetches_it(tmp_path: Path,
                                                                     server: tuple[str, Path]) -> None:
    base, www = server
    source = tmp_path / "src/tb-1.0"
    source.mkdir(parents=True)
    (source / "greet.c").write_text(GREET_C)
    (source / "Makefile").write_text(MAKEFILE)
    subprocess.run(["tar", "-C", str(source.parent), "-czf", str(www / "tb-1.0.tar.gz"), "tb-1.0"], check=True)
    sha = hashlib.sha256((www / "tb-1.0.tar.gz").read_bytes()).hexdigest()

    licence = hashlib.md5(GREET_C.encode()).hexdigest()

    def recipe(program: str) -> str:
        return (f'LICENSE = "MIT"\nLIC_FILES_CHKSUM = "file://greet.c;md5={licence}"\n'
                f'SRC_URI = "{base}/tb-1.0.tar.gz"\nSRC_URI[sha256sum] = "{sha}"\n'
                f'S = "${{UNPACKDIR}}/tb-1.0"\n'
                f'do_install() {{\n    install -D -m 0755 greet ${{D}}${{bindir}}/{program}\n}}\n')

    # two recipes download the same tarball
    layer = _layer(tmp_path, {"recipes/tb/tb_1.0.bb": recipe("tb"), "recipes/tb2/tb2_1.0.bb": recipe("tb2")})
    top = make_build(tmp_path, [layer])
    build = BuildDir(top)
    tmp, sstate, downloads = top / "tmp", top / "sstate-cache", top / "downloads"
    build.run("tb", "tb2", "mk")
    assert {"tb-1.0.tar.gz", "tb-1.0.tar.gz.done"} <= set(os.listdir(downloads))
    tb2 = _snapshot(tmp / "work/x86_64/tb2", tmp / "stamps/x86_64/tb2", tmp / "sysroots-components/tb2")
    tb2.update({str(p): "deb" for p in (tmp / "deploy").rglob("tb2*.deb")})
    tb2.update({str(p): "object" for p in sstate.rglob("sstate:tb2:*")})
    mk_files = sorted(os.listdir(tmp_path / "meta-clean/recipes/mk/files"))

    result = build.run("-c", "cleanall", "tb")
    assert [t for t in ("do_clean", "do_cleansstate", "do_cleanall") if f"(tb:{t})" in result.stderr] == \
        ["do_clean", "do_cleansstate", "do_cleanall"]
    assert not {"tb-1.0.tar.gz", "tb-1.0.tar.gz.done"} & set(os.listdir(downloads))
    assert not list(sstate.rglob("sstate:tb:*")) and not (tmp / "work/x86_64/tb").exists()
    after = _snapshot(tmp / "work/x86_64/tb2", tmp / "stamps/x86_64/tb2", tmp / "sysroots-components/tb2")
    after.update({str(p): "deb" for p in (tmp / "deploy").rglob("tb2*.deb")})
    after.update({str(p): "object" for p in sstate.rglob("sstate:tb2:*")})
    assert after == tb2
    # a recipe whose sources are file:// keeps them: they are the layer's, not downloads
    build.run("-c", "cleanall", "mk")
    assert sorted(os.listdir(tmp_path / "meta-clean/recipes/mk/files")) == mk_files

    # tb2 shared the download; its do_fetch stamp still stands, and its unpack fetches it again
    result = build.run("-f", "-c", "unpack", "tb2")
    assert "(tb2:do_fetch)" not in result.stderr and "(tb2:do_unpack)" in result.stderr
    assert (tmp / "work/x86_64/tb2/1.0-r0/sources/tb-1.0/greet.c").read_text() == GREET_C
    build.run("-c", "cleanall", "tb")
    assert "tb-1.0.tar.gz" not in os.listdir(downloads)

    result = build.run("tb")
    assert "(tb:do_fetch)" in result.stderr and "Restored tb:" not in result.stderr
    assert hashlib.sha256((downloads / "tb-1.0.tar.gz").read_bytes()).hexdigest() == sha
    assert _run_packaged(tmp / "deploy/deb/x86_64/tb_1.0-r0_amd64.deb", "/usr/bin/tb", tmp_path / "x") == "plain\n"


IMAGE = """\
inherit image
IMAGE_INSTALL = "mk"
IMAGE_FSTYPES = "tar.zst"
"""


def test_clean_of_an_image_and_links_planted_to_lead_out(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    (canary / "1.0-r0/temp").mkdir(parents=True)
    (canary / "1.0-r0/keep").write_text("host file\n")
    (canary / "sysroot-providers").mkdir()
    (canary / "sysroot-providers/mk.json").write_text("host file\n")
    (canary / "stamps").mkdir()
    (canary / "stamps/1.0-r0.do_build.x").write_text("host file\n")
    layer = _layer(tmp_path, {"recipes/images/tiny-image.bb": IMAGE})
    top = make_build(tmp_path, [layer])
    build = BuildDir(top)
    tmp = top / "tmp"
    build.run("tiny-image", "mk")
    images = tmp / "deploy/images/genericx86-64"
    assert list(images.glob("tiny-image-genericx86-64*.rootfs.tar.zst"))
    mk = _snapshot(tmp / "sysroots-components/mk", tmp / "stamps/x86_64/mk")
    mk.update({str(p): "deb" for p in (tmp / "deploy").rglob("mk*.deb")})

    # an image cleans like any recipe: its work directory and what it deployed go, its packages' stay
    result = build.run("-c", "clean", "tiny-image")
    assert "(tiny-image:do_clean)" in result.stderr
    assert not list(images.glob("tiny-image*")) and not (tmp / "work/genericx86_64/tiny-image").exists()
    after = _snapshot(tmp / "sysroots-components/mk", tmp / "stamps/x86_64/mk")
    after.update({str(p): "deb" for p in (tmp / "deploy").rglob("mk*.deb")})
    assert after == mk
    build.run("-c", "cleanall", "tiny-image")  # nothing to download: it does nothing more

    # links planted in the recipe's directories, each leading to the canary: the link goes, never its target
    workdir = tmp / "work/x86_64/mk/1.0-r0"
    (workdir / "evil").symlink_to(canary)
    (workdir / "evil-file").symlink_to(canary / "1.0-r0/keep")
    providers = tmp / "sysroots-components/mk/sysroot-providers"
    subprocess.run(["rm", "-rf", str(providers)], check=True)
    providers.symlink_to(canary / "sysroot-providers")
    result = build.run("-c", "clean", "mk")
    assert not workdir.exists() and not os.path.lexists(providers)
    log = (tmp / "log/cleanlogs/mk/log.do_clean").read_text()
    assert "Not removing sysroot-providers/mk.json of do_populate_sysroot: it leads outside" in log
    # the recipe's work and stamp directories themselves lead out
    for link, target in ((tmp / "work/x86_64/mk", canary), (tmp / "stamps/x86_64/mk", canary / "stamps")):
        subprocess.run(["rm", "-rf", str(link)], check=True)
        link.symlink_to(target)
    build.run("-c", "clean", "mk")
    log = (tmp / "log/cleanlogs/mk/log.do_clean").read_text()
    assert f"Not removing {tmp}/work/x86_64/mk/1.0-r0: {tmp}/work/x86_64/mk leads outside" in log, log
    assert {str(p.relative_to(canary)): p.read_text() for p in canary.rglob("*") if p.is_file()} == {
        "1.0-r0/keep": "host file\n", "sysroot-providers/mk.json": "host file\n",
        "stamps/1.0-r0.do_build.x": "host file\n"}
