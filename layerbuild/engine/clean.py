"""What ``do_clean`` and ``do_cleansstate`` remove of a recipe, with OE's meaning.

``do_clean`` removes the recipe's ``WORKDIR``, its stamps (``${STAMP}.do_*``: stamps, sigdata and ``-f``
taints) and what its shared-state tasks installed into the build (sysroot components, pkgdata, the
packages in the feed, the deploy directory's files: whatever each task's install manifest lists), so
nothing of the recipe is up to date: the next build restores its shared-state tasks and runs the rest
it needs in an empty work directory.
``do_cleansstate`` also removes the recipe's objects from ``SSTATE_DIR``, so nothing can be restored and
every task runs. Other recipes' files, shared directories that still hold them, other versions of the
recipe and ``SSTATE_MIRRORS`` are left alone; nothing is removed through a link that leads out of the
directory being cleaned.

Metadata runs these through :func:`clean_recipe` and :func:`sstate_clean_cachefiles`
(``classes/utility-tasks.bbclass``), the names OE's classes use for the same work.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
from typing import Any

from layerbuild.engine.sstate import Sstate, manifest_path, uninstall_tree
from layerbuild.util.fsutil import PathEscape, remove_under

logger = logging.getLogger("layerbuild.clean")


def _get(d: Any, var: str) -> str:
    return str(d.getVar(var) or "")


def sstate_tasks(d: Any) -> list[str]:
    """The recipe's tasks whose outputs go through the shared state (as the runqueue decides it)."""
    tasks = set(d.getVar("__BBTASKS", False) or ())
    return [t for t in _get(d, "SSTATETASKS").split() if t in tasks and d.getVarFlag(t, "sstate-inputdirs")]


def _remove(root: str, path: str, what: str) -> None:
    try:
        if remove_under(root, path):
            logger.info("Removed %s %s", what, path)
    except PathEscape as exc:
        logger.warning("Not removing %s: %s", path, exc.message)


def _root(path: str, d: Any, *candidates: str) -> str:
    """The first of the ``candidates`` directories that ``path`` lies below (its parent if none does)."""
    for var in candidates:
        top = os.path.normpath(_get(d, var))
        if top != "/" and top != "." and path.startswith(top.rstrip("/") + "/"):
            return top
    return os.path.dirname(path)


def clean_recipe(d: Any) -> None:
    """``do_clean``: the recipe's WORKDIR, its stamps and what its shared-state tasks installed."""
    workdir = os.path.normpath(_get(d, "WORKDIR"))
    _remove(_root(workdir, d, "BASE_WORKDIR", "TMPDIR"), workdir, "the work directory")
    stamp = os.path.normpath(_get(d, "STAMP"))
    directory, name = os.path.split(stamp)
    root = _root(stamp, d, "STAMPS_DIR", "TMPDIR")
    # ``.do_`` after the name: the stamps of 1.0-r0, not those of 1.0-r0.1; the hidden names are what a
    # killed build left while writing sigdata
    stamps = sorted(glob.glob(glob.escape(stamp) + ".do_*") + glob.glob(os.path.join(
        glob.escape(directory), "." + glob.escape(name) + ".do_*.tmp")))
    for path in stamps:
        try:
            remove_under(root, path)
        except PathEscape as exc:
            logger.warning("Not removing %s: %s", path, exc.message)
    if stamps:
        logger.info("Removed the stamps %s.do_*", stamp)
    for task in sstate_tasks(d):
        for index, dest in enumerate(str(d.getVarFlag(task, "sstate-outputdirs") or "").split()):
            manifest = manifest_path(_get(d, "SSTATE_MANIFESTS"), stamp, _get(d, "PACKAGE_ARCH"), _get(d, "PN"),
                                     task, index)
            if not os.path.exists(manifest):
                continue
            for rel in uninstall_tree(dest, manifest):
                logger.warning("Not removing %s of %s: it leads outside %s through a link", rel, task, dest)
            logger.info("Removed what %s installed in %s", task, dest)
            _prune(dest)
    _prune(os.path.dirname(workdir))
    _prune(directory)


def _prune(directory: str) -> None:
    """Remove ``directory`` if cleaning left it empty (a recipe's own sysroot component, stamps directory)."""
    with contextlib.suppress(OSError):
        os.rmdir(directory)


def sstate_clean_cachefiles(d: Any) -> None:
    """``do_cleansstate``: the recipe's shared-state objects in SSTATE_DIR, for every taskhash."""
    sstate = Sstate(_get(d, "SSTATE_DIR"))
    for task in sstate_tasks(d):
        for path in sstate.remove_objects(_get(d, "PN"), _get(d, "PACKAGE_ARCH"), _get(d, "PV"), _get(d, "PR"), task):
            logger.info("Removed %s", path)
