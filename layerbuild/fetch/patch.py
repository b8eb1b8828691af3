"""``do_patch``: the patches of SRC_URI applied in order with ``patch -pN``.

A SRC_URI entry is a patch when its name ends in ``.patch`` or ``.diff`` (also after a ``.gz``,
``.bz2``, ``.xz`` or ``.zst``), or when it says ``apply=yes``; ``apply=no`` leaves a patch out.
``striplevel=`` (default 1) is patch's ``-p``; ``patchdir=`` is relative to ``${S}`` (or absolute), and
must stay inside ``${S}`` or ``${WORKDIR}``: a patch changes the recipe's own tree, nothing else. Each
patch is tried with ``--dry-run`` first, so one that does not apply leaves the tree as it was.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass

from layerbuild.fetch.errors import ParameterError, PatchError
from layerbuild.fetch.fetcher import Fetch
from layerbuild.fetch.unpack import SINGLE_SUFFIXES
from layerbuild.fetch.urldata import FetchContext
from layerbuild.util.fsutil import inside_real
from layerbuild.util.proc import CommandError, run

logger = logging.getLogger("layerbuild.fetch")

_FILE = re.compile(r"^(?:patching|checking) file (.+)$")
_HUNK = re.compile(r"^Hunk #(\d+) FAILED at (\d+)")
_NOFILE = re.compile(r"^can't find file to patch at input line (\d+)")
_HEADER = re.compile(r"^\|(?:\+\+\+|---) (\S+)")


@dataclass(frozen=True)
class Patch:
    url: str
    path: str
    striplevel: int
    patchdir: str


def patches(fetcher: Fetch, unpackdir: str, srcdir: str, workdir: str) -> list[Patch]:
    """The patches of ``fetcher``'s SRC_URI entries, in order."""
    out: list[Patch] = []
    for url in fetcher.urls:
        ud = fetcher.ud[url]
        local = ud.localpath
        if not local or os.path.isdir(local):
            continue
        base = os.path.basename(local)
        name = base
        if base.endswith(SINGLE_SUFFIXES):
            # a compressed patch is applied from its decompressed copy in UNPACKDIR
            name = os.path.splitext(base)[0]
            relname = ud.basename if os.path.isabs(ud.path) or ud.type != "file" else os.path.normpath(ud.path)
            local = os.path.join(unpackdir, ud.parm.get("subdir", ""), os.path.splitext(relname)[0])
        if "apply" in ud.parm:
            if not ud.bool_param("apply", False, fetcher.ctx):
                continue
        elif not name.endswith((".patch", ".diff")):
            continue
        patchdir = os.path.normpath(os.path.join(srcdir, ud.parm.get("patchdir", "")))
        if not (inside_real(srcdir, patchdir) or inside_real(workdir, patchdir)):
            raise fetcher.ctx.fail(ParameterError, f"{url}: patchdir={ud.parm.get('patchdir', '')} is {patchdir}, outside "
                                   f"S ({srcdir}) and WORKDIR ({workdir})",
                                   hint="patchdir= is relative to S; a patch may change only the recipe's tree")
        out.append(Patch(url, local, ud.int_param("striplevel", 1, fetcher.ctx), patchdir))
    return out


def apply_patches(fetcher: Fetch, unpackdir: str, srcdir: str, workdir: str) -> list[Patch]:
    """Apply the patches of ``fetcher``'s SRC_URI entries to ``srcdir``; returns what was applied."""
    applied = patches(fetcher, unpackdir, srcdir, workdir)
    for patch in applied:
        apply_patch(patch, fetcher.ctx)
    return applied


def apply_patch(patch: Patch, ctx: FetchContext) -> None:
    name = os.path.basename(patch.path)
    if not os.path.isdir(patch.patchdir):
        raise ctx.fail(PatchError, f"cannot apply {name}: the directory {patch.patchdir} does not exist",
                       hint="check S, and patchdir= in SRC_URI (it is relative to S)")
    argv = ["patch", f"-p{patch.striplevel}", "--no-backup-if-mismatch", "-f", "-i", patch.path,
            "-d", patch.patchdir]
    logger.info("Applying patch %s (-p%d) in %s", name, patch.striplevel, patch.patchdir)
    try:
        status, output = _patch([*argv, "--dry-run"])
        if status == 0:
            status, output = _patch(argv)
    except CommandError:
        raise ctx.fail(PatchError, f"cannot apply {name}: the patch command is not installed",
                       hint="install patch (apt-get install patch)") from None
    if output:
        logger.info("%s", output)
    if status == 0:
        return
    problems, hint = _problems(output, patch.striplevel)
    raise ctx.fail(PatchError, f"patch {name} does not apply: {'; '.join(problems[:3])}"
                   + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""),
                   [f"patch: {patch.path}", f"from: {patch.url}", f"in: {patch.patchdir}",
                    *(f"| {line}" for line in output.splitlines()[-15:])], hint=hint)


def _patch(argv: list[str]) -> tuple[int, str]:
    """Run patch; its status and what it printed (stdout and stderr, in order)."""
    result = run(argv, merged=True, check=False)
    return result.returncode, "\n".join(result.stdout.decode("utf-8", "replace").splitlines())


def _problems(output: str, striplevel: int) -> tuple[list[str], str | None]:
    """What went wrong, one item per failed hunk or missing file, read from patch's output."""
    problems: list[str] = []
    hint = None
    current = "?"
    missing_line: str | None = None
    for line in output.splitlines():
        if m := _FILE.match(line):
            current = m.group(1).strip("'\"")
        elif m := _HUNK.match(line):
            problems.append(f"{current}: Hunk #{m.group(1)} FAILED at {m.group(2)}")
            hint = "refresh the patch against this version of the source"
        elif m := _NOFILE.match(line):
            missing_line = m.group(1)
            problems.append(f"can't find file to patch at input line {missing_line}")
            hint = f"check striplevel= (now {striplevel}) and patchdir= in SRC_URI"
        elif missing_line and (m := _HEADER.match(line)):
            problems[-1] = f"can't find file to patch: {m.group(1)} (input line {missing_line})"
            missing_line = None
        elif line.startswith("patch: **** "):
            problems.append(line[len("patch: **** "):])
        elif line.startswith("Reversed (or previously applied) patch detected"):
            problems.append(f"{current}: reversed or already applied")
    if not problems:
        lines = [line for line in output.splitlines() if line.strip()]
        problems = [lines[-1] if lines else "patch failed without a message"]
    return problems, hint
