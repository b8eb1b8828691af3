"""overlay-boot subhosts: the config, unit and extension-release rules, and real boots of a busybox tree
in namespaces (services, --exec, host name, PID 1, a veth cable, extensions, every way of stopping),
each followed by a check that no mount, loop device, namespace, veth or process is left behind.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from layerbuild.boot import extensions, units
from layerbuild.boot.config import load_config, make_config, parse_assignments
from layerbuild.boot.state import RUN_DIR
from layerbuild.boot.subhost import Subhost
from layerbuild.image.erofs import ErofsOptions, write_erofs
from layerbuild.image.squashfs import SquashfsOptions, write_image
from layerbuild.util.errors import LayerbuildError, Location
from layerbuild.util.fstree import from_directory
from layerbuild.util.tarzst import write_tar_zst

BUSYBOX = "/bin/busybox"
LB_INIT_C = Path(__file__).resolve().parents[1] / "recipes/recipes-core/lb-init/files/lb-init.c"
RELEASE = "ID=lbtest\nVERSION_ID=1.0\n"
BOOT = [sys.executable, "-c", "import sys; from layerbuild.cli import boot_main; sys.exit(boot_main())"]

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def _can_boot() -> bool:
    if os.geteuid() != 0 or not os.path.exists(BUSYBOX) or not all(map(shutil.which, ("unshare", "nsenter", "ip"))):
        return False
    probe = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--net", "--uts", "--ipc", "true"],
                           capture_output=True)
    return probe.returncode == 0


needs_busybox = pytest.mark.skipif(not _can_boot(), reason="needs root with namespaces, busybox-static, util-linux, "
                                                           "iproute2")


def write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    path.chmod(mode)
    return path


# -- config ---------------------------------------------------------------------------------------------

def conf(tmp_path: Path, text: str, name: str = "sub.conf") -> Path:
    (tmp_path / "base").mkdir(exist_ok=True)
    return write(tmp_path / name, text)


def test_config_shell_syntax_and_defaults(tmp_path: Path) -> None:
    path = conf(tmp_path, f"""\
        # a subhost
        BASE={tmp_path}/base   # trailing comment
        export LOWER='{tmp_path}/lower'
        START="web  legacy"; RAM_SIZE=none
        CABLES="=02:00:00:00:00:01 \\
                br0="
        LOG=${{HOME_DIR:-/var/log}}/$NAME_SUFFIX.log
        """)
    (tmp_path / "lower").mkdir()
    cfg = load_config(path, environ={"NAME_SUFFIX": "x"})
    assert cfg.name == "sub" and cfg.base == f"{tmp_path}/base" and cfg.lower == f"{tmp_path}/lower"
    assert (cfg.upper, cfg.work, cfg.live) == (f"{tmp_path}/base/root", f"{tmp_path}/base/work", f"{tmp_path}/base/live")
    assert cfg.start == ("web", "legacy") and cfg.ram_size is None and cfg.log == "/var/log/x.log"
    assert [(c.host_end("sub"), c.guest_end, c.bridge, c.mac) for c in cfg.cables] == [
        ("sub0", "eth0", "", "02:00:00:00:00:01"), ("sub1", "eth1", "br0", "")]
    assert cfg.where("CABLES") == Location(str(path), 5)
    values, lines = parse_assignments('A="x"\'y\'z\\ q B=$A-${A}\n', "c", {})
    assert values == {"A": "xyz q", "B": "xyz q-xyz q"} and lines == {"A": 1, "B": 1}
    default = load_config(conf(tmp_path, f"BASE={tmp_path}/base\n", "plain.conf"))
    assert (default.lower, default.ram_size, default.log, default.start) == ("/", "50M", "/tmp/overlay-plain.log", ())


@pytest.mark.parametrize("text, line, message", [
    ("BASE={base}\nLOWWER=/\n", 2, "unknown setting LOWWER"),
    ("BASE={base}\nCABLES=br0=03:00:00:00:00:01\n", 2, "not a unicast MAC address"),
    ("BASE={base}\nCABLES=br0\n", 2, "is not a bridge=mac cable"),
    ("BASE={base}\nNAME=abcdefghijklm\n", 2, "longer than 12 characters"),
    ("LOWER=/\n", 0, "BASE is not set"),
    ("BASE={base}\n\nLOWER=$NOPE/x\n", 3, "$NOPE in the value of LOWER is not set"),
    ("BASE={base}\nSTART=a b\n", 2, "the value of START goes on after a space"),
    ("BASE={base}\nRAM_SIZE=lots\n", 2, "not a tmpfs size"),
    ("BASE={base}\nLOWER=$(pwd)\n", 2, "command substitution"),
    ("BASE={base}\nEXTENSIONS=missing.raw\n", 2, "missing.raw does not exist"),
    ('BASE={base}\nSTART="web\n', 2, 'unterminated "'),
])
def test_config_errors_name_the_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = conf(tmp_path, text.format(base=tmp_path / "base"))
    with pytest.raises(LayerbuildError) as info:
        load_config(path, environ={})
    assert info.value.location == Location(str(path), line)
    assert message in info.value.message


def test_upper_directory_rules(tmp_path: Path) -> None:
    base, lower = tmp_path / "base", tmp_path / "lower"
    for directory in (base / "up", base / "work", lower, tmp_path / "private/upper"):
        directory.mkdir(parents=True, exist_ok=True)
    (base / "to-etc").symlink_to("/etc")
    cfg = make_config({"BASE": str(base), "LOWER": str(lower)}, default_name="sub")
    cases = {
        "/etc": "is a system directory of the host",
        "/": "is the host's root directory",
        "/usr/local/share": "lies inside /usr, a system directory of the host",
        "/home": "is a top-level directory of the host",
        str(base / "to-etc"): "is a system directory of the host",
        str(tmp_path / "private/upper"): f"is not below BASE {base}",
        str(base): f"is not below BASE {base}",
        str(base / "live"): f"is LIVE {base}/live",
        str(base / "work/upper"): f"lies inside WORK {base}/work",
        str(base / "up"): None,
    }
    assert {upper: cfg.upper_problem(upper, from_program=True) for upper in cases} == cases
    # a directory the config names itself may be outside BASE, but not in, at or around LOWER
    assert cfg.upper_problem(str(tmp_path / "private/upper")) is None
    assert cfg.upper_problem(str(lower / "upper")) == f"lies inside LOWER {lower}"
    assert cfg.upper_problem(str(tmp_path)) == f"holds LIVE {base}/live"
    # LOWER / (the default, as overlay-boot's) holds every upper directory; holding or being it is refused
    host_lower = make_config({"BASE": str(base)}, default_name="sub")
    assert host_lower.upper_problem(str(base / "up"), from_program=True) is None
    image = write(base / "img/lower.squashfs", "hsqs")
    assert make_config({"BASE": str(base), "LOWER": str(image)}, default_name="sub").upper_problem(str(base / "img")) == \
        f"holds LOWER {image}"
    assert make_config({"BASE": str(base), "LOWER": str(lower), "LIVE": str(lower)}, default_name="sub").upper_problem(
        str(lower / "upper")) is None  # no overlay: LIVE is LOWER, mounted beforehand


@pytest.mark.parametrize("setting, line, message", [
    ("UPPER=/etc", 3, "UPPER /etc is a system directory of the host"),
    ("UPPER={base}/../lower", 3, "UPPER {tmp}/lower is LOWER {tmp}/lower"),
    ("UPPER={base}/to-usr/lib", 3, "UPPER {base}/to-usr/lib (that is, /usr/lib) lies inside /usr, a system "
     "directory of the host"),
    ("WORK=/var", 3, "WORK /var is a top-level directory of the host"),
    ("LOWER=/\nBASE=/", 4, "BASE / is the host's root directory"),
])
def test_upper_base_and_work_in_a_config_are_checked(tmp_path: Path, setting: str, line: int, message: str) -> None:
    base = tmp_path / "base"
    (tmp_path / "lower").mkdir()
    base.mkdir()
    (base / "to-usr").symlink_to("/usr")
    path = conf(tmp_path, f"BASE={base}\nLOWER={tmp_path}/lower\n{setting.format(base=base)}\n")
    with pytest.raises(LayerbuildError) as info:
        load_config(path, environ={})
    assert info.value.location == Location(str(path), line)
    assert info.value.message == message.format(base=base, tmp=tmp_path)


def test_config_name_from_a_long_file_name(tmp_path: Path) -> None:
    with pytest.raises(LayerbuildError, match="longer than 12 characters"):
        load_config(conf(tmp_path, f"BASE={tmp_path}/base\n", "a-very-long-name.conf"))
    assert make_config({"BASE": str(tmp_path / "base"), "NAME": "ok"}).name == "ok"


def test_docs_cover_every_setting() -> None:
    from layerbuild.boot.config import SETTINGS
    doc = (Path(__file__).resolve().parents[1] / "docs/boot.md").read_text()
    table = set(re.findall(r"^\| `([A-Z_]+)` \|", doc, re.M))
    assert table == set(SETTINGS)


def test_lower_kinds_and_the_unpack_cache(tmp_path: Path) -> None:
    from layerbuild.boot.supervisor import _lower
    tree = tmp_path / "tree"
    write(tree / "etc/os-release", RELEASE)
    archive = tmp_path / "img.rootfs.tar.zst"
    write_tar_zst(str(archive), [(str(tree), "")])
    (tmp_path / "base").mkdir()
    cfg = make_config({"BASE": str(tmp_path / "base"), "LOWER": str(archive)}, default_name="t")
    unpacked, image = _lower(cfg)
    assert image is None and unpacked is not None and Path(unpacked, "etc/os-release").read_text() == RELEASE
    inode = os.stat(Path(unpacked, "etc/os-release")).st_ino
    assert _lower(cfg) == (unpacked, None) and os.stat(Path(unpacked, "etc/os-release")).st_ino == inode
    squashfs = tmp_path / "img.squashfs"
    write_image(from_directory(tree), squashfs, SquashfsOptions())
    assert _lower(make_config({"BASE": str(tmp_path / "base"), "LOWER": str(squashfs)}, default_name="t")) == \
        (None, str(squashfs))
    junk = write(tmp_path / "junk.img", "not an image")
    path = conf(tmp_path, f"BASE={tmp_path}/base\nLOWER={junk}\n", "junk.conf")
    with pytest.raises(LayerbuildError, match="is not a directory, a .tar.zst or a squashfs/erofs image") as info:
        _lower(load_config(path))
    assert info.value.location == Location(str(path), 2)


# -- units ----------------------------------------------------------------------------------------------

def test_unit_exec_lines_environment_and_dropins(tmp_path: Path) -> None:
    write(tmp_path / "usr/lib/systemd/system/web.service", """\
        [Service]
        Type=forking
        Environment=A=1 "B=two words"
        EnvironmentFile=-/etc/missing
        ExecStartPre=-/bin/false
        ExecStart=@/bin/web web-daemon --a=${A} $B "%n"
        """)
    write(tmp_path / "etc/systemd/system/web.service.d/10-more.conf", "[Service]\nEnvironment=A=3\n")
    service = units.find_service(str(tmp_path), "web")
    assert service.type == "forking" and service.waits and service.name == "web.service"
    assert service.pre == (units.Command(("/bin/false",), ignore_failure=True),)
    assert service.start == (units.Command(("/bin/web", "--a=3", "two", "words", "web.service"), argv0="web-daemon"),)
    write(tmp_path / "etc/systemd/system/web.service.d/20-reset.conf", "[Service]\nExecStart=\nExecStart=/bin/x\n")
    assert units.find_service(str(tmp_path), "web").start == (units.Command(("/bin/x",)),)
    write(tmp_path / "etc/init.d/legacy", "#!/bin/sh\n", 0o755)
    assert units.find_service(str(tmp_path), "legacy").start == (units.Command(("/etc/init.d/legacy", "start")),)


def test_unit_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "lib/systemd/system/two.service", "[Service]\nExecStart=/a\nExecStart=/b\n")
    with pytest.raises(LayerbuildError, match="more than one ExecStart= setting") as info:
        units.find_service(str(tmp_path), "two")
    assert info.value.location == Location(str(path), 3)
    write(tmp_path / "lib/systemd/system/none.service", "[Unit]\nDescription=x\n")
    with pytest.raises(LayerbuildError, match="has no ExecStart="):
        units.find_service(str(tmp_path), "none")
    with pytest.raises(LayerbuildError, match="no unit gone.service in /etc/systemd/system"):
        units.find_service(str(tmp_path), "gone")


# -- extension-release rules, checked against systemd-sysext itself -----------------------------------------

EXT_CASES = [
    # (subhost os-release, extension-release, fits)
    ("ID=lbtest\nVERSION_ID=1.0\n", "ID=lbtest\nVERSION_ID=1.0\n", True),
    ("ID=lbtest\nVERSION_ID=1.0\n", "ID=lbtest\nVERSION_ID=2.0\n", False),
    ("ID=lbtest\nVERSION_ID=1.0\n", "ID=other\nVERSION_ID=1.0\n", False),
    ("ID=lbtest\nVERSION_ID=1.0\n", "ID=_any\n", True),
    ("ID=lbtest\nVERSION_ID=1.0\n", "ID=lbtest\n", False),
    ("ID=lbtest\nVERSION_ID=1.0\nSYSEXT_LEVEL=3\n", "ID=lbtest\nVERSION_ID=9\nSYSEXT_LEVEL=3\n", True),
    ("ID=lbtest\nVERSION_ID=1.0\nSYSEXT_LEVEL=3\n", "ID=lbtest\nVERSION_ID=1.0\nSYSEXT_LEVEL=4\n", False),
    ("ID=lbtest\n", "ID=lbtest\nVERSION_ID=7\n", True),
    ("ID=lbtest\nVERSION_ID=1.0\n", "ID=lbtest\nVERSION_ID=1.0\nARCHITECTURE=s390x\n", False),
    ("ID=lbtest\nVERSION_ID=1.0\n", f"ID=lbtest\nVERSION_ID=1.0\nARCHITECTURE={extensions.host_architecture()}\n", True),
    ("ID=lbtest\nVERSION_ID=1.0\n", "", False),
]


@pytest.mark.parametrize("host, release, fits", EXT_CASES)
def test_extension_release_rules(host: str, release: str, fits: bool) -> None:
    from layerbuild.util import osrelease
    reason = extensions.incompatibility("tools", "sysext", osrelease.parse(release), osrelease.parse(host),
                                        extensions.host_architecture())
    assert (reason is None) == fits, reason


@pytest.mark.root
@needs_root
@pytest.mark.skipif(shutil.which("systemd-sysext") is None, reason="systemd-sysext not installed")
def test_extension_release_rules_match_systemd_sysext(tmp_path: Path) -> None:
    """systemd-sysext merges exactly the cases the rules accept (a directory extension per case)."""
    script = ["mount --make-rprivate / && mount --make-rshared / && mount -t tmpfs tmpfs /run"]
    for i, (host, release, _fits) in enumerate(EXT_CASES):
        root = tmp_path / f"root{i}"
        write(root / "etc/os-release", host)
        (root / "usr/bin").mkdir(parents=True)
        ext = root / "var/lib/extensions/tools"
        write(ext / "usr/bin/from-tools", "x")
        if release:
            write(ext / "usr/lib/extension-release.d/extension-release.tools", release)
        script.append(f"systemd-sysext --root={root} merge >/dev/null 2>&1; "
                      f"test -e {root}/usr/bin/from-tools && echo {i}:merged || echo {i}:refused")
    out = subprocess.run(["unshare", "-m", "sh", "-c", "; ".join(script)], capture_output=True, text=True,
                         timeout=60).stdout
    assert out.split() == [f"{i}:{'merged' if fits else 'refused'}" for i, (_, _, fits) in enumerate(EXT_CASES)]


# -- real boots -------------------------------------------------------------------------------------------

def busybox_tree(root: Path, *, units_too: bool = True) -> Path:
    """A root tree of busybox and its applet links (plus, with ``units_too``, os-release and services)."""
    (root / "bin").mkdir(parents=True)
    shutil.copy(BUSYBOX, root / "bin/busybox")
    if not units_too:
        (root / "run").mkdir()
        return root
    applets = subprocess.run([BUSYBOX, "--list-full"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        link = root / applet
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink("/bin/busybox", link)
    for d in ("proc", "sys", "dev", "run", "tmp", "etc", "usr/lib", "opt"):
        (root / d).mkdir(parents=True, exist_ok=True)
    write(root / "usr/lib/os-release", RELEASE)
    write(root / "usr/lib/systemd/system/web.service", """\
        [Unit]
        Description=a small web server
        [Service]
        Environment=GREETING=hello "WHO=the subhost"
        ExecStartPre=-/bin/false
        ExecStartPre=/bin/sh -c 'echo "$GREETING $WHO" > /run/greeting'
        ExecStart=httpd -f -p 8080 -h /srv
        """)
    write(root / "srv/index.html", "served from the subhost\n")
    write(root / "etc/systemd/system/prepare.service", "[Service]\nType=oneshot\nExecStart=/bin/touch /run/prepared\n"
                                                        "ExecStart=/bin/sh -c 'echo second >> /run/prepared'\n")
    write(root / "etc/systemd/system/broken.service", "[Service]\nType=oneshot\nExecStart=/bin/false\n")
    write(root / "etc/init.d/legacy", "#!/bin/sh\n[ \"$1\" = start ] && sleep 1000 &\nexit 0\n", 0o755)
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return busybox_tree(tmp_path_factory.mktemp("tree") / "root")


_counter = iter(range(1000))


@pytest.fixture
def name() -> str:
    return f"lbt{os.getpid() % 10000}x{next(_counter)}"


def setup_conf(tmp_path: Path, name: str, lower: Path | str, extra: str = "") -> Path:
    base = tmp_path / "base"
    base.mkdir(exist_ok=True)
    return write(tmp_path / f"{name}.conf", f"BASE={base}\nLOWER={lower}\nLOG={tmp_path}/boot.log\n{extra}")


def leftovers(name: str, top: Path, pidns: str = "") -> list[str]:
    """What a subhost left behind: mounts, loop devices, its namespace, veths, processes, its record."""
    found = []
    with open("/proc/self/mountinfo") as fh:
        found += [f"mount: {line.strip()}" for line in fh if str(top) in line or f"/run/netns/{name} " in line]
    losetup = subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
    found += [f"loop: {line}" for line in losetup.splitlines() if str(top) in line]
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    found += [f"netns: {line}" for line in netns.splitlines() if line.split()[0] == name]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    found += [f"veth: {line}" for line in links.splitlines() if re.match(rf"\d+: {name}\d+[@:]", line)]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            ns = os.readlink(f"/proc/{pid}/ns/pid")
            where = [os.readlink(f"/proc/{pid}/root"), os.readlink(f"/proc/{pid}/cwd")]
        except OSError:
            continue
        if (pidns and ns == pidns) or f"{RUN_DIR}/{name}/" in cmdline or any(w.startswith(str(top)) for w in where):
            found.append(f"process {pid}: {cmdline}")
    if os.path.exists(f"{RUN_DIR}/{name}"):
        found.append(f"record: {RUN_DIR}/{name}")
    return found


def assert_clean(name: str, top: Path, pidns: str = "") -> None:
    deadline = time.monotonic() + 5
    while (left := leftovers(name, top, pidns)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, "\n".join(left)


def boot_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BOOT, *args], capture_output=True, text=True, timeout=60)


def record_pidns(name: str) -> str:
    import json
    return str(json.loads(Path(f"{RUN_DIR}/{name}/state.json").read_text())["pidns"])


@pytest.fixture
def clean_after(name: str, tmp_path: Path) -> Iterator[None]:
    yield
    if os.path.exists(f"{RUN_DIR}/{name}"):
        boot_cli("--stop", name)
    assert_clean(name, tmp_path)


@pytest.mark.usefixtures("clean_after")
@pytest.mark.root
@needs_root
@needs_busybox
def test_boot_services_exec_hostname_reaper_and_cable(tmp_path: Path, tree: Path, name: str) -> None:
    bridge = f"{name}br"
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
    try:
        _boot_services_exec_hostname_reaper_and_cable(tmp_path, tree, name, bridge)
    finally:
        subprocess.run(["ip", "link", "delete", bridge], check=True)


def _boot_services_exec_hostname_reaper_and_cable(tmp_path: Path, tree: Path, name: str, bridge: str) -> None:
    cables = f'CABLES="=02:00:00:00:00:42 {bridge}="\n'
    cfg = load_config(setup_conf(tmp_path, name, tree, 'START="prepare web legacy"\n' + cables))
    with Subhost(cfg) as host:
        pidns = host.state.pidns
        assert host.run("cat /run/greeting /run/prepared") == (0, "hello the subhost\nsecond\n")
        assert host.run("hostname") == (0, f"{name}\n")
        assert host.run("echo started; sleep 30", timeout=0.5) == (124, "started\n")
        assert host.run("cat /proc/1/comm") == (0, "lb-reaper\n")
        status, ps = host.run("ps -o pid,args")
        assert re.search(r"^\s*\d+\s+httpd -f -p 8080", ps, re.M) and "sleep 1000" in ps, ps
        assert host.run("wget -q -O - http://127.0.0.1:8080/") == (0, "served from the subhost\n")
        result = boot_cli("--exec", name, "--", "sh", "-c", "echo out; echo err >&2; exit 7")
        assert (result.returncode, result.stdout, result.stderr) == (7, "out\n", "err\n")
        # the cable: host end NAME0 up on its own, subhost end eth0 with the given MAC, in netns NAME
        assert host.run("cat /sys/class/net/eth0/address") == (0, "02:00:00:00:00:42\n")
        subprocess.run(["ip", "addr", "add", "169.254.42.1/24", "dev", f"{name}0"], check=True)
        subprocess.run(["ip", "netns", "exec", name, "ip", "addr", "add", "169.254.42.2/24", "dev", "eth0"], check=True)
        ping = subprocess.run([BUSYBOX, "ping", "-c", "1", "-W", "3", "169.254.42.2"], capture_output=True, text=True)
        assert ping.returncode == 0, ping.stdout + ping.stderr
        # the second cable's host end is on the bridge
        assert os.path.basename(os.readlink(f"/sys/class/net/{name}1/master")) == bridge
        assert host.run("cat /sys/class/net/eth1/operstate") == (0, "up\n")
        assert host.run("echo kept > /etc/kept") == (0, "")
        listed = boot_cli("--list").stdout
        assert re.search(rf"^{name}\s+running\s+\d+\s+{tmp_path}/base/live$", listed, re.M), listed
    assert_clean(name, tmp_path, pidns)
    # what the subhost wrote went into its upper directory, not the lower tree
    assert (tmp_path / "base/root/etc/kept").read_text() == "kept\n" and not (tree / "etc/kept").exists()


@pytest.mark.usefixtures("clean_after")
@pytest.mark.root
@needs_root
@needs_busybox
def test_tar_zst_lower_detach_and_stop(tmp_path: Path, tree: Path, name: str) -> None:
    archive = tmp_path / "demo.rootfs.tar.zst"
    write_tar_zst(str(archive), [(str(tree), "")])
    path = setup_conf(tmp_path, name, archive, "START=web\n")
    up = boot_cli("--detach", str(path))
    assert up.returncode == 0 and f"subhost {name} is up" in up.stdout, up.stderr
    pidns = record_pidns(name)
    result = boot_cli("--exec", name, "--", "cat", "/srv/index.html")
    assert (result.returncode, result.stdout) == (0, "served from the subhost\n")
    cache = list((tmp_path / "base/lower-cache").iterdir())
    assert len(cache) == 1 and (cache[0] / "bin/busybox").is_file()
    stop = boot_cli("--stop", name)
    assert stop.returncode == 0, stop.stderr
    assert_clean(name, tmp_path, pidns)
    assert boot_cli("--exec", name, "--", "true").returncode == 1


@pytest.mark.usefixtures("clean_after")
@pytest.mark.root
@needs_root
@needs_busybox
def test_squashfs_lower_survives_sigkill_of_boot_process_then_stop(tmp_path: Path, tree: Path, name: str) -> None:
    image = tmp_path / "demo.rootfs.squashfs"
    write_image(from_directory(tree, all_root=True), image, SquashfsOptions())
    up = boot_cli("--detach", str(setup_conf(tmp_path, name, image, "START=web\nCABLES==\n")))
    assert up.returncode == 0, up.stderr
    pidns = record_pidns(name)
    pid = int(re.search(r"boot process (\d+)", up.stdout).group(1))  # type: ignore[union-attr]
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    assert str(image) in subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
    result = boot_cli("--exec", name, "--", "sh", "-c", "mount | grep ' on / '")
    assert result.returncode == 0 and "overlay" in result.stdout
    again = boot_cli(str(tmp_path / f"{name}.conf"))
    assert again.returncode == 1 and f"a subhost named {name} is already set up" in again.stderr
    assert boot_cli("--stop", name).returncode == 0
    assert_clean(name, tmp_path, pidns)


def _extension(root: Path, name: str, release: str, files: dict[str, str], kind: str = "sysext") -> Path:
    rel = "usr/lib/extension-release.d" if kind == "sysext" else "etc/extension-release.d"
    write(root / rel / f"extension-release.{name}", release)
    for path, text in files.items():
        write(root / path, text, 0o755)
    return root


@pytest.mark.usefixtures("clean_after")
@pytest.mark.root
@needs_root
@needs_busybox
def test_extensions_merge_and_a_mismatch_is_refused(tmp_path: Path, tree: Path, name: str) -> None:
    tools = _extension(tmp_path / "ext/tools", "tools", RELEASE,
                       {"usr/bin/ext-hello": "#!/bin/sh\necho hello from the extension\n", "opt/tools/x": "x"})
    image = tmp_path / "tools.raw"
    write_image(from_directory(tools, all_root=True), image, SquashfsOptions())
    conf_dir = _extension(tmp_path / "ext/appconf", "appconf", "ID=lbtest\nVERSION_ID=1.0\n",
                          {"etc/app.conf": "setting=1\n"}, kind="confext")
    cfg = load_config(setup_conf(tmp_path, name, tree, f'EXTENSIONS="{image} {conf_dir}"\n'))
    with Subhost(cfg) as host:
        assert host.run("ext-hello") == (0, "hello from the extension\n")
        assert host.run("cat /etc/app.conf /opt/tools/x; test -L /usr/bin/wget") == (0, "setting=1\nx")
        status, mounts = host.run("grep -E ' /(usr|etc) ' /proc/mounts")
        assert re.search(r"^sysext /usr overlay ro", mounts, re.M) and re.search(r"^confext /etc overlay ro", mounts,
                                                                                 re.M), mounts
        pidns = host.state.pidns
    assert_clean(name, tmp_path, pidns)
    other = _extension(tmp_path / "ext/other", "other", "ID=lbtest\nVERSION_ID=2.0\n", {"usr/bin/other": "x"})
    path = setup_conf(tmp_path, name, tree, f'\nEXTENSIONS="{image} {other}"\n')
    result = boot_cli(str(path))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"{path}:5: error: Extension 'other' is for OS 'lbtest' version '2.0', but deployed on top of 'lbtest' "
        "version '1.0'; refusing to merge it\n  hint: build the extension against this base image")
    assert_clean(name, tmp_path)


@pytest.mark.usefixtures("clean_after")
@pytest.mark.root
@needs_root
@needs_busybox
def test_setup_failing_half_way_leaves_nothing(tmp_path: Path, tree: Path, name: str) -> None:
    path = setup_conf(tmp_path, name, tree, "CABLES='=02:00:00:00:00:01 nosuchbr0='\n")
    result = boot_cli(str(path))
    assert result.returncode == 1
    assert result.stderr.startswith(f"{path}:4: error: CABLES: bridge nosuchbr0 does not exist"), result.stderr
    assert "ip link add" in (tmp_path / "boot.log").read_text()  # the first cable was made, then undone
    assert_clean(name, tmp_path)
    # an interface of the host that has a cable's name is refused, and left alone
    subprocess.run(["ip", "link", "add", f"{name}1", "type", "bridge"], check=True)
    try:
        result = boot_cli(str(setup_conf(tmp_path, name, tree, "CABLES='= ='\n")))
        assert f"CABLES: the host already has an interface {name}1" in result.stderr, result.stderr
        assert os.path.exists(f"/sys/class/net/{name}1") and not os.path.exists(f"/sys/class/net/{name}0")
    finally:
        subprocess.run(["ip", "link", "delete", f"{name}1"], check=True)
    assert_clean(name, tmp_path)
    path = setup_conf(tmp_path, name, tree, "START='web nosuch'\n")
    result = boot_cli(str(path))
    assert result.returncode == 1 and "service nosuch: no unit nosuch.service" in result.stderr, result.stderr
    assert_clean(name, tmp_path)
    liar = write(tmp_path / "liar.sh", "#!/bin/sh\necho /no/such/dir\n", 0o755)
    result = boot_cli(str(setup_conf(tmp_path, name, tree, f"UPPER={liar}\n")))
    assert result.stderr.startswith(f"{tmp_path}/{name}.conf:4: error: the UPPER program {liar} printed "
                                    "'/no/such/dir', not an upper directory"), result.stderr
    assert_clean(name, tmp_path)
    result = boot_cli(str(setup_conf(tmp_path, name, tree, "START='web broken'\n")))
    assert result.returncode == 1
    assert result.stderr.startswith("/etc/systemd/system/broken.service: error: service broken.service: "
                                    "/bin/false exited with status 1\n  log: "), result.stderr
    assert_clean(name, tmp_path)


@pytest.mark.usefixtures("clean_after")
@pytest.mark.root
@needs_root
@needs_busybox
def test_upper_programs_printing_the_hosts_etc_or_failing_are_refused_at_their_line(
        tmp_path: Path, tree: Path, name: str) -> None:
    # the boot runs in a mount namespace of its own where a stand-in is mounted on /etc: whatever the
    # program does, the host's /etc cannot become the subhost's writable layer
    standin = tmp_path / "etc"
    standin.mkdir()
    shutil.copy2("/etc/ld.so.cache", standin / "ld.so.cache")
    (standin / "canary").write_text("the host's /etc\n")
    before = {p.name: p.read_bytes() for p in standin.iterdir()}
    host_etc = sorted(os.listdir("/etc"))
    program = write(tmp_path / "upper-etc.sh", "#!/bin/sh\n[ \"$ACTION\" = setup ] && echo /etc\nexit 0\n", 0o755)
    path = setup_conf(tmp_path, name, tree, f"UPPER={program}\n")
    result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                             'mount --bind "$0" /etc && exec "$@"', str(standin), *BOOT, "--detach", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert result.stderr == (f"{path}:4: error: the UPPER program {program} printed '/etc', which is a system "
                             "directory of the host\n  hint: an UPPER program prints a directory below BASE "
                             f"({tmp_path}/base) for the subhost's writes, such as $BASE/upper\n")
    assert {p.name: p.read_bytes() for p in standin.iterdir()} == before and sorted(os.listdir("/etc")) == host_etc
    assert_clean(name, tmp_path)
    # a directory outside BASE, or a link below BASE leading out of it
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "base/escape").symlink_to(elsewhere)
    for printed, why in ((str(elsewhere), "which is not below BASE"),
                         ("escape", f"which leads to {elsewhere} and is not below BASE")):
        program = write(tmp_path / "upper-out.sh", f"#!/bin/sh\necho {printed}\n", 0o755)
        result = boot_cli("--detach", str(setup_conf(tmp_path, name, tree, f"UPPER={program}\n")))
        assert result.returncode == 1 and f"printed {printed!r}, {why} {tmp_path}/base\n" in result.stderr, \
            result.stderr
        assert os.listdir(elsewhere) == []
        assert_clean(name, tmp_path)
    # a program that fails is named at its line, with the log holding its output
    program = write(tmp_path / "upper-fails.sh", "#!/bin/sh\necho cannot set up >&2\nexit 3\n", 0o755)
    result = boot_cli("--detach", str(setup_conf(tmp_path, name, tree, f"UPPER={program}\n")))
    assert result.returncode == 1
    assert result.stderr == (f"{tmp_path}/{name}.conf:4: error: the UPPER program {program} exited with status 3 "
                             f"(ACTION=setup)\n  log: {tmp_path}/boot.log\n")
    assert "cannot set up" in (tmp_path / "boot.log").read_text()
    assert_clean(name, tmp_path)


@pytest.mark.usefixtures("clean_after")
@pytest.mark.root
@needs_root
@needs_busybox
def test_init_less_tree_dummy_service_and_upper_program(tmp_path: Path, name: str) -> None:
    tiny = busybox_tree(tmp_path / "tiny", units_too=False)
    upper_program = write(tmp_path / "upper.sh", f"""\
        #!/bin/sh
        echo "$ACTION $NAME" >> {tmp_path}/upper.calls
        [ "$ACTION" = setup ] && mkdir -p "$BASE/private/upper" && echo "$BASE/private/upper"
        exit 0
        """, 0o755)
    extra = f"UPPER={upper_program}\nWORK={tmp_path}/base/private/work\nRAM_SIZE=none\n"
    lower: Path = tiny
    if shutil.which("mkfs.erofs"):
        lower = tmp_path / "tiny.erofs"
        write_erofs(tiny, lower, ErofsOptions(source_date_epoch=1_700_000_000, all_root=True))
    cfg = load_config(setup_conf(tmp_path, name, lower, extra))
    host = Subhost(cfg).start()
    try:
        # no /bin/sh in this tree: commands run without a shell
        assert host.run("/bin/busybox cat /proc/1/comm") == (0, "lb-reaper\n")
        status, ps = host.run("/bin/busybox ps -o pid,comm")
        assert re.search(r"^\s*\d+\s+dummy_service$", ps, re.M), ps
        assert host.run("/bin/busybox grep -c ' /run ' /proc/mounts") == (1, "0\n")  # RAM_SIZE=none
        pidns = host.state.pidns
        # the subhost ends with the dummy service, so the writer itself may be killed on its way out (137)
        assert host.run("/bin/busybox sh -c 'echo stop > /run/dummy_service'") in ((0, ""), (137, ""))
        deadline = time.monotonic() + 10  # the reaper runs out of children: the subhost ends on its own
        while os.path.exists(f"{RUN_DIR}/{name}") and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        host.stop()
    assert_clean(name, tmp_path, pidns)
    assert (tmp_path / "upper.calls").read_text() == f"setup {name}\nteardown {name}\n"
    assert (tmp_path / "base/private/upper/proc").is_dir()  # mount points the tree lacked went into the upper layer


@pytest.mark.usefixtures("clean_after")
@pytest.mark.root
@needs_root
@needs_busybox
@pytest.mark.skipif(shutil.which("cc") is None or not LB_INIT_C.exists(), reason="needs a C compiler and lb-init.c")
def test_foreground_boot_hands_pid1_to_lb_init_and_stops_on_sigterm(tmp_path: Path, tree: Path, name: str) -> None:
    lower = tmp_path / "lower"
    shutil.copytree(tree, lower, symlinks=True)
    subprocess.run(["cc", "-static", "-O2", "-o", lower / "sbin/lb-init.new", LB_INIT_C], check=True)
    os.replace(lower / "sbin/lb-init.new", lower / "sbin/lb-init")
    path = setup_conf(tmp_path, name, lower, "START=web\n")
    boot = subprocess.Popen([*BOOT, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert boot.stdout is not None
        line = boot.stdout.readline()
        assert f"subhost {name} is up" in line, line + boot.stderr.read() if boot.stderr else ""
        pidns = record_pidns(name)
        result = boot_cli("--exec", name, "--", "sh", "-c", "cat /proc/1/comm; wget -q -O - http://127.0.0.1:8080/")
        assert result.stdout == "lb-init\nserved from the subhost\n", result.stderr
        boot.send_signal(signal.SIGTERM)
        assert boot.wait(30) == 0, boot.stderr.read() if boot.stderr else ""
    finally:
        if boot.poll() is None:
            boot.kill()
    assert_clean(name, tmp_path, pidns)
