"""The services of a subhost: a systemd unit's ``[Service]`` start commands, or an ``/etc/init.d`` script.

Only what starting a service needs is read: ``Type=``, ``ExecStartPre=``, ``ExecStart=``,
``ExecStartPost=`` (with their ``-`` and ``@`` prefixes), ``Environment=``, ``EnvironmentFile=`` and
``WorkingDirectory=``, from the unit file and its ``NAME.service.d/*.conf`` drop-ins, in systemd's search
order. A subhost runs no systemd, so other settings have no effect.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from layerbuild.util.errors import LayerbuildError, Location

#: unit directories in systemd's precedence order (the first holding the unit wins)
UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system")
#: where a command name without a slash is looked up, as systemd does
EXEC_SEARCH_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
DEFAULT_PATH = ":".join(EXEC_SEARCH_PATH)
TYPES = frozenset({"simple", "exec", "forking", "oneshot", "notify", "notify-reload", "dbus", "idle"})
_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\$")


@dataclass(frozen=True)
class Command:
    """One ``Exec*=`` command line: ``argv[0]`` is what runs, ``argv0`` what it is told its name is."""

    argv: tuple[str, ...]
    argv0: str | None = None
    ignore_failure: bool = False


@dataclass(frozen=True)
class Service:
    name: str
    type: str  # a systemd Type=, or "initscript"
    start: tuple[Command, ...]
    pre: tuple[Command, ...] = ()
    post: tuple[Command, ...] = ()
    environment: tuple[tuple[str, str], ...] = ()
    working_directory: str | None = None
    source: str = ""

    @property
    def waits(self) -> bool:
        """Whether starting it means waiting for the start command to exit (forking, oneshot, init scripts)."""
        return self.type in ("forking", "oneshot", "initscript")


def find_service(root: str, name: str) -> Service:
    """The service ``name`` (``foo``, ``foo.service`` or ``foo@inst.service``) of the tree at ``root``."""
    unit = name if name.endswith(".service") else f"{name}.service"
    prefix, at, rest = unit[: -len(".service")].partition("@")
    instance = rest if at else ""
    candidates = [unit] + ([f"{prefix}@.service"] if at and instance else [])
    for candidate in candidates:
        for directory in UNIT_DIRS:
            path = os.path.join(root, directory.lstrip("/"), candidate)
            if os.path.lexists(path):
                if os.path.islink(path) and os.readlink(path) == "/dev/null":
                    raise LayerbuildError(f"service {name}: unit {unit} is masked", Location(path))
                dropins = _dropins(root, unit, candidate)
                return read_unit(path, unit, dropins, root=root, instance=instance)
    script = os.path.join(root, "etc/init.d", name.removesuffix(".service"))
    if os.path.isfile(script) and os.access(script, os.X_OK):
        return Service(name=name, type="initscript", start=(Command((f"/etc/init.d/{os.path.basename(script)}",
                                                                     "start")),), source=script)
    raise LayerbuildError(f"service {name}: no unit {unit} in {', '.join(UNIT_DIRS)}, and no /etc/init.d/{name}",
                          hint="START names units or init scripts of the subhost's tree")


def _dropins(root: str, unit: str, template: str) -> list[str]:
    chosen: dict[str, str] = {}
    for name in dict.fromkeys((template, unit)):
        for directory in reversed(UNIT_DIRS):  # a later (higher-precedence) directory overrides an equal name
            d = os.path.join(root, directory.lstrip("/"), f"{name}.d")
            if os.path.isdir(d):
                for entry in sorted(os.listdir(d)):
                    if entry.endswith(".conf"):
                        chosen[entry] = os.path.join(d, entry)
    return [chosen[k] for k in sorted(chosen)]


def read_unit(path: str, unit: str, dropins: Sequence[str] = (), *, root: str = "/", instance: str = "") -> Service:
    """Read the ``[Service]`` section of ``path`` and its drop-ins into a :class:`Service`."""
    settings: dict[str, list[tuple[str, Location]]] = {}
    for file in [path, *dropins]:
        for key, value, where in _service_settings(file):
            entries = settings.setdefault(key, [])
            if value == "" and key in ("ExecStart", "ExecStartPre", "ExecStartPost", "Environment",
                                       "EnvironmentFile"):
                entries.clear()  # an empty assignment resets the list, as in systemd
            else:
                entries.append((value, where))

    def last(key: str) -> tuple[str, Location] | None:
        return settings[key][-1] if settings.get(key) else None

    stem = unit[: -len(".service")]
    specifiers = {"n": unit, "N": stem, "p": stem.partition("@")[0], "i": instance, "I": instance, "%": "%"}
    typ = last("Type")
    service_type = typ[0] if typ else "simple"
    if service_type not in TYPES:
        raise LayerbuildError(f"unit {unit}: unknown Type={service_type}", typ[1] if typ else Location(path))
    environment: dict[str, str] = {}
    for value, where in settings.get("EnvironmentFile", []):
        optional = value.startswith("-")
        env_path = os.path.join(root, _specify(value.removeprefix("-"), specifiers, where).lstrip("/"))
        if not os.path.exists(env_path):
            if optional:
                continue
            raise LayerbuildError(f"unit {unit}: EnvironmentFile {value} does not exist", where)
        environment.update(read_environment_file(env_path))
    for value, where in settings.get("Environment", []):
        try:
            words = shlex.split(_specify(value, specifiers, where))
        except ValueError as exc:
            raise LayerbuildError(f"unit {unit}: bad Environment={value}: {exc}", where) from None
        for word in words:
            k, eq, v = word.partition("=")
            if not eq or not re.match(r"[A-Za-z_][A-Za-z0-9_]*\Z", k):
                raise LayerbuildError(f"unit {unit}: Environment= assignment {word!r} is not NAME=value", where)
            environment[k] = v

    def commands(key: str) -> tuple[Command, ...]:
        return tuple(parse_command(_specify(v, specifiers, w), environment, w, unit)
                     for v, w in settings.get(key, []))

    start = commands("ExecStart")
    where = settings["ExecStart"][-1][1] if settings.get("ExecStart") else Location(path)
    if not start and service_type != "oneshot":
        raise LayerbuildError(f"unit {unit}: service has no ExecStart= setting, refusing", where)
    if len(start) > 1 and service_type != "oneshot":
        raise LayerbuildError(f"unit {unit}: service has more than one ExecStart= setting, which is only allowed "
                              "for Type=oneshot services, refusing", where)
    wd = last("WorkingDirectory")
    working_directory = _specify(wd[0], specifiers, wd[1]).lstrip("-") if wd else None
    if working_directory == "~":
        working_directory = "/root"
    return Service(name=unit, type=service_type, start=start, pre=commands("ExecStartPre"),
                   post=commands("ExecStartPost"), environment=tuple(environment.items()),
                   working_directory=working_directory or None, source=path)


def _service_settings(path: str) -> list[tuple[str, str, Location]]:
    """``(key, value, location)`` of the ``[Service]`` section, continuation lines joined."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            raw = fh.read().split("\n")
    except OSError as exc:
        raise LayerbuildError(f"cannot read unit: {exc.strerror}", Location(path)) from None
    found: list[tuple[str, str, Location]] = []
    section = ""
    i = 0
    while i < len(raw):
        lineno = i + 1
        line = raw[i].strip()
        i += 1
        while line.endswith("\\") and i < len(raw):
            nxt = raw[i].strip()
            i += 1
            if nxt.startswith(("#", ";")):
                continue
            line = line[:-1] + " " + nxt
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise LayerbuildError(f"bad section header {line!r}", Location(path, lineno))
            section = line[1:-1]
            continue
        key, eq, value = line.partition("=")
        if not eq:
            raise LayerbuildError(f"expected Key=Value, found {line!r}", Location(path, lineno))
        if section == "Service":
            found.append((key.strip(), value.strip(), Location(path, lineno)))
    return found


def _specify(text: str, specifiers: dict[str, str], where: Location) -> str:
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "%" and i + 1 < len(text):
            spec = text[i + 1]
            if spec not in specifiers:
                raise LayerbuildError(f"specifier %{spec} is not supported in a subhost", where,
                                      hint="supported: %n %N %p %i %I %%")
            out.append(specifiers[spec])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse_command(text: str, environment: dict[str, str], where: Location, unit: str = "") -> Command:
    """One ``Exec*=`` value: prefixes, quoting, ``$VAR`` (split into words) and ``${VAR}`` (one word)."""
    ignore, argv0_flag = False, False
    while text and text[0] in "-@:+!":
        ignore |= text[0] == "-"
        argv0_flag |= text[0] == "@"
        text = text[1:]
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise LayerbuildError(f"unit {unit}: bad command line {text!r}: {exc}", where) from None
    argv: list[str] = []
    for word in words:
        m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if m:
            argv.extend(environment.get(m.group(1), "").split())
            continue
        argv.append(_VAR_RE.sub(lambda v: "$" if v.group() == "$$" else environment.get(v.group(1), ""), word))
    argv0 = None
    if argv0_flag:
        if len(argv) < 2:
            raise LayerbuildError(f"unit {unit}: '@' needs the program and the name to give it", where)
        argv0 = argv.pop(1)
    if not argv:
        raise LayerbuildError(f"unit {unit}: empty command line", where)
    return Command(argv=tuple(argv), argv0=argv0, ignore_failure=ignore)


def read_environment_file(path: str) -> dict[str, str]:
    """``KEY=value`` lines of an ``EnvironmentFile=`` (quotes stripped, comments skipped)."""
    env: dict[str, str] = {}
    with open(path, encoding="utf-8", errors="surrogateescape") as fh:
        for line in fh:
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            key, eq, value = line.removeprefix("export ").partition("=")
            if eq:
                value = value.strip()
                if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                    value = value[1:-1]
                env[key.strip()] = value
    return env


def resolve_executable(name: str, root: str = "/") -> str | None:
    """The path (inside ``root``) ``name`` runs from, searching :data:`EXEC_SEARCH_PATH` for a bare name."""
    candidates = [name] if "/" in name else [f"{d}/{name}" for d in EXEC_SEARCH_PATH]
    for candidate in candidates:
        full = os.path.join(root, candidate.lstrip("/"))
        if os.path.isfile(full) and os.access(full, os.X_OK):
            return candidate
    return None
