"""The import map, derived from the folders: ``layerbuild/engine/`` reads metadata and schedules tasks and
never imports the artifact side; the artifact folders (``fetch/``, ``packaging/``, ``rootfs/``, ``image/``,
``boot/``, ``testimage/``, and ``builtins.py``, their table) never import the engine; ``layerbuild/util/``
holds the neutral modules both use and imports nothing else; ``taskapi.py`` is the boundary between the
sides; the other top-level modules are the pipeline and the commands, which may import anything. So the
data flow stays one-way, and where a module lives says what it may import. No module imports itself
through others: the package has no import cycle, counting every import (``TYPE_CHECKING`` ones too).

Imports are read with ``ast`` in every form: ``import layerbuild.x``, ``import layerbuild.x.y as z``,
``from layerbuild import x``, ``from layerbuild.x import y``, relative imports of any level, imports
inside functions, and ``importlib.import_module("layerbuild.x")`` with a constant name.
"""

from __future__ import annotations

import ast
import shutil
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "layerbuild"
ROOT = PACKAGE.parent

#: The top-level modules that are not the pipeline: the boundary (the task context and the builtin-registry
#: types) and the artifact side's table of builtin task functions (only the pipeline imports it).
BOUNDARY = "taskapi"
ARTIFACT_TABLE = "builtins"

#: side -> the sides it may import (besides itself)
MAY_IMPORT: dict[str, frozenset[str]] = {
    "util": frozenset(),
    "boundary": frozenset({"util"}),
    "engine": frozenset({"util", "boundary"}),
    "artifact": frozenset({"util", "boundary"}),
    "pipeline": frozenset({"util", "boundary", "engine", "artifact"}),
}

#: docs/architecture.md promises both
MAX_LINES = 800

HOW_TO_FIX = (
    "the engine reaches the artifact side only through the builtin table (layerbuild/builtins.py, imported by "
    "the pipeline) and the task context (layerbuild/taskapi.py); move the shared piece to layerbuild/util/ "
    "or pass it in as a plain value"
)
WHY = {
    ("engine", "artifact"): f"the engine must not import the artifact side; {HOW_TO_FIX}",
    ("artifact", "engine"): "the artifact side must not import the engine; take a layerbuild.taskapi.TaskContext "
                            "or plain typed arguments instead",
    ("util", None): "layerbuild/util/ holds the neutral modules and imports only layerbuild/util/; move the piece "
                    "it needs into layerbuild/util/ or pass it in",
    ("boundary", None): "the task context is the boundary between the sides and imports only layerbuild/util/",
    (None, "pipeline"): "only the pipeline and the commands import the pipeline; pass what is needed in",
}


def side(module: str, package: Path = PACKAGE) -> str:
    """The side of a dotted module name below layerbuild, from where it lives."""
    top, _, rest = module.partition(".")
    if top in ("engine", "util"):
        return top
    if top == BOUNDARY:
        return "boundary"
    if top == ARTIFACT_TABLE or (package / top).is_dir() or rest:
        return "artifact"
    return "pipeline"


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


def _modules(package: Path) -> list[Path]:
    return [p for p in sorted(package.rglob("*.py")) if "__pycache__" not in p.parts]


def check_imports(package: Path) -> list[str]:
    """Every import in ``package`` that crosses the sides the wrong way, as ``path:line: what, and how to fix it``."""
    problems: list[str] = []
    for path in _modules(package):
        module = module_name(package, path)
        if not module:
            continue  # layerbuild/__init__.py: the version and nothing else
        where = path.relative_to(package.parent)
        src = side(module, package)
        for imp in imports_of(package, path):
            if not imp.target:
                continue  # the package's __version__
            dst = side(imp.target, package)
            if dst == src or dst in MAY_IMPORT[src]:
                continue
            why = WHY.get((src, dst)) or WHY.get((src, None)) or WHY[(None, dst)]
            problems.append(f"{where}:{imp.line}: layerbuild.{module} ({src}) imports layerbuild.{imp.target} "
                            f"({dst}): {why}")
    return problems


CYCLE_FIX = ("break it: move what both sides need to a module both can import in one direction (the shared "
             "types beside the code that makes them), or pass it in (as the evaluator hands the datastore its "
             "Python globals)")


def import_cycles(package: Path) -> list[str]:
    """Every import cycle in ``package``, each named by the chain of its imports (``path:line imports X``),
    starting from its first module by name."""
    graph: nx.DiGraph = nx.DiGraph()
    for path in _modules(package):
        for imp in imports_of(package, path):
            if imp.target != imp.source and not graph.has_edge(imp.source, imp.target):
                # the first line that imports it (imports_of lists them by line)
                graph.add_edge(imp.source, imp.target, where=f"{path.relative_to(package.parent)}:{imp.line}")
    found = []
    for cycle in nx.simple_cycles(graph):
        start = cycle.index(min(cycle))
        found.append(cycle[start:] + cycle[:start])

    def dotted(module: str) -> str:
        return f"layerbuild.{module}" if module else "layerbuild"

    problems = []
    for cycle in sorted(found):
        chain = " -> ".join(dotted(m) for m in [*cycle, cycle[0]])
        edges = [f"  {graph.edges[a, b]['where']} imports {dotted(b)}"
                 for a, b in zip(cycle, [*cycle[1:], cycle[0]], strict=True)]
        problems.append("\n".join([f"import cycle: {chain}", *edges]))
    return problems


def long_modules(package: Path) -> list[str]:
    return [f"{path.relative_to(package.parent)}: {n} lines, more than {MAX_LINES}; split it by noun"
            for path in _modules(package) if (n := _lines(path)) > MAX_LINES]


def test_import_map(baseline: list[str]) -> None:
    assert not baseline, "\n".join(baseline)


def test_no_import_cycle() -> None:
    cycles = import_cycles(PACKAGE)
    assert not cycles, "\n".join([*cycles, CYCLE_FIX])


def test_no_module_is_longer_than_the_limit() -> None:
    assert not long_modules(PACKAGE), "\n".join(long_modules(PACKAGE))


def test_sides_come_from_the_folders() -> None:
    assert side("engine.datastore.store") == "engine" and side("engine.runqueue") == "engine"
    assert side("util.fsutil") == side("util") == "util"
    assert side("packaging.deb") == side("boot") == side("builtins") == "artifact"
    assert side("taskapi") == "boundary"
    assert side("session") == side("cli") == "pipeline"
    for name in ("parse", "datastore", "runqueue", "signatures", "sstate"):
        assert (PACKAGE / "engine" / name).is_dir() or _is_module(PACKAGE, f"engine.{name}"), name
    for name in ("errors", "fsutil", "proc", "rootdir", "variables"):
        assert _is_module(PACKAGE, f"util.{name}"), name


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


def _added(copy: Path, before: list[str]) -> list[str]:
    return [p for p in check_imports(copy) if p not in before]


def test_engine_importing_packaging_fails(tmp_path: Path, baseline: list[str]) -> None:
    copy = _copy(tmp_path)
    runqueue = copy / "engine" / "runqueue.py"
    with runqueue.open("a") as fh:
        fh.write("\nfrom ..packaging import deb\n")
    assert _added(copy, baseline) == [
        f"layerbuild/engine/runqueue.py:{_lines(runqueue)}: layerbuild.engine.runqueue (engine) imports "
        f"layerbuild.packaging.deb (artifact): the engine must not import the artifact side; {HOW_TO_FIX}"
    ]


def test_engine_importing_fetch_inside_a_function_fails(tmp_path: Path, baseline: list[str]) -> None:
    copy = _copy(tmp_path)
    sstate = copy / "engine" / "sstate.py"
    with sstate.open("a") as fh:
        fh.write("\n\ndef _later() -> None:\n    import layerbuild.fetch\n")
    assert _added(copy, baseline) == [
        f"layerbuild/engine/sstate.py:{_lines(sstate)}: layerbuild.engine.sstate (engine) imports layerbuild.fetch "
        f"(artifact): the engine must not import the artifact side; {HOW_TO_FIX}"
    ]


def test_artifact_importing_the_engine_fails(tmp_path: Path, baseline: list[str]) -> None:
    copy = _copy(tmp_path)
    target = copy / "packaging" / "deps.py"
    with target.open("a") as fh:
        fh.write("\nfrom ..engine.datastore import store as _store\n")
    assert _added(copy, baseline) == [
        f"layerbuild/packaging/deps.py:{_lines(target)}: layerbuild.packaging.deps (artifact) imports "
        "layerbuild.engine.datastore.store (engine): the artifact side must not import the engine; take a "
        "layerbuild.taskapi.TaskContext or plain typed arguments instead"
    ]


def test_util_importing_anything_else_fails(tmp_path: Path, baseline: list[str]) -> None:
    copy = _copy(tmp_path)
    target = copy / "util" / "fsutil.py"
    with target.open("a") as fh:
        fh.write("\nfrom layerbuild.taskapi import TaskContext as _T\nfrom layerbuild import session as _s\n")
    n = _lines(target)
    assert _added(copy, baseline) == [
        f"layerbuild/util/fsutil.py:{n - 1}: layerbuild.util.fsutil (util) imports layerbuild.taskapi (boundary): "
        f"{WHY[('util', None)]}",
        f"layerbuild/util/fsutil.py:{n}: layerbuild.util.fsutil (util) imports layerbuild.session (pipeline): "
        f"{WHY[('util', None)]}",
    ]


def test_a_new_folder_is_the_artifact_side_and_a_new_top_module_the_pipeline(tmp_path: Path,
                                                                               baseline: list[str]) -> None:
    copy = _copy(tmp_path)
    (copy / "newthing.py").write_text("from layerbuild.engine import runqueue\n")
    (copy / "attest").mkdir()
    (copy / "attest" / "__init__.py").write_text("")
    (copy / "attest" / "spdx.py").write_text("from layerbuild.engine import runqueue\nfrom layerbuild import newthing\n")
    assert _added(copy, baseline) == [
        "layerbuild/attest/spdx.py:1: layerbuild.attest.spdx (artifact) imports layerbuild.engine.runqueue (engine): "
        f"{WHY[('artifact', 'engine')]}",
        "layerbuild/attest/spdx.py:2: layerbuild.attest.spdx (artifact) imports layerbuild.newthing (pipeline): "
        f"{WHY[(None, 'pipeline')]}",
    ]


def test_a_planted_import_cycle_is_named_edge_by_edge(tmp_path: Path) -> None:
    """One cycle through an import inside a function, one through imports only the type checker reads."""
    copy = _copy(tmp_path)
    events = copy / "engine" / "events.py"
    with events.open("a") as fh:
        fh.write("\n\ndef _later() -> None:\n    from layerbuild.engine import reporters  # noqa: F401\n")
    signatures = copy / "engine" / "signatures.py"
    with signatures.open("a") as fh:
        fh.write("\nif TYPE_CHECKING:\n    from layerbuild.engine.sigdiff import DependencyChanged\n")

    def line_of(path: Path, text: str) -> int:
        return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if line.startswith(text))

    reporters, sigdiff = copy / "engine" / "reporters.py", copy / "engine" / "sigdiff.py"
    assert import_cycles(copy) == [
        "import cycle: layerbuild.engine.events -> layerbuild.engine.reporters -> layerbuild.engine.events\n"
        f"  layerbuild/engine/events.py:{_lines(events)} imports layerbuild.engine.reporters\n"
        f"  layerbuild/engine/reporters.py:{line_of(reporters, 'from layerbuild.engine.events import')} imports "
        "layerbuild.engine.events",
        "import cycle: layerbuild.engine.sigdiff -> layerbuild.engine.signatures -> layerbuild.engine.sigdiff\n"
        f"  layerbuild/engine/sigdiff.py:{line_of(sigdiff, 'from layerbuild.engine.signatures import')} imports "
        "layerbuild.engine.signatures\n"
        f"  layerbuild/engine/signatures.py:{_lines(signatures)} imports layerbuild.engine.sigdiff",
    ]


def test_a_long_module_is_named(tmp_path: Path) -> None:
    copy = _copy(tmp_path)
    (copy / "engine" / "big.py").write_text("x = 1\n" * (MAX_LINES + 1))
    assert long_modules(copy) == [f"layerbuild/engine/big.py: {MAX_LINES + 1} lines, more than {MAX_LINES}; "
                                  "split it by noun"]


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
