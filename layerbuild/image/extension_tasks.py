"""``do_rootfs`` of an extension image (sysext or confext): install against the base, then the payload.

``extension_rootfs`` unpacks the base image's package-database snapshot (``IMAGE_BASE_PKGDB``) into
the empty staging root and installs the extension's packages against it, so what the base has is not
installed again. After ``ROOTFS_POSTPROCESS_COMMAND``, ``extension_check`` turns the staging root into
the payload (database and snapshot gone, only the extension's hierarchies, extension-release from the
base's recorded os-release) and checks that every ELF file finds its libraries in the extension or
the base. Without ``IMAGE_BASE_PKGDB`` the extension is standalone: it carries all its dependencies.
"""

from __future__ import annotations

import json
import os
import tempfile

from layerbuild.image.abi import check_closure
from layerbuild.image.extension import ExtensionConfig, assemble, extension_owners, validate_name
from layerbuild.image.pkgdb import BaseInfo, unpack_snapshot
from layerbuild.image.tasks import raw_fstype
from layerbuild.rootfs.manifest import write_manifest
from layerbuild.rootfs.task import install
from layerbuild.rootfs.units import ships_units
from layerbuild.taskapi import TaskContext
from layerbuild.util.errors import BuildError, LayerbuildError, UnexpandedError, check_expanded


def _located(ctx: TaskContext, exc: LayerbuildError, var: str) -> BuildError:
    """``exc`` as a build error at the place the recipe set ``var`` (when it has no place of its own)."""
    return BuildError(exc.message, exc.location or ctx.recipe_where(var), exc.hint, exc.notes)


def _prefix(ctx: TaskContext) -> str:
    """SYSEXT or CONFEXT: the prefix of the kind's variables."""
    return "CONFEXT" if ctx.vars.get("EXTENSION_KIND") == "confext" else "SYSEXT"


def _snapshot(ctx: TaskContext) -> str | None:
    base = ctx.vars.get("IMAGE_BASE_PKGDB")
    if not base:
        return None
    path = ctx.vars.get("IMAGE_BASE_PKGDB_FILE")
    if not os.path.exists(path):
        raise ctx.fatal(f"IMAGE_BASE_PKGDB = \"{base}\": there is no package-database snapshot of {base} at {path}",
                        var="IMAGE_BASE_PKGDB",
                        hint=f"the base image recipe must set IMAGE_GEN_PKGDBFS = \"1\" (and be built for MACHINE "
                             f"{ctx.vars.get('MACHINE')})")
    return path


def _base_info(ctx: TaskContext, snapshot: str, root: str) -> BaseInfo:
    try:
        info = unpack_snapshot(snapshot, root)
    except LayerbuildError as exc:
        raise _located(ctx, exc, "IMAGE_BASE_PKGDB") from None
    _check_base_release(ctx, info)
    arch = ctx.vars.get("DPKG_ARCH")
    other = sorted(info.architectures - {arch})
    if other:
        raise ctx.fatal(f"IMAGE_BASE_PKGDB = \"{ctx.vars.get('IMAGE_BASE_PKGDB')}\": its snapshot is of an image for "
                        f"architecture {', '.join(other)}, but this build is for {arch} (MACHINE "
                        f"{ctx.vars.get('MACHINE')})", var="IMAGE_BASE_PKGDB",
                        hint="an extension must be built for the machine its base image was built for")
    return info


def _check_base_release(ctx: TaskContext, info: BaseInfo) -> None:
    """The base's recorded os-release fields an extension-release copies must be real values: a base
    built while a distro variable was unset recorded the ``${...}`` text itself."""
    base = ctx.vars.get("IMAGE_BASE_PKGDB")
    for key in ("ID", "VERSION_ID", "SYSEXT_LEVEL", "CONFEXT_LEVEL"):
        try:
            check_expanded(info.os_release.get(key, ""),
                           f"the extension-release field {key} (copied from the os-release of the base image {base})",
                           location=ctx.where("IMAGE_BASE_PKGDB"))
        except UnexpandedError as exc:
            raise UnexpandedError(exc.message, exc.location,
                                  hint=f"build {base} again: its os-release was written while that was unset") from None


def extension_rootfs(ctx: TaskContext) -> None:
    """Install the extension's packages into IMAGE_ROOTFS, against the base's snapshot when there is one."""
    try:
        validate_name(ctx.vars.get("EXTENSION_NAME"))
    except LayerbuildError as exc:
        raise _located(ctx, exc, "EXTENSION_NAME") from None
    raw_fstype(ctx)
    root = ctx.vars.get("IMAGE_ROOTFS")
    snapshot = _snapshot(ctx)
    base = _base_info(ctx, snapshot, root) if snapshot else None
    result = install(ctx, root)
    write_manifest(ctx.vars.get("IMAGE_MANIFEST"), result.new)
    if base is not None:
        kept = sorted(p.name for p in result.packages if p.name in base.packages and
                      base.packages[p.name].version == p.version)
        ctx.note(f"already in the base image {ctx.vars.get('IMAGE_BASE_PKGDB')}: {' '.join(kept)}")
    ctx.note(f"the extension adds {len(result.new)} packages: {' '.join(sorted(p.name for p in result.new))}")


def _release_value(ctx: TaskContext, field: str, *names: str) -> str | None:
    """The first of the variables ``names`` that is set, for the extension-release ``field``."""
    for var in names:
        value = ctx.vars.get(var)
        if value:
            return ctx.expanded(var, value, f"the extension-release field {field}")
    return None


def _reload_manager(ctx: TaskContext, root: str) -> bool:
    """EXTENSION_RELOAD_MANAGER as set, else whether the extension ships units: the service manager must
    reload after the merge to see them."""
    if ctx.vars.get("EXTENSION_RELOAD_MANAGER"):
        return ctx.vars.bool("EXTENSION_RELOAD_MANAGER")
    return ctx.vars.get("EXTENSION_KIND", "sysext") == "sysext" and ships_units(root)


def _config(ctx: TaskContext, has_base: bool, root: str) -> ExtensionConfig:
    v, prefix = ctx.vars, _prefix(ctx)
    ident = _release_value(ctx, "ID", f"{prefix}_ID", *(() if has_base else ("DISTRO_ID",)))
    # a standalone extension for one OS matches its version; one for every OS (ID=_any) none
    own = not has_base and ident != "_any"
    distro = ("DISTRO_VERSION",) if own else ()
    version_id = _release_value(ctx, "VERSION_ID", f"{prefix}_VERSION_ID", *distro)
    distro_level = ("DISTRO_SYSEXT_LEVEL" if prefix == "SYSEXT" else "DISTRO_CONFEXT_LEVEL",) if own else ()
    level = _release_value(ctx, f"{prefix}_LEVEL", f"{prefix}_LEVEL", *distro_level)
    scope = _release_value(ctx, f"{prefix}_SCOPE", f"{prefix}_SCOPE")
    shadow = v.get(f"{prefix}_SHADOW", "warn")
    if shadow not in ("warn", "error"):
        raise ctx.fatal(f"{prefix}_SHADOW = \"{shadow}\": choose warn or error", var=f"{prefix}_SHADOW")
    return ExtensionConfig(kind=v.get("EXTENSION_KIND", "sysext"), name=v.get("EXTENSION_NAME"),
                           architecture=v.get("SYSTEMD_ARCHITECTURE") or None, id=ident, version_id=version_id,
                           level=level, scope=scope,
                           reload_manager=_reload_manager(ctx, root),
                           etc_to_usr_share=v.bool("SYSEXT_ETC_TO_USR_SHARE"), shadow=shadow,
                           keep_owners=not v.bool("EXTENSION_ALL_ROOT", True))


def _base_sonames(ctx: TaskContext, base: BaseInfo) -> dict[str, str]:
    """SONAME -> base package, from the pkgdata of the base's packages (where this build has it)."""
    out: dict[str, str] = {}
    for name in sorted(base.packages):
        path = os.path.join(ctx.pkgdata_dir, "runtime", f"{name}.json")
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            continue
        for soname in data.get("SONAMES", []):
            out.setdefault(soname, name)
    return out


def _empty(ctx: TaskContext, config: ExtensionConfig, base: BaseInfo | None) -> BuildError:
    """An extension that would ship only its extension-release file: most likely IMAGE_INSTALL is not
    what was meant (a misspelt name sets another variable), and deploying it would replace a good one."""
    what = "system extension" if config.kind == "sysext" else "configuration extension"
    wanted = ctx.vars.words("IMAGE_INSTALL")
    notes: list[str] = []
    if not wanted:
        notes.append("IMAGE_INSTALL is empty")
    elif base is not None:
        had = sorted(name for name in wanted if name in base.packages)
        if had:
            notes.append(f"the base image {ctx.vars.get('IMAGE_BASE_PKGDB')} has {' '.join(had)} already")
    allow = f"{_prefix(ctx)}_ALLOW_EMPTY"
    return BuildError(f"{what} '{config.name}' ships nothing but its extension-release file",
                      ctx.recipe_where("IMAGE_INSTALL"), notes=tuple(notes),
                      hint=f"name the packages it should ship in IMAGE_INSTALL, or set {allow} = \"1\" "
                           "if an empty extension is what you want")


def extension_check(ctx: TaskContext) -> None:
    """Turn the staging root into the extension's payload and check it (after the postprocess hooks)."""
    root = ctx.vars.get("IMAGE_ROOTFS")
    snapshot = _snapshot(ctx)
    base = None
    if snapshot is not None:
        with tempfile.TemporaryDirectory(prefix="base-", dir=ctx.workdir) as tmp:
            base = _base_info(ctx, snapshot, tmp)
    config = _config(ctx, base is not None, root)
    try:
        owners = extension_owners(root, base)
        result = assemble(root, config, base, owners)
    except LayerbuildError as exc:
        raise _located(ctx, exc, "IMAGE_INSTALL") from None
    if result.empty and not ctx.vars.boolean(f"{_prefix(ctx)}_ALLOW_EMPTY"):
        raise _empty(ctx, config, base)
    for warning in result.warnings:
        ctx.warn(warning)
    for old, new in sorted(result.relocated.items()):
        ctx.note(f"relocated /{old} to /{new}")
    try:
        report = check_closure(root, _base_sonames(ctx, base) if base else {},
                               base.owners.keys() if base else (), what=config.kind)
    except LayerbuildError as exc:
        raise _located(ctx, exc, "IMAGE_INSTALL") from None
    ctx.note(f"{report.binaries} ELF files checked, {len(report.found)} libraries found")
    ctx.note(f"{result.release_path}: " + " ".join(f"{k}={v}" for k, v in result.release.items()))
