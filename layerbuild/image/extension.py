"""System and configuration extensions (systemd-sysext / systemd-confext) from a staging root.

The staging root holds the base's pkgdb snapshot with the extension's packages installed against it.
:func:`assemble` turns it into the payload of an extension image, in place:

1. the package database and the base's os-release copies the snapshot brought are removed;
2. a sysext keeps ``/usr`` and ``/opt`` only: ``/bin``, ``/sbin`` and ``/lib*`` move into ``/usr``
   where nothing is in the way; ``/etc`` is an error (build a confext) unless it is relocated to
   ``/usr/share/NAME/etc`` with a tmpfiles.d rule that copies it into ``/etc`` (as Dalec does);
   a confext keeps ``/etc`` only; empty directories elsewhere go silently, anything else is an
   error naming the path and its package;
3. ``extension-release.NAME`` is written from the base's recorded os-release (not from today's
   configuration, so the extension merges onto exactly that base);
4. files that would shadow a base package's files are reported.

Owners are not changed on disk (that needs root): write the image with ``all_root`` as
:attr:`ExtensionResult.all_root` says, which is Dalec's rule of everything owned by root.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from layerbuild.image.pkgdb import DPKG_DIR, BaseInfo
from layerbuild.rootfs.dpkgdb import Database
from layerbuild.util import osrelease
from layerbuild.util.errors import LayerbuildError
from layerbuild.util.fsutil import sorted_walk

KINDS = ("sysext", "confext")
SHADOW_MODES = ("warn", "error")
#: Top-level directories a sysext relocates into /usr (merged-usr layout).
RELOCATED = ("bin", "sbin", "lib", "lib64", "lib32", "libx32")
SCOPES = ("initrd", "system", "portable")
#: systemd's architecture names (``systemd-analyze architectures``), plus ``_any``.
ARCHITECTURES = frozenset((
    "alpha", "arc", "arc-be", "arm", "arm64", "arm-be", "arm64-be", "cris", "ia64", "loongarch64", "m68k",
    "mips", "mips-le", "mips64", "mips64-le", "parisc", "parisc64", "ppc", "ppc64", "ppc-le", "ppc64-le",
    "riscv32", "riscv64", "s390", "s390x", "sh", "sh64", "sparc", "sparc64", "tilegx", "x86", "x86-64", "_any",
))
#: Other spellings (uname, dpkg, OE TARGET_ARCH) -> systemd's name.
ARCHITECTURE_ALIASES = {
    "x86_64": "x86-64", "amd64": "x86-64", "i386": "x86", "i486": "x86", "i586": "x86", "i686": "x86",
    "aarch64": "arm64", "aarch64_be": "arm64-be", "armhf": "arm", "armel": "arm", "armv7l": "arm",
    "riscv64gc": "riscv64", "ppc64el": "ppc64-le", "ppc64le": "ppc64-le", "powerpc": "ppc",
    "powerpc64": "ppc64", "powerpc64le": "ppc64-le", "mipsel": "mips-le", "mips64el": "mips64-le",
    "loong64": "loongarch64",
}
_MAX_NOTES = 20


class ExtensionError(LayerbuildError):
    """An extension that cannot be assembled as asked."""


@dataclass(frozen=True)
class ExtensionConfig:
    """What the recipe asks for.

    ``architecture`` is systemd's name (``x86-64``; see :func:`systemd_architecture`). ``id``,
    ``version_id`` and ``level`` are used for an extension without a base (``id`` may be ``_any``);
    with a base, ``id`` may only repeat the base's ID or be ``_any``. ``shadow`` is ``warn`` or ``error``.
    """

    kind: str
    name: str
    architecture: str | None = None
    id: str | None = None
    version_id: str | None = None
    level: str | None = None
    scope: str | None = None
    reload_manager: bool = False
    etc_to_usr_share: bool = False
    shadow: str = "warn"
    keep_owners: bool = False


@dataclass(frozen=True)
class ExtensionResult:
    """``release_path`` is relative to the staging root; ``warnings`` are for the caller to log;
    ``relocated`` maps each moved path to where it went (``bin/sh`` -> ``usr/bin/sh``); ``empty`` is true
    when the payload holds nothing but directories and the files written here (extension-release)."""

    release_path: str
    release: Mapping[str, str]
    warnings: tuple[str, ...]
    all_root: bool
    relocated: Mapping[str, str] = field(default_factory=dict)
    empty: bool = False


def systemd_architecture(arch: str) -> str:
    """systemd's name for ``arch`` (``x86_64``, ``amd64``, ``aarch64``, ... or already systemd's)."""
    name = ARCHITECTURE_ALIASES.get(arch, arch).replace("_", "-") if arch != "_any" else arch
    if name not in ARCHITECTURES:
        raise ExtensionError(f"unknown architecture '{arch}' for an extension",
                             hint=f"systemd's names: {', '.join(sorted(ARCHITECTURES))}")
    return name


def validate_name(name: str) -> None:
    """An extension name must be a file name systemd accepts as an image name."""
    problem = None
    if not name:
        problem = "it is empty"
    elif name in (".", ".."):
        problem = "it is '.' or '..'"
    elif "/" in name:
        problem = "it contains '/'"
    elif name.startswith("."):
        problem = "it starts with '.' (systemd ignores hidden images)"
    elif any(ord(c) < 32 or ord(c) == 127 for c in name):
        problem = "it contains a control character"
    elif re.search(r"\s", name):
        problem = "it contains white space"
    elif len(name.encode("utf-8", "surrogateescape")) > 255 - len("extension-release."):  # NAME.raw is shorter
        problem = "it is too long for a file name"
    else:
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            problem = "it is not valid UTF-8"
    if problem:
        raise ExtensionError(f"invalid extension name '{name}': {problem}",
                             hint="EXTENSION_NAME names the image file (NAME.raw) and its extension-release file")


def extension_release(config: ExtensionConfig, base: BaseInfo | None) -> dict[str, str]:
    """The fields of ``extension-release.NAME``: the base's identity, or the recipe's without a base."""
    level_key = "SYSEXT_LEVEL" if config.kind == "sysext" else "CONFEXT_LEVEL"
    scope_key = "SYSEXT_SCOPE" if config.kind == "sysext" else "CONFEXT_SCOPE"
    fields: dict[str, str] = {}
    if base is not None:
        base_id = base.os_release.get("ID", "")
        if not base_id:
            raise ExtensionError("the base's os-release has no ID, so no extension can be matched to it")
        if config.id not in (None, base_id, "_any"):
            raise ExtensionError(f"extension ID '{config.id}' differs from the base's ID '{base_id}'",
                                 hint="leave the ID unset to take the base's, or use '_any'")
        fields["ID"] = config.id or base_id
        if fields["ID"] != "_any":
            if base.os_release.get(level_key):
                fields[level_key] = base.os_release[level_key]
            elif base.os_release.get("VERSION_ID"):
                fields["VERSION_ID"] = base.os_release["VERSION_ID"]
    else:
        if not config.id:
            raise ExtensionError("an extension without a base needs an ID (the base OS's ID, or '_any')")
        fields["ID"] = config.id
        if config.level:
            fields[level_key] = config.level
        if config.version_id:
            fields["VERSION_ID"] = config.version_id
    if config.architecture:
        fields["ARCHITECTURE"] = systemd_architecture(config.architecture)
    if config.scope:
        words = config.scope.split()
        bad = [w for w in words if w not in SCOPES]
        if bad:
            raise ExtensionError(f"invalid {scope_key} '{config.scope}'", hint=f"choose from {', '.join(SCOPES)}")
        fields[scope_key] = " ".join(words)
    if config.reload_manager:
        fields["EXTENSION_RELOAD_MANAGER"] = "1"
    return fields


class _Assembly:
    def __init__(self, root: Path, config: ExtensionConfig, base: BaseInfo | None, owners: Mapping[str, str]) -> None:
        self.root = root
        self.config = config
        self.base = base
        self.owners = owners
        self.what = "system extension" if config.kind == "sysext" else "configuration extension"
        self.relocated: dict[str, str] = {}  # new path -> original path

    def origin(self, path: str) -> str:
        package = self.owners.get(self.relocated.get(path, path))
        return f"from package '{package}'" if package else "listed by no package"

    def fail(self, problems: list[tuple[str, str]], hint: str | None = None) -> None:
        """Raise one error for ``(path, problem)`` pairs: the first in the message, the rest as notes."""
        if not problems:
            return
        first_path, first = problems[0]
        notes = [f"also /{p} ({self.origin(p)}) {why}" for p, why in problems[1:_MAX_NOTES + 1]]
        if len(problems) > _MAX_NOTES + 1:
            notes.append(f"... and {len(problems) - _MAX_NOTES - 1} more")
        raise ExtensionError(f"{self.what} '{self.config.name}': /{first_path} ({self.origin(first_path)}) {first}",
                             hint=hint, notes=tuple(notes))

    def lexists(self, rel: str) -> bool:
        return os.path.lexists(self.root / rel)

    # -- step 1 --------------------------------------------------------------------------------
    def drop_snapshot(self) -> None:
        shutil.rmtree(self.root / DPKG_DIR, ignore_errors=True)
        forbidden = "usr/lib/os-release" if self.config.kind == "sysext" else "etc/os-release"
        snapshot = self.base.snapshot_paths if self.base is not None else frozenset()
        for rel in ("etc/os-release", "usr/lib/os-release"):
            if not self.lexists(rel):
                continue
            if rel not in self.owners and rel in snapshot:
                os.unlink(self.root / rel)
            elif rel == forbidden:
                self.fail([(rel, "must not be in an extension")],
                          hint=f"systemd identifies an extension by its extension-release.{self.config.name}, "
                               "which is written from the base's os-release")

    # -- step 2 --------------------------------------------------------------------------------
    def relocate(self) -> None:
        clashes: list[tuple[str, str]] = []
        for top in RELOCATED:
            src_top = self.root / top
            if src_top.is_symlink():
                target = os.path.normpath(os.path.join("/", os.readlink(src_top))).lstrip("/")
                if target == f"usr/{top}":
                    os.unlink(src_top)  # the merged-usr link: the base has it
                continue
            if src_top.is_dir():
                self._move_tree(top, clashes)
        self.fail(clashes, hint="the files clash with /usr; install them into /usr only")

    def _move_tree(self, top: str, clashes: list[tuple[str, str]]) -> None:
        for dirpath, dirs, files in sorted_walk(self.root / top):
            rel_dir = os.path.relpath(dirpath, self.root)
            dest_dir = f"usr/{rel_dir}"
            linked = [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]
            dirs[:] = [d for d in dirs if d not in linked]
            names = sorted(files + linked)
            blocked = self._blocking_link(dest_dir)
            if blocked is not None:
                clashes.extend((f"{rel_dir}/{n}", f"cannot move to /{dest_dir}/{n}: /{blocked} is not a directory")
                               for n in names)
                dirs[:] = []
                continue
            if not os.path.lexists(self.root / dest_dir):
                os.makedirs(self.root / dest_dir, exist_ok=True)
                os.chmod(self.root / dest_dir, os.stat(dirpath).st_mode & 0o7777)
            for name in names:
                src, dst = f"{rel_dir}/{name}", f"{dest_dir}/{name}"
                if self.lexists(dst):
                    if self._same(src, dst):
                        os.unlink(self.root / src)
                    else:
                        clashes.append((src, f"cannot move to /{dst}: /{dst} ({self.origin(dst)}) is there"))
                    continue
                full = self.root / src
                if full.is_symlink() and not os.readlink(full).startswith("/"):
                    os.symlink(_moved_link(os.readlink(full), rel_dir, dest_dir), self.root / dst)
                    os.unlink(full)
                else:
                    os.rename(full, self.root / dst)
                self.relocated[dst] = src
        self._prune(self.root / top)

    def _blocking_link(self, rel_dir: str) -> str | None:
        """The first component of ``rel_dir`` that exists but is not a real directory, if any."""
        parts = rel_dir.split("/")
        for i in range(1, len(parts) + 1):
            path = self.root.joinpath(*parts[:i])
            if os.path.lexists(path) and (path.is_symlink() or not path.is_dir()):
                return "/".join(parts[:i])
        return None

    def _same(self, a: str, b: str) -> bool:
        pa, pb = self.root / a, self.root / b
        if pa.is_symlink() or pb.is_symlink():
            if not (pa.is_symlink() and pb.is_symlink()):
                return False
            ta = os.readlink(pa)
            if not ta.startswith("/"):
                ta = _moved_link(ta, os.path.dirname(a), os.path.dirname(b))
            return ta == os.readlink(pb)
        if not (pa.is_file() and pb.is_file()):
            return False
        sa, sb = pa.stat(), pb.stat()
        if (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino):
            return True
        return sa.st_size == sb.st_size and sa.st_mode == sb.st_mode and pa.read_bytes() == pb.read_bytes()

    def _prune(self, top: Path) -> None:
        """Remove empty directories under (and including) ``top``, deepest first."""
        if not top.is_dir() or top.is_symlink():
            return
        for dirpath, dirs, _files in list(os.walk(top, topdown=False)):
            for d in dirs:
                path = os.path.join(dirpath, d)
                if not os.path.islink(path):
                    try:
                        os.rmdir(path)
                    except OSError:
                        pass
        try:
            os.rmdir(top)
        except OSError:
            pass

    def etc_to_usr_share(self) -> str | None:
        """Move /etc to /usr/share/NAME/etc; returns the tmpfiles.d rule file written (relative)."""
        etc = self.root / "etc"
        self._prune(etc)
        if not etc.is_dir() or etc.is_symlink():
            return None
        share = f"usr/share/{self.config.name}/etc"
        if self.lexists(share) or self._blocking_link(share) is not None:
            self.fail([(share, "is in the way of relocating /etc")])
        rules = [f"# Copies the /etc content of {self.config.name} into /etc (it stays after unmerge).\n"]
        for dirpath, dirs, files in sorted_walk(etc):
            rel_dir = os.path.relpath(dirpath, self.root)
            linked = [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]
            dirs[:] = [d for d in dirs if d not in linked]
            for name in sorted(files + linked):
                rel = f"{rel_dir}/{name}"
                rules.append(f"C {_tmpfiles_quote('/' + rel)} - - - - "
                             f"{_tmpfiles_quote(f'/usr/share/{self.config.name}/{rel}')}\n")
                self.relocated[f"usr/share/{self.config.name}/{rel}"] = rel
        os.makedirs(self.root / share.rpartition("/")[0], exist_ok=True)
        os.rename(etc, self.root / share)
        conf = f"usr/lib/tmpfiles.d/{self.config.name}-etc.conf"
        if self.lexists(conf):
            self.fail([(conf, "is in the way of the tmpfiles.d rule for /etc")])
        os.makedirs(self.root / "usr/lib/tmpfiles.d", exist_ok=True)
        (self.root / conf).write_text("".join(rules))
        os.chmod(self.root / conf, 0o644)
        return conf

    def restrict(self, keep: tuple[str, ...]) -> None:
        """Everything outside ``keep`` that is not an empty directory is an error."""
        outside: list[tuple[str, str]] = []
        etc: list[tuple[str, str]] = []
        where = " and ".join(f"/{k}" for k in keep)
        for name in sorted(os.listdir(self.root)):
            if name in keep and (self.root / name).is_dir() and not (self.root / name).is_symlink():
                continue
            self._prune(self.root / name)
            if not self.lexists(name):
                continue
            for rel in _leaves(self.root, name):
                if self.config.kind == "sysext" and (rel == "etc" or rel.startswith("etc/")):
                    etc.append((rel, "is in /etc, which a system extension cannot ship"))
                else:
                    outside.append((rel, f"is outside {where}"))
        self.fail(etc, hint="build a configuration extension (confext) for /etc, or set "
                            "SYSEXT_ETC_TO_USR_SHARE = \"1\" to ship it under "
                            f"/usr/share/{self.config.name}/etc with a tmpfiles.d rule that copies it into /etc")
        self.fail(outside, hint=f"a {self.what} only merges {where}; install the files there in the recipe")

    # -- step 4 --------------------------------------------------------------------------------
    def shadows(self, generated: set[str]) -> list[str]:
        if self.base is None:
            return []
        base_owners = self.base.owners
        found: list[str] = []
        for rel in _leaves(self.root, ""):
            if rel in generated:
                continue
            candidates = [rel, self.relocated.get(rel, rel)]
            head, _, rest = rel.partition("/")
            if head == "usr" and rest.split("/")[0] in RELOCATED:
                candidates.append(rest)  # the base may list its merged-usr files under /bin, /lib, ...
            for candidate in candidates:
                base_pkg = base_owners.get(candidate)
                if base_pkg is not None:
                    mine = self.owners.get(self.relocated.get(rel, rel), "no package")
                    found.append(f"/{rel} of package '{mine}' shadows /{candidate} of the base's package "
                                 f"'{base_pkg}'")
                    break
        return found


def _leaves(root: Path, top: str) -> list[str]:
    """Every non-directory below ``top`` (and directories that are links), as relative paths."""
    start = root / top if top else root
    if start.is_symlink() or not start.is_dir():
        return [top]
    found: list[str] = []
    for dirpath, dirs, files in sorted_walk(start):
        rel_dir = os.path.relpath(dirpath, root)
        linked = [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]
        dirs[:] = [d for d in dirs if d not in linked]
        found.extend(name if rel_dir == "." else f"{rel_dir}/{name}" for name in sorted(files + linked))
    return found


def _moved_link(target: str, old_dir: str, new_dir: str) -> str:
    """A relative link target written in ``old_dir``, rewritten for ``new_dir`` (both relative to /),
    with /bin, /lib, ... in the target mapped into /usr as the relocation maps them."""
    absolute = os.path.normpath(os.path.join("/", old_dir, target)).lstrip("/")
    head = absolute.split("/")[0]
    if head in RELOCATED:
        absolute = f"usr/{absolute}"
    return os.path.relpath("/" + absolute, "/" + new_dir)


def _tmpfiles_quote(path: str) -> str:
    path = path.replace("%", "%%")
    if re.search(r"[\s\"'\\]", path):
        return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return path


def extension_owners(staging_root: str | os.PathLike[str], base: BaseInfo | None) -> dict[str, str]:
    """Path -> package for the packages the extension added to the staging database (those the base
    lacks or has at another version)."""
    database = Database.read(os.fspath(staging_root))
    installed = database.packages
    owners: dict[str, str] = {}
    for name in sorted(installed):
        record = installed[name]
        known = base.packages.get(name) if base is not None else None
        if known is not None and known.version == record.version:
            continue
        for listed in database.files(name):
            rel = listed.strip("/")
            if rel and rel != ".":
                owners.setdefault(rel, name)
    return owners


def assemble(staging_root: str | os.PathLike[str], config: ExtensionConfig, base: BaseInfo | None = None,
             owners: Mapping[str, str] | None = None) -> ExtensionResult:
    """Turn ``staging_root`` into the payload of the extension ``config`` describes (in place).

    ``owners`` maps relative paths to the extension packages that installed them; by default it is
    read from the staging database before that is removed.
    """
    if config.kind not in KINDS:
        raise ExtensionError(f"unknown extension kind '{config.kind}' (choose from {', '.join(KINDS)})")
    if config.shadow not in SHADOW_MODES:
        raise ExtensionError(f"invalid shadow setting '{config.shadow}' (choose from {', '.join(SHADOW_MODES)})")
    validate_name(config.name)
    release = extension_release(config, base)
    root = Path(staging_root)
    if owners is None:
        owners = extension_owners(root, base)
    work = _Assembly(root, config, base, owners)
    work.drop_snapshot()
    generated: set[str] = set()
    if config.kind == "sysext":
        work.relocate()
        if config.etc_to_usr_share:
            conf = work.etc_to_usr_share()
            if conf is not None:
                generated.add(conf)
        work.restrict(("usr", "opt"))
        release_dir = "usr/lib/extension-release.d"
    else:
        work.restrict(("etc",))
        release_dir = "etc/extension-release.d"
    release_path = f"{release_dir}/extension-release.{config.name}"
    if release_path in owners:
        work.fail([(release_path, "is written from the base's os-release and must not come from a package")])
    os.makedirs(root / release_dir, exist_ok=True)
    if os.path.lexists(root / release_path):
        os.unlink(root / release_path)
    (root / release_path).write_text(osrelease.render(release, "extension-release"))
    os.chmod(root / release_path, 0o644)
    generated.add(release_path)
    empty = all(rel in generated for rel in _leaves(root, ""))
    shadows = work.shadows(generated)
    if shadows and config.shadow == "error":
        raise ExtensionError(f"{work.what} '{config.name}': {shadows[0]}", notes=tuple(shadows[1:]),
                             hint="leave the package out of the extension, or let shadowing pass with a warning")
    moved = {old: new for new, old in sorted(work.relocated.items())}
    return ExtensionResult(release_path, release, tuple(shadows), not config.keep_owners, moved, empty)
