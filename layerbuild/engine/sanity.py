"""The build host, checked once before any task runs (OE's sanity checks).

- Every tool ``HOSTTOOLS`` lists is on ``PATH``; a missing one is one error naming it and the Debian
  package that provides it (otherwise it would surface as ``gcc: not found`` deep in some task's log).
- The machine's toolchain (``CC``, ``STRIP`` ...: ``TOOLCHAIN_PROGRAMS``) is on ``PATH``; a missing one is
  one error naming the Debian packages to install (``gcc-aarch64-linux-gnu`` for genericarm64).
- The compiler (``CC``) builds for the machine's ``TARGET_ARCH``: a machine whose compiler builds for
  another architecture would otherwise get packages named for it that hold the wrong binaries.

Both run on every build, a no-op rebuild included, so what they learn is kept in
``${CACHE}/host.json``: where each tool was found (checked again with one ``access`` each) and what
each compiler builds for, keyed by the compiler's path, size and modification time.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from typing import Any

from layerbuild.util import arch
from layerbuild.util.errors import LayerbuildError
from layerbuild.util.fsutil import atomic_write
from layerbuild.util.proc import CommandError, run

#: the Debian package that provides each common host tool
DEBIAN_PACKAGES: dict[str, str] = {
    **{tool: "binutils" for tool in ("ar", "as", "ld", "ld.bfd", "nm", "objcopy", "objdump", "ranlib", "readelf",
                                     "size", "strings", "strip")},
    **{tool: "coreutils" for tool in ("basename", "cat", "chmod", "chown", "cp", "cut", "date", "dirname", "du",
                                      "echo", "env", "head", "install", "ln", "ls", "md5sum", "mkdir", "mktemp",
                                      "mv", "readlink", "realpath", "rm", "rmdir", "sha256sum", "sort", "stat",
                                      "tail", "tee", "touch", "tr", "true", "uname", "wc")},
    **{tool: "diffutils" for tool in ("cmp", "diff")},
    **{tool: "findutils" for tool in ("find", "xargs")},
    "awk": "gawk", "gawk": "gawk", "bash": "bash", "bzip2": "bzip2", "cpio": "cpio", "cpp": "cpp",
    "dpkg-deb": "dpkg", "file": "file", "flock": "util-linux", "g++": "g++", "gcc": "gcc", "git": "git",
    "grep": "grep", "gzip": "gzip", "ip": "iproute2", "make": "make", "mkfs.erofs": "erofs-utils",
    "patch": "patch", "perl": "perl", "python3": "python3", "sed": "sed", "sh": "dash",
    "systemd-nspawn": "systemd-container", "tar": "tar", "unsquashfs": "squashfs-tools", "wget": "wget",
    "xz": "xz-utils", "zstd": "zstd",
}

_CACHE_NAME = "host.json"

#: the machine's toolchain programs a build checks before any task runs: the compiler and the binutils
#: that packaging runs (a C++ compiler is a recipe's own requirement, which its configure step reports)
TOOLCHAIN_PROGRAMS = ("CC", "LD", "AR", "AS", "NM", "RANLIB", "STRIP", "OBJCOPY", "OBJDUMP", "READELF")


def package_of(tool: str) -> str | None:
    """The Debian package that provides ``tool``, when known (a cross compiler's is ``gcc-<triplet>``)."""
    found = DEBIAN_PACKAGES.get(tool)
    if found is None and tool.count("-") >= 2:
        triplet, _, base = tool.rpartition("-")
        if base in ("gcc", "g++", "cpp"):
            return f"{base}-{triplet}"
        if DEBIAN_PACKAGES.get(base) == "binutils":
            return f"binutils-{triplet}"
    return found


def check_host(d: Any, cachedir: str) -> None:
    """The host tools and the compiler's target, before any task runs; raises a located error."""
    path = d.getVar("PATH") or ""
    cache_file = os.path.join(cachedir, _CACHE_NAME)
    try:
        with open(cache_file, encoding="utf-8") as fh:
            cache = json.load(fh)
        if not isinstance(cache, dict) or cache.get("path") != path:
            cache = {}
    except (OSError, ValueError):
        cache = {}
    before = json.dumps(cache, sort_keys=True)
    cache["path"] = path
    tools = cache.setdefault("tools", {})
    compilers = cache.setdefault("compilers", {})
    try:
        check_hosttools(d, path, tools)
        check_compiler(d, path, tools, compilers)
    finally:
        after = json.dumps(cache, sort_keys=True)
        if after != before:
            try:
                atomic_write(cache_file, after + "\n")
            except OSError:
                pass  # only the next build pays for the lookups again


def _which(tool: str, path: str, tools: dict[str, str]) -> str | None:
    known = tools.get(tool)
    if known and os.access(known, os.X_OK):
        return known
    found = shutil.which(tool, path=path)
    if found:
        tools[tool] = found
    else:
        tools.pop(tool, None)
    return found


def check_hosttools(d: Any, path: str, tools: dict[str, str]) -> None:
    """Every tool HOSTTOOLS lists is on PATH, or one error naming the missing ones and their packages."""
    missing = [tool for tool in dict.fromkeys((d.getVar("HOSTTOOLS") or "").split())
               if _which(tool, path, tools) is None]
    if not missing:
        return
    packages = {tool: package_of(tool) for tool in missing}
    named = ", ".join(f"{tool} (Debian package {pkg})" if pkg else tool for tool, pkg in packages.items())
    wanted = sorted({pkg for pkg in packages.values() if pkg})
    unknown = [tool for tool, pkg in packages.items() if not pkg]
    hint = "; ".join(part for part in (f"apt-get install {' '.join(wanted)}" if wanted else "",
                                       f"install what provides {', '.join(unknown)}" if unknown else "") if part)
    raise LayerbuildError(f"{'this tool' if len(missing) == 1 else 'these tools'} HOSTTOOLS lists "
                          f"{'is' if len(missing) == 1 else 'are'} not on PATH: {named}",
                          d.location("HOSTTOOLS"), hint=hint)


def _compiler_target(d: Any, words: list[str], path: str, tools: dict[str, str],
                     compilers: dict[str, str]) -> str:
    """What ``gcc -dumpmachine`` says, asked once per compiler (its path, size and time)."""
    key = []
    for word in words:
        found = _which(word, path, tools) if not word.startswith("-") else None
        if found:
            real = os.path.realpath(found)
            st = os.stat(real)
            key.append(f"{real}:{st.st_size}:{st.st_mtime_ns}")
        else:
            key.append(word)
    cache_key = "\0".join(key)
    known = compilers.get(cache_key)
    if known:
        return known
    loc = d.location("CC")
    env = dict(os.environ, PATH=path)
    try:
        out = run([*words, "-dumpmachine"], env=env, stdout=subprocess.PIPE, merged=True).stdout or b""
    except CommandError as exc:
        raise LayerbuildError(f"CC = \"{shlex.join(words)}\": {exc.message}", loc, notes=exc.notes) from None
    lines = out.decode("utf-8", "replace").split()
    target = lines[-1] if lines else ""
    compilers[cache_key] = target
    return target


def check_toolchain(d: Any, path: str, tools: dict[str, str]) -> None:
    """The programs of the machine's toolchain (TOOLCHAIN_PROGRAMS) are on PATH, or one error naming the
    missing ones and the Debian packages to install (a cross toolchain: gcc-aarch64-linux-gnu ...)."""
    missing: dict[str, str] = {}
    for var in TOOLCHAIN_PROGRAMS:
        try:
            words = shlex.split(d.getVar(var) or "")
        except ValueError as exc:
            raise LayerbuildError(f"{var} cannot be read as a command: {exc}", d.location(var)) from None
        if words and words[0] not in missing.values() and _which(words[0], path, tools) is None:
            missing[var] = words[0]
    if not missing:
        return
    first = next(iter(missing))
    packages = sorted({pkg for pkg in (package_of(os.path.basename(p)) for p in missing.values()) if pkg})
    named = ", ".join(f"{var} ({prog})" for var, prog in missing.items())
    machine = d.getVar("MACHINE") or ""
    raise LayerbuildError(
        f"the toolchain of MACHINE {machine} is not on PATH: {named}"
        + (f"; install Debian package{'s' if len(packages) > 1 else ''} {' '.join(packages)}" if packages else ""),
        d.location(first),
        hint=f"apt-get install {' '.join(packages)}" if packages else f"install the toolchain, or set {first}")


def check_compiler(d: Any, path: str, tools: dict[str, str], compilers: dict[str, str]) -> None:
    """The compiler builds for TARGET_ARCH, or an error at the line that set TARGET_ARCH."""
    target_arch = d.getVar("TARGET_ARCH") or ""
    try:
        words = shlex.split(d.getVar("CC") or "")
    except ValueError as exc:
        raise LayerbuildError(f"CC cannot be read as a command: {exc}", d.location("CC")) from None
    if not words or not target_arch:
        return
    check_toolchain(d, path, tools)
    triplet = _compiler_target(d, words, path, tools, compilers)
    cpu = triplet.split("-", 1)[0]
    want, got = arch.find(target_arch), arch.find(cpu)
    if (want is not None and want == got) or (want is None and cpu == target_arch):
        return
    machine = d.getVar("MACHINE") or ""
    # the sysroot options (TOOLCHAIN_OPTIONS) name a recipe's directory and say nothing of the target
    shown = [w for w in words if not w.startswith(("--sysroot", "-specs="))]
    raise LayerbuildError(
        f"MACHINE {machine} builds for {target_arch} (TARGET_ARCH), but the compiler ({shlex.join(shown)}) "
        f"builds for {got.name if got else cpu} ({triplet})", d.location("TARGET_ARCH"),
        hint=f"layerbuild compiles with CC, the machine's toolchain (${{TARGET_PREFIX}}gcc): choose a machine for "
             f"{got.name if got else cpu}, or set TARGET_PREFIX or CC to a compiler for {target_arch}")
