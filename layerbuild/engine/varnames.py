"""Variables set where nothing reads them, one edit away from a name something does read: typos.

``IMAGE_INSTAL = "mytool"`` in an image recipe is valid metadata that nothing reads, so the image is
silently built without the tool. A variable that a recipe, ``.bbappend``, include of a recipe or
``local.conf`` sets, that no class, recipe, configuration file or the engine reads, and whose name is
one edit (a letter added, dropped, changed, or two swapped) away from a known name gets a warning at
its line: ``did you mean IMAGE_INSTALL?``.

Known names are the rows of ``layerbuild/util/variables.py`` (what the engine reads) and every name a
metadata file sets, gives a flag, exports or refers to: ``${NAME}``, a quoted name in Python (as
``getVar`` and ``bb.utils.contains`` take them), the words of ``[vardeps]`` and
``[vardepsexclude]``. Parsing must not get slower for it, so what each file sets and reads is worked
out once per file and process, most names drop out on a set lookup, only names nothing reads are looked
up in an index of one-deletion variants, and only a near miss is confirmed by searching every value of
the datastore, and the Python of the layers' ``lib/``, for the name (a read a file's text does not
show, such as Python building the name from a prefix and a word, still names it somewhere).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Iterable
from typing import Any

from layerbuild.engine.parse.statements import (
    AddFragments,
    AddPyLib,
    Assign,
    Export,
    Function,
    Include,
    Inherit,
    PyDef,
    Statement,
)
from layerbuild.util.errors import Location

#: ``${NAME`` (its override suffix, ``:...``, is not part of the name)
_REF = re.compile(r"\$\{([A-Za-z0-9_\-+./~]+)")
#: a quoted name in Python, and what follows it: the closing quote, or ``:``, ``{``, ``%`` when the
#: code builds a longer name from it
_PY_NAME = re.compile(r"""['"]([A-Za-z_][A-Za-z0-9_\-]*)(['":{%])""")
_VARDEP_FLAGS = ("vardeps", "vardepsexclude")
#: shorter names are too close to too many others for a suggestion to mean anything
MIN_LENGTH = 4
#: a set this small is searched name by name; a larger one gets an index of one-deletion variants
_SMALL = 24
_UNREAD: Any = object()


class Names:
    """Names (and name prefixes) that say whether they know a name and which are one edit from it."""

    __slots__ = ("names", "prefixes", "_variants", "_near")

    def __init__(self, names: set[str] | frozenset[str], prefixes: tuple[str, ...] = ()) -> None:
        self.names = names
        self.prefixes = prefixes
        self._variants: dict[int, dict[str, tuple[str, ...]]] | None = None
        #: what near() found for each name asked (a class's names are asked about by every recipe)
        self._near: dict[str, set[str]] | None = None

    def knows(self, name: str) -> bool:
        return name in self.names or (bool(self.prefixes) and name.startswith(self.prefixes))

    def near(self, name: str) -> set[str]:
        """The names one edit away from ``name``."""
        n = len(name)
        if len(self.names) <= _SMALL:
            return {known for known in self.names if -2 < len(known) - n < 2 and _one_edit(name, known)}
        if self._near is None:
            self._near = {}
        found = self._near.get(name)
        if found is not None:
            return found
        if self._variants is None:
            self._variants = {}
        deletions = _deletions(name)
        found = set()
        for length in (n - 1, n, n + 1):
            bucket = self._variants.get(length)
            if bucket is None:
                # one-deletion variants of the names of this length, indexed when the length is first
                # asked about: the names a few candidates can be near are a small part of them all
                bucket = self._variants[length] = {}
                for known in self.names:
                    if len(known) == length:
                        for variant in _deletions(known):
                            bucket[variant] = (*bucket.get(variant, ()), known)
            for variant in deletions:
                for known in bucket.get(variant, ()):
                    if _one_edit(name, known):
                        found.add(known)
        self._near[name] = found
        return found


def _deletions(name: str) -> set[str]:
    """``name`` and every string one character shorter: two names one edit apart share one of these."""
    return {name, *(name[:i] + name[i + 1:] for i in range(len(name)))}


def _one_edit(a: str, b: str) -> bool:
    """One insertion, deletion, substitution or swap of neighbours turns ``a`` into ``b``."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    i = 0
    while i < len(a) and i < len(b) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        swapped = i + 1 < len(a) and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2:] == b[i + 2:]
        return swapped or a[i + 1:] == b[i + 1:]
    return a[i + 1:] == b[i:] if len(a) > len(b) else a[i:] == b[i + 1:]


def _python_reads(text: str, names: set[str], prefixes: set[str]) -> None:
    for name, after in _PY_NAME.findall(text):
        if (after == ":" or after in "'\"") and not name.endswith("_"):
            names.add(name)
        elif len(name) >= MIN_LENGTH:  # ("_" + x names nothing in particular)
            prefixes.add(name)


class FileNames:
    """What one metadata file sets, and reads: ``${NAME}`` references, quoted names in Python,
    ``[vardeps]`` words, exports. A recipe's own files are new to every parse, so their sets are one
    comprehension; what they read is worked out when it is first asked."""

    __slots__ = ("sets", "_statements", "_refs", "_reads", "_everything")

    def __init__(self, statements: tuple[Statement, ...]) -> None:
        self._statements = statements
        self.sets = {key.partition(":")[0] for key in
                     [st.key for st in statements if st.__class__ is Assign and st.flag is None]  # type: ignore[union-attr]
                     if "${" not in key}
        self._refs: Names | None = None
        self._reads: Names | None = None
        self._everything: Names | None = None

    def line(self, name: str) -> int:
        """The first line that sets ``name``."""
        for st in self._statements:
            if isinstance(st, Assign) and st.flag is None and st.key.partition(":")[0] == name:
                return st.loc.line
        return 0

    @property
    def refs(self) -> Names:
        """The ``${NAME}`` references alone (what a recipe file reads, near enough to look for typos in)."""
        if self._refs is None:
            text = "\n".join([st.value if st.__class__ is Assign else st.body  # type: ignore[union-attr]
                              for st in self._statements if st.__class__ is Assign or st.__class__ is Function])
            self._refs = Names(set(_REF.findall(text)) if "${" in text else set())
        return self._refs

    @property
    def reads(self) -> Names:
        if self._reads is None:
            names = set(self.refs.names)
            prefixes: set[str] = set()
            python: list[str] = []
            for st in self._statements:
                if isinstance(st, Assign):
                    if "${@" in st.value:
                        python.append(st.value)
                    if st.flag in _VARDEP_FLAGS:
                        names.update(st.value.split())
                    if st.export:
                        names.add(st.key.partition(":")[0])
                elif isinstance(st, Function):
                    if st.python or not st.name:
                        python.append(st.body)
                elif isinstance(st, PyDef):
                    python.append(st.text)
                elif isinstance(st, Export):
                    names.add(st.key.partition(":")[0])
                elif isinstance(st, (Include, Inherit)):
                    names.update(_REF.findall(st.what if isinstance(st, Include) else st.classes))
                elif isinstance(st, AddFragments):
                    # the directive names the variables it reads
                    names.update((st.fragments, st.metadata_vars, st.builtins, *_REF.findall(st.prefix)))
                elif isinstance(st, AddPyLib):
                    names.update(_REF.findall(st.libdir))
            if python:
                _python_reads("\n".join(python), names, prefixes)
            self._reads = Names(names, tuple(sorted(prefixes)))
        return self._reads

    @property
    def everything(self) -> Names:
        """What it reads, sets or gives a flag: all the names a class or configuration file makes known."""
        if self._everything is None:
            reads = self.reads
            flagged = {st.key.partition(":")[0] for st in self._statements if isinstance(st, Assign) and st.flag}
            self._everything = Names(reads.names | flagged | self.sets, reads.prefixes)
        return self._everything


class NameIndex:
    """The names of every file read so far, worked out once per file; lives on the Evaluator."""

    def __init__(self, statements: Callable[[str], tuple[Statement, ...] | None]) -> None:
        self._statements = statements
        self._files: dict[str, FileNames | None] = {}
        self._merged: dict[Any, Names] = {}
        self._rows: Names | None = None
        self._libs: dict[tuple[str, ...], frozenset[str]] = {}
        #: the engine's and the configuration's names, for recipes: (which configuration, the names)
        self._static: tuple[Any, Names] | None = None
        #: the classes a recipe inherited (__inherit_cache) -> the names of those the configuration did not
        #: inherit, and per name what the engine, the configuration and those classes say of it: None when
        #: one of them knows it, else the names there one edit away
        self._classes: dict[tuple[str, ...], tuple[tuple[Names, ...], dict[str, set[str] | None]]] = {}

    def file(self, path: str) -> FileNames | None:
        """What the file ``path`` sets and reads; None for a file that was looked for but not found."""
        found = self._files.get(path, _UNREAD)
        if found is _UNREAD:
            statements = self._statements(path)
            found = self._files[path] = FileNames(statements) if statements is not None else None
        return found  # type: ignore[return-value]

    def merged(self, paths: Collection[str], key: Any = None) -> Names:
        """Everything the files ``paths`` set and read, worked out once per ``key`` (default: the paths)."""
        key = tuple(paths) if key is None else key
        found = self._merged.get(key)
        if found is None:
            names: set[str] = set()
            prefixes: set[str] = set()
            for path in paths:
                f = self.file(path)
                if f is not None:
                    names.update(f.everything.names)
                    prefixes.update(f.everything.prefixes)
            found = self._merged[key] = Names(names, tuple(sorted(prefixes)))
        return found

    def prepare(self, config_files: list[str]) -> Names:
        """The engine's and the configuration's names together: what every recipe's check starts from
        (``config_files`` is the configuration's ``file_depends``). Called before the parse workers are
        forked, so each starts with it."""
        key = (id(config_files), len(config_files))
        if self._static is None or self._static[0] != key:
            rows, config = self.rows(), self.merged(config_files, key)
            static = Names(rows.names | config.names, tuple(sorted({*rows.prefixes, *config.prefixes})))
            self._static = (key, static)
            self._classes = {}
        return self._static[1]

    def classes(self, inherited: tuple[str, ...],
                config_files: list[str]) -> tuple[tuple[Names, ...], dict[str, set[str] | None]]:
        """The names of the classes a recipe inherited beyond the configuration's, and the verdicts so far
        on names recipes with those classes set."""
        found = self._classes.get(inherited)
        if found is None:
            config = set(config_files)
            names = tuple(n.everything for path in inherited if path not in config and (n := self.file(path)))
            found = self._classes[inherited] = (names, {})
        return found

    def rows(self) -> Names:
        """The engine-known variables; a family row (``BBFILE_PATTERN_<collection>``) gives a prefix."""
        if self._rows is None:
            from layerbuild.util.variables import (
                VARIABLES,  # only when a name gets this far: its import costs a parse
            )

            # RDEPENDS:<package> is RDEPENDS with an override; BBFILE_PATTERN_<collection> is a prefix
            names = {v.name.partition(":")[0] for v in VARIABLES if "<" not in v.name or ":<" in v.name}
            prefixes = tuple(sorted(v.name.split("<", 1)[0] for v in VARIABLES if "_<" in v.name))
            self._rows = Names(names, prefixes)
        return self._rows

    def library_names(self, layers: tuple[str, ...]) -> frozenset[str]:
        """Quoted names in the Python of the layers' ``lib/`` directories (``oe.utils`` and the like read
        variables too), read only to confirm a near miss."""
        found = self._libs.get(layers)
        if found is None:
            names: set[str] = set()
            for layer in layers:
                for top, dirs, files in os.walk(os.path.join(layer, "lib")):
                    dirs.sort()
                    for name in sorted(files):
                        if name.endswith(".py"):
                            try:
                                with open(os.path.join(top, name), encoding="utf-8", errors="replace") as fh:
                                    _python_reads(fh.read(), names, set())
                            except OSError:
                                continue
            found = self._libs[layers] = frozenset(names)
        return found

    def recipe(self, d: Any, config_files: list[str]) -> list[str]:
        """Warnings for the names a parsed recipe's own files (``.bb``, ``.bbappend``, ``.inc``) set that
        look like typos of known ones. ``config_files`` is the configuration's ``file_depends``, the same
        list for every recipe: what the engine and the configuration know is worked out once."""
        static = self.prepare(config_files)
        known, verdicts = self.classes(tuple(d.getVar("__inherit_cache", False) or ()), config_files)
        return self.typos(d.file_depends, known, d, static, verdicts)

    def configuration_typos(self, d: Any, config_files: tuple[str, ...], topdir: str) -> list[str]:
        """Warnings for the names ``local.conf`` (``site.conf``, ``auto.conf``) sets that look like typos.

        Recipes and classes the configuration does not inherit read configuration too, so a near miss
        is confirmed by searching the layers' files for the name (rarely: only a near miss gets that far).
        """
        confdir = os.path.join(topdir, "conf")
        user = [p for p in config_files if os.path.dirname(p) == confdir and os.path.basename(p) in USER_CONFIGS]
        known = (self.merged(tuple(p for p in config_files if p not in user)),)
        return self.typos(user, known, d, None, None, everywhere=True)

    def typos(self, files: Iterable[str], known: tuple[Names, ...], d: Any, static: Names | None,
              verdicts: dict[str, set[str] | None] | None, everywhere: bool = False) -> list[str]:
        """Warnings for the names the user's own ``files`` set that nothing in ``known`` or ``static`` (nor
        the engine, nor those files themselves) reads and that are one edit from a name one of them
        knows, unless the name turns up in a value of ``d``, the layers' Python or (``everywhere``) any
        layer file after all. ``verdicts`` keeps what ``static`` and ``known`` say of each name, for the
        next recipe with the same classes."""
        # (a recipe's own files are read once: nothing of them is kept, and everything but their
        # assignments is looked at only for a name nothing else reads)
        statements = self._statements
        # (most of a recipe's files are classes: a .bbclass ends in "s", none of the user's files does)
        user = [(path, found) for path in files
                if path[-1] != "s" and path.endswith(_USER_FILES) and (found := statements(path))]
        candidates = {st.key.partition(":")[0] for _path, found in user for st in found  # type: ignore[union-attr]
                      if st.__class__ is Assign and st.flag is None}  # type: ignore[union-attr]
        if verdicts is None:
            verdicts = {}
        unread: list[tuple[str, set[str]]] = []
        for name in candidates:
            verdict = verdicts.get(name, _UNREAD)
            if verdict is _UNREAD:
                verdict = verdicts[name] = self._verdict(name, static, known)
            if verdict is not None:
                unread.append((name, verdict))  # type: ignore[arg-type]
        if not unread:
            return []
        # names the user's files refer to are known too (a typo may be on either side)
        text = "\n".join([st.value if st.__class__ is Assign else st.body  # type: ignore[union-attr]
                          for _path, found in user for st in found if st.__class__ in (Assign, Function)])
        refs = set(_REF.findall(text)) if "${" in text else set()
        own: list[tuple[str, FileNames]] | None = None
        out: list[tuple[int, int, str]] = []
        for name, verdict in unread:
            n = len(name)
            near = verdict | {ref for ref in refs if -2 < len(ref) - n < 2 and _one_edit(name, ref)}
            if not near or "$" in name:
                continue
            # a near miss: the rare case that may look at everything
            if own is None:
                own = [(path, FileNames(found)) for path, found in user]
            if any(names.reads.knows(name) for _path, names in own) or self._mentioned(d, name, everywhere):
                continue
            index, (path, names) = next((i, pair) for i, pair in enumerate(own) if name in pair[1].sets)
            line = names.line(name)
            out.append((index, line, f"{Location(path, line)}: {name} is set, but no class, recipe or layerbuild "
                                     f"itself reads it: did you mean {' or '.join(sorted(near)[:3])}?"))
        return [message for _index, _line, message in sorted(out)]

    def _mentioned(self, d: Any, name: str, everywhere: bool) -> bool:
        layers = tuple((d.getVar("BBLAYERS") or "").split())
        return mentioned_in(d, name) or name in self.library_names(layers) or \
            (everywhere and _in_layer_files(layers, name))

    def _verdict(self, name: str, static: Names | None, known: tuple[Names, ...]) -> set[str] | None:
        """None when ``name`` is known, else the known names one edit from it (``static`` defaults to the
        engine's variables, looked at only for a name the others do not know)."""
        if len(name) < MIN_LENGTH or any(source.knows(name) for source in known):
            return None
        static = static or self.rows()
        if static.knows(name):
            return None
        near = set(static.near(name))
        for source in known:
            near |= source.near(name)
        return near


def mentioned_in(d: Any, name: str) -> bool:
    """Whether any value or flag of ``d`` other than ``name``'s own names ``name`` as a word."""
    word = re.compile(r"(?<![A-Za-z0-9_])" + re.escape(name) + r"(?![A-Za-z0-9_])")
    for var in d.keys():
        if var.partition(":")[0] == name:
            continue
        for value in (d.getVarFlags(var, internalflags=True) or {}).values():
            texts = [value] if isinstance(value, str) else \
                [v for pair in value for v in (pair if isinstance(pair, tuple) else (pair,))] \
                if isinstance(value, (list, tuple)) else []
            if any(isinstance(t, str) and name in t and word.search(t) for t in texts):
                return True
    return False


#: the build directory's own configuration files
USER_CONFIGS = ("local.conf", "site.conf", "auto.conf")
#: files the user writes: a recipe, its appends and includes; local.conf and friends
_USER_FILES = (".bb", ".bbappend", ".inc", *USER_CONFIGS)


def _in_layer_files(layers: tuple[str, ...], name: str) -> bool:
    word = re.compile(r"(?<![A-Za-z0-9_])" + re.escape(name) + r"(?![A-Za-z0-9_])")
    for layer in layers:
        for top, dirs, files in os.walk(layer):
            dirs[:] = sorted(x for x in dirs if not x.startswith("."))
            for fname in files:
                if fname.endswith((".bb", ".bbappend", ".inc", ".bbclass", ".conf")):
                    try:
                        with open(os.path.join(top, fname), encoding="utf-8", errors="replace") as fh:
                            text = fh.read()
                    except OSError:
                        continue
                    if name in text and word.search(text):
                        return True
    return False
