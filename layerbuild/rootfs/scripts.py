"""Maintainer scripts, run offline at build time as OpenEmbedded runs them, or deferred to first boot.

A script runs on the build host with the root in ``$D`` (also ``DPKG_ROOT``, ``OFFLINE_ROOT``),
working directory ``/``, and dpkg's ``DPKG_MAINTSCRIPT_*`` variables, with the arguments dpkg passes
(``preinst install``, ``postinst configure ''``, ``preinst upgrade OLD`` ...). Scripts must use
``$D``. A ``postinst`` that exits 1 under ``$D`` says "I can only run on the target": it is saved as
``/etc/layerbuild-postinsts/NNN-PKG`` and run once, without ``$D``, by
``/usr/libexec/layerbuild/run-postinsts`` at first boot (the image's init calls it). Any other failure
is an error naming the package, the script and the log.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from ..errors import BuildError
from ..fsutil import atomic_write
from ..proc import run
from .dpkgdb import ADMINDIR

POSTINST_DIR = "etc/layerbuild-postinsts"
RUNNER = "usr/libexec/layerbuild/run-postinsts"
#: The exit status with which a postinst asks to be run on the target instead.
DEFER_STATUS = 1

RUNNER_SCRIPT = """#!/bin/sh
# Runs, once, the package configuration scripts that could not run when the image was built.
# Each /etc/layerbuild-postinsts/NNN-PKG is run in order and removed when it succeeds.
dir=/etc/layerbuild-postinsts
[ -d "$dir" ] || exit 0
unset D DPKG_ROOT OFFLINE_ROOT
status=0
for script in "$dir"/[0-9][0-9][0-9]-*; do
    [ -e "$script" ] || continue
    if "$script" configure ""; then
        rm -f "$script"
    else
        echo "run-postinsts: $script failed" >&2
        status=1
    fi
done
rmdir "$dir" 2>/dev/null
exit $status
"""


class ScriptError(BuildError):
    """A maintainer script failed."""


def script_env(root: str, package: str, arch: str, script: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "D": root, "DPKG_ROOT": root, "OFFLINE_ROOT": root, "DPKG_ADMINDIR": os.path.join(root, ADMINDIR),
        "DPKG_MAINTSCRIPT_PACKAGE": package, "DPKG_MAINTSCRIPT_ARCH": arch, "DPKG_MAINTSCRIPT_NAME": script,
        "DPKG_RUNNING_VERSION": "1.21.22",
    })
    env.setdefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
    return env


def run_script(root: str, path: str, package: str, arch: str, script: str, args: Sequence[str],
               log: Path | None, may_defer: bool = False) -> bool:
    """Run one maintainer script offline; returns False when a postinst asked to be deferred."""
    argv = [path, *args]
    result = run(argv, cwd="/", env=script_env(root, package, arch, script), log=log, check=False,
                 merged=log is None)
    if result.returncode == 0:
        return True
    if may_defer and result.returncode == DEFER_STATUS:
        return False
    notes: tuple[str, ...] = (f"log: {log}",) if log is not None else ()
    if log is None and result.stdout:
        notes = (result.stdout.decode("utf-8", "replace").strip()[-2000:],)
    shown = " ".join(a for a in args if a) or "no arguments"
    raise ScriptError(f"{package}: {script} script ({shown}) failed with exit status {result.returncode}",
                      notes=notes)


def defer_postinsts(root: str, packages: Sequence[str]) -> list[str]:
    """Save the postinst of each of ``packages`` (in order) for first boot and write the runner."""
    if not packages:
        return []
    target = os.path.join(root, POSTINST_DIR)
    os.makedirs(target, exist_ok=True)
    written = []
    for number, package in enumerate(packages):
        source = os.path.join(root, ADMINDIR, "info", f"{package}.postinst")
        dest = os.path.join(target, f"{number:03d}-{package}")
        shutil.copyfile(source, dest)
        os.chmod(dest, 0o755)
        written.append("/" + os.path.relpath(dest, root))
    atomic_write(os.path.join(root, RUNNER), RUNNER_SCRIPT, mode=0o755)
    return written
