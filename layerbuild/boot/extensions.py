"""System and configuration extensions merged into a subhost, with systemd-sysext's compatibility rules.

A sysext carries ``usr/lib/extension-release.d/extension-release.NAME`` and brings ``/usr`` and ``/opt``;
a confext carries ``etc/extension-release.d/extension-release.NAME`` and brings ``/etc``. Each is checked
against the subhost's os-release exactly as systemd-sysext (and systemd-confext, 254+) checks an image
against the host, and an extension that does not match is refused with systemd's reason, never merged.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass

from layerbuild.util import osrelease
from layerbuild.util.errors import LayerbuildError

#: extension kind -> the hierarchies it brings
HIERARCHIES = {"sysext": ("usr", "opt"), "confext": ("etc",)}
_RELEASE_DIRS = {"sysext": "usr/lib/extension-release.d", "confext": "etc/extension-release.d"}
_LEVEL = {"sysext": "SYSEXT_LEVEL", "confext": "CONFEXT_LEVEL"}
_SCOPE = {"sysext": "SYSEXT_SCOPE", "confext": "CONFEXT_SCOPE"}


@dataclass(frozen=True)
class Extension:
    """An extension tree (a mounted image or a directory) with what it is and its release fields."""

    name: str
    root: str
    kind: str  # "sysext" or "confext"
    release: Mapping[str, str]

    @property
    def hierarchies(self) -> tuple[str, ...]:
        return tuple(h for h in HIERARCHIES[self.kind] if os.path.isdir(os.path.join(self.root, h)))


def extension_name(path: str) -> str:
    """The name systemd gives an extension image or directory: its file name without ``.raw``."""
    return os.path.basename(path.rstrip("/")).removesuffix(".raw")


def host_architecture() -> str:
    """This machine's architecture by systemd's name (``x86-64``, ``arm64``, ...), as systemd-sysext compares it."""
    from layerbuild.image.extension import systemd_architecture  # only when an extension is merged
    try:
        return systemd_architecture(platform.machine())
    except LayerbuildError:
        return platform.machine()


def os_release_of(root: str) -> dict[str, str]:
    """The os-release of the tree at ``root`` (``etc/os-release``, else ``usr/lib/os-release``), or empty."""
    for rel in ("etc/os-release", "usr/lib/os-release"):
        path = os.path.join(root, rel)
        if os.path.isfile(path):
            return osrelease.read(path)
    return {}


def inspect(name: str, root: str) -> list[Extension]:
    """The extensions the tree at ``root`` holds: a sysext, a confext, or both (one per release file)."""
    found = []
    for kind, directory in _RELEASE_DIRS.items():
        release = os.path.join(root, directory, f"extension-release.{name}")
        if os.path.isfile(release):
            found.append(Extension(name, root, kind, osrelease.read(release)))
    if not found:
        raise LayerbuildError(f"extension '{name}' carries no extension-release data "
                              f"({_RELEASE_DIRS['sysext']}/extension-release.{name} or "
                              f"{_RELEASE_DIRS['confext']}/extension-release.{name}), refusing to merge it",
                              hint="the release file must be named after the image file without .raw")
    return found


def check(ext: Extension, host: Mapping[str, str], architecture: str | None = None) -> None:
    """Raise unless ``ext`` fits a system whose os-release is ``host`` (systemd's extension_release_validate)."""
    reason = incompatibility(ext.name, ext.kind, ext.release, host, architecture or host_architecture())
    if reason:
        raise LayerbuildError(f"{reason}; refusing to merge it", hint="build the extension against this base image")


def incompatibility(name: str, kind: str, release: Mapping[str, str], host: Mapping[str, str],
                    architecture: str) -> str | None:
    """Why an extension of ``kind`` with ``release`` does not fit ``host``, or None when it fits."""
    what = "Extension" if kind == "sysext" else "Confext"
    if not release:
        return f"{what} '{name}' carries no extension-release data"
    scope = release.get(_SCOPE[kind], "")
    if scope and "system" not in scope.split():
        return f"{what} '{name}' is not suitable for scope system (it is for {scope})"
    arch = release.get("ARCHITECTURE", "")
    if arch and arch != "_any" and arch != architecture:
        return f"{what} '{name}' is for architecture '{arch}', but deployed on top of '{architecture}'"
    ext_id = release.get("ID", "")
    host_id = host.get("ID", "")
    if not ext_id:
        return f"{what} '{name}' does not contain ID in its extension-release but requested to match " \
               f"'{host_id}' or be '_any'"
    if ext_id == "_any":
        return None
    if ext_id != host_id:
        return f"{what} '{name}' is for OS '{ext_id}', but deployed on top of '{host_id}'"
    level_key = _LEVEL[kind]
    host_version, host_level = host.get("VERSION_ID", ""), host.get(level_key, "")
    if not host_version and not host_level:
        return None  # a rolling release: the ID is enough
    ext_level = release.get(level_key, "")
    if host_level and ext_level:
        if host_level != ext_level:
            return f"{what} '{name}' is for {kind} API level '{ext_level}', but running on {kind} API level " \
                   f"'{host_level}'"
        return None
    if host_version:
        ext_version = release.get("VERSION_ID", "")
        if not ext_version:
            return f"{what} '{name}' does not contain VERSION_ID in its extension-release but requested to " \
                   f"match '{host_version}'"
        if ext_version != host_version:
            return f"{what} '{name}' is for OS '{ext_id}' version '{ext_version}', but deployed on top of " \
                   f"'{host_id}' version '{host_version}'"
        return None
    return f"{what} '{name}' does not contain {level_key} in its extension-release but requested to match " \
           f"'{host_level}'"
