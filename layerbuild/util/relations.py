"""dpkg's grammar for package names, versions and relationship fields, as problems to report.

Recipes write relationship fields as OpenEmbedded does (``foo (>= 1.0) bar``, commas optional, ``<``
and ``>`` meaning ``<<`` and ``>>`` as OE's package_deb maps them); what reaches a ``Depends:`` line
must also be what dpkg accepts (deb-control(5), deb-version(7)), so each entry is checked against
dpkg's rules before it is written into a package. The functions return a description of the first
problem, or None, and the caller names the place.

Metadata is read as BitBake reads it (:func:`metadata_entries`, after ``bb.utils.explode_deps``):
a word that starts with ``(`` opens a version constraint, so ``rtld(GNU_HASH)`` is one name and
``rtld (GNU_HASH)`` a name with a constraint that has no operator. BitBake accepts both; what a
``.deb`` cannot carry is found when one is written (:func:`entry_problem`).
"""

from __future__ import annotations

import re
from typing import NamedTuple

#: deb-control(5): lower case letters, digits and ``+ - .``, starting alphanumeric. (dpkg also wants two
#: characters at least; one-letter names are left to dpkg-deb, so small test recipes ``a``, ``b`` parse.)
PACKAGE_NAME_RE = re.compile(r"[a-z0-9][a-z0-9+.-]*$")
#: the operators dpkg knows, and OE's ``<``/``>`` (strictly less/greater, written ``<<``/``>>``)
OPERATORS = ("<<", "<=", "=", ">=", ">>", "<", ">")
_ENTRY_RE = re.compile(r"\s*(?P<name>[^\s(),]+)(?:\s*(?P<open>\()(?P<inner>[^()]*)(?P<close>\))?)?\s*,?")
_CONSTRAINT_RE = re.compile(r"\s*(?P<op>(?:[<>=](?:\s*[<>=])*)?)\s*(?P<version>.*?)\s*$")


def package_name_problem(name: str) -> str | None:
    """Why ``name`` is not a package name dpkg accepts, or None."""
    if PACKAGE_NAME_RE.match(name):
        return None
    if "${" in name:
        return f"'{name}' holds a reference to a variable that is not set"
    bad = sorted({c for c in name if not (c.islower() or c.isdigit() or c in "+.-")})
    if bad:
        return (f"'{name}' contains {', '.join(repr(c) for c in bad)}: a package name may hold only lower-case "
                "letters, digits and '+', '-', '.'")
    return f"'{name}' must start with a lower-case letter or a digit"


def version_problem(version: str) -> str | None:
    """Why ``version`` is not a Debian version (deb-version(7)), or None."""
    if not version:
        return "the version is empty"
    if any(c.isspace() for c in version):
        return f"version '{version}' contains a space"
    upstream = version
    if ":" in version:
        epoch, upstream = version.split(":", 1)
        if not epoch:
            return f"version '{version}' has an empty epoch before ':'"
        if not epoch.isdigit():
            return f"the epoch '{epoch}' of version '{version}' is not a number"
        if not upstream:
            return f"nothing follows the epoch in version '{version}'"
    revision = ""
    if "-" in upstream:
        upstream, revision = upstream.rsplit("-", 1)
        if not revision:
            return f"version '{version}' ends with '-' (an empty revision)"
    if not upstream:
        return f"version '{version}' has an empty upstream part"
    if not upstream[0].isdigit():
        return f"version '{version}' does not start with a digit"
    for c in upstream:
        if not (c.isalnum() and c.isascii()) and c not in ".+~-:":
            return f"version '{version}' contains {c!r}, which a Debian version may not"
    for c in revision:
        if not (c.isalnum() and c.isascii()) and c not in ".+~":
            return f"the revision of version '{version}' contains {c!r}, which a Debian version may not"
    return None


def relationship_problem(text: str, operators: tuple[str, ...] = OPERATORS) -> str | None:
    """Why the relationship field ``text`` (``foo (>= 1.0) bar``) would not be accepted by dpkg, or None.

    ``operators`` are those the field allows: ``Provides:`` takes only ``=`` (deb-control(5)).
    """
    pos = 0
    text = text or ""
    while pos < len(text):
        if not text[pos:].strip(" \t\n,"):
            return None
        m = _ENTRY_RE.match(text, pos)
        if m is None or m.end() == pos:
            rest = text[pos:].strip()
            if rest.startswith("("):
                return f"'{rest.split(')')[0]})' is a version constraint that follows no package name"
            return f"cannot read '{rest}'"
        name = m.group("name")
        problem = package_name_problem(name)
        if problem:
            return problem
        if m.group("open"):
            inner = m.group("inner")
            if not m.group("close"):
                return f"the version constraint of {name} is not closed: '({inner.strip()}' needs a ')'"
            problem = constraint_problem(name, inner, operators)
            if problem:
                return problem
        pos = m.end()
    return None


def constraint_problem(name: str, inner: str, operators: tuple[str, ...] = OPERATORS) -> str | None:
    """Why ``(inner)``, the version constraint of ``name``, is not one dpkg accepts, or None."""
    c = _CONSTRAINT_RE.match(inner)
    assert c is not None
    op, version = c.group("op"), c.group("version")
    if not op:
        return (f"the version constraint '({inner.strip()})' of {name} has no operator "
                f"(one of {' '.join(OPERATORS[:5])})")
    if op not in OPERATORS and "".join(op.split()) in OPERATORS:
        return f"'{op}' in '({inner.strip()})' of {name} is not a version operator; did you mean " \
            f"'{''.join(op.split())}'?"
    if op not in OPERATORS:
        close = {"=>": ">=", "=<": "<=", "==": "=", "<>": "<<", "><": ">>"}.get(op)
        hint = f"; did you mean '{close}'?" if close else f" (one of {' '.join(OPERATORS[:5])})"
        return f"'{op}' in '({inner.strip()})' of {name} is not a version operator{hint}"
    if op not in operators:
        return f"'{op}' in '({inner.strip()})' of {name} is not allowed here (only {' '.join(operators)})"
    if not version:
        return f"the version constraint '({inner.strip()})' of {name} has an operator but no version"
    problem = version_problem(version)
    if problem:
        return f"{problem} (in the constraint of {name})"
    return None


class Entry(NamedTuple):
    """One entry of a relationship variable as BitBake reads it."""

    name: str
    #: the text between the parentheses, None when the entry has no version constraint
    constraint: str | None = None
    #: False when the value ended before the constraint's ``)``
    closed: bool = True


def metadata_entries(text: str | None) -> list[Entry]:
    """The entries of ``RDEPENDS``, ``RPROVIDES``... as BitBake reads them (``bb.utils.explode_deps``,
    with ``explode_dep_versions2``'s commas): words, where a word that starts with ``(`` opens a version
    constraint that the word ending with ``)`` closes. A second constraint of one name is an entry of its
    own (``foo (>= 1) (<< 2)``, as OE writes it: ``foo (>= 1), foo (<< 2)``); a constraint before any
    name has the name ``""``."""
    entries: list[Entry] = []
    inner: list[str] | None = None
    for word in (text or "").replace(",", " ").split():
        if inner is None and word.startswith("("):
            inner = []
            word = word[1:]
        if inner is None:
            entries.append(Entry(word))
        elif word.endswith(")"):
            inner.append(word[:-1])
            _constrain(entries, " ".join(w for w in inner if w), True)
            inner = None
        else:
            inner.append(word)
    if inner is not None:
        _constrain(entries, " ".join(w for w in inner if w), False)
    return entries


def _constrain(entries: list[Entry], constraint: str, closed: bool) -> None:
    last = entries[-1] if entries else Entry("")
    if last.name and last.constraint is None:
        entries[-1] = Entry(last.name, constraint, closed)
    else:
        entries.append(Entry(last.name, constraint, closed))


def entry_problem(entry: Entry, operators: tuple[str, ...] = OPERATORS) -> str | None:
    """Why ``entry`` cannot go into a package's relationship field (dpkg's rules), or None."""
    if not entry.name:
        return f"'({entry.constraint})' is a version constraint that follows no package name"
    problem = package_name_problem(entry.name)
    if problem:
        return problem
    if entry.constraint is None:
        return None
    if not entry.closed:
        return f"the version constraint of {entry.name} is not closed: '({entry.constraint}' needs a ')'"
    return constraint_problem(entry.name, entry.constraint, operators)


def deb_provides(name: str) -> bool:
    """Whether a ``.deb``'s Provides carries the ``RPROVIDES`` entry ``name``. As OE's package_deb, it
    leaves out file names (``/bin/sh``: dpkg has no file dependencies); names dpkg does not allow
    (``rtld(GNU_HASH)``, ``virtual/foo``) are left out too, where OE writes them mangled."""
    return package_name_problem(name) is None
