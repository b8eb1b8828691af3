"""The useradd class's part of ``do_package``: OE's useradd/groupadd/groupmems arguments as a sysusers.d file.

``USERADD_PARAM:<pkg>``, ``GROUPADD_PARAM:<pkg>`` and ``GROUPMEMS_PARAM:<pkg>`` hold the arguments OE
passes to shadow's ``useradd``, ``groupadd`` and ``groupmems`` (several commands separated by ``;``).
They are read here, as those tools read them, and written as systemd's declarative form,
``${nonarch_libdir}/sysusers.d/useradd-<pkg>.conf`` in the package: a base image creates the users and
groups from it offline when it makes its root (:mod:`layerbuild.rootfs.sysusers`), and a system extension,
which cannot change /etc/passwd, ships it for systemd-sysusers to create them on the device.

What sysusers.d cannot say is left out with a warning: a password (users are created locked, ``!*``),
an expiry date, a skeleton directory. ``--create-home`` is accepted and creates no home, as
systemd-sysusers creates none.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field

from layerbuild.packaging.systemd import write_inside
from layerbuild.taskapi import TaskContext
from layerbuild.util.errors import LayerbuildError
from layerbuild.util.rootdir import RootDir

#: option -> (its name in the result, whether it takes an argument); the long names shadow's tools use
USERADD_OPTIONS = {
    "-c": ("comment", True), "--comment": ("comment", True), "-d": ("home", True), "--home-dir": ("home", True),
    "-g": ("gid", True), "--gid": ("gid", True), "-G": ("groups", True), "--groups": ("groups", True),
    "-s": ("shell", True), "--shell": ("shell", True), "-u": ("uid", True), "--uid": ("uid", True),
    "-r": ("system", False), "--system": ("system", False), "-m": ("create-home", False),
    "--create-home": ("create-home", False), "-M": ("no-create-home", False),
    "--no-create-home": ("no-create-home", False), "-N": ("no-user-group", False),
    "--no-user-group": ("no-user-group", False), "-U": ("user-group", False), "--user-group": ("user-group", False),
    "-o": ("non-unique", False), "--non-unique": ("non-unique", False), "-l": ("no-log-init", False),
    "--no-log-init": ("no-log-init", False), "-p": ("password", True), "--password": ("password", True),
    "-P": ("password", True), "--clear-password": ("password", True), "-e": ("expiredate", True),
    "--expiredate": ("expiredate", True), "-f": ("inactive", True), "--inactive": ("inactive", True),
    "-k": ("skel", True), "--skel": ("skel", True), "-K": ("key", True), "--key": ("key", True),
    "-b": ("base-dir", True), "--base-dir": ("base-dir", True), "-R": ("root", True), "--root": ("root", True),
    "--prefix": ("root", True),
}
GROUPADD_OPTIONS = {
    "-g": ("gid", True), "--gid": ("gid", True), "-r": ("system", False), "--system": ("system", False),
    "-f": ("force", False), "--force": ("force", False), "-o": ("non-unique", False),
    "--non-unique": ("non-unique", False), "-p": ("password", True), "--password": ("password", True),
    "-P": ("password", True), "--clear-password": ("password", True), "-K": ("key", True), "--key": ("key", True),
    "-U": ("users", True), "--users": ("users", True), "-R": ("root", True), "--root": ("root", True),
    "--prefix": ("root", True),
}
GROUPMEMS_OPTIONS = {
    "-a": ("add", True), "--add": ("add", True), "-g": ("group", True), "--group": ("group", True),
    "-R": ("root", True), "--root": ("root", True), "--prefix": ("root", True),
}
USERMOD_OPTIONS = {
    "-a": ("append", False), "--append": ("append", False), "-G": ("groups", True), "--groups": ("groups", True),
    "-R": ("root", True), "--root": ("root", True), "--prefix": ("root", True),
}
#: what sysusers.d has no field for, and so is not carried
_DROPPED = {"password": "a password (the user is created locked)", "expiredate": "an expiry date",
            "inactive": "a password inactivity period", "skel": "a skeleton directory"}
_NAME = re.compile(r"^[a-z_][a-z0-9_-]*\$?$", re.IGNORECASE)
_ID = re.compile(r"^[0-9]+$")


class ParamError(LayerbuildError):
    """Arguments that shadow's tool would refuse."""


@dataclass
class Command:
    """One useradd/groupadd/groupmems command: its options and its one operand (the name)."""

    options: dict[str, str] = field(default_factory=dict)
    name: str = ""


def parse_command(tool: str, text: str, table: dict[str, tuple[str, bool]], *, needs_name: bool = True) -> Command:
    """One command's arguments, read as getopt_long reads them."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise ParamError(f"{tool}: cannot read '{text.strip()}': {exc}") from None
    cmd = Command()
    operands: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word == "--":
            operands.extend(words[i:])
            break
        if not word.startswith("-") or word == "-":
            operands.append(word)
            continue
        if word.startswith("--"):
            opt, eq, value = word.partition("=")
            entry = _long(table, opt)
            if entry is None:
                raise ParamError(f"{tool}: unknown option '{opt}' in '{text.strip()}'")
            key, takes = entry
            if takes and not eq:
                if i >= len(words):
                    raise ParamError(f"{tool}: option '{opt}' needs a value in '{text.strip()}'")
                value, i = words[i], i + 1
            cmd.options[key] = value if takes else "1"
            continue
        # a cluster of short options: -rM, -u1000, -u 1000
        j = 1
        while j < len(word):
            opt = "-" + word[j]
            entry = table.get(opt)
            if entry is None:
                raise ParamError(f"{tool}: unknown option '{opt}' in '{text.strip()}'")
            key, takes = entry
            if takes:
                value = word[j + 1:]
                if not value:
                    if i >= len(words):
                        raise ParamError(f"{tool}: option '{opt}' needs a value in '{text.strip()}'")
                    value, i = words[i], i + 1
                cmd.options[key] = value
                break
            cmd.options[key] = "1"
            j += 1
    if needs_name:
        if len(operands) != 1:
            what = "no name" if not operands else f"{len(operands)} names ({' '.join(operands)})"
            raise ParamError(f"{tool}: '{text.strip()}' gives {what}; it takes one")
        cmd.name = operands[0]
        if not _NAME.match(cmd.name) or len(cmd.name) > 32:
            raise ParamError(f"{tool}: '{cmd.name}' is not a valid name (letters, digits, '_' and '-', "
                             "not starting with a digit or '-', at most 32 characters)")
    elif operands:
        raise ParamError(f"{tool}: '{text.strip()}' takes no name (it has {' '.join(operands)})")
    return cmd


def _long(table: dict[str, tuple[str, bool]], opt: str) -> tuple[str, bool] | None:
    """The entry of long option ``opt``, or of the one option it abbreviates (as getopt_long allows)."""
    if opt in table:
        return table[opt]
    found = {table[name] for name in table if name.startswith(opt) and name.startswith("--")}
    return found.pop() if len(found) == 1 else None


def _commands(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(";") if part.strip()]


def _quote(value: str) -> str:
    """A sysusers.d field: '-' for none, double quotes around text with spaces."""
    if not value:
        return "-"
    if re.search(r'[\s"\\]', value):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def _id(tool: str, value: str | None, what: str) -> str | None:
    if value is None:
        return None
    if not _ID.match(value) or int(value) >= 2**32 - 1:
        raise ParamError(f"{tool}: {what} '{value}' is not a number")
    return value


def sysusers_lines(groupadd: str | None, useradd: str | None, groupmems: str | None,
                   usermod: str | None = None) -> tuple[list[str], list[str]]:
    """The sysusers.d lines of one package's parameters, and the warnings for what they cannot carry
    (usermod only as far as sysusers.d can say it: ``-a -G GROUPS USER`` adds memberships)."""
    lines: list[str] = []
    warnings: list[str] = []
    members: list[str] = []
    for text in _commands(groupadd):
        cmd = parse_command("groupadd", text, GROUPADD_OPTIONS)
        gid = _id("groupadd", cmd.options.get("gid"), "GID")
        lines.append(f"g {cmd.name} {gid or '-'}")
        if "password" in cmd.options:
            warnings.append(f"groupadd {cmd.name}: {_DROPPED['password']} is not carried")
        members.extend(f"m {user} {cmd.name}" for user in cmd.options.get("users", "").split(",") if user)
    for text in _commands(useradd):
        cmd = parse_command("useradd", text, USERADD_OPTIONS)
        o = cmd.options
        uid = _id("useradd", o.get("uid"), "UID")
        group = o.get("gid")
        ident = uid or "-"
        if group:
            ident = f"{ident}:{group}"
        home = o.get("home") or f"{o.get('base-dir', '/home').rstrip('/')}/{cmd.name}"
        shell = o.get("shell") or "/bin/sh"
        lines.append(f"u {cmd.name} {ident} {_quote(o.get('comment', ''))} {_quote(home)} {_quote(shell)}")
        members.extend(f"m {cmd.name} {g}" for g in o.get("groups", "").split(",") if g)
        warnings.extend(f"useradd {cmd.name}: {why} is not carried" for key, why in _DROPPED.items() if key in o)
    for text in _commands(groupmems):
        cmd = parse_command("groupmems", text, GROUPMEMS_OPTIONS, needs_name=False)
        if "add" not in cmd.options or "group" not in cmd.options:
            raise ParamError(f"groupmems: '{text}' needs -a USER and -g GROUP")
        members.append(f"m {cmd.options['add']} {cmd.options['group']}")
    for text in _commands(usermod):
        try:
            cmd = parse_command("usermod", text, USERMOD_OPTIONS)
        except ParamError as exc:
            warnings.append(f"{exc.message}: only 'usermod -a -G GROUPS USER' is carried")
            continue
        if "append" not in cmd.options or "groups" not in cmd.options:
            warnings.append(f"usermod {text}: only 'usermod -a -G GROUPS USER' is carried")
            continue
        members.extend(f"m {cmd.name} {g}" for g in cmd.options["groups"].split(",") if g)
    return lines + members, warnings


def sysusers_path(ctx: TaskContext, pkg: str) -> str:
    return os.path.join(ctx.vars.get("nonarch_libdir"), "sysusers.d", f"useradd-{pkg}.conf")


def package_users(ctx: TaskContext, pkgd: str) -> dict[str, list[str]]:
    """Write each package's sysusers.d file into ``pkgd``; package -> the file it must ship."""
    v = ctx.vars
    packages = v.words("PACKAGES")
    shipped: dict[str, list[str]] = {}
    for pkg in v.words("USERADD_PACKAGES"):
        if pkg not in packages:
            raise ctx.fatal(f"{ctx.pn}: {pkg} is in USERADD_PACKAGES but not in PACKAGES", var="USERADD_PACKAGES",
                            hint="add it to PACKAGES, or adjust USERADD_PACKAGES")
        params = {name: v.getVar(f"{name}:{pkg}")
                  for name in ("GROUPADD_PARAM", "USERADD_PARAM", "GROUPMEMS_PARAM", "USERMOD_PARAM")}
        try:
            lines, warnings = sysusers_lines(params["GROUPADD_PARAM"], params["USERADD_PARAM"],
                                             params["GROUPMEMS_PARAM"], params["USERMOD_PARAM"])
        except ParamError as exc:
            var = next((f"{name}:{pkg}" for name, text in params.items()
                        if text and exc.message.split(":")[0] == name.split("_")[0].lower()), f"USERADD_PARAM:{pkg}")
            raise ctx.fatal(f"{ctx.pn}: {var}: {exc.message}", var=var) from None
        for warning in warnings:
            ctx.warn(f"{ctx.pn}: {pkg}: {warning} (sysusers.d has no field for it)")
        if not lines:
            continue
        rel = sysusers_path(ctx, pkg)
        text = f"# users and groups of {pkg} (useradd.bbclass)\n" + "\n".join(lines) + "\n"
        with RootDir(pkgd) as top:
            write_inside(ctx, top, rel, text)
        shipped[pkg] = [rel]
    return shipped
