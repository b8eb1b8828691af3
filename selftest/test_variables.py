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


# -- the variables the code reads ---------------------------------------------------------------------
#: ``getVar("X")``, ``getVarFlag("X", ...)`` on any object, and ``get("X")``, ``words("X")``, ``flag("X", ...)``
#: on a task context's variable view (``ctx.vars``, or ``v``/``d`` bound to it) in Python; an f-string
#: ``getVar(f"X:{pkg}")`` reads X with a package override. Names are upper case. Other mappings
#: (``os.environ``, os-release fields, unit-file settings) are not the datastore and are not read.
_PY_READ = re.compile(r"""(?:\b(?:getVar|getVarFlag|getVarFlags)|(?:\.vars|\bv|\bd)\.(?:get|words|flag))"""
                      r"""\(\s*f?["'](_*[A-Z][A-Z0-9_]*)(?=["':{])""")
#: ``${X}`` and ``d.getVar('X')`` in classes (upper case: lower-case ``${...}`` are also shell variables).
_CLASS_READ = (re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}"), re.compile(r"""getVar\(\s*["']([A-Za-z_][A-Za-z0-9_]*)"""))

#: Names the code reads that are deliberately not in the table, each with the reason. Names starting with
#: ``__`` (``__BBTASKS``, ``__SKIPPED``, ``__inherit_cache``...) are the engine's own bookkeeping, as in
#: BitBake, and are left out without being listed here.
_INTERNAL: dict[str, str] = {}


def _family_covered(name: str, names: set[str]) -> bool:
    """X:<package> and X_<collection> families are listed by the family name or by X itself."""
    base = name.rstrip("_")  # f"BBFILE_PATTERN_{name}" reads BBFILE_PATTERN_<collection>
    return name in names or any(n.startswith((f"{base}:<", f"{base}_<")) for n in names)


def _reads() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "layerbuild").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for m in _PY_READ.finditer(line):
                found.setdefault(m.group(1), []).append(f"{rel}:{number}")
    for path in sorted((ROOT / "classes").glob("*.bbclass")):
        rel = path.relative_to(ROOT).as_posix()
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for pattern in _CLASS_READ:
                for m in pattern.finditer(line):
                    found.setdefault(m.group(1), []).append(f"{rel}:{number}")
    return found


def test_variables_the_code_reads_are_in_the_table() -> None:
    names = {v.name for v in VARIABLES}
    reads = _reads()
    assert "SRC_URI" in reads and "PN" in reads  # the patterns read the code at all
    missing = {name: where for name, where in reads.items()
               if not name.startswith("__") and name not in _INTERNAL and not _family_covered(name, names)}
    assert not missing, ("variables the code reads but layerbuild/variables.py does not list (add each with "
                         "type, default and doc, then run python -m layerbuild.variables > docs/variables.md):\n"
                         + "\n".join(f"  {name}: {', '.join(where[:3])}" for name, where in sorted(missing.items())))
