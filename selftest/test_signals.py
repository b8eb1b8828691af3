"""SIGTERM and SIGHUP (what CI sends on cancel, a closed terminal) stop a build as Ctrl-C does: task
process groups killed, the summary printed, exit 128 + the signal's number, nothing left running. A
full disk is one error naming the task and the path, leaves no temporary file, and the next build
resumes once there is space again (real tmpfs mounts: root only)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CORE, make_build, make_layer, processes_in
from test_tasks import LOGTASKS

SLOW = 'inherit logtasks\nMSG = "slow"\ndo_compile:prepend() {\n    echo $$ > ${TOPDIR}/compile.pid\n    sleep 60\n}\n'


def _start(build: Path, *targets: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=CORE)
    return subprocess.Popen([sys.executable, "-m", "layerbuild.cli", "-B", str(build), *targets],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)


def _wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text().strip():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for a reaper that is not ours does not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize(("sig", "status", "word"), [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGHUP, 129, "SIGHUP")])
def test_a_signal_stops_the_build_like_ctrl_c(tmp_path: Path, sig: int, status: int, word: str) -> None:
    layer = make_layer(tmp_path, "sig", {"classes/logtasks.bbclass": LOGTASKS, "recipes/s/s_1.0.bb": SLOW})
    build = make_build(tmp_path, [layer])
    proc = _start(build, "s")
    _wait_for(build / "compile.pid")
    task = int((build / "compile.pid").read_text())
    os.kill(proc.pid, sig)  # the build process only, as CI's runner signals it
    _out, err = proc.communicate(timeout=30)
    text = err.decode()
    assert proc.returncode == status, text
    assert f"Terminated ({word})." in text
    assert "Build interrupted:" in text and "Traceback" not in text
    assert not _alive(task)  # the task's shell (and its sleep) are gone with their process group
    assert processes_in(build) == []
    assert not list((build / "tmp/stamps").rglob("*do_compile.*[0-9a-f]")) if (build / "tmp/stamps").exists() else True


# -- full disks --------------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(disk: Path, leave: int = 0) -> Path:
    """Fill ``disk`` until ``leave`` bytes are free; returns the filler file."""
    filler = disk / "filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
                if free <= leave:
                    break
                fh.write(b"\0" * min(1 << 16, max(4096, free - leave)))
                fh.flush()
        except OSError:
            pass
    return filler


def _temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp") or p.parent.name == "staging"]


#: a recipe whose sysroot holds 256 KiB that do not compress
BIG = ('inherit logtasks\nMSG = "full"\ndo_install:append() {\n'
       '    head -c 262144 /dev/urandom > ${D}/usr/share/${PN}/big\n}\n')


def _disk_build(tmp_path: Path, disk: Path, where: str) -> Path:
    layer = make_layer(tmp_path, "full", {"classes/logtasks.bbclass": LOGTASKS,
                                          "recipes/f/f_1.0.bb": BIG})
    settings = {
        "TMPDIR": f'TMPDIR = "{disk}/tmp"\n',
        "SSTATE_DIR": f'SSTATE_DIR = "{disk}/sstate"\n',
        "DEPLOY_DIR": f'DEPLOY_DIR = "{disk}/deploy"\n',
    }
    return make_build(tmp_path, [layer], local=settings[where])


@pytest.mark.root
@pytest.mark.slow  # four builds of ~3 s each on real tmpfs mounts
@pytest.mark.parametrize(("where", "leave"), [("TMPDIR", 0), ("SSTATE_DIR", 0), ("DEPLOY_DIR", 0),
                                              ("SSTATE_DIR", 64 << 10)],
                         ids=["TMPDIR", "SSTATE_DIR", "DEPLOY_DIR", "SSTATE_DIR-nearly-full"])
def test_a_full_disk_is_one_error_and_the_next_build_resumes(tmp_path: Path, small_disk: Path, where: str,
                                                              leave: int) -> None:
    build = _disk_build(tmp_path, small_disk, where)
    if where == "TMPDIR":
        # the build gets as far as it can with its parse cache written
        proc = _start(build, "-p")
        assert proc.wait(timeout=120) == 0
    filler = _fill(small_disk, leave)
    proc = _start(build, "-j", "1", "f")  # one task at a time: the first that finds the disk full stops the build
    _out, err = proc.communicate(timeout=120)
    text = err.decode()
    assert proc.returncode == 1, text
    assert "Traceback" not in text and "internal error" not in text, text
    errors = [line for line in text.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1, text
    assert "no space left on device" in errors[0].lower(), text
    assert errors[0].startswith("ERROR: Task f:do_"), text
    assert str(small_disk) in text, text
    assert _temporaries(small_disk) == []
    assert processes_in(build) == []

    filler.unlink()  # space is back
    proc = _start(build, "f")
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    deploy = small_disk / "deploy" if where == "DEPLOY_DIR" else (
        small_disk / "tmp/deploy" if where == "TMPDIR" else build / "tmp/deploy")
    assert (deploy / "fake-debs/f.txt").read_text() == "f full\n"
    assert _temporaries(small_disk) == []
    proc = _start(build, "f")
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    assert "Build succeeded: 0 tasks run" in err.decode()


@pytest.mark.root
@pytest.mark.slow  # two fetches of 1 MiB over a real http server onto a real tmpfs
def test_a_full_download_directory_is_one_error_and_the_next_build_fetches(
        tmp_path: Path, small_disk: Path, server: tuple[str, Path]) -> None:
    base, www = server
    payload = os.urandom(1 << 20)
    (www / "big.bin").write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()
    layer = make_layer(tmp_path, "dl", {"recipes/f/f_1.0.bb": (
        f'LICENSE = "MIT"\nSRC_URI = "{base}/big.bin"\nSRC_URI[sha256sum] = "{digest}"\n')})
    build = make_build(tmp_path, [layer], local=f'DL_DIR = "{small_disk}/downloads"\n')
    filler = _fill(small_disk, 512 << 10)  # room for half the download
    proc = _start(build, "f:do_fetch")
    _out, err = proc.communicate(timeout=120)
    text = err.decode()
    assert proc.returncode == 1, text
    assert "Traceback" not in text and "internal error" not in text, text
    errors = [line for line in text.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and errors[0].startswith("ERROR: Task f:do_fetch"), text
    assert "no space left on device in DL_DIR: cannot write " + str(small_disk) + "/downloads/big.bin" in text, text
    assert "no source could deliver it" not in text, text  # a full disk is no reason to try mirrors
    # nothing that looks like a download: no partial file, no .done stamp, no temporary
    downloads = small_disk / "downloads"
    assert sorted(p.name for p in downloads.iterdir() if not p.name.endswith(".lock")) == []
    assert processes_in(build) == []

    filler.unlink()
    proc = _start(build, "f:do_fetch")
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    assert (downloads / "big.bin").read_bytes() == payload
    assert (downloads / "big.bin.done").read_text().strip() == digest
