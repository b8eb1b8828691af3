"""Pruning shared state: objects not used for a while leave a local SSTATE_DIR or a remote store.

An object's last use is the latest of its own time and its companions' (``.siginfo``, ``.sig``,
``.access``): in a local directory their modification or access time (a restore from ``SSTATE_DIR`` sets
the object's access time); on a store, the time it was written or its ``.access`` record was, which a
build writes when it restores the object from its ``SSTATE_UPLOAD`` store. Objects are never rewritten,
so S3 lifecycle rules and versioning see each written once. A pruned object loses its ``.siginfo``
first: a build looking it up meanwhile finds nothing rather than a siginfo without its object.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from layerbuild.util.objectstore import Entry, Store

OBJECT_SUFFIX = ".tar.zst"
#: what lives beside an object, deleted in this order, the object last
COMPANIONS = (".siginfo", ".sig", ".access")


@dataclass
class Pruned:
    store: str
    removed: list[tuple[str, int, float]] = field(default_factory=list)  # object, bytes with companions, last use
    kept: int = 0

    @property
    def freed(self) -> int:
        return sum(size for _key, size, _when in self.removed)


def _owner(key: str) -> str:
    for suffix in COMPANIONS:
        if key.endswith(OBJECT_SUFFIX + suffix):
            return key[: -len(suffix)]
    return key


def prune(store: Store, older_than_days: float, dry_run: bool = False, now: float | None = None) -> Pruned:
    """Remove the objects of ``store`` (with their companions) last used more than ``older_than_days``
    ago; with ``dry_run``, only say which."""
    cutoff = (time.time() if now is None else now) - older_than_days * 86400
    groups: dict[str, list[Entry]] = {}
    for entry in store.entries():
        owner = _owner(entry.key)
        if owner.endswith(OBJECT_SUFFIX):
            groups.setdefault(owner, []).append(entry)
    result = Pruned(store.url)
    for owner, entries in sorted(groups.items()):
        last = max(e.mtime for e in entries)
        if last >= cutoff:
            result.kept += 1
            continue
        result.removed.append((owner, sum(e.size for e in entries), last))
        if dry_run:
            continue
        present = {e.key for e in entries}
        for key in [owner + s for s in COMPANIONS] + [owner]:
            if key in present:
                store.delete(key)
    return result
