"""An OE-core build directory for layerbuild and BitBake, and the environment each runs in.

The build directory comes from OE-core's own templates (``meta/conf/templates/default``), with two
lines added at the end of ``local.conf`` that BitBake needs on this kind of machine and that both tools
then read alike: ``INHERIT:remove = "sanity"`` (OE's sanity class refuses to run as root) and
``BB_NO_NETWORK = "1"``.

BitBake also needs an ``en_US.UTF-8`` locale; where the system has none, one is built with
``localedef`` into a directory that ``LOCPATH`` names (passed through with
``BB_ENV_PASSTHROUGH_ADDITIONS``).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

LOCAL_CONF_ADDITIONS = """
# Both tools read this configuration: OE's sanity class refuses to run as root; no network.
INHERIT:remove = "sanity"
BB_NO_NETWORK = "1"
"""

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def conf_files(oe_core: Path) -> dict[str, str]:
    """``local.conf`` and ``bblayers.conf`` from OE-core's default templates, as ``oe-init-build-env``
    would write them, plus the additions above."""
    templates = oe_core / "meta" / "conf" / "templates" / "default"
    if not (templates / "local.conf.sample").is_file():
        raise SystemExit(f"{oe_core}: no meta/conf/templates/default/local.conf.sample: is this OE-core?")
    local = (templates / "local.conf.sample").read_text() + LOCAL_CONF_ADDITIONS
    layers = (templates / "bblayers.conf.sample").read_text().replace("##OEROOT##", str(oe_core.resolve()))
    return {"local.conf": local, "bblayers.conf": layers}


def make_build(build: Path, oe_core: Path) -> Path:
    """Create (or bring up to date) a build directory; files already right are left alone, so an
    existing parse cache stays valid."""
    conf = build / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    for name, text in conf_files(oe_core).items():
        path = conf / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    return build


def clean_build(build: Path) -> None:
    """Remove what a parse leaves behind (parse caches of both tools, BitBake's server log)."""
    for sub in ("tmp", "cache", "bitbake-cookerdaemon.log"):
        path = build / sub
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def _has_locale(env: dict[str, str]) -> bool:
    probe = "import locale; locale.setlocale(locale.LC_CTYPE, ('en_US', 'UTF-8'))"
    return subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True).returncode == 0


def locale_dir(workdir: Path) -> Path | None:
    """None when the system has ``en_US.UTF-8``; else a directory holding one, for ``LOCPATH``."""
    if _has_locale({"PATH": SYSTEM_PATH}):
        return None
    target = workdir / "locale"
    if _has_locale({"PATH": SYSTEM_PATH, "LOCPATH": str(target)}):
        return target
    if shutil.which("localedef") is None:
        raise SystemExit("BitBake needs the en_US.UTF-8 locale and localedef is missing: "
                         "apt-get install locales")
    target.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["localedef", "-i", "en_US", "-f", "UTF-8", str(target / "en_US.UTF-8")],
                       capture_output=True, text=True)
    if r.returncode not in (0, 1) or not _has_locale({"PATH": SYSTEM_PATH, "LOCPATH": str(target)}):
        raise SystemExit(f"localedef -i en_US -f UTF-8 {target / 'en_US.UTF-8'} failed:\n{r.stderr}")
    return target


def tool_env(bitbake: Path | None, locpath: Path | None) -> dict[str, str]:
    """The environment both tools run in: nothing of the caller's environment but HOME, so that what
    ``-e`` shows does not depend on who runs the comparison."""
    path = [str(Path(sys.executable).parent), SYSTEM_PATH]
    if bitbake is not None:
        path.insert(0, str(bitbake.resolve() / "bin"))
    env = {"HOME": os.environ.get("HOME", "/root"), "TERM": "dumb", "PATH": ":".join(path),
           "LANG": "en_US.UTF-8"}
    if locpath is not None:
        env["LOCPATH"] = str(locpath)
        env["BB_ENV_PASSTHROUGH_ADDITIONS"] = "LOCPATH"
    return env


def layerbuild_env(env: dict[str, str]) -> dict[str, str]:
    """The same environment with this checkout's layerbuild importable."""
    return dict(env, PYTHONPATH=str(REPO))


def wait_for_server(build: Path, timeout: float = 600) -> None:
    """Wait until BitBake's server has exited: it holds ``bitbake.lock`` until it has written the parse
    cache, and a command started before then reconnects to it and misses the cache."""
    lock = build / "bitbake.lock"
    if not lock.exists():
        return
    deadline = time.monotonic() + timeout
    with open(lock, "a") as fh:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fh, fcntl.LOCK_UN)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"BitBake's server still holds {lock} after {timeout:.0f} s") from None
                time.sleep(0.1)
