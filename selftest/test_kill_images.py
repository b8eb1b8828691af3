"""kill -9 of ``layerbuild extending-image`` at random moments: the next build gives the same bytes.

An uninterrupted build from a clean build directory is the reference; it also gives the timeline the
kill moments are drawn from (seeded; the seed is printed and named in every failure): some spread over
the whole build, and one inside each task that assembles a rootfs, writes an image or deploys, timed
from the moment the killed build reports that task started. Each kill hits a fresh build directory;
then a build runs to completion and its extension image, base rootfs (tar.zst and squashfs) and
package-database snapshot must equal the reference's byte for byte, a further build must run nothing,
and no temporary file, process or mount of the build may be left.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import CORE, make_build, processes_in

MACHINE = "genericx86-64"
TARGET = "extending-image"
#: what a build deploys that must not depend on being interrupted (links to the dated files)
OUTPUTS = ("extending-image.raw", f"some-core-image-{MACHINE}.rootfs.tar.zst",
           f"some-core-image-{MACHINE}.rootfs.squashfs", f"some-core-image-{MACHINE}-pkgdb.rootfs.tar.zst",
           f"some-core-image-{MACHINE}.manifest", f"{TARGET}-{MACHINE}.manifest")
#: the tasks of rootfs assembly, image writing and deploy, each killed once while it runs
IMAGE_TASKS = ("some-core-image:do_rootfs", "some-core-image:do_image_squashfs", "some-core-image:do_image_tar_zst",
               "some-core-image:do_pkgdbfs", "some-core-image:do_image_complete", "extending-image:do_rootfs",
               "extending-image:do_image_squashfs", "extending-image:do_image_complete")
SPREAD = 5  # moments spread over the whole build, besides those
STARTED = re.compile(r"^NOTE: Running task \d+ of \d+ \((\S+)\)$")
DONE = re.compile(r"^NOTE: Task (\S+) done ")


@dataclass
class Watched:
    """A build whose progress lines are read as they come, with the time each task started and ended."""

    proc: subprocess.Popen[str]
    t0: float
    started: dict[str, float] = field(default_factory=dict)
    done: dict[str, float] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    seen: threading.Condition = field(default_factory=threading.Condition)
    ended: threading.Event = field(default_factory=threading.Event)

    def read(self) -> None:
        assert self.proc.stderr is not None
        try:
            for line in self.proc.stderr:
                now = time.monotonic() - self.t0
                with self.seen:
                    self.lines.append(line)
                    if m := STARTED.match(line.rstrip("\n")):
                        self.started.setdefault(m.group(1), now)
                    elif m := DONE.match(line):
                        self.done.setdefault(m.group(1), now)
                    self.seen.notify_all()
        finally:
            self.ended.set()

    def wait_started(self, label: str, timeout: float) -> bool:
        with self.seen:
            return self.seen.wait_for(lambda: label in self.started or self.proc.poll() is not None, timeout) \
                and label in self.started

    def in_flight(self) -> list[str]:
        with self.seen:
            return sorted(set(self.started) - set(self.done))


def _start(build: Path) -> Watched:
    proc = subprocess.Popen([sys.executable, "-m", "layerbuild.cli", "-B", str(build), TARGET],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=build.parent,
                            env=dict(os.environ, PYTHONPATH=CORE), start_new_session=True)
    watched = Watched(proc, time.monotonic())
    threading.Thread(target=watched.read, daemon=True).start()
    return watched


def _finish(watched: Watched, timeout: float = 600) -> str:
    watched.proc.wait(timeout=timeout)
    watched.ended.wait(timeout=30)  # the rest of its output
    with watched.seen:
        return "".join(watched.lines)


def _build(build: Path) -> tuple[int, str]:
    watched = _start(build)
    err = _finish(watched)
    return watched.proc.returncode, err


def _digests(build: Path) -> dict[str, str]:
    deploy = build / "tmp" / "deploy" / "images" / MACHINE
    out = {}
    for name in OUTPUTS:
        with open(deploy / name, "rb") as fh:
            out[name] = hashlib.sha256(fh.read()).hexdigest()
    return out


def _mounts_under(directory: Path) -> list[str]:
    top = os.path.realpath(directory) + os.sep
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        points = [line.split()[4].encode().decode("unicode_escape") for line in fh]
    return [p for p in points if (p + os.sep).startswith(top)]


def _leftovers(build: Path) -> list[str]:
    sstate = build / "sstate-cache"
    found = [f"temporary file {p.relative_to(build)}" for p in build.rglob("*.tmp") if sstate not in p.parents]
    deploy = build / "tmp" / "deploy" / "images" / MACHINE
    found += [f"dangling link {p.name}" for p in deploy.iterdir() if p.is_symlink() and not p.exists()]
    found += [f"process {pid}" for pid in processes_in(build)]
    found += [f"mount {m}" for m in _mounts_under(build)]
    return found


@pytest.mark.slow
def test_kill_9_during_the_headline_build(tmp_path: Path) -> None:
    reference = make_build(tmp_path / "reference", [])
    watched = _start(reference)
    err = _finish(watched)
    assert watched.proc.returncode == 0, err
    duration = time.monotonic() - watched.t0
    want = _digests(reference)
    assert not _leftovers(reference)
    windows = {label: (watched.started[label], watched.done.get(label, duration)) for label in IMAGE_TASKS}

    seed = int(os.environ.get("LAYERBUILD_KILL_SEED") or random.randrange(1 << 30))
    print(f"kill seed {seed} (LAYERBUILD_KILL_SEED={seed} repeats it); reference build {duration:.1f}s")
    rng = random.Random(seed)
    # (anchor task or "" for the start of the build, seconds after it)
    moments = [("", rng.uniform(i, i + 1) * duration / SPREAD) for i in range(SPREAD)]
    moments += [(label, rng.uniform(0, max(end - start, 0.02))) for label, (start, end) in windows.items()]
    rng.shuffle(moments)
    assert len(moments) >= 12

    sstate_leftovers: list[str] = []
    for number, (anchor, delay) in enumerate(moments):
        build = make_build(tmp_path / f"killed-{number}", [])
        watched = _start(build)
        where = f"seed {seed}, kill {number}: {delay:.2f}s after {anchor or 'the start'}"
        if anchor and not watched.wait_started(anchor, timeout=600):
            pytest.fail(f"{where}: the build never started {anchor}:\n{_finish(watched)}")
        time.sleep(max(0.0, watched.t0 + delay - time.monotonic()) if not anchor else delay)
        in_flight = watched.in_flight()
        try:
            os.killpg(watched.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _finish(watched)
        where += f" (running: {', '.join(in_flight) or 'nothing'})"
        print(where)

        status, err = _build(build)
        assert status == 0, f"{where}: the build after the kill failed:\n{err}"
        assert _digests(build) == want, f"{where}: the build after the kill gave different bytes"
        status, err = _build(build)
        assert status == 0 and " 0 tasks run" in err, f"{where}: a further build ran tasks:\n{err}"
        assert not _leftovers(build), f"{where}: left behind: {_leftovers(build)}"
        sstate_leftovers += [f"{where}: {p.relative_to(build)}" for p in (build / "sstate-cache").rglob("*.tmp")]
        shutil.rmtree(build.parent)
    # a sstate object's temporary file that a killed task was writing is removed when the object is stored
    assert not sstate_leftovers, "temporary files left in SSTATE_DIR:\n" + "\n".join(sstate_leftovers)


# ---------------------------------------------------------------- what the campaign found, kept as fast tests

class _Vars:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)


def test_image_files_take_the_rootfs_name_and_killed_writers_temporaries_are_not_deployed(tmp_path: Path) -> None:
    """do_rootfs and do_image_squashfs ran in a build that was killed while do_image_tar_zst was writing;
    the next build (another DATETIME) writes the tar.zst under the rootfs's name and links every file."""
    from types import SimpleNamespace

    from layerbuild.image.tasks import image_complete, rootfs_image_name

    deploy = tmp_path / "deploy"
    deploy.mkdir()
    first, second = "img-m-20260101000000", "img-m-20260101000500"
    for name in (f"{first}.manifest", f"{first}.rootfs.squashfs", f".{first}.rootfs.tar.zst.k2j3.tmp",
                 f"..{first}.rootfs.tar.zst.k2j3.tmp.x9y8.tmp"):
        (deploy / name).write_text(name)
    assert rootfs_image_name(str(deploy), second) == first
    assert rootfs_image_name(str(deploy), "other-m-20260101000500") == "other-m-20260101000500"
    assert rootfs_image_name(str(tmp_path / "missing"), second) == second
    (deploy / f"{first}.rootfs.tar.zst").write_text("written by the second build")
    ctx = SimpleNamespace(vars=_Vars({"IMGDEPLOYDIR": str(deploy), "IMAGE_NAME": second, "IMAGE_LINK_NAME": "img-m"}))
    image_complete(ctx)  # type: ignore[arg-type]
    assert sorted(os.listdir(deploy)) == sorted([
        f"{first}.manifest", f"{first}.rootfs.squashfs", f"{first}.rootfs.tar.zst",
        "img-m.manifest", "img-m.rootfs.squashfs", "img-m.rootfs.tar.zst"])
    assert os.readlink(deploy / "img-m.manifest") == f"{first}.manifest"
    assert os.readlink(deploy / "img-m.rootfs.tar.zst") == f"{first}.rootfs.tar.zst"
