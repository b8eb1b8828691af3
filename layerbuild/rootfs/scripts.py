"""Maintainer scripts, run offline at build time as OpenEmbedded runs them, or deferred to first boot.

A script runs on the build host with the root in ``$D`` (also ``DPKG_ROOT``, ``OFFLINE_ROOT``),
working directory ``/``, and dpkg's ``DPKG_MAINTSCRIPT_*`` variables, with the arguments dpkg passes
(``preinst install``, ``postinst configure ''``, ``preinst upgrade OLD`` ...). Scripts must use
``$D``. A ``postinst`` that exits 1 under ``$D`` says "I can only run on the target": it is saved as
``/etc/layerbuild-postinsts/NNN-PKG``, the package stays ``install ok unpacked`` in the database (as
OpenEmbedded leaves it), and ``/usr/libexec/layerbuild/run-postinsts`` runs it once, without ``$D``, at
first boot (the image's init calls it) and then marks the package configured. Any other failure is an
error naming the package, the script and the log.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from layerbuild.rootfs.dpkgdb import ADMINDIR
from layerbuild.util.errors import BuildError
from layerbuild.util.proc import run
from layerbuild.util.rootdir import RootDir

POSTINST_DIR = "etc/layerbuild-postinsts"
RUNNER = "usr/libexec/layerbuild/run-postinsts"
#: The exit status with which a postinst asks to be run on the target instead.
DEFER_STATUS = 1

RUNNER_SCRIPT = """#!/bin/sh
# Runs, once, the package configuration scripts that could not run when the image was built.
# Each /etc/layerbuild-postinsts/NNN-PKG is run in order and removed when it succeeds; the package
# is then marked configured in the dpkg database (where it was left unpacked).
dir=/etc/layerbuild-postinsts
status_file=/var/lib/dpkg/status
[ -d "$dir" ] || exit 0
unset D DPKG_ROOT OFFLINE_ROOT

mark_configured() {
    [ -f "$status_file" ] && command -v awk >/dev/null 2>&1 || return 0
    awk -v pkg="$1" '
        /^Package: / { current = substr($0, 10) }
        /^$/ { current = "" }
        current == pkg && $0 == "Status: install ok unpacked" { $0 = "Status: install ok installed" }
        { print }
    ' "$status_file" > "$status_file.new" && mv "$status_file.new" "$status_file"
}

status=0
for script in "$dir"/[0-9][0-9][0-9]-*; do
    [ -e "$script" ] || continue
    name=${script##*/}
    name=${name#[0-9][0-9][0-9]-}
    if "$script" configure ""; then
        rm -f "$script"
        mark_configured "$name"
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


def defer_postinsts(top: RootDir, packages: Sequence[str]) -> list[str]:
    """Save the postinst of each of ``packages`` (in order) for first boot and write the runner."""
    if not packages:
        return []
    written = []
    for number, package in enumerate(packages):
        dest = f"{POSTINST_DIR}/{number:03d}-{package}"
        top.write_bytes(dest, top.read_bytes(f"{ADMINDIR}/info/{package}.postinst"), 0o755)
        written.append("/" + dest)
    top.write_bytes(RUNNER, RUNNER_SCRIPT.encode(), 0o755)
    return written
