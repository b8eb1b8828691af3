"""Users and groups of an image's sysusers.d files, created offline as ``systemd-sysusers --root`` creates them.

The useradd class ships each package's users as ``/usr/lib/sysusers.d/useradd-<pkg>.conf``; a base image
creates them in ``/etc/passwd``, ``/etc/group``, ``/etc/shadow`` and ``/etc/gshadow`` when it makes its
root, so the image boots with them (a system extension ships the file instead, for systemd-sysusers on
the device). The files are read as systemd reads them (a name in /etc hides the same name in /usr/lib,
files in the order of their names); lines ``g``, ``u`` and ``m`` are applied, ``r`` ranges are not.

Numbers are chosen as systemd-sysusers chooses them, so the result does not depend on the build host
and is the same each time: an explicit number when it is free, a user's group sharing its UID, else
the highest free number of the system range (999 down), keeping UID and GID pairs together. Existing
users and groups are left as they are. Passwords are locked (``!*``); the change date is the day of
``SOURCE_DATE_EPOCH``. Every file is read and written inside the root
(:class:`~layerbuild.util.rootdir.RootDir`).
"""

from __future__ import annotations

import functools
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

from layerbuild.util.errors import LayerbuildError
from layerbuild.util.rootdir import RootDir, RootPathError

SYSUSERS_DIRS = ("etc/sysusers.d", "run/sysusers.d", "usr/lib/sysusers.d", "lib/sysusers.d")
SYSTEM_MAX = 999
FILES = ("etc/passwd", "etc/group", "etc/shadow", "etc/gshadow")


class SysusersError(LayerbuildError):
    """A sysusers.d line that cannot be applied."""


@dataclass(frozen=True)
class Item:
    kind: str
    name: str
    id: str
    gecos: str = ""
    home: str = ""
    shell: str = ""
    where: str = ""


@dataclass
class Table:
    """One of /etc/passwd or /etc/group: its lines, and the names and numbers in use."""

    lines: list[list[str]] = field(default_factory=list)
    names: dict[str, int] = field(default_factory=dict)
    numbers: set[int] = field(default_factory=set)

    def add(self, fields: list[str]) -> None:
        self.lines.append(fields)
        if len(fields) > 2 and fields[2].isdigit():
            self.names[fields[0]] = int(fields[2])
            self.numbers.add(int(fields[2]))


def read_items(top: RootDir) -> list[Item]:
    """Every line of the root's sysusers.d files, in the order systemd reads them."""
    files: dict[str, str] = {}
    for directory in SYSUSERS_DIRS:
        try:
            names = sorted(top.listdir(directory))
        except (FileNotFoundError, NotADirectoryError, RootPathError):
            continue
        for name in names:
            if name.endswith(".conf"):
                files.setdefault(name, f"{directory}/{name}")
    items: list[Item] = []
    for name in sorted(files):
        rel = files[name]
        for number, line in enumerate(top.read_text(rel, follow=True).splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            where = f"/{rel}:{number}"
            try:
                words = shlex.split(line)
            except ValueError as exc:
                raise SysusersError(f"{where}: cannot read '{line}': {exc}") from None
            words += ["-"] * (6 - len(words))
            kind, uname, ident, gecos, home, shell = (w if w != "-" else "" for w in words[:6])
            if kind.rstrip("!") not in ("u", "g", "m", "r") or not uname and kind != "r":
                raise SysusersError(f"{where}: cannot read '{line}'",
                                    hint="a line is 'u NAME ID GECOS HOME SHELL', 'g NAME ID' or 'm USER GROUP'")
            items.append(Item(kind.rstrip("!"), uname, ident, gecos, home, shell, where))
    return items


def _read_table(top: RootDir, rel: str) -> Table:
    table = Table()
    if top.lexists(rel):
        for line in top.read_text(rel, follow=True).splitlines():
            if line.strip():
                table.add(line.split(":"))
    return table


class _Allocator:
    def __init__(self, passwd: Table, group: Table) -> None:
        self.passwd = passwd
        self.group = group

    def gid_ok(self, gid: int, with_uid: bool) -> bool:
        if gid in self.group.numbers:
            return False
        return not (with_uid and gid in self.passwd.numbers)

    def uid_ok(self, uid: int, name: str, with_gid: bool) -> bool:
        if uid in self.passwd.numbers:
            return False
        if with_gid and uid in self.group.numbers:
            return self.group.names.get(name) == uid
        return True

    def search(self, check: Callable[[int], bool]) -> int:
        for candidate in range(SYSTEM_MAX, 0, -1):
            if check(candidate):
                return candidate
        raise SysusersError("no free number left in the system range 1-999")


def _add_group(item: Item, name: str, ident: str, alloc: _Allocator, group: Table, gshadow: Table,
               passwd: Table) -> str:
    if ident and not ident.isdigit():
        raise SysusersError(f"{item.where}: '{ident}' is not a GID")
    gid = None
    if ident and alloc.gid_ok(int(ident), False):
        gid = int(ident)
    if gid is None and name in passwd.names and alloc.gid_ok(passwd.names[name], False):
        gid = passwd.names[name]
    if gid is None:
        gid = alloc.search(lambda n: alloc.gid_ok(n, True))
    group.add([name, "x", str(gid), ""])
    gshadow.add([name, "!*", "", ""])
    return f"group {name} ({gid})"


def apply(root: str, epoch: int) -> list[str]:
    """Create the users and groups the root's sysusers.d files declare; returns what was created."""
    with RootDir(root) as top:
        items = read_items(top)
        if not any(i.kind in ("u", "g") for i in items):
            return []
        passwd, group = _read_table(top, "etc/passwd"), _read_table(top, "etc/group")
        shadow, gshadow = _read_table(top, "etc/shadow"), _read_table(top, "etc/gshadow")
        alloc = _Allocator(passwd, group)
        created: list[str] = []
        day = str(epoch // 86400) if epoch else ""
        # the declared groups first, then each user after its own group, as systemd-sysusers goes
        for item in items:
            if item.kind == "g" and item.name not in group.names:
                created.append(_add_group(item, item.name, item.id, alloc, group, gshadow, passwd))
        for item in items:
            if item.kind != "u" or item.name in passwd.names:
                continue
            uid_text, _, group_text = item.id.partition(":")
            uid_text = "" if uid_text == "-" else uid_text
            if uid_text and not uid_text.isdigit():
                raise SysusersError(f"{item.where}: '{uid_text}' is not a UID")
            if not group_text and item.name not in group.names:
                created.append(_add_group(item, item.name, uid_text, alloc, group, gshadow, passwd))
            primary = group_text or item.name
            if primary.isdigit():
                gid = int(primary)
            elif primary in group.names:
                gid = group.names[primary]
            else:
                raise SysusersError(f"{item.where}: user {item.name}'s group '{primary}' does not exist",
                                    hint="declare it with a 'g' line (GROUPADD_PARAM) first")
            uid = None
            if uid_text and alloc.uid_ok(int(uid_text), item.name, False):
                uid = int(uid_text)
            if uid is None and not group_text and alloc.uid_ok(gid, item.name, True):
                uid = gid
            if uid is None:
                uid = alloc.search(functools.partial(alloc.uid_ok, name=item.name, with_gid=True))
            passwd.add([item.name, "x", str(uid), str(gid), item.gecos, item.home or "/",
                        item.shell or "/usr/sbin/nologin"])
            shadow.add([item.name, "!*", day, "", "", "", "", "", ""])
            created.append(f"user {item.name} ({uid}:{gid})")
        added: dict[str, list[str]] = {}
        for item in items:
            if item.kind == "m":
                if item.id not in group.names:
                    raise SysusersError(f"{item.where}: group '{item.id}' of member {item.name} does not exist")
                added.setdefault(item.id, []).append(item.name)
        for name, users in added.items():
            for table in (group, gshadow):
                line = next((fields for fields in table.lines if fields[0] == name), None)
                if line is None:
                    continue
                while len(line) < 4:
                    line.append("")
                members = [m for m in line[3].split(",") if m]
                line[3] = ",".join(members + sorted(set(users) - set(members)))
        for rel, table, mode in (("etc/passwd", passwd, 0o644), ("etc/group", group, 0o644),
                                 ("etc/shadow", shadow, 0o600), ("etc/gshadow", gshadow, 0o600)):
            if top.lexists(rel):
                mode = top.lstat(rel).st_mode & 0o7777
            top.write_bytes(rel, "".join(":".join(fields) + "\n" for fields in table.lines).encode(), mode,
                            mtime=epoch or None)
        return created
