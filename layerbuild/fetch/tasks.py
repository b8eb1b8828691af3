"""The fetch tasks: ``do_fetch``, ``do_unpack`` and ``do_patch`` over a recipe's ``SRC_URI``."""

from __future__ import annotations

from layerbuild.fetch.fetcher import Fetch
from layerbuild.fetch.patch import apply_patches
from layerbuild.taskapi import TaskContext


def _fetcher(ctx: TaskContext) -> Fetch | None:
    urls = ctx.vars.words("SRC_URI")
    return Fetch(urls, ctx.vars) if urls else None


def fetch(ctx: TaskContext) -> None:
    """Download every ``SRC_URI`` entry into ``DL_DIR`` and verify its checksum."""
    fetcher = _fetcher(ctx)
    if fetcher is not None:
        fetcher.download()


def unpack(ctx: TaskContext) -> None:
    """Unpack every ``SRC_URI`` entry into ``UNPACKDIR``, in order."""
    fetcher = _fetcher(ctx)
    if fetcher is not None:
        fetcher.unpack(ctx.vars.get("UNPACKDIR"))


def patch(ctx: TaskContext) -> None:
    """Apply the ``.patch``/``.diff`` entries of ``SRC_URI`` to ``${S}``."""
    fetcher = _fetcher(ctx)
    if fetcher is not None:
        apply_patches(fetcher, ctx.vars.get("UNPACKDIR"), ctx.s, ctx.workdir)
