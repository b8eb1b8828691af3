"""Images end to end: the demo base image, its package-database snapshot and the extension built against it.

One build directory (module scope) builds ``extending-image`` from nothing, as a user's first command
does; the tests then check the artifacts with independent tools: dpkg-query, unsquashfs, the kernel
and systemd-sysext, and a chroot that runs the extension's program against the base's C library.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tarfile
import textwrap
from pathlib import Path

import pytest
import zstandard
from conftest import LAYER_CONF, BuildDir, make_build, merged_run

from layerbuild.util.osrelease import parse as parse_os_release
from layerbuild.util.osrelease import render as render_os_release

MACHINE = "genericx86-64"
ROOT = os.geteuid() == 0


def _tool(name: str) -> bool:
    return shutil.which(name) is not None


def _layer(root: Path) -> Path:
    """A test layer with more extension recipes over the demo base image."""
    layer = root / "meta-imagetest"
    files = {
        "conf/layer.conf": LAYER_CONF.format(name="imagetest", priority=7),
        # the same extension, as EROFS
        "recipes/images/extending-erofs.bb": """\
            inherit image-sysext
            IMAGE_FSTYPES = "erofs"
            IMAGE_BASE_PKGDB = "some-core-image"
            IMAGE_INSTALL = "greet"
            """,
        # a standalone extension of the same tool: it carries its whole closure
        "recipes/images/greet-standalone.bb": """\
            inherit image-sysext
            SYSEXT_ID = "_any"
            IMAGE_INSTALL = "greet"
            """,
        # a program whose library is in no package: the ABI check must stop the extension
        "recipes/needy/needy_1.0.bb": """\
            LICENSE = "MIT"
            SRC_URI = "file://needy.c"
            S = "${UNPACKDIR}"
            SHLIB_ALLOWLIST = "libneedy.so.1"
            do_compile() {
                echo 'int needy(void) { return 0; }' > lib.c
                ${CC} ${CFLAGS} -shared -fPIC -Wl,-soname,libneedy.so.1 -o libneedy.so.1 lib.c
                ${CC} ${CFLAGS} ${LDFLAGS} -o needy ${S}/needy.c -L. -l:libneedy.so.1
            }
            do_install() {
                install -d ${D}${bindir}
                install -m 0755 needy ${D}${bindir}/needy
            }
            """,
        "recipes/needy/files/needy.c": "int needy(void);\nint main(void) { return needy(); }\n",
        "recipes/images/ext-needy.bb": """\
            inherit image-sysext
            IMAGE_BASE_PKGDB = "some-core-image"
            IMAGE_INSTALL = "needy"
            """,
        # the package list set without IMAGE_INSTALL: an error names the recipe, not image.bbclass
        "recipes/images/ext-needy-direct.bb": """\
            inherit image-sysext
            IMAGE_BASE_PKGDB = "some-core-image"
            PACKAGE_INSTALL = "needy"
            """,
        # a misspelt IMAGE_INSTALL leaves a confext with nothing to ship
        "recipes/images/confext-typo.bb": """\
            inherit image-confext
            IMAGE_BASE_PKGDB = "some-core-image"
            IMAGE_INSTAL = "greet-conf"
            """,
        # a package with files outside /usr and /opt
        "recipes/etcfile/etcfile_1.0.bb": """\
            LICENSE = "MIT"
            INHIBIT_DEFAULT_DEPS = "1"
            PACKAGE_ARCH = "all"
            do_install() {
                install -d ${D}${sysconfdir}/etcfile ${D}${datadir}/etcfile
                echo "greeting = hello" > ${D}${sysconfdir}/etcfile/etcfile.conf
                echo data > ${D}${datadir}/etcfile/data
            }
            FILES:${PN} += "${sysconfdir}/etcfile"
            """,
        "recipes/images/ext-etc.bb": """\
            inherit image-sysext
            IMAGE_BASE_PKGDB = "some-core-image"
            IMAGE_INSTALL = "etcfile"
            """,
        "recipes/images/ext-etc-moved.bb": """\
            inherit image-sysext
            IMAGE_BASE_PKGDB = "some-core-image"
            IMAGE_INSTALL = "etcfile"
            SYSEXT_ETC_TO_USR_SHARE = "1"
            """,
        "recipes/srvfile/srvfile_1.0.bb": """\
            LICENSE = "MIT"
            INHIBIT_DEFAULT_DEPS = "1"
            PACKAGE_ARCH = "all"
            do_install() {
                install -d ${D}/srv/www
                echo page > ${D}/srv/www/index.html
            }
            FILES:${PN} = "/srv"
            """,
        "recipes/images/ext-srv.bb": """\
            inherit image-sysext
            IMAGE_BASE_PKGDB = "some-core-image"
            IMAGE_INSTALL = "srvfile"
            """,
        # the item-8 errors
        "recipes/images/ext-not-image.bb": """\
            inherit image-sysext
            IMAGE_BASE_PKGDB = "hello"
            IMAGE_INSTALL = "greet"
            """,
        "recipes/images/plain-image.bb": "inherit core-image\n",
        "recipes/images/typo-image.bb": """\
            inherit core-image
            IMAGE_INSTALL += "gret"
            """,
        "recipes/images/excluded-image.bb": """\
            inherit core-image
            IMAGE_INSTALL += "greet"
            PACKAGE_EXCLUDE = "libgreet"
            """,
        "recipes/images/ext-no-pkgdb.bb": """\
            inherit image-sysext
            IMAGE_BASE_PKGDB = "plain-image"
            IMAGE_INSTALL = "greet"
            """,
        "recipes/images/bad-fstype.bb": """\
            inherit core-image
            IMAGE_FSTYPES = "squashfs ext9"
            """,
        "recipes/images/bad-name.bb": """\
            inherit image-sysext
            EXTENSION_NAME = "../evil"
            IMAGE_BASE_PKGDB = "some-core-image"
            IMAGE_INSTALL = "greet"
            """,
        "recipes/images/ext-other-arch.bb": """\
            inherit image-sysext
            IMAGE_BASE_PKGDB = "some-core-image"
            IMAGE_BASE_PKGDB_FILE = "${TOPDIR}/arm64-pkgdb.rootfs.tar.zst"
            IMAGE_INSTALL = "greet"
            """,
    }
    for name, text in files.items():
        path = layer / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return layer


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> BuildDir:
    root = tmp_path_factory.mktemp("images")
    build = BuildDir(make_build(root, [_layer(root)]))
    result = build.run("extending-image")
    build.first_output = result.stdout  # type: ignore[attr-defined]
    return build


def _listing(image: Path) -> dict[str, str]:
    """path -> 'type mode owner' of a squashfs image, from unsquashfs -lln."""
    out = subprocess.run(["unsquashfs", "-lln", str(image)], capture_output=True, text=True, check=True).stdout
    entries = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 6 or not fields[5].startswith("squashfs-root"):
            continue
        name = fields[5].removeprefix("squashfs-root").lstrip("/")
        entries[name] = f"{fields[0][0]} {fields[0]} {fields[1]}"
    return entries


def _base_files(deploy: Path) -> set[str]:
    """Every path the base's packages own, from the dpkg file lists in its snapshot."""
    paths: set[str] = set()
    with open(deploy / f"some-core-image-{MACHINE}-pkgdb.rootfs.tar.zst", "rb") as raw, \
            zstandard.ZstdDecompressor().stream_reader(raw) as zr, tarfile.open(fileobj=zr, mode="r|") as tar:
        for member in tar:
            if member.name.startswith("var/lib/dpkg/info/") and member.name.endswith(".list"):
                fh = tar.extractfile(member)
                assert fh is not None
                paths.update(line.strip("/") for line in fh.read().decode().splitlines() if line.strip("/."))
    return paths


def test_first_command_prints_the_extension_and_how_to_deploy_it(demo: BuildDir) -> None:
    out = demo.first_output  # type: ignore[attr-defined]
    assert f"{demo.deploy}/extending-image.raw" in out
    assert "systemd-sysext merge" in out and "/run/extensions/" in out


def test_package_closure_is_written(demo: BuildDir) -> None:
    debs = {p.name.split("_")[0] for p in (demo.top / "tmp" / "deploy" / "deb").rglob("*.deb")}
    assert {"greet", "libgreet", "libc6", "base-files", "hello", "lb-init"} <= debs


def test_deploy_names_and_links(demo: BuildDir) -> None:
    names = sorted(os.listdir(demo.deploy))
    link = f"some-core-image-{MACHINE}"
    for suffix in (".rootfs.tar.zst", ".rootfs.squashfs", "-pkgdb.rootfs.tar.zst", ".manifest"):
        path = demo.deploy / (link + suffix)
        assert path.is_symlink(), names
        target = os.readlink(path)
        assert target.startswith(link + "-2") and target.endswith(suffix) and (demo.deploy / target).is_file()
    assert (demo.deploy / "extending-image.raw").is_file() and not (demo.deploy / "extending-image.raw").is_symlink()
    manifest = (demo.deploy / f"{link}.manifest").read_text().splitlines()
    assert [line.split()[0] for line in manifest] == ["base-files", "hello", "lb-init", "libc6"]
    assert all(len(line.split()) == 3 for line in manifest)
    assert (demo.deploy / f"extending-image-{MACHINE}.manifest").read_text().split("\n")[0].startswith("greet ")


def test_snapshot_holds_only_the_database_and_os_release(demo: BuildDir) -> None:
    with open(demo.deploy / f"some-core-image-{MACHINE}-pkgdb.rootfs.tar.zst", "rb") as raw, \
            zstandard.ZstdDecompressor().stream_reader(raw) as zr, tarfile.open(fileobj=zr, mode="r|") as tar:
        names = [m.name.rstrip("/") for m in tar]
    allowed = {".", "etc", "usr", "usr/lib", "var", "var/lib", "etc/os-release", "usr/lib/os-release"}
    assert all(n in allowed or n.startswith("var/lib/dpkg") for n in names), names
    assert "var/lib/dpkg/status" in names and "usr/lib/os-release" in names


def test_dpkg_query_reads_the_base_database(demo: BuildDir, tmp_path: Path) -> None:
    root = tmp_path / "base"
    root.mkdir()
    subprocess.run(["tar", "-C", str(root), "--zstd", "-xf",
                    str(demo.deploy / f"some-core-image-{MACHINE}-pkgdb.rootfs.tar.zst")], check=True)
    out = subprocess.run(["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W", "-f",
                          "${Package} ${Version} ${db:Status-Abbrev}\n"], capture_output=True, text=True,
                         check=True).stdout
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()}
    assert set(rows) == {"base-files", "hello", "lb-init", "libc6"}
    assert all(status == ["ii"] for _version, *status in rows.values())
    assert rows["hello"][0] == "1.0-r0"


def test_extension_holds_only_what_the_base_lacks(demo: BuildDir) -> None:
    listing = _listing(demo.deploy / "extending-image.raw")
    assert set(listing) == {"", "usr", "usr/bin", "usr/bin/greet", "usr/lib", "usr/lib/libgreet.so.1",
                            "usr/lib/libgreet.so.1.0", "usr/lib/extension-release.d",
                            "usr/lib/extension-release.d/extension-release.extending-image"}
    base = _base_files(demo.deploy)
    payload = {p for p, kind in listing.items() if not kind.startswith("d")}
    assert not payload & base
    assert not any(p.startswith("var/lib/dpkg") for p in listing)
    assert all(kind.endswith("0/0") for kind in listing.values())


def test_extension_release_comes_from_the_base(demo: BuildDir, tmp_path: Path) -> None:
    out = tmp_path / "x"
    subprocess.run(["unsquashfs", "-d", str(out), str(demo.deploy / "extending-image.raw")], check=True,
                   capture_output=True)
    release = parse_os_release((out / "usr/lib/extension-release.d/extension-release.extending-image").read_text())
    snapshot = tmp_path / "snap"
    snapshot.mkdir()
    subprocess.run(["tar", "-C", str(snapshot), "--zstd", "-xf",
                    str(demo.deploy / f"some-core-image-{MACHINE}-pkgdb.rootfs.tar.zst")], check=True)
    base = parse_os_release((snapshot / "usr/lib/os-release").read_text())
    assert release == {"ID": base["ID"], "VERSION_ID": base["VERSION_ID"], "ARCHITECTURE": "x86-64"}
    assert not (out / "usr/lib/os-release").exists()


def test_no_op_rebuild_runs_nothing(demo: BuildDir) -> None:
    result = demo.run("extending-image")
    assert " 0 tasks run, 0 restored" in result.stderr, result.stderr


def test_standalone_extension_is_bigger(demo: BuildDir) -> None:
    demo.run("greet-standalone")
    listing = _listing(demo.deploy / "greet-standalone.raw")
    assert "usr/lib/x86_64-linux-gnu/libc.so.6" in listing and "usr/bin/greet" in listing
    release = subprocess.run(["unsquashfs", "-cat", str(demo.deploy / "greet-standalone.raw"),
                              "usr/lib/extension-release.d/extension-release.greet-standalone"],
                             capture_output=True, text=True, check=True).stdout
    assert parse_os_release(release) == {"ID": "_any", "ARCHITECTURE": "x86-64"}
    assert (demo.deploy / "greet-standalone.raw").stat().st_size > 10 * (demo.deploy / "extending-image.raw").stat().st_size


def test_missing_library_fails_the_build(demo: BuildDir) -> None:
    result = demo.run("ext-needy", check=False)
    assert result.returncode == 1
    assert "ext-needy.bb:3: error: sysext: /usr/bin/needy needs libneedy.so.1, which neither the sysext nor " \
           "its base provides" in result.stderr, result.stderr
    assert not (demo.deploy / "ext-needy.raw").exists()


def test_missing_library_names_the_recipe_when_a_class_set_image_install(demo: BuildDir) -> None:
    result = demo.run("ext-needy-direct", check=False)
    assert result.returncode == 1
    recipe = next(demo.top.parent.glob("meta-imagetest/recipes/images/ext-needy-direct.bb"))
    assert f"{recipe}: error: sysext: /usr/bin/needy needs libneedy.so.1" in result.stderr, result.stderr
    assert "image.bbclass" not in result.stderr


def test_an_extension_that_ships_nothing_is_an_error_and_the_good_one_stays(demo: BuildDir) -> None:
    recipe = demo.top.parent / "meta-imagetest/recipes/images/ext-empty.bb"
    good = 'inherit image-sysext\nIMAGE_BASE_PKGDB = "some-core-image"\nIMAGE_INSTALL = "greet"\n'
    recipe.write_text(good)
    demo.run("ext-empty")
    raw = demo.deploy / "ext-empty.raw"
    before = raw.read_bytes()
    assert "usr/bin/greet" in _listing(raw)
    # a misspelt IMAGE_INSTALL: nothing but the extension-release file would ship
    recipe.write_text(good.replace("IMAGE_INSTALL", "IMAGE_INSTAL"))
    result = demo.run("ext-empty", check=False)
    assert result.returncode == 1, result.stderr
    assert f"{recipe}: error: system extension 'ext-empty' ships nothing but its extension-release file\n" \
           in result.stderr, result.stderr
    assert "|   IMAGE_INSTALL is empty\n" in result.stderr
    assert 'SYSEXT_ALLOW_EMPTY = "1"' in result.stderr and "Deploy it" not in result.stdout
    assert raw.read_bytes() == before
    # everything it names is in the base already: the same, at the IMAGE_INSTALL line
    recipe.write_text(good.replace('"greet"', '"hello"'))
    result = demo.run("ext-empty", check=False)
    assert result.returncode == 1, result.stderr
    assert f"{recipe}:3: error: system extension 'ext-empty' ships nothing but its extension-release file\n" \
           in result.stderr, result.stderr
    assert "|   the base image some-core-image has hello already\n" in result.stderr
    assert raw.read_bytes() == before
    # asked for, it is built: the extension-release file alone
    recipe.write_text(good.replace('"greet"', '"hello"') + 'SYSEXT_ALLOW_EMPTY = "1"\n')
    demo.run("ext-empty")
    assert {p for p, kind in _listing(raw).items() if not kind.startswith("d")} == {
        "usr/lib/extension-release.d/extension-release.ext-empty"}


def test_a_confext_that_ships_nothing_is_an_error(demo: BuildDir) -> None:
    result = demo.run("confext-typo", check=False)
    assert result.returncode == 1
    assert "confext-typo.bb: error: configuration extension 'confext-typo' ships nothing but its " \
           "extension-release file" in result.stderr, result.stderr
    assert 'CONFEXT_ALLOW_EMPTY = "1"' in result.stderr
    assert not (demo.deploy / "confext-typo.raw").exists()


def test_etc_is_refused_with_the_confext_hint_or_relocated(demo: BuildDir) -> None:
    result = demo.run("ext-etc", check=False)
    assert result.returncode == 1
    assert "ext-etc.bb:3: error:" in result.stderr and "etcfile" in result.stderr
    assert "/etc/etcfile/etcfile.conf" in result.stderr and "confext" in result.stderr, result.stderr
    demo.run("ext-etc-moved")
    listing = _listing(demo.deploy / "ext-etc-moved.raw")
    assert "usr/share/ext-etc-moved/etc/etcfile/etcfile.conf" in listing
    conf = subprocess.run(["unsquashfs", "-cat", str(demo.deploy / "ext-etc-moved.raw"),
                           "usr/lib/tmpfiles.d/ext-etc-moved-etc.conf"], capture_output=True, text=True,
                          check=True).stdout
    assert "C /etc/etcfile/etcfile.conf" in conf or "C /etc/etcfile " in conf, conf


def test_other_paths_are_errors_naming_package_and_path(demo: BuildDir) -> None:
    result = demo.run("ext-srv", check=False)
    assert result.returncode == 1
    assert "srvfile" in result.stderr and "/srv/www/index.html" in result.stderr, result.stderr


@pytest.mark.parametrize(("recipe", "message"), [
    ("ext-not-image", "ext-not-image.bb:2: error: ext-not-image: do_rootfs[depends] names hello:do_pkgdbfs, "
                      "but hello has no task do_pkgdbfs\n  hint: IMAGE_BASE_PKGDB must name an image recipe that "
                      "sets IMAGE_GEN_PKGDBFS = \"1\""),
    ("ext-no-pkgdb", "ext-no-pkgdb.bb:2: error: ext-no-pkgdb: do_rootfs[depends] names plain-image:do_pkgdbfs, "
                     "but plain-image has no task do_pkgdbfs"),
    ("bad-fstype", "bad-fstype.bb:2: error: IMAGE_FSTYPES: unknown image type 'ext9'"),
    ("typo-image", "typo-image.bb:2: error: nothing provides runtime dependency 'gret' (in IMAGE_INSTALL of "
                   "typo-image)\n  hint: did you mean greet or libgreet or greetings?"),
    ("excluded-image", "excluded-image.bb:2: error: greet (IMAGE_INSTALL) -> libgreet (>= 1.0-r0): libgreet is "
                       "excluded by PACKAGE_EXCLUDE"),
    ("bad-name", "bad-name.bb:2: error: invalid extension name '../evil': it contains '/'"),
])
def test_clear_errors(demo: BuildDir, recipe: str, message: str) -> None:
    result = demo.run(recipe, check=False)
    assert result.returncode == 1
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_snapshot_of_another_architecture_is_refused(demo: BuildDir, tmp_path: Path) -> None:
    snap = tmp_path / "snap"
    snap.mkdir()
    subprocess.run(["tar", "-C", str(snap), "--zstd", "-xf",
                    str(demo.deploy / f"some-core-image-{MACHINE}-pkgdb.rootfs.tar.zst")], check=True)
    status = snap / "var/lib/dpkg/status"
    status.write_text(status.read_text().replace("Architecture: amd64", "Architecture: arm64"))
    subprocess.run(["tar", "-C", str(snap), "--zstd", "-cf", str(demo.top / "arm64-pkgdb.rootfs.tar.zst"), "."],
                   check=True)
    result = demo.run("ext-other-arch", check=False)
    assert result.returncode == 1
    assert "ext-other-arch.bb:2: error: IMAGE_BASE_PKGDB = \"some-core-image\": its snapshot is of an image for " \
           "architecture arm64, but this build is for amd64" in result.stderr, result.stderr


def test_unset_machine_is_a_clear_error(tmp_path: Path) -> None:
    build = BuildDir(make_build(tmp_path, []))
    (build.top / "conf" / "local.conf").write_text('DISTRO ?= "lbdistro"\n')
    result = build.run("-p", check=False)
    assert result.returncode == 1
    assert "Please set a valid MACHINE in your local.conf" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "MACHINE_ARCH" not in result.stderr


# -- real tools: the kernel, systemd-sysext, chroot ------------------------------------------------------


def _unpack_base(demo: BuildDir, root: Path) -> None:
    root.mkdir()
    subprocess.run(["tar", "-C", str(root), "--zstd", "-xf",
                    str(demo.deploy / f"some-core-image-{MACHINE}.rootfs.tar.zst")], check=True)


needs_sysext = pytest.mark.skipif(not (ROOT and _tool("systemd-sysext") and _tool("unshare")),
                                  reason="needs root, unshare and systemd-sysext")


@pytest.mark.root
@needs_sysext
@pytest.mark.parametrize("recipe", ["extending-image", "extending-erofs"])
def test_sysext_merges_onto_the_base_and_greet_runs(demo: BuildDir, tmp_path: Path, recipe: str) -> None:
    demo.run(recipe)
    root = tmp_path / "root"
    _unpack_base(demo, root)
    assert not (root / "usr/bin/greet").exists()
    (root / "var/lib/extensions").mkdir(parents=True, exist_ok=True)
    shutil.copy(demo.deploy / f"{recipe}.raw", root / "var/lib/extensions" / f"{recipe}.raw")
    result = merged_run(root, f"chroot {root} /usr/bin/greet layerbuild && "
                           f"chroot {root} /usr/lib64/ld-linux-x86-64.so.2 --list /usr/bin/greet")
    mounts = result.stdout.split("MOUNTS")[1].split("END")[0]
    assert "overlay" in mounts, result.stdout + result.stderr
    assert "Hello, layerbuild! (libgreet 1.0)" in result.stdout, result.stdout + result.stderr
    # libgreet from the extension (the base has none), libc from the base (the extension has none)
    assert re.search(r"libgreet\.so\.1 => (/usr)?/lib/libgreet\.so\.1 ", result.stdout), result.stdout
    assert re.search(r"libc\.so\.6 => (/usr)?/lib/x86_64-linux-gnu/libc\.so\.6 ", result.stdout), result.stdout


@pytest.mark.root
@needs_sysext
def test_extension_for_another_version_is_not_merged(demo: BuildDir, tmp_path: Path) -> None:
    root = tmp_path / "root"
    _unpack_base(demo, root)
    release = root / "usr/lib/os-release"
    fields = parse_os_release(release.read_text())
    assert fields["VERSION_ID"] == "1.0"
    release.write_text(render_os_release({**fields, "VERSION_ID": "2.0"}))
    (root / "var/lib/extensions").mkdir(parents=True, exist_ok=True)
    shutil.copy(demo.deploy / "extending-image.raw", root / "var/lib/extensions" / "extending-image.raw")
    result = merged_run(root, f"test -e {root}/usr/bin/greet && echo VISIBLE || echo ABSENT")
    mounts = result.stdout.split("MOUNTS")[1].split("END")[0]
    assert "overlay" not in mounts and "ABSENT" in result.stdout, result.stdout + result.stderr


@pytest.mark.root
@pytest.mark.skipif(not ROOT, reason="needs root for loop mounts")
@pytest.mark.parametrize("recipe", ["extending-image", "extending-erofs"])
def test_kernel_mounts_the_extension(demo: BuildDir, tmp_path: Path, recipe: str) -> None:
    demo.run(recipe)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-o", "loop,ro", str(demo.deploy / f"{recipe}.raw"), str(mnt)], check=True)
    try:
        found = sorted(str(p.relative_to(mnt)) for p in mnt.rglob("*"))
        assert "usr/bin/greet" in found and f"usr/lib/extension-release.d/extension-release.{recipe}" in found
        assert (mnt / "usr/lib/libgreet.so.1").is_symlink()
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def _digests(deploy: Path) -> dict[str, str]:
    out = {}
    for link in (f"some-core-image-{MACHINE}.rootfs.tar.zst", f"some-core-image-{MACHINE}.rootfs.squashfs",
                 f"some-core-image-{MACHINE}-pkgdb.rootfs.tar.zst", "extending-image.raw"):
        out[link] = hashlib.sha256((deploy / link).read_bytes()).hexdigest()
    return out


def test_two_clean_builds_give_identical_images(demo: BuildDir, tmp_path: Path) -> None:
    other = BuildDir(make_build(tmp_path / "elsewhere", []))
    other.run("extending-image")
    assert _digests(other.deploy) == _digests(demo.deploy)


def test_empty_tmpdir_restores_images_from_sstate(demo: BuildDir, tmp_path: Path) -> None:
    shared = BuildDir(make_build(tmp_path / "shared", [], local=f'SSTATE_DIR = "{demo.top}/sstate-cache"\n'))
    result = shared.run("extending-image")
    assert " 0 tasks run" in result.stderr or "restored from sstate" in result.stderr, result.stderr
    assert _digests(shared.deploy) == _digests(demo.deploy)
    assert "do_rootfs" not in result.stderr.replace("Restored", ""), result.stderr


def test_sboms_match_what_the_images_install(demo: BuildDir) -> None:
    """Each image's SPDX document, read back with spdx-python-model, against its manifest and packages;
    the extension's names only what it ships and refers to the base's document."""
    from test_sbom import check_image_sbom
    debs = demo.top / "tmp" / "deploy" / "deb"
    check_image_sbom(demo.deploy, f"some-core-image-{MACHINE}", debs)
    check_image_sbom(demo.deploy, f"extending-image-{MACHINE}", debs, base=f"some-core-image-{MACHINE}")


def test_sbom_is_the_same_when_written_again(demo: BuildDir) -> None:
    deployed = (demo.deploy / f"some-core-image-{MACHINE}.spdx.json").resolve()
    demo.run("-f", "-c", "create_image_sbom_spdx", "some-core-image")
    (again,) = (demo.top / "tmp" / "work").glob(f"*/some-core-image/*/deploy-some-core-image-image-complete/{deployed.name}")
    assert again.read_bytes() == deployed.read_bytes()
