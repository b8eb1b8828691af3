"""Running another architecture's programs on the build host with qemu-user.

Two ways, for the two places that need it:

- :func:`command` / :func:`run`: one program of a root file system, started as
  ``qemu-aarch64-static -L ROOT ROOT/usr/bin/greet ...``: qemu loads the program's ELF interpreter and
  libraries from ``ROOT``, so the image's own C runtime runs it, not the host's. Needs only the
  emulator (Debian package qemu-user-static).
- :func:`binfmt`: the kernel runs every program of the architecture through the emulator (binfmt_misc),
  so a whole image boots in a subhost and its services and shells run as on the board. The rule is
  Debian's (``/usr/lib/binfmt.d/qemu-aarch64.conf``) under a name of this process's own, registered with
  the ``F`` flag (the kernel opens the emulator at registration, so it works inside the subhost's chroot,
  which has no emulator), and removed afterwards: the host's own rules, and whether binfmt_misc was
  mounted, are left as they were found.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from layerbuild.util import arch as arches
from layerbuild.util.errors import LayerbuildError
from layerbuild.util.proc import CommandError
from layerbuild.util.proc import run as run_command

BINFMT_DIR = "/proc/sys/fs/binfmt_misc"
#: where systemd-binfmt reads rules, the packages' directory first (qemu-user-static installs there)
BINFMT_CONF_DIRS = ("/usr/lib/binfmt.d", "/etc/binfmt.d", "/run/binfmt.d")

#: other names of an architecture -> TARGET_ARCH (dpkg's and systemd's names)
_NAMES = {"arm64": "aarch64", "amd64": "x86_64", "x86-64": "x86_64", "i386": "i686", "x86": "i686",
          "armhf": "arm", "armel": "arm", "ppc64el": "powerpc64le", "ppc64-le": "powerpc64le"}
#: TARGET_ARCH -> qemu's name, where they differ
_QEMU = {"i686": "i386", "powerpc": "ppc", "powerpc64": "ppc64", "powerpc64le": "ppc64le"}


def qemu_arch(name: str) -> str:
    """qemu's name for an architecture given by its TARGET_ARCH, dpkg or systemd name (``arm64`` -> ``aarch64``)."""
    found = arches.find(_NAMES.get(name, name))
    target = found.name if found else name
    return _QEMU.get(target, target)


def is_native(name: str) -> bool:
    """Whether the build host runs programs of architecture ``name`` itself."""
    return qemu_arch(name) == qemu_arch(platform.machine())


def emulator(name: str, path: str | None = None) -> str | None:
    """The qemu-user emulator for ``name`` on PATH (``qemu-aarch64-static``), if installed."""
    return shutil.which(f"qemu-{qemu_arch(name)}-static", path=path)


def command(root: str, argv: Sequence[str], name: str) -> list[str]:
    """The command line that runs ``argv`` (its program a path inside ``root``) under qemu-user, with the
    ELF interpreter and libraries of ``root``."""
    program = emulator(name)
    if program is None:
        raise LayerbuildError(f"no qemu-user emulator for {name} on PATH (qemu-{qemu_arch(name)}-static)",
                              hint="apt-get install qemu-user-static")
    inside = os.path.join(root, argv[0].lstrip("/"))
    return [program, "-L", root, inside, *argv[1:]]


def run(root: str, argv: Sequence[str], name: str, *, env: Mapping[str, str] | None = None,
        check: bool = True) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` of ``root`` under qemu-user; stdout and stderr come back together in ``stdout``."""
    return run_command(command(root, argv, name), env=env, stdout=subprocess.PIPE, merged=True, check=check)


@dataclass(frozen=True)
class BinfmtRule:
    """One binfmt_misc rule, as ``:name:type:offset:magic:mask:interpreter:flags`` says it."""

    name: str
    kind: str
    offset: str
    magic: str
    mask: str
    interpreter: str
    flags: str

    def line(self) -> str:
        return ":".join(("", self.name, self.kind, self.offset, self.magic, self.mask, self.interpreter,
                         self.flags))


def binfmt_rule(name: str, dirs: Sequence[str] = BINFMT_CONF_DIRS) -> BinfmtRule | None:
    """The rule the host's qemu-user packages ship for architecture ``name``, if any."""
    for directory in dirs:
        path = os.path.join(directory, f"qemu-{qemu_arch(name)}.conf")
        try:
            with open(path, encoding="ascii") as fh:
                lines = [line.strip() for line in fh if line.strip() and not line.startswith(("#", ";"))]
        except (OSError, UnicodeDecodeError):
            continue
        for line in lines:
            fields = line[1:].split(line[0])
            if len(fields) == 7:
                return BinfmtRule(*fields)
    return None


def binfmt_problem(name: str) -> str | None:
    """Why binfmt_misc cannot run programs of ``name`` here, or None when :func:`binfmt` can."""
    if is_native(name):
        return None
    if os.geteuid() != 0:
        return "registering a binfmt_misc rule needs root"
    if emulator(name) is None:
        return f"qemu-{qemu_arch(name)}-static is not installed (Debian package qemu-user-static)"
    rule = binfmt_rule(name)
    if rule is None:
        return f"no binfmt rule for qemu-{qemu_arch(name)} in {', '.join(BINFMT_CONF_DIRS)}"
    if not os.path.exists(rule.interpreter):
        return f"the binfmt rule's emulator {rule.interpreter} does not exist"
    if not os.path.isdir(BINFMT_DIR):
        return f"{BINFMT_DIR} does not exist (a kernel without binfmt_misc)"
    return None


@contextlib.contextmanager
def binfmt(name: str) -> Iterator[None]:
    """Programs of architecture ``name`` run through qemu-user while the block runs, chroots included."""
    if is_native(name):
        yield
        return
    problem = binfmt_problem(name)
    if problem:
        raise LayerbuildError(f"cannot run {name} programs through binfmt_misc: {problem}")
    rule = binfmt_rule(name)
    assert rule is not None
    mounted = False
    register = os.path.join(BINFMT_DIR, "register")
    if not os.path.exists(register):
        try:
            run_command(["mount", "-t", "binfmt_misc", "binfmt_misc", BINFMT_DIR], stdout=subprocess.PIPE,
                        merged=True)
        except CommandError as exc:
            raise LayerbuildError(f"cannot run {name} programs through binfmt_misc: cannot mount it: "
                                  f"{exc.message}") from None
        mounted = True
    own = BinfmtRule(f"layerbuild-{qemu_arch(name)}-{os.getpid()}", rule.kind, rule.offset, rule.magic, rule.mask,
                     rule.interpreter, "".join(sorted(set(rule.flags) | {"F"})))
    entry = os.path.join(BINFMT_DIR, own.name)
    try:
        try:
            with open(register, "w", encoding="ascii") as fh:
                fh.write(own.line())
        except OSError as exc:
            raise LayerbuildError(f"cannot run {name} programs through binfmt_misc: registering "
                                  f"{own.name} failed: {exc.strerror}") from None
        try:
            yield
        finally:
            with contextlib.suppress(OSError), open(entry, "w", encoding="ascii") as fh:
                fh.write("-1")
    finally:
        if mounted:
            run_command(["umount", BINFMT_DIR], check=False, stdout=subprocess.PIPE, merged=True)
