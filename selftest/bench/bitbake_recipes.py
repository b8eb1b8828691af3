#!/usr/bin/env python3
"""Every recipe file BitBake parsed, as JSON: one entry per target (``virtual:native:FILE`` variants
included) with its PN, version, PROVIDES, whether it is the preferred provider of its PN, and the
reason when it was skipped.

Run with BitBake's ``lib/`` on ``PYTHONPATH``, in a BitBake build directory (``oecompare.py reference``
does both):

    PYTHONPATH=/path/to/bitbake/lib python3 selftest/bench/bitbake_recipes.py > recipes.json
"""

from __future__ import annotations

import json
import sys


def main() -> int:
    import bb.tinfoil  # type: ignore[import-not-found]

    with bb.tinfoil.Tinfoil(output=sys.stderr) as tinfoil:
        tinfoil.prepare(config_only=False, quiet=2)
        cache = tinfoil.cooker.recipecaches[""]
        _latest, preferred, _required = tinfoil.find_providers()
        chosen = {fn for _ver, fn in preferred.values()}
        entries = []
        for fn, pn in cache.pkg_fn.items():
            pe, pv, pr = cache.pkg_pepvpr[fn]
            entries.append({"fn": fn, "pn": pn, "pe": pe, "pv": pv, "pr": pr,
                            "provides": sorted(cache.fn_provides[fn]), "preferred": fn in chosen,
                            "skipped": None})
        for fn, skipped in tinfoil.get_skipped_recipes().items():
            entries.append({"fn": fn, "pn": skipped.pn, "pe": None, "pv": None, "pr": None,
                            "provides": sorted(skipped.provides or ()), "preferred": False,
                            "skipped": skipped.skipreason})
    json.dump(sorted(entries, key=lambda e: e["fn"]), sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
