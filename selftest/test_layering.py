"""The engine's import map: modules import only what their layer allows, keeping the data flow one-way."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "layerbuild"

# module (or package prefix) -> layerbuild modules it must not import
FORBIDDEN = {
    "errors": {"*"},
    "fsutil": {"*"},
    "version": {"*"},
    "datastore": {"parse", "evaluate", "config", "layers", "session", "cli", "cache", "recipe", "providers",
                  "image", "envdump"},
    "parse": {"evaluate", "config", "layers", "session", "cli", "cache", "recipe", "providers", "image"},
    "evaluate": {"config", "layers", "session", "cli", "cache", "recipe", "providers", "image"},
    "layers": {"config", "session", "cli", "cache", "recipe", "providers", "image"},
    "recipe": {"session", "cli", "cache", "providers", "image"},
    "config": {"session", "cli", "cache", "recipe", "providers", "image"},
    "cache": {"session", "cli", "image"},
    "image": {"session", "cli", "parse", "datastore", "evaluate", "config", "layers", "recipe", "cache"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    rel = path.relative_to(PACKAGE).with_suffix("")
    package_parts = list(rel.parts[:-1])
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package_parts[: len(package_parts) - (node.level - 1)]
            target = base + (node.module.split(".") if node.module else [])
            if target:
                found.add(target[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("layerbuild."):
            found.add(node.module.split(".")[1])
    return found


def test_import_map() -> None:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        key = rel.parts[0].removesuffix(".py")
        rules = FORBIDDEN.get(key)
        if not rules:
            continue
        for name in _imports(path) - {key}:
            if "*" in rules and name not in ("__init__",) or name in rules:
                problems.append(f"{rel} imports layerbuild.{name}")
    assert not problems, problems
