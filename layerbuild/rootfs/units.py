"""systemd units enabled offline in an image root, as ``systemctl --root=ROOT preset-all`` enables them.

The presets (``*.preset`` in ``{etc,usr/lib,lib}/systemd/system-preset``; a name in /etc hides the same
name below, files are read in the order of their names, the first line matching a unit decides) say which
units to enable; the systemd class writes one per package (``98-<pkg>.preset``). A unit no preset names
stays disabled, as in OE's images, whose systemd ships ``99-default.preset`` with ``disable *``.

Enabling follows the unit's ``[Install]`` section as ``systemctl enable`` does: ``WantedBy=``,
``RequiredBy=`` and ``UpheldBy=`` make links in ``<target>.wants/``, ``.requires/`` and ``.upholds/``,
``Alias=`` a link under the alias's name, ``Also=`` enables the units it names; a template unit is
enabled for the instances its preset line lists, else for its ``DefaultInstance=``.

Where the links go depends on the root: a base image's are ``/etc/systemd/system`` links to the unit's
path, as ``systemctl enable`` makes them; an extension cannot ship /etc (systemd-sysext merges /usr and
/opt only), so its links live beside the unit in the vendor directory (``usr/lib/systemd/system/
multi-user.target.wants/foo.service -> ../foo.service``), where the merged tree brings them along. Every
name is resolved inside the root (:class:`~layerbuild.util.rootdir.RootDir`).
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass

from layerbuild.util.errors import LayerbuildError
from layerbuild.util.rootdir import RootDir, RootPathError

#: unit directories of the system manager, in systemd's precedence order
UNIT_DIRS = ("etc/systemd/system", "usr/lib/systemd/system", "lib/systemd/system")
PRESET_DIRS = ("etc/systemd/system-preset", "usr/lib/systemd/system-preset", "lib/systemd/system-preset")
CONFIG_DIR = "etc/systemd/system"
#: [Install] settings that make links, and the directory suffix of each
_DEPENDENCY_DIRS = {"WantedBy": ".wants", "RequiredBy": ".requires", "UpheldBy": ".upholds"}


class UnitError(LayerbuildError):
    """A unit or preset file that cannot be applied."""


@dataclass(frozen=True)
class Preset:
    action: str
    pattern: str
    instances: tuple[str, ...]


@dataclass(frozen=True)
class Install:
    """A unit's ``[Install]`` section."""

    settings: dict[str, tuple[str, ...]]

    def get(self, key: str) -> tuple[str, ...]:
        return self.settings.get(key, ())

    @property
    def empty(self) -> bool:
        return not any(self.get(k) for k in (*_DEPENDENCY_DIRS, "Alias", "Also"))


def _listdir(top: RootDir, rel: str) -> list[str]:
    try:
        return sorted(top.listdir(rel))
    except (FileNotFoundError, NotADirectoryError, RootPathError):
        return []


def read_presets(top: RootDir) -> list[Preset]:
    """Every preset line of the root, in the order systemd reads them."""
    files: dict[str, str] = {}
    for directory in PRESET_DIRS:
        for name in _listdir(top, directory):
            if name.endswith(".preset"):
                files.setdefault(name, f"{directory}/{name}")
    presets: list[Preset] = []
    for name in sorted(files):
        rel = files[name]
        try:
            text = top.read_text(rel, follow=True)
        except (OSError, RootPathError):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            words = line.split()
            if not words or words[0].startswith(("#", ";")):
                continue
            if words[0] not in ("enable", "disable", "ignore") or len(words) < 2:
                raise UnitError(f"/{rel}:{number}: cannot read the preset line '{line.strip()}'",
                                hint="a preset line is 'enable UNIT [INSTANCE...]', "
                                                            "'disable UNIT' or 'ignore UNIT'")
            presets.append(Preset(words[0], words[1], tuple(words[2:])))
    return presets


def parse_install(text: str) -> Install:
    """The ``[Install]`` section of a unit file (an empty assignment resets a list, as in systemd)."""
    settings: dict[str, list[str]] = {}
    section = None
    logical: list[str] = []
    lines: list[str] = []
    for raw in text.splitlines():
        if raw.endswith("\\"):
            logical.append(raw[:-1] + " ")
            continue
        lines.append("".join(logical) + raw)
        logical = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if section != "Install" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not value:
            settings[key] = []
        else:
            settings.setdefault(key, []).extend(value.split())
    return Install({key: tuple(values) for key, values in settings.items()})


def _specifiers(text: str, unit: str, instance: str) -> str:
    """The specifiers [Install] values commonly use: %n %N %p %i %I %%."""
    stem = unit.rsplit(".", 1)[0]
    prefix = stem.partition("@")[0]
    table = {"n": unit, "N": stem, "p": prefix, "i": instance, "I": instance, "%": "%"}
    out, i = [], 0
    while i < len(text):
        if text[i] == "%" and i + 1 < len(text) and text[i + 1] in table:
            out.append(table[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


class _Enabler:
    def __init__(self, top: RootDir, vendor: bool) -> None:
        self.top = top
        self.vendor = vendor
        self.links: list[str] = []
        self.done: set[str] = set()

    def find(self, name: str) -> str | None:
        """The directory (relative) whose unit file ``name`` is the one systemd loads."""
        for directory in UNIT_DIRS:
            if self.top.lexists(f"{directory}/{name}"):
                return directory
        return None

    def link(self, directory: str, name: str, unit_dir: str, unit_file: str) -> None:
        folder = "/".join(part for part in (unit_dir if self.vendor else CONFIG_DIR, directory) if part)
        if self.vendor:
            target = os.path.relpath(f"/{unit_dir}/{unit_file}", f"/{folder}")
        else:
            target = f"/{unit_dir}/{unit_file}"
        rel = f"{folder}/{name}"
        try:
            if self.top.lexists(rel):
                return
            self.top.makedirs(folder)
            self.top.symlink(target, rel)
        except OSError as exc:
            raise UnitError(f"cannot make the link /{rel}: {exc.strerror}") from None
        self.links.append(rel)

    def enable(self, name: str, instances: tuple[str, ...] = ()) -> None:
        if name in self.done:
            return
        self.done.add(name)
        unit_dir = self.find(name)
        prefix, at, rest = name.partition("@")
        template = None
        if unit_dir is None and at and not rest.startswith("."):
            template = f"{prefix}@{rest[rest.rfind('.'):]}"
            unit_dir = self.find(template)
        if unit_dir is None:
            raise UnitError(f"cannot enable {name}: no unit file /{UNIT_DIRS[1]}/{name} (nor in "
                            f"/{UNIT_DIRS[0]} or /{UNIT_DIRS[2]})")
        unit_file = template or name
        install = parse_install(self.top.read_text(f"{unit_dir}/{unit_file}", follow=True))
        if at and rest.startswith("."):  # a template: its instances
            chosen = instances or install.get("DefaultInstance")[:1]
            for instance in chosen:
                self._links(f"{prefix}@{instance}{rest}", instance, install, unit_dir, unit_file)
        else:
            self._links(name, rest.rsplit(".", 1)[0] if at else "", install, unit_dir, unit_file)
        for also in install.get("Also"):
            self.enable(_specifiers(also, name, ""))

    def _links(self, name: str, instance: str, install: Install, unit_dir: str, unit_file: str) -> None:
        for key, suffix in _DEPENDENCY_DIRS.items():
            for target in install.get(key):
                self.link(_specifiers(target, name, instance) + suffix, name, unit_dir, unit_file)
        for alias in install.get("Alias"):
            self.link("", _specifiers(alias, name, instance), unit_dir, unit_file)


def unit_names(top: RootDir) -> list[str]:
    """The unit files of the root's system unit directories (links to other units, aliases, left out)."""
    names: set[str] = set()
    for directory in UNIT_DIRS:
        for name in _listdir(top, directory):
            rel = f"{directory}/{name}"
            if top.is_file(rel) and not name.startswith("."):
                names.add(name)
    return sorted(names)


def preset_all(root: str, *, vendor: bool) -> list[str]:
    """Enable the units of ``root`` its presets enable (``systemctl preset-all --preset-mode=enable-only``);
    returns the links made, relative to the root. ``vendor``: links beside the units, for an extension."""
    with RootDir(root) as top:
        presets = read_presets(top)
        enabler = _Enabler(top, vendor)
        for name in unit_names(top):
            unit_dir = enabler.find(name)
            if unit_dir is None:
                continue
            install = parse_install(top.read_text(f"{unit_dir}/{name}", follow=True))
            if install.empty and not install.get("DefaultInstance"):
                continue  # static: nothing to enable
            for preset in presets:
                if fnmatch.fnmatchcase(name, preset.pattern):
                    if preset.action == "enable":
                        enabler.enable(name, preset.instances)
                    break
        return sorted(enabler.links)


def ships_units(root: str) -> bool:
    """Whether the tree at ``root`` holds system unit files."""
    with RootDir(root) as top:
        return bool(unit_names(top))
