"""The import map: every module of ``layerbuild/`` imports only what its rule allows, and the engine
never imports the artifact side (nor the artifact side the engine), so the data flow stays one-way.

Imports are read with ``ast`` in every form: ``import layerbuild.x``, ``import layerbuild.x.y as z``,
``from layerbuild import x``, ``from layerbuild.x import y``, relative imports of any level, imports
inside functions, and ``importlib.import_module("layerbuild.x")`` with a constant name.
"""

from __future__ import annotations

import ast
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "layerbuild"
ROOT = PACKAGE.parent

#: The engine: metadata in, a task graph with signatures out, tasks scheduled. It knows nothing of
#: packages or images.
ENGINE = frozenset({
    "parse", "datastore", "evaluate", "cache", "providers", "taskgraph", "signatures", "sigdiff", "runqueue", "sstate",
    "tasks", "recipe", "config", "layers", "codeparse", "pyenv", "events", "reporters", "envdump", "clean",
    "sanity", "varnames",
})
#: The artifact side: sources, packages, root filesystems, images. ``builtins`` is its table of builtin task
#: functions; only the pipeline (session, build, cli) imports it.
ARTIFACT = frozenset({"fetch", "packaging", "rootfs", "image", "boot", "testimage", "deploy", "builtins"})
#: Neutral modules either side may import: small utilities and data models. ``taskapi`` is the boundary
#: (the task context and the builtin-registry types); ``variables`` (the table), ``vartypes`` (its types)
#: and ``values`` (reading through it) serve the engine and the task context alike.
NEUTRAL = frozenset({"errors", "fsutil", "proc", "version", "hashing", "log", "tarzst", "fstree", "osrelease",
                     "taskapi", "relations", "variables", "vartypes", "values", "rootdir", "arch"})

_UTIL = {"errors", "fsutil", "proc", "version", "hashing", "log", "relations"}
_ARTIFACT_BASE = _UTIL | {"taskapi", "tarzst", "fstree", "osrelease", "values", "vartypes", "rootdir"}

#: Module (or package: the rule covers everything below it) -> the layerbuild modules it may import
#: (a name allows everything below it too). The most specific rule wins; a module may always import
#: ``layerbuild`` itself (its ``__version__``) and the modules of its own package.
RULES: dict[str, set[str]] = {
    # foundation
    "errors": set(),
    "version": {"errors"},
    "relations": set(),
    "fsutil": {"errors"},
    "rootdir": {"errors"},
    "hashing": {"errors", "fsutil"},
    "log": {"errors"},
    "proc": {"errors", "fsutil", "log"},
    "tarzst": {"errors", "fsutil", "fstree", "proc", "rootdir"},
    "fstree": {"errors", "fsutil"},
    "osrelease": {"errors", "fsutil"},
    "vartypes": set(),
    "variables": {"vartypes"},
    "values": {"errors", "variables", "vartypes"},
    "arch": set(),
    "taskapi": _UTIL | {"values"},
    # engine
    # evaluate lazily: bb.build.addtask; clean only in a clean task
    "pyenv": {"errors", "version", "taskapi", "vartypes", "log", "evaluate", "clean"},
    "parse": {"errors", "datastore"},
    "datastore": {"errors", "pyenv", "log"},
    "evaluate": {"errors", "datastore", "parse", "pyenv", "taskapi", "log", "varnames"},
    "codeparse": {"errors"},
    "signatures": {"errors", "fsutil", "hashing", "codeparse", "datastore", "taskgraph", "version"},
    "sigdiff": {"errors", "signatures", "taskgraph"},
    "recipe": {"errors", "datastore", "evaluate", "pyenv", "relations", "signatures", "version"},
    "layers": {"errors", "datastore", "evaluate", "values", "version", "log"},
    "config": {"errors", "datastore", "evaluate", "layers", "pyenv", "taskapi", "values", "log"},
    "cache": {"errors", "fsutil", "hashing", "recipe"},
    "providers": {"errors", "recipe", "version", "log"},
    "taskgraph": {"errors", "fsutil", "providers", "recipe", "taskapi", "log"},
    "sstate": _UTIL | {"tarzst"},
    "clean": _UTIL | {"sstate"},
    "events": {"errors", "taskgraph"},
    "reporters": {"errors", "events", "taskgraph", "log"},
    "envdump": {"errors", "datastore", "pyenv", "vartypes"},
    "tasks": _UTIL | {"codeparse", "datastore", "envdump", "evaluate", "events", "pyenv", "recipe", "taskapi", "taskgraph"},
    "runqueue": _UTIL | {"events", "recipe", "signatures", "sstate", "taskapi", "taskgraph", "tasks", "vartypes"},
    "sanity": _UTIL | {"arch"},
    "varnames": {"errors", "parse", "variables"},
    # the pipeline and the commands
    "session": _UTIL | ENGINE | {"builtins", "build", "taskapi", "values"},
    "build": _UTIL | ENGINE | {"builtins", "session", "taskapi"},
    "layertool": _UTIL | ENGINE | {"session"},
    "cli": {"*"},
    # the artifact side
    "builtins": _ARTIFACT_BASE | {"fetch", "packaging", "rootfs", "image", "boot", "testimage", "deploy", "variables"},
    "fetch": _ARTIFACT_BASE,
    "packaging": _ARTIFACT_BASE | {"arch"},
    "rootfs": _ARTIFACT_BASE | {"packaging", "image"},
    # image code finds files next to the recipe (portable units) the way the fetcher does
    "image": _ARTIFACT_BASE | {"packaging", "rootfs", "fetch"},
    "boot": _ARTIFACT_BASE | {"image"},
    # image tests boot images in subhosts
    "testimage": _ARTIFACT_BASE | {"boot", "image", "rootfs"},
    "deploy": _ARTIFACT_BASE,
}

HOW_TO_FIX = (
    "the engine reaches the artifact side only through the builtin table (layerbuild/builtins.py, imported by "
    "the pipeline) and the task context (layerbuild/taskapi.py); move the shared piece to a neutral module "
    f"({', '.join(sorted(NEUTRAL))}) or pass it in as a plain value"
)


@dataclass(frozen=True)
class Import:
    source: str  # dotted module name below layerbuild ("" is the package itself)
    target: str
    path: Path
    line: int


def module_name(package: Path, path: Path) -> str:
    parts = list(path.relative_to(package).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(package: Path, dotted: str) -> bool:
    base = package.joinpath(*dotted.split(".")) if dotted else package
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _from_target(package: Path, base: str, name: str) -> str:
    """``from BASE import NAME`` imports the module BASE.NAME when there is one, else BASE."""
    dotted = f"{base}.{name}" if base else name
    return dotted if name != "*" and _is_module(package, dotted) else base


def imports_of(package: Path, path: Path) -> list[Import]:
    """The layerbuild modules that the file ``path`` imports, by dotted name below the package."""
    source = module_name(package, path)
    # the package a relative import starts from: the module's own package (a package's __init__ is its own)
    here = source.split(".") if path.name == "__init__.py" else source.split(".")[:-1]
    here = [p for p in here if p]
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "layerbuild" or alias.name.startswith("layerbuild."):
                    targets.append(alias.name.removeprefix("layerbuild").lstrip("."))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level - 1 > len(here):
                    continue  # beyond the package: not ours (and an ImportError at run time)
                base_parts = here[: len(here) - (node.level - 1)] + (node.module.split(".") if node.module else [])
            elif node.module and (node.module == "layerbuild" or node.module.startswith("layerbuild.")):
                base_parts = node.module.split(".")[1:]
            else:
                continue
            base = ".".join(base_parts)
            targets.extend(_from_target(package, base, alias.name) for alias in node.names)
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str) and node.args[0].value.startswith("layerbuild")
              and (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module"
                   or isinstance(node.func, ast.Name) and node.func.id in ("import_module", "__import__"))):
            targets.append(node.args[0].value.removeprefix("layerbuild").lstrip("."))
        found.extend(Import(source, t, path, getattr(node, "lineno", 0)) for t in targets)
    return sorted(found, key=lambda imp: imp.line)


def _rule_for(module: str) -> tuple[str, set[str]] | None:
    best = None
    for key, allowed in RULES.items():
        if module == key or module.startswith(key + "."):
            if best is None or len(key) > len(best[0]):
                best = (key, allowed)
    return best


def _top(dotted: str) -> str:
    return dotted.split(".")[0]


def _allows(allowed: set[str], target: str) -> bool:
    return "*" in allowed or any(target == a or target.startswith(a + ".") for a in allowed)


def check_imports(package: Path) -> list[str]:
    """Every import in ``package`` that breaks the layering, as ``path:line: what, and how to fix it``."""
    problems: list[str] = []
    for path in sorted(package.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        module = module_name(package, path)
        if not module:
            continue  # layerbuild/__init__.py: the version and nothing else
        where = path.relative_to(package.parent)
        rule = _rule_for(module)
        if rule is None:
            problems.append(f"{where}: no rule covers layerbuild.{module}; add {module!r} (or its package) to RULES "
                            "in selftest/test_layering.py with the layerbuild modules it may import")
            continue
        key, allowed = rule
        for imp in imports_of(package, path):
            target, src = imp.target, _top(module)
            if not target or _top(target) == src:
                continue  # the package's __version__, or a module of its own package
            head = f"{where}:{imp.line}: layerbuild.{module} imports layerbuild.{target}"
            if src in ENGINE and _top(target) in ARTIFACT:
                problems.append(f"{head}: the engine must not import the artifact side; {HOW_TO_FIX}")
            elif src in ARTIFACT and _top(target) in ENGINE:
                problems.append(f"{head}: the artifact side must not import the engine; take a "
                                "layerbuild.taskapi.TaskContext or plain typed arguments instead")
            elif not _allows(allowed, target):
                problems.append(f"{head}, which RULES[{key!r}] in selftest/test_layering.py does not allow; "
                                f"if the dependency is intended and keeps the data flow one-way, add {_top(target)!r} "
                                f"to RULES[{key!r}]")
    return problems


def test_import_map(baseline: list[str]) -> None:
    assert not baseline, "\n".join(baseline)


def test_rules_keep_engine_and_artifact_apart() -> None:
    """The allow-list itself never lets one side import the other."""
    for key, allowed in RULES.items():
        if _top(key) in ENGINE:
            assert not allowed & ARTIFACT, f"RULES[{key!r}] allows the artifact side: {sorted(allowed & ARTIFACT)}"
        if _top(key) in ARTIFACT:
            assert not allowed & ENGINE, f"RULES[{key!r}] allows the engine: {sorted(allowed & ENGINE)}"
    assert not ENGINE & ARTIFACT and not NEUTRAL & (ENGINE | ARTIFACT)


@pytest.fixture(scope="module")
def baseline() -> list[str]:
    """What the checker says of the package as it is (a copy reports the same, path for path)."""
    return check_imports(PACKAGE)


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "layerbuild"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return copy


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines())


def test_engine_importing_packaging_fails(tmp_path: Path, baseline: list[str]) -> None:
    copy = _copy(tmp_path)
    before = baseline
    runqueue = copy / "runqueue.py"
    with runqueue.open("a") as fh:
        fh.write("\nfrom .packaging import deb\n")
    after = check_imports(copy)
    added = [p for p in after if p not in before]
    assert added == [
        f"layerbuild/runqueue.py:{_lines(runqueue)}: layerbuild.runqueue imports layerbuild.packaging.deb: "
        f"the engine must not import the artifact side; {HOW_TO_FIX}"
    ], added
    assert len(after) == len(before) + 1


def test_engine_importing_fetch_inside_a_function_fails(tmp_path: Path, baseline: list[str]) -> None:
    copy = _copy(tmp_path)
    before = baseline
    sstate = copy / "sstate.py"
    with sstate.open("a") as fh:
        fh.write("\n\ndef _later() -> None:\n    import layerbuild.fetch\n")
    after = check_imports(copy)
    added = [p for p in after if p not in before]
    assert added == [
        f"layerbuild/sstate.py:{_lines(sstate)}: layerbuild.sstate imports layerbuild.fetch: "
        f"the engine must not import the artifact side; {HOW_TO_FIX}"
    ], added


def test_artifact_importing_the_engine_fails(tmp_path: Path, baseline: list[str]) -> None:
    copy = _copy(tmp_path)
    before = baseline
    target = copy / "packaging" / "deps.py"
    with target.open("a") as fh:
        fh.write("\nfrom ..datastore import store as _store\n")
    added = [p for p in check_imports(copy) if p not in before]
    assert added == [
        f"layerbuild/packaging/deps.py:{_lines(target)}: layerbuild.packaging.deps imports layerbuild.datastore.store: "
        "the artifact side must not import the engine; take a layerbuild.taskapi.TaskContext or plain typed "
        "arguments instead"
    ], added


def test_every_import_form_is_read(tmp_path: Path) -> None:
    pkg = tmp_path / "layerbuild"
    (pkg / "sub" / "inner").mkdir(parents=True)
    for name in ("__init__.py", "errors.py", "fsutil.py", "sub/__init__.py", "sub/inner/__init__.py",
                 "sub/inner/leaf.py", "sub/sibling.py"):
        (pkg / name).write_text("")
    (pkg / "sub" / "inner" / "mod.py").write_text(
        "import os\n"
        "import layerbuild.errors\n"
        "import layerbuild.sub.sibling as s\n"
        "from layerbuild import fsutil\n"
        "from layerbuild.errors import Location\n"
        "from . import leaf\n"
        "from .. import sibling\n"
        "from ...errors import LayerbuildError\n"
        "from ... import __version__\n"
        "def f():\n"
        "    from .leaf import thing\n"
        "    import importlib\n"
        "    importlib.import_module('layerbuild.fsutil')\n"
    )
    found = [(i.target, i.line) for i in imports_of(pkg, pkg / "sub" / "inner" / "mod.py")]
    assert found == [
        ("errors", 2), ("sub.sibling", 3), ("fsutil", 4), ("errors", 5), ("sub.inner.leaf", 6), ("sub.sibling", 7),
        ("errors", 8), ("", 9), ("sub.inner.leaf", 11), ("fsutil", 13),
    ]


def test_a_module_without_a_rule_fails(tmp_path: Path, baseline: list[str]) -> None:
    copy = _copy(tmp_path)
    before = baseline
    (copy / "newthing.py").write_text("")
    added = [p for p in check_imports(copy) if p not in before]
    assert added == ["layerbuild/newthing.py: no rule covers layerbuild.newthing; add 'newthing' (or its package) "
                     "to RULES in selftest/test_layering.py with the layerbuild modules it may import"]


def test_classes_reach_builtin_code_through_the_table() -> None:
    """Metadata names builtin task functions (run_builtin) instead of importing layerbuild modules by string."""
    offenders = []
    for path in sorted((ROOT / "classes").glob("*.bbclass")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            words = line.split()
            if len(words) >= 2 and words[0] in ("import", "from") and words[1].startswith("layerbuild"):
                offenders.append(f"classes/{path.name}:{number}: {line.strip()}")
    assert not offenders, ("class bodies import layerbuild modules; register the function in "
                           "layerbuild/builtins.py and call it by name:\n" + "\n".join(offenders))
