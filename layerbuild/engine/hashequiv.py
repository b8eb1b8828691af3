"""Hash equivalence, as BitBake and OE have it: tasks whose outputs are the same share one unique hash.

When a shared-state task finishes, its output hash (:func:`layerbuild.util.hashing.output_hash`, OE's
``OEOuthashBasic``) is reported to the records store ``BB_HASHSERVE`` names
(:mod:`layerbuild.util.recordstore`). The first taskhash that produced an output gives that output its
unique hash (unihash); a later taskhash with the same output takes the same unihash. A task's taskhash
covers the unihashes of its dependencies, and stamps, sigdata and sstate objects are named by unihash, so
a change that leaves a task's output as it was (a comment in a C file) stops there: whatever depends on
that task keeps its hash and is up to date or restored from the shared state.

Two kinds of record, each written once (first writer wins), as the tables of BitBake's hash server:
``outhash/<method>/<xx>/<outhash>`` (the taskhash that first produced the output, and its unihash) and
``unihash/<method>/<xx>/<taskhash>`` (the unihash a taskhash was given, and its output hash). A store that
cannot be read or written is a warning; the build goes on with each task's taskhash as its unihash.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field

from layerbuild.util.hashing import output_hash
from layerbuild.util.recordstore import RecordStore, StoreUnavailable

logger = logging.getLogger("layerbuild.hashequiv")

#: the method in the record keys: outputs are equivalent only when hashed the same way
#: (OE's SSTATE_HASHEQUIV_METHOD, oe.sstatesig.OEOuthashBasic)
METHOD = "layerbuild.OutputHashBasic"
#: changes whenever :func:`output_hash` would hash the same output differently
HASH_VERSION = "1"
_HASH = re.compile("[0-9a-f]{64}")


def _key(kind: str, h: str) -> str:
    return f"{kind}/{METHOD}/{h[:2]}/{h}"


def _record(data: bytes | None, field_name: str) -> dict[str, str] | None:
    """A record's fields when it is one (``field_name`` a 64-digit hash), else None (a warning)."""
    if data is None:
        return None
    try:
        fields = json.loads(data)
        if isinstance(fields, dict) and _HASH.fullmatch(str(fields.get(field_name))):
            return {k: str(v) for k, v in fields.items()}
    except ValueError:
        pass
    logger.warning("hash equivalence: ignoring a malformed record (%r)", data[:80])
    return None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What reporting a task's output gave: its unihash, its output hash, and why the store was not used."""

    unihash: str
    outhash: str
    problem: str | None = None


def output_header(pn: str, arch: str, pv: str, pr: str, task: str) -> str:
    """What names the output in its hash, as OE's ``SSTATE_PKGSPEC`` and task name do: outputs of two
    recipes, or two tasks, are never equivalent."""
    return f"{METHOD}\n{HASH_VERSION}\nSSTATE_PKGSPEC=sstate:{pn}:{arch}:{pv}:{pr}::\ntask={task}\n"


def report_output(store: RecordStore, taskhash: str, unihash: str, trees: list[str], header: str,
                  owners: bool) -> Outcome:
    """Hash the output ``trees`` of the task that ran as ``taskhash`` (planned as ``unihash``) and report it:
    the unihash it takes is the one the first taskhash with this output was given. A store that fails
    leaves ``unihash`` as it was and says why."""
    outhash = output_hash(trees, header, owners)
    try:
        record = json.dumps({"taskhash": taskhash, "unihash": unihash}, sort_keys=True).encode()
        chosen = unihash
        if not store.put_if_absent(_key("outhash", outhash), record):
            first = _record(store.get(_key("outhash", outhash)), "unihash")
            chosen = first["unihash"] if first else unihash
        mapping = json.dumps({"outhash": outhash, "unihash": chosen}, sort_keys=True).encode()
        if not store.put_if_absent(_key("unihash", taskhash), mapping):
            # another build reported this taskhash first (or it was known): its record stands
            known = _record(store.get(_key("unihash", taskhash)), "unihash")
            chosen = known["unihash"] if known else chosen
    except StoreUnavailable as exc:
        return Outcome(unihash, outhash, f"hash equivalence store {store.url} is unavailable ({exc}); "
                                         "building without hash equivalence")
    return Outcome(chosen, outhash)


@dataclass
class Equivalence:
    """A build's view of the store: the unihash of each taskhash it asked about (and the output hash that
    gave it, when known), asked once. ``store`` None: no hash equivalence (``BB_HASHSERVE = ""``, or the
    store failed: ``problem`` says how, once)."""

    store: RecordStore | None
    known: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    problem: str | None = None

    def disable(self, problem: str) -> None:
        if self.store is not None:
            self.store = None
            self.problem = problem

    def unihash(self, taskhash: str) -> tuple[str, str | None]:
        """The unihash the store gives ``taskhash`` (the taskhash itself when it knows none) and its outhash."""
        found = self.known.get(taskhash)
        if found is not None:
            return found
        if self.store is None:
            return taskhash, None
        try:
            record = _record(self.store.get(_key("unihash", taskhash)), "unihash")
        except StoreUnavailable as exc:
            self.disable(f"hash equivalence store {self.store.url} is unavailable ({exc}); "
                         "building without hash equivalence")
            return taskhash, None
        result = (record["unihash"], record.get("outhash")) if record else (taskhash, None)
        self.known[taskhash] = result
        return result

    def learn(self, taskhash: str, unihash: str, outhash: str | None) -> None:
        self.known[taskhash] = (unihash, outhash)


def owners_matter(task: str) -> bool:
    """Whether owners and group/other permissions are part of ``task``'s output hash: when the build runs
    as root, where files get the owners their recipe gives them (OE: under pseudo), except in package
    archives, whose files are the builder's."""
    return os.geteuid() == 0 and "package_write_" not in task
