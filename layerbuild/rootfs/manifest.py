"""The image manifest: ``${IMAGE_NAME}.manifest``, one ``package arch version`` line per package, sorted."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Protocol

from layerbuild.util.fsutil import atomic_write


class _Package(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def arch(self) -> str: ...
    @property
    def version(self) -> str: ...


def manifest_text(packages: Iterable[_Package]) -> str:
    return "".join(f"{p.name} {p.arch} {p.version}\n" for p in sorted(packages, key=lambda p: p.name))


def write_manifest(path: str | os.PathLike[str], packages: Iterable[_Package]) -> None:
    """Write the manifest of ``packages`` (anything with name, arch and version) atomically."""
    atomic_write(path, manifest_text(packages))
