"""The useradd class: OE's useradd/groupadd/groupmems arguments become a sysusers.d file in the package; a
base image creates the users offline (compared with what the host's real ``systemd-sysusers --root`` makes
of the same files), and a system extension ships the file, which the real systemd-sysusers applies after
the real systemd-sysext merge.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import BuildDir, device_with_extension, make_build, make_layer, sysext_merge

from layerbuild.packaging.useradd import ParamError, package_users, sysusers_lines
from layerbuild.rootfs import sysusers
from layerbuild.taskapi import context_from

ROOT = os.geteuid() == 0
needs_sysusers = pytest.mark.skipif(shutil.which("systemd-sysusers") is None, reason="systemd-sysusers not installed")

RECIPE = """\
LICENSE = "MIT"
INHIBIT_DEFAULT_DEPS = "1"
inherit useradd allarch
USERADD_PACKAGES = "${{PN}}"
{params}
do_install() {{
    install -d ${{D}}${{datadir}}/${{PN}}
    echo data > ${{D}}${{datadir}}/${{PN}}/data
}}
"""

DAEMON = """\
GROUPADD_PARAM:${PN} = "--system lbshared"
USERADD_PARAM:${PN} = "--system --no-create-home --home-dir /var/lib/lbd --shell /bin/false \\
    --comment 'LB daemon' --groups lbshared lbd; --uid 1500 -g lbshared -m lbuser"
GROUPMEMS_PARAM:${PN} = "-a lbuser -g lbd"
"""


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("useradd")
    return make_layer(root, "users", {
        "recipes/daemon/daemon_1.0.bb": RECIPE.format(params=DAEMON),
        "recipes/tool2/tool2_1.0.bb": RECIPE.format(
            params='USERADD_PARAM:${PN} = "--system -d /var/lib/tooluser -s /sbin/nologin tooluser"'),
        "recipes/images/users-image.bb": 'inherit core-image\nIMAGE_INSTALL += "daemon"\nIMAGE_GEN_PKGDBFS = "1"\n',
        "recipes/images/users-ext.bb": 'inherit image-sysext\nIMAGE_BASE_PKGDB = "users-image"\n'
                                       'IMAGE_INSTALL = "tool2"\n',
    })


@pytest.fixture(scope="module")
def built(layer: Path, tmp_path_factory: pytest.TempPathFactory) -> BuildDir:
    build = BuildDir(make_build(tmp_path_factory.mktemp("useradd-build"), [layer]))
    build.run("users-image", "users-ext")
    return build


def _rootfs(build: BuildDir, image: str) -> Path:
    return next((build.top / "tmp/work").glob(f"genericx86_64/{image}/*/rootfs"))


def _entries(path: Path) -> dict[str, list[str]]:
    return {line.split(":")[0]: line.split(":") for line in path.read_text().splitlines() if line}


def test_package_ships_the_sysusers_file(built: BuildDir) -> None:
    deb = next((built.top / "tmp/deploy/deb/all").glob("daemon_1.0-r0_all.deb"))
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    assert "./usr/lib/sysusers.d/useradd-daemon.conf" in listing
    rootfs = _rootfs(built, "users-image")
    assert (rootfs / "usr/lib/sysusers.d/useradd-daemon.conf").read_text() == (
        "# users and groups of daemon (useradd.bbclass)\n"
        "g lbshared -\n"
        'u lbd - "LB daemon" /var/lib/lbd /bin/false\n'
        "u lbuser 1500:lbshared - /home/lbuser /bin/sh\n"
        "m lbd lbshared\n"
        "m lbuser lbd\n")


def test_base_image_has_the_users(built: BuildDir) -> None:
    rootfs = _rootfs(built, "users-image")
    passwd, group = _entries(rootfs / "etc/passwd"), _entries(rootfs / "etc/group")
    shadow = _entries(rootfs / "etc/shadow")
    assert passwd["root"] == ["root", "x", "0", "0", "root", "/root", "/bin/sh"]  # base-files' stays
    assert passwd["lbd"] == ["lbd", "x", "998", "998", "LB daemon", "/var/lib/lbd", "/bin/false"]
    assert passwd["lbuser"] == ["lbuser", "x", "1500", "999", "", "/home/lbuser", "/bin/sh"]
    assert group["lbshared"] == ["lbshared", "x", "999", "lbd"] and group["lbd"] == ["lbd", "x", "998", "lbuser"]
    # locked, changed on the day of SOURCE_DATE_EPOCH (1577836800: 2020-01-01)
    assert shadow["lbd"][:3] == ["lbd", "!*", "18262"]
    assert (rootfs / "etc/shadow").stat().st_mode & 0o777 == 0o600


@needs_sysusers
def test_base_users_are_what_systemd_sysusers_makes(built: BuildDir, tmp_path: Path) -> None:
    rootfs = _rootfs(built, "users-image")
    # the oracle: the host's systemd-sysusers on base-files' own passwd and group and the same files
    oracle = tmp_path / "oracle"
    (oracle / "etc").mkdir(parents=True)
    base_files = next((built.top / "tmp/deploy/deb").glob("*/base-files_*.deb"))
    unpacked = tmp_path / "base-files"
    subprocess.run(["dpkg-deb", "-x", str(base_files), str(unpacked)], check=True)
    for name in ("passwd", "group"):
        shutil.copy(unpacked / "etc" / name, oracle / "etc" / name)
    shutil.copytree(rootfs / "usr/lib/sysusers.d", oracle / "usr/lib/sysusers.d")
    subprocess.run(["systemd-sysusers", f"--root={oracle}"], capture_output=True, check=True)
    for name in ("passwd", "group", "gshadow"):
        assert (rootfs / "etc" / name).read_text() == (oracle / "etc" / name).read_text(), name
    ours = {k: v[:2] + v[3:] for k, v in _entries(rootfs / "etc/shadow").items()}
    theirs = {k: v[:2] + v[3:] for k, v in _entries(oracle / "etc/shadow").items()}
    assert ours == theirs  # all but the change date, which systemd-sysusers takes from the clock
    # and on our files it finds nothing left to create
    again = subprocess.run(["systemd-sysusers", f"--root={rootfs}", "--dry-run"], capture_output=True, text=True,
                           check=True)
    assert "Creating" not in again.stdout + again.stderr


def test_extension_ships_the_file_not_passwd(built: BuildDir) -> None:
    payload = _rootfs(built, "users-ext")
    assert (payload / "usr/lib/sysusers.d/useradd-tool2.conf").read_text().endswith(
        "u tooluser - - /var/lib/tooluser /sbin/nologin\n")
    assert not (payload / "etc").exists()


@pytest.mark.root
@pytest.mark.skipif(not (ROOT and shutil.which("systemd-sysext") and shutil.which("unshare")
                         and shutil.which("systemd-sysusers")), reason="needs root, unshare, systemd-sysext")
def test_merged_extension_creates_its_user(built: BuildDir, tmp_path: Path) -> None:
    root = tmp_path / "device"
    device_with_extension(root, built.deploy / "users-image-genericx86-64.rootfs.tar.zst",
                          built.deploy / "users-ext.raw")
    mounts, out = sysext_merge(root, f"systemd-sysusers --root={root}")
    assert " overlay " in mounts, out
    passwd = _entries(root / "etc/passwd")
    assert passwd["tooluser"][5:] == ["/var/lib/tooluser", "/sbin/nologin"], out
    assert passwd["lbd"][2] == "998"  # the base's users stay as they were


# -- the arguments on their own ------------------------------------------------------------------------


def test_arguments_read_as_shadow_reads_them() -> None:
    lines, warnings = sysusers_lines("-r -g 880 grp; --system other", "-rM -u1200 -c 'A B' --home=/srv/a -Gother a; "
                                     "--sys --password x b", "-a a -g grp")
    assert lines == ["g grp 880", "g other -", 'u a 1200 "A B" /srv/a /bin/sh', "u b - - /home/b /bin/sh",
                     "m a other", "m a grp"]
    assert warnings == ["useradd b: a password (the user is created locked) is not carried"]
    # usermod as far as sysusers.d can say it: memberships
    lines, warnings = sysusers_lines(None, None, None, "-a -G audio,video a; --lock a")
    assert lines == ["m a audio", "m a video"]
    assert warnings == ["usermod: unknown option '--lock' in '--lock a': only 'usermod -a -G GROUPS USER' is carried"]


@pytest.mark.parametrize(("useradd", "problem"), [
    ("--frobnicate x", "useradd: unknown option '--frobnicate' in '--frobnicate x'"),
    ("--system", "useradd: '--system' gives no name; it takes one"),
    ("-u abc x", "useradd: UID 'abc' is not a number"),
    ("--shell", "useradd: option '--shell' needs a value in '--shell'"),
    ("--system 9lives", "useradd: '9lives' is not a valid name"),
])
def test_bad_arguments(useradd: str, problem: str) -> None:
    with pytest.raises(ParamError) as exc:
        sysusers_lines(None, useradd, None)
    assert exc.value.message.startswith(problem)


def test_users_never_written_outside_the_root(tmp_path: Path) -> None:
    """A root whose /etc/passwd is a link to a host file: the host file stays as it was."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "usr/lib/sysusers.d").mkdir(parents=True)
    (root / "usr/lib/sysusers.d/x.conf").write_text("u canary -\n")
    host = tmp_path / "host-passwd"
    host.write_text("root:x:0:0::/root:/bin/sh\n")
    os.symlink("../../host-passwd", root / "etc/passwd")
    with pytest.raises(Exception, match="passwd"):
        sysusers.apply(str(root), 0)
    assert host.read_text() == "root:x:0:0::/root:/bin/sh\n"


def test_sysusers_file_never_written_outside_pkgd(tmp_path: Path) -> None:
    """do_install left usr/lib/sysusers.d as a link to a host directory: the file stays inside PKGD."""
    from test_systemd_class import PACKAGE_VARS, _Vars

    pkgd, host = tmp_path / "pkgd", tmp_path / "host"
    host.mkdir()
    (pkgd / "usr/lib").mkdir(parents=True)
    (pkgd / str(host).lstrip("/")).mkdir(parents=True)  # where a chroot reads the link
    os.symlink(str(host), pkgd / "usr/lib/sysusers.d")
    ctx = context_from(_Vars({**PACKAGE_VARS, "USERADD_PACKAGES": "x", "USERADD_PARAM:x": "--system xd"}),
                       task="do_package")
    assert package_users(ctx, str(pkgd)) == {"x": ["/usr/lib/sysusers.d/useradd-x.conf"]}
    assert list(host.iterdir()) == []
    assert (pkgd / str(host).lstrip("/") / "useradd-x.conf").read_text().endswith("u xd - - /home/xd /bin/sh\n")
