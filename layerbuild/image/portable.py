"""Portable service images: systemd's PORTABLE_SERVICES requirements over an installed tree.

``do_rootfs`` of ``image-portable`` installs the service's packages with their whole closure (the C
runtime comes in through the shared-library dependencies), then :func:`make_portable` turns the tree
into what ``portablectl attach`` needs, checking every requirement of the spec at build time:

1. the executables the units start are in the image, with every library they need;
2-4. a plain OS tree, later written as a read-only squashfs ``${PORTABLE_NAME}_${PV}.raw``, with
   ``usr/lib/os-release`` (``ID``, ``PORTABLE_PREFIXES`` and, as nixpkgs does, the description and home
   page); the unit files in ``usr/lib/systemd/system``, each named with the image's prefix followed by
   ``-``, ``.`` or ``@`` (portabled ignores the others);
5. empty ``/etc/resolv.conf`` and ``/etc/machine-id``;
6. the mount points ``/proc /sys /dev /run /tmp /var/tmp`` (squashfs is read-only: they must exist);
7. the dynamic loader at the path the executables name (``/lib64/ld-linux-x86-64.so.2``), and the
   merged-usr links ``/bin /sbin /lib /lib64`` -> ``usr/...``.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from layerbuild.fetch.local import search_dirs
from layerbuild.image.abi import check_closure
from layerbuild.packaging import elf
from layerbuild.rootfs.dpkgdb import ADMINDIR
from layerbuild.rootfs.manifest import write_manifest
from layerbuild.rootfs.task import install
from layerbuild.taskapi import TaskContext
from layerbuild.util import osrelease
from layerbuild.util.errors import BuildError, LayerbuildError

UNIT_DIRS = ("usr/lib/systemd/system", "lib/systemd/system", "etc/systemd/system")
MOUNT_POINTS = ("proc", "sys", "dev", "run", "tmp", "var/tmp")
MERGED_LINKS = ("bin", "sbin", "lib", "lib64")
UNIT_SUFFIXES = (".service", ".socket", ".target", ".timer", ".path", ".mount", ".automount", ".slice",
                 ".swap", ".scope")


class PortableError(LayerbuildError):
    """A tree that cannot be made into a portable service image."""


@dataclass(frozen=True)
class UnitSpec:
    """A unit to ship: where it comes from (an installed unit name, or a file next to the recipe) and
    the name it gets in the image."""

    source: str
    name: str


@dataclass(frozen=True)
class PortableConfig:
    name: str
    units: tuple[UnitSpec, ...]
    symlinks: tuple[tuple[str, str], ...] = ()
    os_id: str = "_portable"
    version_id: str = ""
    image_version: str = ""
    pretty_name: str = ""
    home_url: str = ""
    #: directories a ``file://`` unit is looked up in
    search: tuple[str, ...] = ()


def parse_units(value: str) -> tuple[UnitSpec, ...]:
    """``PORTABLE_UNITS``: ``NAME`` or ``SOURCE:NAME`` words (``file://x.service:demo.service``)."""
    specs = []
    for word in value.split():
        source, name = word, ""
        if word.startswith("file://"):
            rest = word[len("file://"):]
            path, _, name = rest.partition(":")
            source = "file://" + path
            name = name or os.path.basename(path)
        elif ":" in word:
            source, _, name = word.partition(":")
        else:
            name = word
        specs.append(UnitSpec(source, name))
    return tuple(specs)


def parse_symlinks(value: str) -> tuple[tuple[str, str], ...]:
    """``PORTABLE_SYMLINKS``: ``target:linkname`` words (``/usr/bin/busybox:/bin/sh``)."""
    out = []
    for word in value.split():
        target, sep, link = word.partition(":")
        if not sep or not target or not link.startswith("/"):
            raise PortableError(f"PORTABLE_SYMLINKS entry '{word}' is not of the form target:/absolute/linkname")
        out.append((target, link))
    return tuple(out)


def check_unit_name(name: str, prefix: str) -> None:
    """portabled only attaches units named ``PREFIX.suffix``, ``PREFIX-...`` or ``PREFIX@...``."""
    if not name.endswith(UNIT_SUFFIXES) or "/" in name:
        raise PortableError(f"'{name}' is not a systemd unit file name")
    stem = name.rsplit(".", 1)[0]
    if not (stem == prefix or name.startswith((prefix + "-", prefix + "@"))):
        raise PortableError(f"unit '{name}' does not start with the image's prefix '{prefix}' followed by '-', "
                            "'.' or '@', so portabled would ignore it",
                            hint=f"rename it, e.g. PORTABLE_UNITS = \"{name}:{prefix}.service\"")


def _inside(root: Path, rel: str) -> Path:
    path = (root / rel.lstrip("/")).resolve()
    if path != root.resolve() and root.resolve() not in path.parents:
        raise PortableError(f"'{rel}' leads outside the image")
    return path


def _resolve(root: Path, rel: str, depth: int = 0) -> Path | None:
    """``rel`` inside the image with its links followed inside the image (never on the build host)."""
    if depth > 40:
        return None
    current = root
    parts = [p for p in rel.strip("/").split("/") if p]
    for i, part in enumerate(parts):
        candidate = current / part
        if candidate.is_symlink():
            target = os.readlink(candidate)
            base = "" if target.startswith("/") else str(current.relative_to(root))
            joined = os.path.normpath(os.path.join("/", base, target, *parts[i + 1:]))
            return _resolve(root, joined, depth + 1)
        if not candidate.exists():
            return None
        current = candidate
    return current


def _find_unit(root: Path, config: PortableConfig, spec: UnitSpec) -> Path:
    if spec.source.startswith("file://"):
        rel = spec.source[len("file://"):]
        for directory in config.search:
            candidate = Path(directory) / rel
            if candidate.is_file():
                return candidate
        raise PortableError(f"unit file {rel} was not found next to the recipe",
                            notes=tuple(f"looked in {d}" for d in config.search[:6]))
    for directory in UNIT_DIRS:
        candidate = root / directory / spec.source
        if candidate.is_file() and not candidate.is_symlink():
            return candidate
    raise PortableError(f"unit {spec.source} is in no installed package",
                        hint="add the package that ships it to IMAGE_INSTALL, or name a file:// unit")


def _exec_paths(unit: Path) -> list[str]:
    """The programs a unit's Exec*= lines start (their first word, without systemd's prefixes)."""
    out = []
    for line in unit.read_text(encoding="utf-8", errors="replace").splitlines():
        key, sep, value = line.strip().partition("=")
        if not sep or not key.startswith("Exec") or not value.strip():
            continue
        word = value.strip().split()[0].lstrip("-@:+!")
        if word.startswith("/"):
            out.append(word)
    return out


def make_portable(root: str | os.PathLike[str], config: PortableConfig, *, merged_usr: bool = True) -> list[str]:
    """Make the installed tree at ``root`` a portable service image (in place); returns the unit names."""
    top = Path(root)
    shutil.rmtree(top / ADMINDIR, ignore_errors=True)  # portable images carry no package database
    for rel in ("var/lib", "var"):
        with_contents = top / rel
        if with_contents.is_dir() and not any(with_contents.iterdir()):
            with_contents.rmdir()
    if merged_usr:
        for name in MERGED_LINKS:
            link = top / name
            (top / "usr" / name).mkdir(parents=True, exist_ok=True)
            if link.is_symlink():
                continue
            if link.exists():
                raise PortableError(f"/{name} is a directory; a merged-usr image needs it to be a link to usr/{name}")
            os.symlink(f"usr/{name}", link)
    for rel in MOUNT_POINTS:
        (top / rel).mkdir(parents=True, exist_ok=True)
    os.chmod(top / "tmp", 0o1777)
    os.chmod(top / "var/tmp", 0o1777)
    (top / "etc").mkdir(exist_ok=True)
    for rel in ("etc/resolv.conf", "etc/machine-id"):
        path = top / rel
        if path.is_symlink() or path.exists():
            path.unlink()
        path.write_bytes(b"")
        os.chmod(path, 0o644)
    fields = {"ID": config.os_id}
    if config.version_id:
        fields["VERSION_ID"] = config.version_id
    fields["IMAGE_ID"] = config.name
    if config.image_version:
        fields["IMAGE_VERSION"] = config.image_version
    fields["PORTABLE_ID"] = config.name
    fields["PORTABLE_PREFIXES"] = config.name
    if config.pretty_name:
        fields["PORTABLE_PRETTY_NAME"] = config.pretty_name
        fields["PRETTY_NAME"] = config.pretty_name
    if config.home_url:
        fields["HOME_URL"] = config.home_url
    release = top / "usr/lib/os-release"
    release.parent.mkdir(parents=True, exist_ok=True)
    for rel in ("usr/lib/os-release", "etc/os-release"):
        if (top / rel).is_symlink() or (top / rel).exists():
            (top / rel).unlink()
    release.write_text(osrelease.render(fields), encoding="utf-8")
    for target, linkname in config.symlinks:
        path = _inside(top, os.path.dirname(linkname)) / os.path.basename(linkname)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or path.exists():
            path.unlink()
        os.symlink(target, path)
    names: list[str] = []
    unitdir = top / "usr/lib/systemd/system"
    for spec in config.units:
        check_unit_name(spec.name, config.name)
        source = _find_unit(top, config, spec)
        unitdir.mkdir(parents=True, exist_ok=True)
        dest = unitdir / spec.name
        data = source.read_bytes()
        if source.parent == unitdir and source.name != spec.name:
            source.unlink()  # renamed: the old name would be ignored anyway
        dest.write_bytes(data)
        os.chmod(dest, 0o644)
        names.append(spec.name)
    if not names:
        raise PortableError("a portable service image needs at least one unit (PORTABLE_UNITS is empty)")
    missing = []
    for name in names:
        for program in _exec_paths(unitdir / name):
            found = _resolve(top, program)
            if found is None or not found.is_file() or not os.access(found, os.X_OK):
                missing.append(f"{name} starts {program}, which is not an executable in the image")
                continue
            info = elf.inspect(str(found))
            if info is not None and info.interpreter:
                loader = _resolve(top, info.interpreter)
                if loader is None or not stat.S_ISREG(loader.stat().st_mode):
                    missing.append(f"{program} needs the dynamic loader {info.interpreter}, which is not in the image")
    if missing:
        raise PortableError(missing[0], notes=tuple(missing[1:]))
    return names


def portable_rootfs(ctx: TaskContext) -> None:
    """``do_rootfs`` of ``image-portable``: install, lay out the tree as the spec asks, check it."""
    v = ctx.vars

    def release(var: str, key: str, default: str = "") -> str:
        return ctx.expanded(var, v.get(var, default), f"the os-release field {key} of the portable image")

    name = release("PORTABLE_NAME", "PORTABLE_ID")
    root = v.get("IMAGE_ROOTFS")
    # the manifest, as every image has one: what the portable image ships (its SBOM reads it)
    write_manifest(v.get("IMAGE_MANIFEST"), install(ctx, root).packages)
    try:
        config = PortableConfig(name=name, units=parse_units(v.get("PORTABLE_UNITS")),
                                symlinks=parse_symlinks(v.get("PORTABLE_SYMLINKS")),
                                os_id=release("PORTABLE_OS_ID", "ID", "_portable"),
                                version_id=release("DISTRO_VERSION", "VERSION_ID"),
                                image_version=release("PV", "IMAGE_VERSION"),
                                pretty_name=release("SUMMARY", "PRETTY_NAME"), home_url=release("HOMEPAGE", "HOME_URL"),
                                search=tuple(search_dirs(v)))
        units = make_portable(root, config, merged_usr="usrmerge" in v.words("DISTRO_FEATURES"))
    except LayerbuildError as exc:
        raise BuildError(exc.message, exc.location or ctx.recipe_where("PORTABLE_UNITS"), exc.hint, exc.notes) \
            from None
    try:
        check_closure(root, {}, (), what="portable image")
    except LayerbuildError as exc:
        raise BuildError(exc.message, ctx.recipe_where("IMAGE_INSTALL"), exc.hint, exc.notes) from None
    ctx.note(f"portable service {name}: units {' '.join(units)}")


__all__: Sequence[str] = ("PortableConfig", "PortableError", "UnitSpec", "check_unit_name", "make_portable",
                          "parse_symlinks", "parse_units", "portable_rootfs")
