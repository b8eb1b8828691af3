"""Build directories without the template's distro: a local.conf holding only MACHINE (what kas and
hand-written set-ups give), and one naming a DISTRO that no layer has a conf file for.

OE's nodistro defaults make a valid os-release (ID from DISTRO, VERSION_ID nodistro.0), the extension's
extension-release carries the same and systemd-sysext merges it, no generated file holds a literal
``${``, and images without usrmerge have the dynamic loader where the ELF interpreter path says. The
files are read with independent tools: tar, unsquashfs, dpkg-deb, the shell, readelf, chroot and
systemd-sysext.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import CORE, BuildDir

MACHINE = "genericx86-64"
ROOT = os.geteuid() == 0
#: configuration name -> (what local.conf adds to MACHINE, the os-release ID it gives)
CONFIGS = {
    "no-distro": ("", "nodistro"),
    "unknown-distro": ('DISTRO = "mydistro"\n', "mydistro"),
}
LOADER = "/lib64/ld-linux-x86-64.so.2"


def minimal_build(root: Path, extra: str) -> BuildDir:
    top = root / "build"
    (top / "conf").mkdir(parents=True)
    (top / "conf" / "bblayers.conf").write_text(f'BBPATH = "${{TOPDIR}}"\nBBFILES ?= ""\nBBLAYERS = "{CORE}"\n')
    (top / "conf" / "local.conf").write_text(f'MACHINE ??= "{MACHINE}"\n{extra}')
    return BuildDir(top)


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[BuildDir, str, str]:
    """(the build directory, the os-release ID expected, the first build's standard error)."""
    extra, distro_id = CONFIGS[request.param]
    build = minimal_build(tmp_path_factory.mktemp(request.param), extra)
    result = build.run("extending-image", "demo-portable")
    return build, distro_id, result.stderr


def _shell_fields(path: Path, *names: str) -> list[str]:
    """os-release fields as a POSIX shell reads the file (it is meant to be sourceable)."""
    script = '. "$1" && ' + " && ".join(f'printf "%s\\n" "${{{n}-<unset>}}"' for n in names)
    out = subprocess.run(["sh", "-c", script, "sh", str(path)], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def _base_root(build: BuildDir, dest: Path) -> Path:
    dest.mkdir()
    subprocess.run(["tar", "-C", str(dest), "--zstd", "-xf",
                    str(build.deploy / f"some-core-image-{MACHINE}.rootfs.tar.zst")], check=True)
    return dest


def _unsquash(image: Path, dest: Path) -> Path:
    subprocess.run(["unsquashfs", "-no-xattrs", "-d", str(dest), str(image)], check=True, capture_output=True)
    return dest


def test_a_distro_without_a_conf_file_is_a_warning_at_its_line(built: tuple[BuildDir, str, str]) -> None:
    build, distro_id, err = built
    local = build.top / "conf" / "local.conf"
    if distro_id == "mydistro":
        assert f"WARNING: {local}:2: DISTRO 'mydistro' not found: no layer has conf/distro/mydistro.conf; " \
               "building with the nodistro defaults (os-release ID=mydistro, VERSION_ID=nodistro.0)\n" in err, err
    else:
        assert "not found" not in err and "WARNING" not in err, err


def test_base_os_release_holds_the_nodistro_values(built: tuple[BuildDir, str, str], tmp_path: Path) -> None:
    build, distro_id, _ = built
    root = _base_root(build, tmp_path / "base")
    release = root / "usr/lib/os-release"
    assert "${" not in release.read_text()
    assert _shell_fields(release, "ID", "VERSION_ID", "NAME", "VERSION", "PRETTY_NAME", "VERSION_CODENAME") == [
        distro_id, "nodistro.0", "Layerbuild", "nodistro.0", "Layerbuild nodistro.0", "<unset>"]
    assert os.readlink(root / "etc/os-release") == "../usr/lib/os-release"


def test_extension_release_is_the_base_identity(built: tuple[BuildDir, str, str], tmp_path: Path) -> None:
    build, distro_id, _ = built
    payload = _unsquash(build.deploy / "extending-image.raw", tmp_path / "ext")
    release = payload / "usr/lib/extension-release.d/extension-release.extending-image"
    assert "${" not in release.read_text()
    assert _shell_fields(release, "ID", "VERSION_ID", "ARCHITECTURE") == [distro_id, "nodistro.0", "x86-64"]


def test_no_package_or_portable_image_holds_a_literal_reference(built: tuple[BuildDir, str, str],
                                                                tmp_path: Path) -> None:
    build, distro_id, _ = built
    debs = sorted((build.top / "tmp/deploy/deb").rglob("*.deb"))
    assert len(debs) >= 6
    for deb in debs:
        control = subprocess.run(["dpkg-deb", "-f", str(deb)], capture_output=True, text=True, check=True).stdout
        assert "${" not in control, (deb.name, control)
    portable = _unsquash(build.deploy / "demo-portable_1.0.raw", tmp_path / "portable")
    release = portable / "usr/lib/os-release"
    assert "${" not in release.read_text()
    assert _shell_fields(release, "ID", "VERSION_ID", "PORTABLE_PREFIXES") == [distro_id, "nodistro.0",
                                                                               "demo-portable"]


def _interpreter(binary: Path) -> str:
    out = subprocess.run(["readelf", "-lW", str(binary)], capture_output=True, text=True, check=True).stdout
    return next(line.split(":", 1)[1].strip(" ]") for line in out.splitlines() if "interpreter:" in line)


@pytest.mark.root
@pytest.mark.skipif(not ROOT, reason="needs root for chroot")
def test_loader_is_where_the_interpreter_path_says(built: tuple[BuildDir, str, str], tmp_path: Path) -> None:
    build, _, _ = built
    base = _base_root(build, tmp_path / "base")
    assert _interpreter(base / "usr/bin/hello") == LOADER
    assert not (base / "lib64").is_symlink(), "without usrmerge /lib64 is a directory of its own"
    run = subprocess.run(["chroot", str(base), "/usr/bin/hello"], capture_output=True, text=True)
    assert (run.returncode, run.stdout) == (0, "Hello from layerbuild\n"), run.stderr
    portable = _unsquash(build.deploy / "demo-portable_1.0.raw", tmp_path / "portable")
    assert _interpreter(portable / "usr/bin/lb-echod") == LOADER
    run = subprocess.run(["chroot", str(portable), LOADER, "--list", "/usr/bin/lb-echod"], capture_output=True,
                         text=True)
    assert run.returncode == 0 and "libc.so.6 => /usr/lib/x86_64-linux-gnu/libc.so.6" in run.stdout, run


@pytest.mark.root
@pytest.mark.skipif(not (ROOT and shutil.which("systemd-sysext") and shutil.which("unshare")),
                    reason="needs root, unshare and systemd-sysext")
def test_systemd_sysext_merges_the_extension(built: tuple[BuildDir, str, str], tmp_path: Path) -> None:
    build, _, _ = built
    root = _base_root(build, tmp_path / "root")
    assert not (root / "usr/bin/greet").exists()
    (root / "var/lib/extensions").mkdir(parents=True, exist_ok=True)
    shutil.copy(build.deploy / "extending-image.raw", root / "var/lib/extensions/extending-image.raw")
    # systemd 252 exits 0 even when it refuses an extension: what is mounted tells
    script = (f"mount --make-rprivate / && mount --make-rshared / && mount -t tmpfs tmpfs /run && "
              f"systemd-sysext --root={root} merge; echo MOUNTS; grep ' {root}/usr ' /proc/self/mountinfo; "
              f"echo END; chroot {root} /usr/bin/greet nodistro")
    result = subprocess.run(["unshare", "-m", "--propagation", "shared", "sh", "-c", script], capture_output=True,
                            text=True, timeout=60)
    mounts = result.stdout.split("MOUNTS")[1].split("END")[0]
    assert "overlay" in mounts, result.stdout + result.stderr
    assert "Hello, nodistro! (libgreet 1.0)" in result.stdout, result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.root
@pytest.mark.skipif(not (ROOT and shutil.which("unshare") and shutil.which("ip")),
                    reason="needs root, unshare and iproute2")
def test_every_demo_builds_and_passes_its_image_tests(built: tuple[BuildDir, str, str]) -> None:
    build, _, _ = built
    build.run("extending-confext", timeout=900)
    for recipe in ("some-core-image", "extending-image", "extending-confext", "demo-portable"):
        result = build.run("-c", "testimage", recipe, check=False, timeout=900)
        assert result.returncode == 0, result.stderr
        summary = result.stderr.split("Build succeeded:", 1)[1]
        assert f"\ntestimage {recipe}: " in summary and " 0 failed, " in summary, summary
        assert f"(report: {build.deploy}/{recipe}-{MACHINE}.testimage.xml)" in summary
