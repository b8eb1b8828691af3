"""Portable service images and configuration extensions, built from the demo recipes.

Every requirement of systemd's PORTABLE_SERVICES spec is checked from the image itself (unsquashfs
-lln), then the image is handed to the real runtimes this machine has: systemd-dissect must call it a
portable service, and systemd-nspawn must start the unit's ExecStart= from it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
from conftest import LAYER_CONF, BuildDir, make_build

from layerbuild.image.portable import PortableError, check_unit_name, parse_units
from layerbuild.util.osrelease import parse as parse_os_release

MACHINE = "genericx86-64"
ROOT = os.geteuid() == 0


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> BuildDir:
    root = tmp_path_factory.mktemp("portable")
    layer = root / "meta-portabletest"
    files = {
        "conf/layer.conf": LAYER_CONF.format(name="portabletest", priority=7),
        "recipes/images/bad-prefix.bb": """\
            inherit image-portable
            IMAGE_INSTALL = "lb-echod"
            PORTABLE_UNITS = "lb-echod.service"
            """,
        "recipes/images/own-unit.bb": """\
            inherit image-portable
            IMAGE_INSTALL = "lb-echod"
            PORTABLE_UNITS = "file://own-unit.service"
            PORTABLE_SYMLINKS = "/usr/bin/lb-echod:/usr/sbin/echod"
            PORTABLE_SQUASHFS_COMP = "gzip"
            """,
        "recipes/images/files/own-unit.service": "[Service]\nExecStart=/usr/sbin/echod\n",
    }
    for name, text in files.items():
        path = layer / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    b = BuildDir(make_build(root, [layer]))
    b.run("demo-portable", "extending-confext")
    return b


def _listing(image: Path) -> dict[str, tuple[str, str, str]]:
    """path -> (mode string, owner, link target) from unsquashfs -lln."""
    out = subprocess.run(["unsquashfs", "-lln", str(image)], capture_output=True, text=True, check=True).stdout
    entries = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 6 or not fields[5].startswith("squashfs-root"):
            continue
        name = fields[5].removeprefix("squashfs-root").lstrip("/")
        entries[name] = (fields[0], fields[1], fields[7] if len(fields) > 7 and fields[6] == "->" else "")
    return entries


def _cat(image: Path, path: str) -> str:
    return subprocess.run(["unsquashfs", "-cat", str(image), path], capture_output=True, text=True,
                          check=True).stdout


def test_portable_image_meets_every_requirement(build: BuildDir) -> None:
    image = build.deploy / "demo-portable_1.0.raw"
    entries = _listing(image)
    # 1: the executable with its dependencies (the C runtime came in through shlib dependencies)
    assert entries["usr/bin/lb-echod"][0].startswith("-rwx")
    assert "usr/lib/x86_64-linux-gnu/libc.so.6" in entries
    # 3: os-release says what this is, with the prefix portabled matches units against
    release = parse_os_release(_cat(image, "usr/lib/os-release"))
    assert release["ID"] == "lbdistro" and release["PORTABLE_PREFIXES"] == "demo-portable"
    assert release["PORTABLE_PRETTY_NAME"] == "Line echo daemon as a portable service"
    assert release["HOME_URL"] == "https://example.invalid/layerbuild/demo-portable"
    # 4: the unit, renamed to the image's prefix, starting the executable
    unit = _cat(image, "usr/lib/systemd/system/demo-portable.service")
    assert "ExecStart=/usr/bin/lb-echod" in unit
    assert "usr/lib/systemd/system/lb-echod.service" not in entries
    # 5: empty resolv.conf and machine-id
    for rel in ("etc/resolv.conf", "etc/machine-id"):
        assert entries[rel][0].startswith("-") and _cat(image, rel) == ""
    # 6: the mount points exist (squashfs is read-only)
    for rel in ("proc", "sys", "dev", "run", "tmp", "var/tmp"):
        assert entries[rel][0].startswith("d"), rel
    # 7: merged-usr links and the dynamic loader where the executable looks for it
    for rel in ("bin", "sbin", "lib", "lib64"):
        assert entries[rel][0].startswith("l") and entries[rel][2] == f"usr/{rel}"
    assert "usr/lib64/ld-linux-x86-64.so.2" in entries
    # no package database, everything root's
    assert not any(p.startswith("var/lib/dpkg") for p in entries)
    assert all(owner == "0/0" for _mode, owner, _target in entries.values())
    # nixpkgs' defaults: xz, 1 MiB blocks
    info = subprocess.run(["unsquashfs", "-s", str(image)], capture_output=True, text=True, check=True).stdout
    assert "Compression xz" in info and "Block size 1048576" in info


def test_file_units_symlinks_and_compression(build: BuildDir) -> None:
    build.run("own-unit")
    image = build.deploy / "own-unit_1.0.raw"
    entries = _listing(image)
    assert entries["usr/sbin/echod"][2] == "/usr/bin/lb-echod"
    assert _cat(image, "usr/lib/systemd/system/own-unit.service") == "[Service]\nExecStart=/usr/sbin/echod\n"
    info = subprocess.run(["unsquashfs", "-s", str(image)], capture_output=True, text=True, check=True).stdout
    assert "Compression gzip" in info
    # the unit file is an input of the image: changing it rebuilds the image, and only from do_rootfs on
    unit = build.top.parent / "meta-portabletest/recipes/images/files/own-unit.service"
    unit.write_text("[Service]\nExecStart=/usr/sbin/echod --verbose\n")
    result = build.run("own-unit")
    assert "own-unit:do_rootfs" in result.stdout + result.stderr
    assert "lb-echod:do_compile" not in result.stdout + result.stderr
    assert _cat(image, "usr/lib/systemd/system/own-unit.service") == \
        "[Service]\nExecStart=/usr/sbin/echod --verbose\n"


def test_wrongly_prefixed_unit_fails_the_build(build: BuildDir) -> None:
    result = build.run("bad-prefix", check=False)
    assert result.returncode == 1
    assert "bad-prefix.bb:3: error: unit 'lb-echod.service' does not start with the image's prefix 'bad-prefix' " \
           "followed by '-', '.' or '@', so portabled would ignore it" in result.stderr, result.stderr
    assert not (build.deploy / "bad-prefix_1.0.raw").exists()


@pytest.mark.parametrize(("name", "ok"), [("demo.service", True), ("demo-web.socket", True),
                                          ("demo@.service", True), ("demox.service", False),
                                          ("other.service", False), ("demo", False)])
def test_unit_prefix_rule(name: str, ok: bool) -> None:
    if ok:
        check_unit_name(name, "demo")
    else:
        with pytest.raises(PortableError):
            check_unit_name(name, "demo")


def test_unit_specs() -> None:
    specs = parse_units("a.service b.service:demo.service file://x/y.service file://z.service:demo-z.service")
    assert [(s.source, s.name) for s in specs] == [("a.service", "a.service"), ("b.service", "demo.service"),
                                                   ("file://x/y.service", "y.service"),
                                                   ("file://z.service", "demo-z.service")]


@pytest.mark.skipif(not shutil.which("systemd-dissect"), reason="needs systemd-dissect (systemd-container)")
def test_systemd_dissect_calls_it_a_portable_service(build: BuildDir) -> None:
    out = subprocess.run(["systemd-dissect", str(build.deploy / "demo-portable_1.0.raw")], capture_output=True,
                         text=True, check=True).stdout
    assert "PORTABLE_PREFIXES=demo-portable" in out
    assert "\u2713 portable service" in out, out


@pytest.mark.root
@pytest.mark.skipif(not (ROOT and shutil.which("systemd-nspawn")), reason="needs root and systemd-nspawn")
def test_systemd_nspawn_runs_the_units_exec_start(build: BuildDir, tmp_path: Path) -> None:
    """nspawn's --image= needs a running udev, which this machine has not; the same image, loop-mounted
    read-only by the kernel, goes in through --directory= instead."""
    image = build.deploy / "demo-portable_1.0.raw"
    unit = _cat(image, "usr/lib/systemd/system/demo-portable.service")
    command = next(line.split("=", 1)[1] for line in unit.splitlines() if line.startswith("ExecStart="))
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-o", "loop,ro", str(image), str(mnt)], check=True)
    port = 17000 + os.getpid() % 1000
    proc = subprocess.Popen(["systemd-nspawn", "--register=no", "--keep-unit", "--quiet", "--read-only",
                             f"--directory={mnt}", f"--setenv=LB_ECHOD_PORT={port}", *command.split()],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        reply = b""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not reply:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
                    conn.sendall(b"portable\n")
                    reply = conn.recv(100)
            except OSError:
                time.sleep(0.2)
        assert reply == b"echo: portable\n"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        subprocess.run(["umount", str(mnt)], check=False)


def test_confext_ships_only_etc_with_its_release(build: BuildDir) -> None:
    image = build.deploy / "extending-confext.raw"
    entries = _listing(image)
    assert set(entries) == {"", "etc", "etc/greet", "etc/greet/greet.conf", "etc/extension-release.d",
                            "etc/extension-release.d/extension-release.extending-confext"}
    release = parse_os_release(_cat(image, "etc/extension-release.d/extension-release.extending-confext"))
    assert release == {"ID": "lbdistro", "VERSION_ID": "1.0", "ARCHITECTURE": "x86-64"}
    assert "Hello from the confext" in _cat(image, "etc/greet/greet.conf")


def test_sboms_of_the_portable_image_and_the_confext(build: BuildDir) -> None:
    """A portable image carries its whole closure and refers to nothing; a configuration extension names
    what it ships and refers to its base's document."""
    from test_sbom import check_image_sbom
    debs = build.top / "tmp" / "deploy" / "deb"
    check_image_sbom(build.deploy, f"demo-portable-{MACHINE}", debs)
    check_image_sbom(build.deploy, f"extending-confext-{MACHINE}", debs, base=f"some-core-image-{MACHINE}")
