"""The systemd class: units checked at do_package, presets in the package, enablement offline in a base image
(compared with the links the host's real ``systemctl --root enable`` makes, and read back with ``systemctl
--root is-enabled``) and in a system extension (links beside the units in /usr, merged by the real
systemd-sysext, the merged manager's start job seen by ``systemd-analyze --root verify``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import BuildDir, device_with_extension, make_build, make_layer, sysext_merge

from layerbuild.packaging.systemd import package_units
from layerbuild.rootfs.units import parse_install, preset_all
from layerbuild.taskapi import context_from
from layerbuild.util.errors import LayerbuildError

ROOT = os.geteuid() == 0
needs_systemctl = pytest.mark.skipif(shutil.which("systemctl") is None, reason="systemctl not installed")

UNITS = {
    "svc.service": "[Unit]\nDescription=svc\n[Service]\nExecStart=/bin/sh -c 'sleep 1'\n"
                   "[Install]\nWantedBy=multi-user.target\nAlias=svc-alias.service\nAlso=svc-helper.service\n",
    "svc-helper.service": "[Service]\nExecStart=/bin/sh -c true\n[Install]\nRequiredBy=multi-user.target\n",
    "svc@.service": "[Service]\nExecStart=/bin/sh -c 'echo %i'\n[Install]\nWantedBy=multi-user.target\n",
    "svc-off.service": "[Service]\nExecStart=/bin/sh -c true\n[Install]\nWantedBy=multi-user.target\n",
    "svc-static.service": "[Service]\nExecStart=/bin/sh -c true\n",
    "tool.service": "[Service]\nExecStart=/bin/sh -c true\n[Install]\nWantedBy=multi-user.target\n",
}

RECIPE = """\
LICENSE = "MIT"
INHIBIT_DEFAULT_DEPS = "1"
SRC_URI = "{uris}"
S = "${{UNPACKDIR}}"
inherit systemd allarch
{extra}
do_install() {{
    install -d ${{D}}${{systemd_system_unitdir}}
    for unit in {units}; do
        install -m 0644 ${{S}}/$unit ${{D}}${{systemd_system_unitdir}}/
    done
}}
"""


def _recipe(name: str, units: list[str], extra: str) -> dict[str, str]:
    files = {f"recipes/{name}/{name}_1.0.bb": RECIPE.format(
        uris=" ".join(f"file://{u}" for u in units), units=" ".join(units), extra=extra)}
    files.update({f"recipes/{name}/files/{u}": UNITS[u] for u in units})
    return files


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("systemd")
    return make_layer(root, "units", {
        **_recipe("svc", ["svc.service", "svc-helper.service", "svc@.service", "svc-off.service",
                          "svc-static.service"],
                  'PACKAGES =+ "${PN}-off"\nSYSTEMD_PACKAGES = "${PN} ${PN}-off"\n'
                  'SYSTEMD_SERVICE:${PN} = "svc.service svc@one.service svc@two.service"\n'
                  'SYSTEMD_SERVICE:${PN}-off = "svc-off.service"\nSYSTEMD_AUTO_ENABLE:${PN}-off = "disable"\n'),
        **_recipe("tool", ["tool.service"], 'SYSTEMD_SERVICE:${PN} = "tool.service"\n'),
        **_recipe("broken", ["tool.service"], 'SYSTEMD_SERVICE:${PN} = "tool.service missing.socket"\n'),
        "recipes/images/svc-image.bb": 'inherit core-image\nIMAGE_INSTALL += "svc svc-off"\n'
                                       'IMAGE_GEN_PKGDBFS = "1"\n',
        "recipes/images/tool-ext.bb": 'inherit image-sysext\nIMAGE_BASE_PKGDB = "svc-image"\n'
                                      'IMAGE_INSTALL = "tool"\n',
    })


@pytest.fixture(scope="module")
def built(layer: Path, tmp_path_factory: pytest.TempPathFactory) -> BuildDir:
    build = BuildDir(make_build(tmp_path_factory.mktemp("systemd-build"), [layer]))
    build.run("svc-image", "tool-ext")
    return build


def _links(root: Path, under: str) -> dict[str, str]:
    top = root / under
    return {str(p.relative_to(root)): os.readlink(p) for p in sorted(top.rglob("*")) if p.is_symlink()}


def _rootfs(build: BuildDir, image: str) -> Path:
    return next((build.top / "tmp/work").glob(f"genericx86_64/{image}/*/rootfs"))


def test_missing_unit_is_an_error_naming_it(built: BuildDir, layer: Path) -> None:
    result = built.run("broken", check=False)
    assert result.returncode == 1
    recipe = layer / "recipes/broken/broken_1.0.bb"
    assert (f"{recipe}:6: error: broken: the unit 'missing.socket' named in SYSTEMD_SERVICE:broken is not "
            "installed: looked in /etc/systemd/system and /usr/lib/systemd/system of ${D}") in result.stderr


def test_presets_ship_in_their_packages(built: BuildDir) -> None:
    debs = built.top / "tmp/deploy/deb/all"
    listing = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(next(debs.glob("svc_1.0-r0_all.deb")))],
                             capture_output=True, check=True).stdout
    names = subprocess.run(["tar", "-t"], input=listing, capture_output=True, check=True).stdout.decode().split()
    assert "./usr/lib/systemd/system-preset/98-svc.preset" in names
    assert "./usr/lib/systemd/system/svc@.service" in names
    off = subprocess.run(["dpkg-deb", "-c", str(next(debs.glob("svc-off_1.0-r0_all.deb")))],
                         capture_output=True, text=True, check=True).stdout
    assert "./usr/lib/systemd/system/svc-off.service" in off and "98-svc-off.preset" in off
    rootfs = _rootfs(built, "svc-image")
    assert (rootfs / "usr/lib/systemd/system-preset/98-svc.preset").read_text() == \
        "enable svc.service\nenable svc@.service one two\n"
    assert (rootfs / "usr/lib/systemd/system-preset/98-svc-off.preset").read_text() == "disable svc-off.service\n"


@needs_systemctl
def test_base_image_links_are_those_systemctl_makes(built: BuildDir, tmp_path: Path) -> None:
    rootfs = _rootfs(built, "svc-image")
    ours = _links(rootfs, "etc/systemd/system")
    # the oracle: the host's systemctl enabling the same units in a copy of the unit directory
    oracle = tmp_path / "oracle"
    shutil.copytree(rootfs / "usr/lib/systemd/system", oracle / "usr/lib/systemd/system", symlinks=True)
    (oracle / "etc").mkdir()
    subprocess.run(["systemctl", f"--root={oracle}", "enable", "svc.service", "svc@one.service", "svc@two.service"],
                   capture_output=True, check=True)
    assert ours == _links(oracle, "etc/systemd/system")
    assert ours["etc/systemd/system/multi-user.target.wants/svc@two.service"] == "/usr/lib/systemd/system/svc@.service"
    states = {}
    for unit in ("svc.service", "svc-helper.service", "svc@one.service", "svc-off.service", "svc-static.service"):
        out = subprocess.run(["systemctl", f"--root={rootfs}", "is-enabled", unit], capture_output=True, text=True)
        states[unit] = out.stdout.strip()
    assert states == {"svc.service": "enabled", "svc-helper.service": "enabled", "svc@one.service": "enabled",
                      "svc-off.service": "disabled", "svc-static.service": "static"}


def test_extension_enables_beside_its_units(built: BuildDir) -> None:
    payload = _rootfs(built, "tool-ext")
    assert _links(payload, "usr") == {
        "usr/lib/systemd/system/multi-user.target.wants/tool.service": "../tool.service"}
    assert not (payload / "etc").exists()
    release = (payload / "usr/lib/extension-release.d/extension-release.tool-ext").read_text()
    assert "EXTENSION_RELOAD_MANAGER=1\n" in release
    # the base's units stay the base's: the extension ships no links for them
    assert not (payload / "usr/lib/systemd/system/svc.service").exists()


@pytest.mark.root
@pytest.mark.skipif(not (ROOT and shutil.which("systemd-sysext") and shutil.which("unshare")
                         and shutil.which("systemd-analyze")), reason="needs root, unshare, systemd-sysext")
def test_merged_extension_brings_its_unit_and_link(built: BuildDir, tmp_path: Path) -> None:
    root = tmp_path / "device"
    device_with_extension(root, built.deploy / "svc-image-genericx86-64.rootfs.tar.zst", built.deploy / "tool-ext.raw")
    # a target for the links to hang on (the sample base runs no systemd of its own)
    (root / "usr/lib/systemd/system/multi-user.target").write_text("[Unit]\nDescription=Multi-User\n")
    unit = f"{root}/usr/lib/systemd/system/tool.service"
    link = f"{root}/usr/lib/systemd/system/multi-user.target.wants/tool.service"
    mounts, out = sysext_merge(root, f"test -f {unit} && echo UNIT; readlink -f {link}; "
                                     f"SYSTEMD_LOG_LEVEL=debug systemd-analyze --root={root} verify multi-user.target 2>&1; "
                                     f"systemctl --root={root} list-unit-files tool.service")
    assert " overlay " in mounts, out  # systemd-sysext 252 exits 0 even when nothing merged
    assert "UNIT\n" in out and f"{root}/usr/lib/systemd/system/tool.service\n" in out, out
    # systemd's own loader reads the merged link: multi-user.target wants the extension's service
    assert "Wants: tool.service (origin-file)" in out, out
    # and the extension's preset (shipped by the package) is what systemd reads for it
    assert "tool.service disabled enabled" in " ".join(out.split()), out


# -- the enablement on its own --------------------------------------------------------------------------


def test_install_section_parsing() -> None:
    install = parse_install("[Unit]\nWantedBy=not-this\n[Install]\nWantedBy=a.target \\\n  b.target\n"
                            "Alias=x.service\nWantedBy=\nWantedBy=c.target\n# WantedBy=d.target\n")
    assert install.get("WantedBy") == ("c.target",)
    assert install.get("Alias") == ("x.service",)


def test_links_never_leave_the_root(tmp_path: Path) -> None:
    """A root whose /etc is a link to the host's: the enablement stays inside the root."""
    root = tmp_path / "root"
    outside = tmp_path / "host-etc"
    outside.mkdir()
    (root / "usr/lib/systemd/system").mkdir(parents=True)
    (root / "usr/lib/systemd/system-preset").mkdir(parents=True)
    (root / "usr/lib/systemd/system/x.service").write_text(UNITS["tool.service"])
    (root / "usr/lib/systemd/system-preset/98-x.preset").write_text("enable x.service\n")
    os.symlink("../host-etc", root / "etc")  # climbs out of the root
    with pytest.raises(LayerbuildError, match="etc"):
        preset_all(str(root), vendor=False)
    assert list(outside.iterdir()) == []
    os.unlink(root / "etc")
    os.symlink(str(outside), root / "etc")  # absolute: a chroot reads it inside the root
    (root / str(outside).lstrip("/")).mkdir(parents=True)
    links = preset_all(str(root), vendor=False)
    assert links == ["etc/systemd/system/multi-user.target.wants/x.service"]
    assert list(outside.iterdir()) == []
    inside = root / str(outside).lstrip("/")
    assert os.readlink(inside / "systemd/system/multi-user.target.wants/x.service") == \
        "/usr/lib/systemd/system/x.service"


class _Vars:
    """The variables of a do_package run, without a recipe."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def getVar(self, var: str, expand: bool = True) -> str | None:  # noqa: N802
        return self.values.get(var)

    def getVarFlag(self, var: str, flag: str, expand: bool = True) -> str | None:  # noqa: N802
        return None

    def location(self, var: str) -> None:
        return None


PACKAGE_VARS = {"PN": "x", "FILE": "x_1.0.bb", "PACKAGES": "x", "sysconfdir": "/etc", "nonarch_libdir": "/usr/lib",
                "systemd_unitdir": "/usr/lib/systemd", "systemd_system_unitdir": "/usr/lib/systemd/system"}


def test_preset_never_written_outside_pkgd(tmp_path: Path) -> None:
    """do_install left usr/lib/systemd/system-preset as a link to a host directory: the preset stays inside."""
    pkgd, host = tmp_path / "pkgd", tmp_path / "host"
    host.mkdir()
    (pkgd / "usr/lib/systemd/system").mkdir(parents=True)
    (pkgd / str(host).lstrip("/")).mkdir(parents=True)  # where a chroot reads the link
    (pkgd / "usr/lib/systemd/system/x.service").write_text(UNITS["tool.service"])
    os.symlink(str(host), pkgd / "usr/lib/systemd/system-preset")
    ctx = context_from(_Vars({**PACKAGE_VARS, "SYSTEMD_PACKAGES": "x", "SYSTEMD_SERVICE:x": "x.service"}),
                       task="do_package")
    shipped = package_units(ctx, str(pkgd))
    assert shipped == {"x": ["/usr/lib/systemd/system-preset/98-x.preset", "/usr/lib/systemd/system/x.service"]}
    assert list(host.iterdir()) == []
    assert (pkgd / str(host).lstrip("/") / "98-x.preset").read_text() == "enable x.service\n"
