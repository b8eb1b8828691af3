"""Control stanzas and package relationships, with dpkg's rules.

A :class:`PackageInfo` is one package's control data, whether it came from a ``.deb`` of the feed or
from the ``status`` file of an installed root. Relationship fields (``Depends: a (>= 1) | b, c``) are
read into :class:`Relation` alternatives; the version comparisons are dpkg's
(:mod:`layerbuild.util.version`). :func:`status_stanza` writes a stanza in the field order and form that
dpkg itself uses for ``var/lib/dpkg/status``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from layerbuild.packaging.deps import parse_depends
from layerbuild.util.errors import LayerbuildError
from layerbuild.util.relations import OPERATORS, package_name_problem, relationship_problem, version_problem
from layerbuild.util.version import split_version, vercmp_string


class ControlError(LayerbuildError):
    """A control stanza or relationship field that cannot be read."""


#: dpkg's field order in ``status`` (lib/dpkg/parse.c, ``fieldinfos``); other fields follow in file order.
STATUS_ORDER = ("Package", "Essential", "Protected", "Status", "Priority", "Section", "Installed-Size",
                "Origin", "Maintainer", "Bugs", "Architecture", "Multi-Arch", "Source", "Version",
                "Config-Version", "Replaces", "Provides", "Depends", "Pre-Depends", "Recommends",
                "Suggests", "Breaks", "Conflicts", "Enhances", "Conffiles", "Description",
                "Triggers-Pending", "Triggers-Awaited")
#: Fields dpkg keeps only for available packages, never in the status of an installed one.
AVAILABLE_ONLY = frozenset({"filename", "size", "md5sum", "msdos-filename"})
RELATION_FIELDS = ("Replaces", "Provides", "Depends", "Pre-Depends", "Recommends", "Suggests", "Breaks",
                   "Conflicts", "Enhances")
_CANONICAL = {name.lower(): name for name in STATUS_ORDER}
_OPS = ("<<", "<=", "=", ">=", ">>")


@dataclass(frozen=True, slots=True, order=True)
class Relation:
    """One alternative of a relationship field: a name with an optional version constraint."""

    name: str
    op: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        return f"{self.name} ({self.op} {self.version})" if self.op else self.name

    def allows(self, version: str) -> bool:
        """Whether ``version`` meets this relation's constraint."""
        if self.op is None or self.version is None:
            return True
        c = vercmp_string(version, self.version)
        return {"<<": c < 0, "<=": c <= 0, "=": c == 0, ">=": c >= 0, ">>": c > 0}[self.op]


#: A dependency: alternatives of which one must hold (``a | b``).
Dependency = tuple[Relation, ...]


def format_dependency(dep: Dependency) -> str:
    return " | ".join(str(r) for r in dep)


def parse_relations(text: str | None, field: str = "Depends") -> tuple[Dependency, ...]:
    """``a (>= 1) | b, c`` -> ``((a>=1, b), (c,))``, dpkg's syntax (``<`` and ``>`` mean ``<=``/``>=``)."""
    out: list[Dependency] = []
    for group in (text or "").replace("\n", " ").split(","):
        if not group.strip():
            continue
        alternatives: list[Relation] = []
        for alt in group.split("|"):
            if "<" in alt or ">" in alt:
                alt = re.sub(r"\(\s*<\s*(?![<=])", "(<= ", re.sub(r"\(\s*>\s*(?![>=])", "(>= ", alt))
            if ":" in alt:
                head, paren, tail = alt.partition("(")
                alt = re.sub(r":(any|native|[a-z0-9-]+)\s*$", "", head.rstrip()) + (" " + paren + tail if paren else "")
            try:
                entries = parse_depends(alt)
            except LayerbuildError as exc:
                raise ControlError(f"cannot read {field} '{text}': {exc.message}") from exc
            if len(entries) != 1:
                raise ControlError(f"cannot read {field} '{text}' near '{alt.strip()}'")
            name, op, version = entries[0]
            alternatives.append(Relation(name, op, version))
        out.append(tuple(alternatives))
    return tuple(out)


def normalize_version(version: str) -> str:
    """A version as dpkg writes it: epoch only when non-zero (or needed), no empty revision."""
    epoch, upstream, revision = split_version(version.strip())
    text = upstream + (f"-{revision}" if revision else "")
    if epoch or ":" in upstream:
        text = f"{epoch}:{text}"
    return text


def parse_stanzas(text: str, source: str) -> Iterator[list[tuple[str, str]]]:
    """deb822 stanzas as ``(field, value)`` lists in file order; continuation lines kept verbatim."""
    for _, fields in numbered_stanzas(text, source):
        yield fields


def numbered_stanzas(text: str, source: str) -> Iterator[tuple[int, list[tuple[str, str]]]]:
    """:func:`parse_stanzas` with the line each stanza starts on."""
    fields: list[tuple[str, str]] = []
    start = 0
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            if fields:
                yield start, fields
                fields = []
            continue
        if line[0] in " \t":
            if not fields:
                raise ControlError(f"{source}:{lineno}: continuation line outside a field")
            name, value = fields[-1]
            fields[-1] = (name, value + "\n" + line)
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or " " in name:
            raise ControlError(f"{source}:{lineno}: not a field: {line!r}")
        if not fields:
            start = lineno
        fields.append((name, value.strip()))
    if fields:
        yield start, fields


#: relationship fields that may hold alternatives (``a | b``), as deb-control(5) allows them
_ALTERNATIVES = frozenset({"depends", "pre-depends", "recommends", "suggests"})
_ARCH_QUALIFIER = re.compile(r"^(\s*[^\s(:|,]+):[a-z0-9-]+")


def stanza_problem(lookup: Mapping[str, str], seen: dict[tuple[str, str], str | None] | None = None) -> str | None:
    """What in a stanza read from a database dpkg would not accept: ``package NAME: FIELD: problem``, or
    None. ``lookup`` is the stanza by lower-case field name. The package name, the version and every
    relationship field are checked with the grammar recipes are checked with (:mod:`layerbuild.util.relations`).
    ``seen`` keeps the verdicts on versions and relations across the stanzas of one database, where the
    same ones come back again and again."""
    memo: dict[tuple[str, str], str | None] = {} if seen is None else seen
    name = lookup.get("package", "").strip()
    problem = package_name_problem(name) if name else "the stanza has no Package field"
    if problem:
        return f"Package: {problem}"
    version = lookup.get("version")
    if version is None:
        return f"package {name}: Version: the stanza has no Version field"
    key = ("version", version)
    problem = memo[key] if key in memo else memo.setdefault(key, version_problem(version.strip()))
    if problem:
        return f"package {name}: Version: {problem}"
    for field in RELATION_FIELDS:
        value = lookup.get(field.lower())
        if value:
            problem = _relation_field_problem(field, value, memo)
            if problem:
                return f"package {name}: {field}: {problem}"
    return None


def _relation_field_problem(field: str, value: str, seen: dict[tuple[str, str], str | None]) -> str | None:
    operators = ("=",) if field == "Provides" else OPERATORS
    kind = "provides" if field == "Provides" else "relation"
    for group in value.replace("\n", " ").split(","):
        if not group.strip():
            continue
        alternatives = group.split("|")
        if len(alternatives) > 1 and field.lower() not in _ALTERNATIVES:
            return f"'{group.strip()}': {field} takes no alternatives ('|')"
        for alt in alternatives:
            key = (kind, alt.strip())
            if key in seen:
                problem = seen[key]
            elif not key[1]:
                return f"'{group.strip()}' has an empty alternative"
            else:
                # one relation to an alternative is left to parse_relations, which reads the field next
                problem = seen[key] = relationship_problem(_ARCH_QUALIFIER.sub(r"\1", key[1]) if ":" in key[1]
                                                           else key[1], operators)
            if problem:
                return problem
    return None


@dataclass(frozen=True)
class PackageInfo:
    """One binary package's control data with its relationship fields read."""

    name: str
    version: str
    arch: str
    fields: tuple[tuple[str, str], ...]
    depends: tuple[Dependency, ...] = ()
    recommends: tuple[Dependency, ...] = ()
    provides: tuple[Relation, ...] = ()
    conflicts: tuple[Relation, ...] = ()
    replaces: tuple[Relation, ...] = ()

    def field(self, name: str) -> str | None:
        key = name.lower()
        for field_name, value in self.fields:
            if field_name.lower() == key:
                return value
        return None

    def satisfies(self, rel: Relation) -> bool:
        """Whether this package (by name or a Provides) meets ``rel``, as dpkg decides it."""
        if rel.name == self.name and rel.allows(self.version):
            return True
        for p in self.provides:
            if p.name != rel.name:
                continue
            if rel.op is None:
                return True
            if p.op == "=" and p.version is not None and rel.allows(p.version):
                return True
        return False

    def names(self) -> Iterator[str]:
        """The package's own name and every name it provides."""
        yield self.name
        for p in self.provides:
            yield p.name

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


def package_info(fields: Iterable[tuple[str, str]], source: str) -> PackageInfo:
    """Read a stanza into a :class:`PackageInfo`; ``source`` names it in errors."""
    items = tuple(fields)
    lookup = {name.lower(): value for name, value in items}
    name = lookup.get("package", "").strip()
    version = lookup.get("version", "").strip()
    if not name or not version:
        raise ControlError(f"{source}: a package needs Package and Version fields")

    def rel(field: str) -> tuple[Dependency, ...]:
        return parse_relations(lookup.get(field.lower()), field)

    def flat(field: str) -> tuple[Relation, ...]:
        return tuple(r for dep in rel(field) for r in dep)

    return PackageInfo(
        name=name, version=normalize_version(version), arch=lookup.get("architecture", "").strip(),
        fields=items, depends=rel("Pre-Depends") + rel("Depends"), recommends=rel("Recommends"),
        provides=flat("Provides"), conflicts=flat("Conflicts") + flat("Breaks"), replaces=flat("Replaces"))


def _normal_value(name: str, value: str) -> str:
    canonical = _CANONICAL.get(name.lower())
    if canonical in RELATION_FIELDS:
        return ", ".join(format_dependency(dep) for dep in parse_relations(value, canonical))
    if canonical == "Version":
        return normalize_version(value)
    return value


def status_stanza(info: PackageInfo, status: str, conffiles: Iterable[tuple[str, str]] = ()) -> str:
    """The ``status`` stanza dpkg writes for ``info``: its field order, normalized relationship fields."""
    known: dict[str, str] = {}
    extra: list[tuple[str, str]] = []
    for name, value in info.fields:
        canonical = _CANONICAL.get(name.lower())
        if name.lower() in AVAILABLE_ONLY or canonical in ("Status", "Conffiles", "Config-Version"):
            continue
        if canonical is None:
            extra.append((name, value))
        else:
            known[canonical] = _normal_value(canonical, value)
    known["Status"] = status
    conf = list(conffiles)
    if conf:
        known["Conffiles"] = "".join(f"\n {path} {digest}" for path, digest in conf)
    for flag in ("Essential", "Protected"):
        if flag in known and known[flag].lower() != "yes":
            del known[flag]
        elif flag in known:
            known[flag] = "yes"
    if known.get("Multi-Arch") == "no":
        del known["Multi-Arch"]
    lines = []
    for key in STATUS_ORDER:
        text = known.get(key)
        if text:
            lines.append(f"{key}:{text}" if text.startswith("\n") else f"{key}: {text}")
    lines.extend(f"{key}: {text}" for key, text in extra if text)
    return "\n".join(lines) + "\n"
