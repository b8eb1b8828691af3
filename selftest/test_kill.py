"""kill -9 of a whole build at random moments never leaves anything a later build trusts wrongly.

Ten builds are killed at random points; then a build runs to completion and its outputs must equal
those of a build that was never interrupted, and a further build must find nothing to do.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CORE, make_build, make_layer, processes_in
from test_tasks import LOGTASKS


def _tree(root: Path) -> Path:
    recipes = {"classes/logtasks.bbclass": LOGTASKS}
    for i in range(4):
        dep = f'DEPENDS = "k{i - 1}"\n' if i else ""
        recipes[f"recipes/k{i}/k{i}_1.0.bb"] = f'inherit logtasks\n{dep}MSG = "kill {i}"\nTASK_SLEEP = "0.3"\n'
    layer = make_layer(root, "kill", recipes)
    return make_build(root, [layer])


def _outputs(build: Path) -> dict[str, bytes]:
    out = {}
    for sub in ("tmp/sysroots-components", "tmp/deploy/fake-debs"):
        base = build / sub
        for path in sorted(base.rglob("*")):
            if path.is_file():
                out[str(path.relative_to(base))] = path.read_bytes()
    return out


def _run(build: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "layerbuild.cli", "-B", str(build), "-j", "2", "k3"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, start_new_session=True)


def _kill_after(build: Path, env: dict[str, str], seconds: float) -> None:
    """Start a build and kill -9 its whole process group after ``seconds``."""
    proc = _run(build, env)
    time.sleep(seconds)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=60)


@pytest.mark.slow  # builds many times over; the default run keeps the targeted kill tests
def test_kill_9_at_random_moments(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=CORE)
    reference = _tree(tmp_path / "reference")
    proc = _run(reference, env)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    want = _outputs(reference)
    assert len(want) == 8  # four sysroots and the package output of the target's whole closure

    build = _tree(tmp_path / "killed")
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    for _round in range(10):
        _kill_after(build, env, rng.uniform(0.05, 1.2))
    proc = _run(build, env)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, f"seed {seed}: {err.decode()}"
    assert _outputs(build) == want, f"seed {seed}"
    proc = _run(build, env)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and b"0 tasks run" in err, f"seed {seed}: {err.decode()}"
    assert not list(build.rglob("*.tmp")), f"seed {seed}: temporary files left behind"

    # lose TMPDIR, then kill builds that are restoring from sstate
    shutil.rmtree(build / "tmp")
    for _round in range(4):
        _kill_after(build, env, rng.uniform(0.05, 0.6))
    proc = _run(build, env)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, f"seed {seed}: {err.decode()}"
    target = {k: v for k, v in want.items() if k.startswith("k3")}
    # nothing of the killed builds is still running in the build directory
    stale = processes_in(build)
    assert not stale, f"seed {seed}: processes left running: {stale}"
    assert {k: v for k, v in _outputs(build).items() if k.startswith("k3")} == target, f"seed {seed}"


def test_a_sigdata_write_cut_short_by_a_kill_leaves_nothing_after_the_next_build(tmp_path: Path) -> None:
    """Found by test_kill_images: a build killed while writing a task's sigdata left its temporary beside
    the stamps (the task has no stamp yet, so the next build runs it again and must clear the rest)."""
    build = _tree(tmp_path)
    env = dict(os.environ, PYTHONPATH=CORE)
    first = subprocess.run([sys.executable, "-m", "layerbuild.cli", "-B", str(build), "k0"], env=env,
                           capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    stamps = next((build / "tmp/stamps").glob("*/k0"))
    stamp = next(stamps.glob("1.0-r0.do_compile.[0-9a-f]*"))
    sigdata = next(stamps.glob("1.0-r0.do_compile.sigdata.*"))
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = stamps / f".{sigdata.name}.{gone.pid}.k2j3x9y8.tmp"
    dead.write_text('{"half')
    live = stamps / f".{sigdata.name}.{os.getpid()}.a1b2c3d4.tmp"  # a writer still running is left alone
    live.write_text("{")
    stamp.unlink()  # the killed build never stamped the task
    again = subprocess.run([sys.executable, "-m", "layerbuild.cli", "-B", str(build), "k0:do_compile"], env=env,
                           capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "k0:do_compile" in again.stderr
    assert not dead.exists()
    assert live.exists()
