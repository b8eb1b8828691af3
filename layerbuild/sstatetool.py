"""``layerbuild-sstate``: maintaining shared state. ``prune --older-than DAYS [--dry-run] [LOCATION...]``
removes objects not used for DAYS days from each LOCATION (a directory or a store URL), by default the
build directory's ``SSTATE_DIR`` and ``SSTATE_UPLOAD``, and says how many bytes it freed."""

from __future__ import annotations

import argparse
import datetime
import os
from typing import TextIO

from layerbuild.engine.sstatemirror import store_base
from layerbuild.engine.sstateprune import prune
from layerbuild.util.errors import LayerbuildError
from layerbuild.util.objectstore import StoreError, open_store
from layerbuild.util.sizes import human_size


def _size(n: int) -> str:
    """``21.8 KiB (22323 bytes)``: readable, and exact for scripts."""
    return human_size(n) if n < 1024 else f"{human_size(n)} ({n} bytes)"


def locations_of(topdir: str) -> list[str]:
    """The build directory's SSTATE_DIR and SSTATE_UPLOAD."""
    from layerbuild.session import start_configuration
    d = start_configuration(topdir).d
    found = [f"file://{os.path.abspath(d.getVar('SSTATE_DIR') or os.path.join(topdir, 'sstate-cache'))}"]
    upload = (d.getVar("SSTATE_UPLOAD") or "").strip()
    if upload:
        found.append(store_base(upload))
    return found


def prune_command(args: argparse.Namespace, topdir: str | None, out: TextIO) -> int:
    if args.older_than < 0:
        raise LayerbuildError(f"--older-than {args.older_than}: a number of days, 0 or more")
    locations = [loc if "://" in loc else f"file://{os.path.abspath(loc)}" for loc in args.locations]
    if not locations:
        assert topdir is not None
        locations = locations_of(topdir)
    total = 0
    for url in locations:
        if url.startswith("file://") and not os.path.isdir(url[len("file://"):]):
            out.write(f"{url}: no such directory, nothing to prune\n")
            continue
        try:
            result = prune(open_store(url, args.timeout), args.older_than, args.dry_run)
        except StoreError as exc:
            raise LayerbuildError(f"cannot prune {url}: {exc.message}") from None
        verb = "would remove" if args.dry_run else "removed"
        for key, size, when in result.removed:
            day = datetime.datetime.fromtimestamp(when, datetime.UTC).strftime("%Y-%m-%d %H:%M")
            out.write(f"{verb} {key} ({_size(size)}, last used {day} UTC)\n")
        out.write(f"{result.store}: {len(result.removed)} objects {'to remove' if args.dry_run else 'removed'}, "
                  f"{_size(result.freed)} "
                  f"{'would be freed' if args.dry_run else 'freed'}; {result.kept} kept\n")
        total += result.freed
    if len(locations) > 1:
        out.write(f"Total: {_size(total)} {'would be freed' if args.dry_run else 'freed'}\n")
    return 0
