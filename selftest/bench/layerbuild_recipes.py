#!/usr/bin/env python3
"""Every recipe file layerbuild parsed, as JSON, in the shape bitbake_recipes.py writes for BitBake
(fn, pn, pe, pv, pr, provides, preferred, skipped). Run in a build directory with this checkout on
``PYTHONPATH``; oecompare.py runs it after ``layerbuild -p`` succeeded (so it reads the parse cache).

    PYTHONPATH=/path/to/layerbuild python3 selftest/bench/layerbuild_recipes.py > recipes.json
"""

from __future__ import annotations

import json
import os
import sys


def main() -> int:
    from layerbuild.session import parse_recipes, start_configuration

    result = parse_recipes(start_configuration(os.getcwd()))
    chosen = set(result.recipes.chosen.values())
    entries = []
    for fn, info in result.recipes.infos.items():
        entries.append({"fn": fn, "pn": info.pn, "pe": info.pe, "pv": info.pv, "pr": info.pr,
                        "provides": sorted(info.provides), "preferred": fn in chosen and not info.skipped,
                        "skipped": info.skipped})
    json.dump(sorted(entries, key=lambda e: e["fn"]), sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
