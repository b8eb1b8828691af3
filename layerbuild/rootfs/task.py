"""``do_rootfs`` of an image: its install request from the recipe's variables, the feed, the manifest.

The request is ``PACKAGE_INSTALL`` (``IMAGE_INSTALL`` plus what ``IMAGE_FEATURES`` bring), each name
remembered with the variable and the place that asked for it, so an unresolvable package is reported
where a user would fix it. The feed is every ``.deb`` under ``DEPLOY_DIR_DEB``.
"""

from __future__ import annotations

import os

from layerbuild.license.manifest import check_and_write
from layerbuild.rootfs import sysusers
from layerbuild.rootfs.assemble import RootfsResult, build_rootfs
from layerbuild.rootfs.manifest import write_manifest
from layerbuild.rootfs.resolve import Request, Wanted
from layerbuild.rootfs.scripts import POSTINST_DIR
from layerbuild.rootfs.units import preset_all
from layerbuild.taskapi import TaskContext
from layerbuild.util.errors import BuildError, LayerbuildError
from layerbuild.util.rootdir import RootDir, RootPathError

#: what the image-feature hooks need: the files empty-root-password edits
SHADOW_FILES = ("etc/shadow", "etc/passwd")


def install_request(ctx: TaskContext) -> Request:
    """The image's request and install policy, from PACKAGE_INSTALL and the policy variables."""
    v = ctx.vars
    direct = set(v.words("IMAGE_INSTALL"))
    features = set(v.words("FEATURE_INSTALL"))
    wanted: list[Wanted] = []
    seen: set[str] = set()
    for name in v.words("PACKAGE_INSTALL"):
        if name in seen:
            continue
        seen.add(name)
        variable = "IMAGE_FEATURES" if name in features and name not in direct else "IMAGE_INSTALL"
        wanted.append(Wanted(name, variable, ctx.where(variable)))
    return Request(tuple(wanted), exclude=frozenset(v.words("PACKAGE_EXCLUDE")),
                   no_recommendations=v.bool("NO_RECOMMENDATIONS"),
                   bad_recommendations=frozenset(v.words("BAD_RECOMMENDATIONS")),
                   allow_upgrade=frozenset(v.words("SYSEXT_ALLOW_UPGRADE")))


def feed_dirs(ctx: TaskContext) -> list[str]:
    """The architecture directories of the package feed an image of this machine installs from
    (``DEPLOY_DIR_DEB/<arch>/`` for each of ``PACKAGE_ARCHS``), highest priority first: another machine's
    packages, in the same ``DEPLOY_DIR_DEB``, are never seen."""
    top = ctx.deploy_dir_deb
    return [os.path.join(top, arch) for arch in reversed(dict.fromkeys(ctx.vars.words("PACKAGE_ARCHS")))]


def native_arch(ctx: TaskContext) -> str:
    return ctx.vars.get("DPKG_ARCH") or ctx.vars.get("TARGET_ARCH")


def install(ctx: TaskContext, root: str) -> RootfsResult:
    """Install the image's request into ``root`` (which may hold a database already)."""
    result = build_rootfs(root, feed_dirs(ctx), install_request(ctx), native_arch=native_arch(ctx), log=ctx.log,
                          clamp=ctx.vars.epoch("SOURCE_DATE_EPOCH"))
    # what this run installed is what the image ships (an extension: what its base lacks)
    check_and_write(ctx, result.new)
    for name in result.skipped_recommends:
        ctx.note(f"not installing recommended package {name}")
    for path in result.deferred_postinsts:
        ctx.note(f"postinst deferred to first boot: {path}")
    return result


def rootfs(ctx: TaskContext) -> None:
    """The whole of an image's ``do_rootfs`` (before ROOTFS_POSTPROCESS_COMMAND)."""
    root = ctx.vars.get("IMAGE_ROOTFS")
    result = install(ctx, root)
    write_manifest(ctx.vars.get("IMAGE_MANIFEST"), result.packages)
    ctx.note(f"installed {len(result.packages)} packages into {root}")
    # the packages' users and groups (useradd.bbclass ships them as sysusers.d files)
    try:
        created = sysusers.apply(root, ctx.vars.epoch("SOURCE_DATE_EPOCH"))
    except LayerbuildError as exc:
        raise BuildError(exc.message, ctx.recipe_where("IMAGE_INSTALL"), exc.hint, exc.notes) from None
    for what in created:
        ctx.note(f"created {what}")


def systemd_preset_all(ctx: TaskContext) -> None:
    """Enable the units the installed packages' presets enable (ROOTFS_POSTPROCESS_COMMAND, as OE's
    systemd_preset_all): links in /etc for an image, beside the units for a system extension, none for a
    configuration extension (its /etc holds no units of its own)."""
    kind = ctx.vars.get("EXTENSION_KIND")
    if kind == "confext":
        return
    try:
        links = preset_all(ctx.vars.get("IMAGE_ROOTFS"), vendor=kind == "sysext")
    except LayerbuildError as exc:
        raise BuildError(exc.message, ctx.recipe_where("IMAGE_INSTALL"), exc.hint, exc.notes) from None
    for link in links:
        ctx.note(f"enabled: /{link}")


def read_only_rootfs(ctx: TaskContext) -> None:
    """IMAGE_FEATURES read-only-rootfs: no postinst may wait for first boot, since / cannot change."""
    with RootDir(ctx.vars.get("IMAGE_ROOTFS")) as top:
        try:
            pending = sorted(top.listdir(POSTINST_DIR))
        except (FileNotFoundError, NotADirectoryError, RootPathError):
            pending = []
    if pending:
        raise ctx.fatal(f"read-only-rootfs: these postinst scripts could not run at build time and would need a "
                        f"writable root at first boot: {', '.join(pending)}", var="IMAGE_FEATURES",
                        hint="make the scripts work offline (with $D), or drop read-only-rootfs")


def empty_root_password(ctx: TaskContext) -> None:
    """IMAGE_FEATURES empty-root-password: root logs in without a password (development images).

    The files are found inside the root (:class:`~layerbuild.util.rootdir.RootDir`): a package's ``etc``
    link never makes this edit the host's own files."""
    with RootDir(ctx.vars.get("IMAGE_ROOTFS")) as top:
        for rel in SHADOW_FILES:
            if not top.is_file(rel):
                continue
            lines = top.read_text(rel).splitlines()
            out = []
            for line in lines:
                fields = line.split(":")
                if fields and fields[0] == "root" and len(fields) > 1:
                    fields[1] = ""
                    line = ":".join(fields)
                out.append(line)
            # rewritten in place, keeping the file's owner and mode (shadow is not world-readable)
            with os.fdopen(top.open(rel, os.O_WRONLY | os.O_TRUNC), "w", encoding="utf-8",
                           errors="surrogateescape") as fh:
                fh.write("\n".join(out) + "\n")
