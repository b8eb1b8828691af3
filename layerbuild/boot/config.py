"""The subhost configuration: shell-style assignments read into a frozen, validated :class:`BootConfig`.

The file is a list of ``NAME=value`` assignments as a POSIX shell reads them (single and double quotes,
backslashes, ``#`` comments, ``$VAR`` and ``${VAR}`` of earlier assignments and of the environment), but it
is never run: command substitution is refused, and so are unknown settings and values that do not fit,
each with the ``CONF:line`` it came from.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from layerbuild.util.errors import LayerbuildError, Location

#: setting -> what it is (the documentation of ``docs/boot.md`` follows this table)
SETTINGS: dict[str, str] = {
    "NAME": "short name of the subhost, at most 12 characters (default: the config file's name)",
    "BASE": "base directory of the subhost (required)",
    "LOWER": "the read-only lower layer: a directory, a .rootfs.tar.zst or a squashfs/erofs image (default: /)",
    "UPPER": "the writable upper directory, or a program run with ACTION=setup/teardown (default: $BASE/root)",
    "WORK": "the overlay work directory, on the same file system as UPPER (default: $BASE/work)",
    "LIVE": "mount point of the overlay, the subhost's root (default: $BASE/live)",
    "LOG": "log file (default: /tmp/overlay-$NAME.log)",
    "START": "services to start, by unit or init script name (default: none, a dummy service)",
    "RAM_SIZE": "size of the tmpfs on /run, or none (default: 50M)",
    "CABLES": "space-separated bridge=mac virtual cables (default: none)",
    "EXTENSIONS": "space-separated sysext/confext images or directories to merge (default: none)",
    "ARCHITECTURE": "the architecture of LOWER's programs by systemd's name, which extensions must match; "
                    "another than the host's runs through qemu-user (default: the host's)",
}

#: directories of the host's own system: nothing inside them is ever a subhost's writable layer
HOST_SYSTEM_DIRS = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/sbin", "/sys",
                    "/usr")

MAX_NAME = 12
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*\Z")
_MAC_RE = re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}\Z")
_IFNAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,15}\Z")
_SIZE_RE = re.compile(r"[0-9]+[kKmMgG%]?\Z")
_SERVICE_RE = re.compile(r"[A-Za-z0-9@._:\\-]+\Z")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ARCH_RE = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")


@dataclass(frozen=True)
class Cable:
    """One virtual cable: host end ``NAME<index>`` on ``bridge`` (or up on its own), subhost end ``eth<index>``."""

    index: int
    bridge: str
    mac: str

    def host_end(self, name: str) -> str:
        return f"{name}{self.index}"

    @property
    def guest_end(self) -> str:
        return f"eth{self.index}"


@dataclass(frozen=True)
class BootConfig:
    """A validated subhost configuration; paths are absolute."""

    name: str
    base: str
    lower: str
    upper: str
    work: str
    live: str
    log: str
    start: tuple[str, ...] = ()
    ram_size: str | None = "50M"
    cables: tuple[Cable, ...] = ()
    extensions: tuple[str, ...] = ()
    #: systemd's name of the architecture of LOWER's programs, when it is not the host's
    architecture: str | None = None
    upper_is_program: bool = False
    #: where the settings came from, for errors found later (a missing bridge names its CABLES line)
    source: str = "<config>"
    lines: Mapping[str, int] = field(default_factory=dict, compare=False)

    @property
    def overlay(self) -> bool:
        """Whether an overlay is mounted on LIVE (not when LIVE is LOWER, a root mounted beforehand)."""
        return self.live != self.lower

    def where(self, key: str) -> Location:
        return Location(self.source, self.lines.get(key, 0))

    def upper_problem(self, upper: str, *, from_program: bool = False) -> str | None:
        """Why ``upper`` cannot be this subhost's writable layer, or None.

        Never a directory of the host's system (:func:`host_directory_problem`); never one that is, holds or
        lies inside LIVE, WORK or LOWER (inside a LOWER of ``/``, overlay-boot's default, is where every
        upper directory is). What an UPPER program prints must moreover lie below BASE: the program runs
        there to set up the subhost's own directory, and nothing else names a directory for it.
        """
        real = os.path.realpath(upper)
        problem = host_directory_problem(real)
        if problem:
            return problem
        base = os.path.realpath(self.base)
        if from_program and (real == base or not _inside(real, base)):
            return f"is not below BASE {base}"
        if not self.overlay:
            return None  # no overlay is mounted: the upper directory is not used
        live, work, lower = (os.path.realpath(p) for p in (self.live, self.work, self.lower))
        for key, other in (("LIVE", live), ("WORK", work)):
            if _overlaps(real, other):
                return f"{_relation(real, other)} {key} {other}"
        if os.path.isdir(lower):
            if _overlaps(real, lower) and not (lower == "/" and _inside(real, lower)):
                return f"{_relation(real, lower)} LOWER {lower}"
        else:
            cache = os.path.join(base, "lower-cache")
            if _inside(lower, real) or _overlaps(real, cache):
                return f"holds LOWER {lower}" if _inside(lower, real) else \
                    f"{_relation(real, cache)} {cache}, where LOWER is unpacked"
        return None

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "base": self.base, "lower": self.lower, "upper": self.upper, "work": self.work,
                "live": self.live, "log": self.log, "start": list(self.start), "ram_size": self.ram_size,
                "cables": [[c.index, c.bridge, c.mac] for c in self.cables], "extensions": list(self.extensions),
                "architecture": self.architecture, "upper_is_program": self.upper_is_program, "source": self.source, "lines": dict(self.lines)}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> BootConfig:
        def strs(key: str) -> tuple[str, ...]:
            return tuple(str(x) for x in data[key])  # type: ignore[attr-defined]

        cables = tuple(Cable(int(i), str(b), str(m)) for i, b, m in data["cables"])  # type: ignore[attr-defined]
        lines = {str(k): int(v) for k, v in data["lines"].items()}  # type: ignore[attr-defined]
        ram = data["ram_size"]
        return cls(name=str(data["name"]), base=str(data["base"]), lower=str(data["lower"]), upper=str(data["upper"]),
                   work=str(data["work"]), live=str(data["live"]), log=str(data["log"]), start=strs("start"),
                   ram_size=None if ram is None else str(ram), cables=cables, extensions=strs("extensions"),
                   architecture=None if data.get("architecture") is None else str(data["architecture"]),
                   upper_is_program=bool(data["upper_is_program"]), source=str(data["source"]), lines=lines)


def host_directory_problem(path: str) -> str | None:
    """Why the resolved directory ``path`` belongs to the host's own system (words that follow the path),
    or None: the root, a directory directly below it (``/etc``, ``/var``, ``/home``, ...), or anything
    inside :data:`HOST_SYSTEM_DIRS` (``/usr/local/x``)."""
    if path == "/":
        return "is the host's root directory"
    system = next((d for d in HOST_SYSTEM_DIRS if _inside(path, d)), None)
    if system:
        return "is a system directory of the host" if system == path else \
            f"lies inside {system}, a system directory of the host"
    if os.path.dirname(path) == "/":
        return "is a top-level directory of the host"
    return None


def _shown(path: str) -> str:
    """``path``, and where it leads when links on the way lead elsewhere."""
    real = os.path.realpath(path)
    return path if real == os.path.normpath(path) else f"{path} (that is, {real})"


def _inside(path: str, top: str) -> bool:
    """Whether ``path`` is ``top`` or below it (both resolved)."""
    return path == top or path.startswith(top.rstrip("/") + "/")


def _overlaps(a: str, b: str) -> bool:
    return _inside(a, b) or _inside(b, a)


def _relation(a: str, b: str) -> str:
    return "is" if a == b else "lies inside" if _inside(a, b) else "holds"


def load_config(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> BootConfig:
    """Read and validate the config file ``path``; ``$VAR`` falls back to ``environ`` (default: os.environ)."""
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise LayerbuildError(f"cannot read the subhost config: {exc.strerror}", Location(source)) from None
    except UnicodeDecodeError:
        raise LayerbuildError("the subhost config is not UTF-8 text", Location(source)) from None
    values, lines = parse_assignments(text, source, os.environ if environ is None else environ)
    return make_config(values, source=source, lines=lines,
                       default_name=os.path.splitext(os.path.basename(source))[0],
                       relative_to=os.path.dirname(os.path.abspath(source)))


def make_config(values: Mapping[str, str], *, source: str = "<config>", lines: Mapping[str, int] | None = None,
                default_name: str | None = None, relative_to: str | None = None) -> BootConfig:
    """Validate settings given as strings (as a config file would give them) and fill in the defaults.

    Relative paths are taken from ``relative_to`` (the config file's directory; default: the current one).
    """
    lines = dict(lines or {})
    here = relative_to or os.getcwd()

    def fail(key: str, message: str, hint: str | None = None) -> LayerbuildError:
        return LayerbuildError(message, Location(source, lines.get(key, 0)), hint)

    for key in values:
        if key not in SETTINGS:
            close = difflib.get_close_matches(key, SETTINGS, n=1)
            hint = f"did you mean {close[0]}?" if close else f"the settings are {', '.join(SETTINGS)}"
            raise fail(key, f"unknown setting {key}", hint)

    def path(key: str, default: str) -> str:
        value = values.get(key, default)
        if not value:
            raise fail(key, f"{key} is empty")
        return os.path.normpath(os.path.join(here, value))

    name = values.get("NAME", default_name or "")
    if not name:
        raise fail("NAME", "the subhost has no name", "set NAME=")
    if len(name) > MAX_NAME:
        raise fail("NAME", f"NAME {name!r} is longer than {MAX_NAME} characters",
                   "interface names NAME0... must fit in 15 characters; set a shorter NAME=")
    if not _NAME_RE.match(name):
        raise fail("NAME", f"NAME {name!r} may hold only letters, digits, '_' and '-' (starting with a letter or digit)")
    if "BASE" not in values:
        raise fail("BASE", "BASE is not set (the subhost's base directory is required)", "add BASE=/path/to/dir")
    base = path("BASE", "")
    if not os.path.isdir(base):
        raise fail("BASE", f"BASE {base} is not a directory")
    problem = host_directory_problem(os.path.realpath(base))
    if problem:
        raise fail("BASE", f"BASE {_shown(base)} {problem}",
                   "BASE is a directory of the subhost's own, such as /srv/subhosts/NAME")
    lower = path("LOWER", "/")
    if not os.path.exists(lower):
        raise fail("LOWER", f"LOWER {lower} does not exist")
    if not os.path.isdir(lower) and not os.path.isfile(lower):
        raise fail("LOWER", f"LOWER {lower} is neither a directory nor an image file")
    upper = path("UPPER", os.path.join(base, "root"))
    upper_is_program = os.path.isfile(upper)
    if upper_is_program and not os.access(upper, os.X_OK):
        raise fail("UPPER", f"UPPER {upper} is a file but not executable",
                   "UPPER is a directory, or a program that prints the upper directory")
    work = path("WORK", os.path.join(base, "work"))
    live = path("LIVE", os.path.join(base, "live"))
    if os.path.isdir(lower) and os.path.realpath(live) == os.path.realpath(lower):
        live = lower
    if live == lower and not os.path.isdir(lower):
        raise fail("LIVE", "LIVE equals LOWER, which then must be a mounted root directory, not an image")
    for key, value in (("LOWER", lower if os.path.isdir(lower) else ""), ("UPPER", upper), ("WORK", work),
                       ("LIVE", live)):
        if live != lower and any(c in value for c in ",:\\"):
            raise fail(key, f"{key} {value} holds ',', ':' or '\\', which overlay mount options cannot carry")
    log = path("LOG", f"/tmp/overlay-{name}.log")
    start = tuple(values.get("START", "").split())
    for service in start:
        if not _SERVICE_RE.match(service):
            raise fail("START", f"START: {service!r} is not a service name")
    ram = values.get("RAM_SIZE", "50M")
    if ram != "none" and not _SIZE_RE.match(ram):
        raise fail("RAM_SIZE", f"RAM_SIZE {ram!r} is not a tmpfs size", "use a size such as 50M, 1G or 10%, or none")
    cables = []
    for index, spec in enumerate(values.get("CABLES", "").split()):
        bridge, eq, mac = spec.partition("=")
        if not eq:
            raise fail("CABLES", f"CABLES: {spec!r} is not a bridge=mac cable", "write bridge=mac; either part may be empty")
        if bridge and not _IFNAME_RE.match(bridge):
            raise fail("CABLES", f"CABLES: {bridge!r} is not an interface name")
        if mac and (not _MAC_RE.match(mac) or int(mac[:2], 16) & 1):
            raise fail("CABLES", f"CABLES: {mac!r} is not a unicast MAC address",
                       "write six hex pairs with ':' whose first octet is even, e.g. 02:00:00:00:00:01")
        cables.append(Cable(index, bridge, mac.lower()))
    if len(cables) > 10 ** (15 - len(name)):
        raise fail("CABLES", f"CABLES: too many cables for interface names {name}0...")
    extensions = []
    for item in values.get("EXTENSIONS", "").split():
        ext = os.path.normpath(os.path.join(here, item))
        if not os.path.exists(ext):
            raise fail("EXTENSIONS", f"EXTENSIONS: {ext} does not exist")
        if ext in extensions:
            raise fail("EXTENSIONS", f"EXTENSIONS: {ext} is named twice")
        extensions.append(ext)
    architecture = values.get("ARCHITECTURE") or None
    if architecture is not None and not _ARCH_RE.match(architecture):
        raise fail("ARCHITECTURE", f"ARCHITECTURE {architecture!r} is not an architecture name",
                   "use systemd's name, such as x86-64 or arm64")
    config = BootConfig(name=name, base=base, lower=lower, upper=upper, work=work, live=live, log=log, start=start,
                        ram_size=None if ram == "none" else ram, cables=tuple(cables), extensions=tuple(extensions),
                        architecture=architecture, upper_is_program=upper_is_program, source=source, lines=lines)
    problem = None if upper_is_program else config.upper_problem(upper)
    if problem:
        raise fail("UPPER", f"UPPER {_shown(upper)} {problem}", "the upper directory takes the subhost's writes: give it a "
                   "directory of its own, such as $BASE/root (the default)")
    problem = host_directory_problem(os.path.realpath(work)) if config.overlay else None
    if problem:
        raise fail("WORK", f"WORK {_shown(work)} {problem}", "overlayfs writes into WORK: give it a directory of the subhost's "
                   "own, such as $BASE/work (the default)")
    return config


class _Reader:
    """A cursor over the config text that knows its line number."""

    def __init__(self, text: str, source: str) -> None:
        self.text, self.source, self.pos, self.line = text, source, 0, 1

    def peek(self, n: int = 0) -> str:
        i = self.pos + n
        return self.text[i] if i < len(self.text) else ""

    def take(self) -> str:
        c = self.peek()
        self.pos += 1
        if c == "\n":
            self.line += 1
        return c

    def error(self, message: str, line: int | None = None, hint: str | None = None) -> LayerbuildError:
        return LayerbuildError(message, Location(self.source, line or self.line), hint)


def parse_assignments(text: str, source: str, environ: Mapping[str, str]) -> tuple[dict[str, str], dict[str, int]]:
    """The assignments of a shell-style config text: ``(values, line of each key)``."""
    r = _Reader(text.replace("\r\n", "\n"), source)
    values: dict[str, str] = {}
    lines: dict[str, int] = {}
    while True:
        while r.peek() and r.peek() in " \t\n;":
            r.take()
        if not r.peek():
            return values, lines
        if r.peek() == "#":
            while r.peek() and r.peek() != "\n":
                r.take()
            continue
        start_line = r.line
        m = _IDENT_RE.match(r.text, r.pos)
        if m and m.group() == "export" and r.peek(len("export")) in " \t":
            r.pos = m.end()
            while r.peek() in " \t":
                r.take()
            m = _IDENT_RE.match(r.text, r.pos)
        if not m or r.text[m.end():m.end() + 1] != "=":
            word = re.match(r"[^\s;]*", r.text[r.pos:])
            raise r.error(f"expected NAME=value, found {word.group() if word else r.peek()!r}",
                          hint="the config holds only assignments; quote values with spaces")
        key = m.group()
        r.pos = m.end() + 1
        values[key] = _value(r, key, values, environ)
        lines[key] = start_line
        if r.peek() and r.peek() not in " \t\n;":
            raise r.error(f"unexpected {r.peek()!r} in the value of {key}")
        while r.peek() in (" ", "\t"):
            r.take()
        if r.peek() and r.peek() not in "\n;#" and not re.match(r"(export\s+)?[A-Za-z_][A-Za-z0-9_]*=",
                                                               r.text[r.pos:]):
            raise r.error(f"the value of {key} goes on after a space",
                          hint=f'quote values that hold spaces: {key}="..."')


def _value(r: _Reader, key: str, values: Mapping[str, str], environ: Mapping[str, str]) -> str:
    out: list[str] = []
    while r.peek() and r.peek() not in " \t\n;":
        c = r.peek()
        if c == "'":
            line = r.line
            r.take()
            while r.peek() != "'":
                if not r.peek():
                    raise r.error(f"unterminated ' in the value of {key}", line)
                out.append(r.take())
            r.take()
        elif c == '"':
            line = r.line
            r.take()
            while r.peek() != '"':
                if not r.peek():
                    raise r.error(f'unterminated " in the value of {key}', line)
                if r.peek() == "\\" and r.peek(1) in '$`"\\\n':
                    r.take()
                    escaped = r.take()
                    if escaped != "\n":
                        out.append(escaped)
                elif r.peek() == "$":
                    out.append(_expand(r, key, values, environ))
                elif r.peek() == "`":
                    raise r.error(f"command substitution in the value of {key} is not supported")
                else:
                    out.append(r.take())
            r.take()
        elif c == "\\":
            r.take()
            escaped = r.take()
            if escaped and escaped != "\n":
                out.append(escaped)
        elif c == "$":
            out.append(_expand(r, key, values, environ))
        elif c == "`":
            raise r.error(f"command substitution in the value of {key} is not supported")
        elif c in "|&<>()":
            raise r.error(f"unexpected {c!r} in the value of {key}", hint=f'quote it: {key}="..."')
        else:
            out.append(r.take())
    return "".join(out)


def _expand(r: _Reader, key: str, values: Mapping[str, str], environ: Mapping[str, str]) -> str:
    r.take()  # the $
    default: str | None = None
    if r.peek() == "(":
        raise r.error(f"command substitution in the value of {key} is not supported")
    if r.peek() == "{":
        r.take()
        m = _IDENT_RE.match(r.text, r.pos)
        if not m:
            raise r.error(f"bad ${{...}} in the value of {key}")
        r.pos = m.end()
        name = m.group()
        if r.text.startswith(":-", r.pos) or r.peek() == "-":
            r.pos += 2 if r.peek() == ":" else 1
            chars = []
            while r.peek() != "}":
                if not r.peek() or r.peek() == "\n":
                    raise r.error(f"unterminated ${{ in the value of {key}")
                chars.append(r.take())
            default = "".join(chars)
        if r.peek() != "}":
            raise r.error(f"bad ${{{name}...}} in the value of {key}")
        r.take()
    else:
        m = _IDENT_RE.match(r.text, r.pos)
        if not m:
            return "$"
        r.pos = m.end()
        name = m.group()
    if name in values:
        return values[name]
    if name in environ:
        return environ[name]
    if default is not None:
        return default
    raise r.error(f"${name} in the value of {key} is not set, neither earlier in this file nor in the environment",
                  hint=f"set {name} before {key}, or write ${{{name}:-default}}")
