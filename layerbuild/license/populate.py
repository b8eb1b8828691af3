"""``do_populate_lic``: LICENSE read, LIC_FILES_CHKSUM checked, the licence texts gathered for deployment.

Each ``LIC_FILES_CHKSUM`` entry is ``file://PATH;md5=SUM`` with optional ``beginline=N`` and ``endline=M``
(1-based, inclusive): the md5 of those lines of PATH (of the whole file without them) must be SUM. PATH is
relative to ``${S}`` and is read as a chroot at the work directory would read it, so an unpacked source
tree's link can never make a host file the recipe's licence; an absolute PATH (``${COMMON_LICENSE_DIR}/MIT``)
is the metadata's own file. The texts go to ``${LICSSTATEDIR}/${PN}/``: each checked file (its selected
lines), ``generic_<LICENCE>`` for each licence of LICENSE that ``COMMON_LICENSE_DIR`` or ``LICENSE_PATH``
holds, and ``recipeinfo``. The shared state publishes them to ``${LICENSE_DIRECTORY}/${PN}/``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from layerbuild.taskapi import TaskContext
from layerbuild.util import licenses
from layerbuild.util.errors import BuildError, LayerbuildError
from layerbuild.util.fsutil import atomic_write
from layerbuild.util.rootdir import RootDir

#: lines of a licence text shown when its checksum does not match (OE's QA_MAX_LICENSE_LINES)
SHOWN_LINES = 20


@dataclass(frozen=True)
class LicenseFile:
    """One LIC_FILES_CHKSUM entry."""

    url: str
    path: str
    md5: str
    beginline: int
    endline: int

    def describe(self) -> str:
        if self.beginline and self.endline:
            return f"{self.path} (lines {self.beginline} to {self.endline})"
        if self.beginline:
            return f"{self.path} (from line {self.beginline})"
        if self.endline:
            return f"{self.path} (up to line {self.endline})"
        return self.path

    def select(self, data: bytes) -> bytes:
        """The lines the entry names, each with its line end, as their md5 is taken."""
        if not self.beginline and not self.endline:
            return data
        lines = data.splitlines(keepends=True)
        start = max(self.beginline - 1, 0)
        return b"".join(lines[start:self.endline or None])


def _entries(ctx: TaskContext) -> list[LicenseFile]:
    out: list[LicenseFile] = []
    for url in ctx.vars.words("LIC_FILES_CHKSUM"):
        kind, _, rest = url.partition("://")
        path, *params = rest.split(";")
        if kind != "file" or not path:
            raise ctx.fatal(f"recipe {ctx.pn}: LIC_FILES_CHKSUM: {url} is not a file:// entry naming a file",
                            var="LIC_FILES_CHKSUM", hint="write file://PATH;md5=SUM, PATH relative to ${S}")
        values: dict[str, str] = {}
        for param in params:
            key, eq, value = param.partition("=")
            if not eq:
                raise ctx.fatal(f"recipe {ctx.pn}: LIC_FILES_CHKSUM: {url}: parameter '{param}' has no value",
                                var="LIC_FILES_CHKSUM")
            values[key] = value
        lines = []
        for name in ("beginline", "endline"):
            text = values.get(name, "") or "0"
            if not text.isdigit():
                raise ctx.fatal(f"recipe {ctx.pn}: LIC_FILES_CHKSUM: {url}: {name}={values[name]} is not a line "
                                "number", var="LIC_FILES_CHKSUM")
            lines.append(int(text))
        out.append(LicenseFile(url, path, values.get("md5", "").lower(), lines[0], lines[1]))
    return out


def _read(ctx: TaskContext, entry: LicenseFile) -> tuple[str, bytes]:
    """Where the entry's file is, and its content."""
    if os.path.isabs(entry.path):
        full = os.path.normpath(entry.path)
        try:
            with open(full, "rb") as fh:
                return full, fh.read()
        except OSError as exc:
            raise _missing(ctx, entry, full, exc.strerror or str(exc)) from None
    # relative names may climb out of S (a licence at the top of a repository whose S is a subdirectory),
    # never out of the work directory that holds the unpacked sources
    workdir = os.path.normpath(ctx.workdir)
    source = os.path.normpath(ctx.s)
    top = workdir if (source + os.sep).startswith(workdir + os.sep) else source
    name = os.path.normpath(os.path.join(os.path.relpath(source, top), entry.path))
    full = os.path.join(top, name)
    if name == ".." or name.startswith("../") or name == ".":
        raise _missing(ctx, entry, full, f"it is outside {top}")
    try:
        with RootDir(top) as root:
            return full, root.read_bytes(name, follow=True)
    except (OSError, LayerbuildError) as exc:
        why = exc.message if isinstance(exc, LayerbuildError) else (exc.strerror or str(exc))
        raise _missing(ctx, entry, full, why) from None


def _missing(ctx: TaskContext, entry: LicenseFile, full: str, why: str) -> BuildError:
    return ctx.fatal(f"recipe {ctx.pn}: LIC_FILES_CHKSUM names {entry.path}, which cannot be read: {why}",
                     var="LIC_FILES_CHKSUM", hint=f"the path is relative to S ({ctx.s}): {full}")


def _check(ctx: TaskContext, entry: LicenseFile, full: str, text: bytes) -> None:
    actual = hashlib.md5(text, usedforsecurity=False).hexdigest()
    where = ctx.recipe_where("LIC_FILES_CHKSUM")
    if entry.md5 == actual:
        return
    shown = text.decode("utf-8", errors="replace").splitlines()
    notes = [f"file: {full}", "the selected text:"] + [f"| {line}" for line in shown[:SHOWN_LINES]]
    if len(shown) > SHOWN_LINES:
        notes.append(f"| ... ({len(shown) - SHOWN_LINES} more lines)")
    license = ctx.vars.get("LICENSE")
    if not entry.md5:
        raise BuildError(f"recipe {ctx.pn}: LIC_FILES_CHKSUM: {entry.url} has no md5; the md5 of "
                         f"{entry.describe()} is {actual}", where, notes=tuple(notes),
                         hint=f"after reading the text, add ;md5={actual} to the entry")
    raise BuildError(f"recipe {ctx.pn}: LIC_FILES_CHKSUM: the md5 of {entry.describe()} is {actual}, "
                     f"but the recipe says md5={entry.md5}", where, notes=tuple(notes),
                     hint=f'check that LICENSE = "{license}" still holds for the changed text, then write '
                          f"md5={actual}")


def _names(entries: list[LicenseFile]) -> list[str]:
    """The file name each entry's text is deployed under: its base name, numbered when several share it."""
    bases = [os.path.basename(e.path.rstrip("/")) for e in entries]
    keys = [(e.path, e.beginline, e.endline) for e in entries]
    out: list[str] = []
    for base, key in zip(bases, keys, strict=True):
        sharing = sorted({k for b, k in zip(bases, keys, strict=True) if b == base})
        out.append(base if len(sharing) == 1 else f"{base}.{sharing.index(key)}")
    return out


def generic_text(ctx: TaskContext, name: str) -> str | None:
    """The licence text of ``name`` in COMMON_LICENSE_DIR or LICENSE_PATH, or None."""
    for directory in [ctx.vars.path("COMMON_LICENSE_DIR")] + ctx.vars.words("LICENSE_PATH"):
        candidate = os.path.join(directory, name) if directory else ""
        if candidate and os.path.isfile(candidate):
            return candidate
    return None


def _fetches_sources(ctx: TaskContext) -> bool:
    return any(not url.startswith("file://") for url in ctx.vars.words("SRC_URI"))


def populate_lic(ctx: TaskContext) -> None:
    """The whole of ``do_populate_lic``."""
    license = " ".join(ctx.vars.get("LICENSE").split())
    try:
        mentioned = licenses.names(license)
    except licenses.LicenseError as exc:
        raise ctx.fatal(f'recipe {ctx.pn}: LICENSE = "{license}": {exc.message}', var="LICENSE",
                        hint="licence names joined by & (all apply) and | (a choice), with parentheses") from None
    entries = _entries(ctx)
    if license != licenses.CLOSED and not entries and _fetches_sources(ctx):
        raise BuildError(f"recipe {ctx.pn} fetches sources and has no LIC_FILES_CHKSUM", ctx.recipe_where("SRC_URI"),
                         hint='add LIC_FILES_CHKSUM = "file://COPYING;md5=..." naming the licence texts of the '
                              'sources (LICENSE = "CLOSED" for sources that have none)')
    dest = os.path.join(ctx.vars.path("LICSSTATEDIR"), ctx.pn)
    os.makedirs(dest, exist_ok=True)
    for entry, name in zip(entries, _names(entries), strict=True):
        full, data = _read(ctx, entry)
        text = entry.select(data)
        _check(ctx, entry, full, text)
        atomic_write(os.path.join(dest, name), text)
    for lic in mentioned:
        if lic == licenses.CLOSED:
            continue
        found = generic_text(ctx, lic)
        if found is None:
            ctx.warn(f"{ctx.pn}: no generic licence text for {lic} in COMMON_LICENSE_DIR or LICENSE_PATH")
            continue
        with open(found, "rb") as fh:
            atomic_write(os.path.join(dest, f"generic_{lic}"), fh.read())
    atomic_write(os.path.join(dest, "recipeinfo"),
                 f"LICENSE: {license}\nPR: {ctx.vars.get('PR')}\nPV: {ctx.vars.get('PV')}\n")
