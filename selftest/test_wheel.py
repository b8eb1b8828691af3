"""The installed package: an sdist, a wheel built from it, and that wheel in a fresh virtual environment
runs ``layerbuild -p`` and a small real build with the default layer it carries (no checkout around it).

Offline: the wheel is built without build isolation and installed with ``--no-deps`` into a venv that sees
the system's site-packages for the dependencies.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _layer_dirs() -> tuple[str, ...]:
    """The default layer's directories, as setup.py ships them."""
    for node in ast.parse((ROOT / "setup.py").read_text()).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "LAYER_DIRS" for t in node.targets):
            return tuple(ast.literal_eval(node.value))
    raise AssertionError("setup.py has no LAYER_DIRS")


#: What an sdist is made from (everything else in a checkout is tests, docs and CI).
SOURCES = ("layerbuild", *_layer_dirs(), "pyproject.toml", "setup.py", "MANIFEST.in", "README.md")


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(argv, cwd=cwd, env=env, text=True, capture_output=True)
    assert r.returncode == 0, f"{' '.join(argv)} exited {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r


def _sdist(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        else:
            shutil.copy2(path, src / name)
    dist = tmp_path / "dist"
    _run([sys.executable, "-c", f"from setuptools import build_meta; build_meta.build_sdist({str(dist)!r})"], src)
    (archive,) = dist.glob("layerbuild-*.tar.gz")
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "sdist", filter="data")
    (tree,) = (tmp_path / "sdist").iterdir()
    return tree


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_builds_with_its_own_layer(tmp_path: Path) -> None:
    tree = _sdist(tmp_path)
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
          "-w", str(wheels), str(tree)], tmp_path)
    (wheel,) = wheels.glob("layerbuild-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in ("layerbuild/layer/conf/layer.conf", "layerbuild/layer/conf/templates/bblayers.conf.sample",
                    "layerbuild/layer/classes/base.bbclass",
                    "layerbuild/layer/recipes/recipes-example/hello/files/hello.c",
                    "layerbuild/engine/parse/parser.py"):
        assert shipped in names, f"{shipped} is not in {wheel.name}"

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], tmp_path)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
          "--force-reinstall", str(wheel)], tmp_path)

    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    r = _run([str(python), "-c", "import layerbuild.engine.config as c; print(c.__file__); print(c.DEFAULT_LAYER)"],
             work, env)
    module, layer = r.stdout.splitlines()
    site = Path(module).parents[1]  # layerbuild/engine/config.py -> layerbuild/
    assert site.is_relative_to(venv), f"layerbuild was imported from {module}, not from the venv"
    assert Path(layer) == site / "layer"

    lb = str(venv / "bin" / "layerbuild")
    r = _run([lb, "-p"], work, env)
    assert f"Created build directory {work / 'build'}" in r.stderr
    assert "0 errors" in r.stdout
    assert str(site / "layer") in (work / "build/conf/bblayers.conf").read_text()

    r = _run([lb, "hello"], work, env)
    assert "Build succeeded" in r.stdout + r.stderr
    (deb,) = (work / "build/tmp/deploy/deb").glob("*/hello_1.0-*.deb")
    listing = _run(["dpkg-deb", "--contents", str(deb)], work).stdout
    assert "./usr/bin/hello" in listing
