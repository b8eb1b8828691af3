"""The table of engine-known variables: docs/variables.md is generated from it and it covers the core config."""

from __future__ import annotations

import re
from pathlib import Path

from layerbuild.variables import TYPES, VARIABLES, markdown

ROOT = Path(__file__).resolve().parents[1]
# The first word of an assignment line, without a [flag]: `NAME[flag] ?= "..."` gives NAME.
_ASSIGNMENT = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_\-]*)(?:\[[^\]]*\])?\s*(?:\?\?=|\?=|:=|\+=|=\+|\.=|=\.|=)")


def _assigned(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        m = _ASSIGNMENT.match(line)
        if m:
            names.add(m.group(1))
    return names


def test_docs_match_table() -> None:
    text = (ROOT / "docs" / "variables.md").read_text()
    assert text == markdown(), "docs/variables.md is stale: run python -m layerbuild.variables > docs/variables.md"


def test_core_configuration_is_covered() -> None:
    names = {v.name for v in VARIABLES}
    assigned = _assigned(ROOT / "conf" / "layerbuild.conf")
    assert "PN" in assigned and "OVERRIDES" in assigned  # the pattern reads the file at all
    missing = sorted(assigned - names)
    assert not missing, f"variables assigned in conf/layerbuild.conf but missing from layerbuild/variables.py: {missing}"


def test_table_is_well_formed() -> None:
    names = [v.name for v in VARIABLES]
    assert len(names) == len(set(names)), "a variable is listed twice"
    for var in VARIABLES:
        assert var.type in TYPES, f"{var.name}: unknown type {var.type}"
        assert var.doc.strip(), f"{var.name}: no doc"
