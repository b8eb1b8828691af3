"""``file://`` sources: files and directories beside the recipe, found through FILESPATH.

The search follows OE's ``base_set_filespath``: FILESEXTRAPATHS, then FILESPATH, each directory
tried with every entry of FILESOVERRIDES (OVERRIDES when unset) as a subdirectory, the right-most
override first, and finally the directories themselves.
"""

from __future__ import annotations

import os
from typing import Any

from layerbuild.fetch.errors import LocalFileNotFound, UnpackError
from layerbuild.fetch.unpack import ArchiveProblem, unpack_dir, unpack_file
from layerbuild.fetch.urldata import FetchContext, FetchData


def search_dirs(variables: Any) -> list[str]:
    """The directories a relative ``file://`` path is looked up in, in order (``variables``: anything
    with ``getVar``, the datastore or a task's view)."""
    get = variables.getVar
    extra = (get("FILESEXTRAPATHS") or "").replace("__default:", "")
    bases = [p for p in extra.split(":") if p] + [p for p in (get("FILESPATH") or "").split(":") if p]
    overrides_value = get("FILESOVERRIDES")
    if overrides_value is None:
        # without the override of the running task, as BitBake's FILESOVERRIDES: the files a task finds
        # are the ones its signature was computed from at parse time
        overrides_value = ":".join(o for o in (get("OVERRIDES") or "").split(":") if not o.startswith("task-"))
    overrides = [""] + [o for o in overrides_value.split(":") if o]
    out: list[str] = []
    for override in reversed(overrides):
        for base in bases:
            candidate = os.path.normpath(os.path.join(base, override) if override else base)
            if candidate not in out:
                out.append(candidate)
    return out


class LocalMethod:
    def setup(self, ud: FetchData, ctx: FetchContext) -> None:
        path = ud.path
        ud.basename = os.path.basename(path.rstrip("/"))
        if os.path.isabs(path):
            ud.searched = [os.path.dirname(path.rstrip("/")) or "/"]
            ud.localpath = path if os.path.lexists(path) else ""
            return
        ud.searched = search_dirs(ctx.variables)
        for directory in ud.searched:
            candidate = os.path.join(directory, path)
            if os.path.exists(candidate):
                ud.localpath = candidate
                return

    def expected_path(self, ud: FetchData) -> str:
        """Where the file is, or where it would be found first: what a task signature should watch."""
        if ud.localpath:
            return ud.localpath
        return ud.path if os.path.isabs(ud.path) else os.path.join(ud.searched[0] if ud.searched else "", ud.path)

    def download(self, ud: FetchData, ctx: FetchContext) -> None:
        if ud.localpath:
            return
        raise ctx.fail(LocalFileNotFound, f"{ud.url}: {ud.path!r} not found in any of the "
                       f"{len(ud.searched)} directories searched",
                       [f"searched {directory}" for directory in ud.searched],
                       hint="put the file into one of these directories (FILESEXTRAPATHS, FILESPATH, with "
                       "FILESOVERRIDES as subdirectories), or fix its name in SRC_URI")

    def clean(self, ud: FetchData, ctx: FetchContext) -> None:
        pass  # the file belongs to the layer, not to DL_DIR

    def unpack(self, ud: FetchData, root: str, ctx: FetchContext) -> None:
        self.download(ud, ctx)
        relname = ud.basename if os.path.isabs(ud.path) else os.path.normpath(ud.path)
        try:
            dest = unpack_dir(root, ud.parm.get("subdir", ""))
            unpack_file(ud.localpath, dest, relname, ud.bool_param("unpack", True, ctx),
                        ud.int_param("striplevel", 0, ctx))
        except ArchiveProblem as exc:
            raise ctx.fail(UnpackError, f"cannot unpack {ud.url} ({ud.localpath}): {exc}") from None

