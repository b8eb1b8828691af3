"""Reading metadata files into statements, with BitBake's line rules.

``.conf`` files allow assignments and the configuration directives only; ``.bb``, ``.bbappend``,
``.bbclass`` and ``.inc`` files also allow functions, ``inherit``, ``addtask`` and friends (as in
BitBake, an ``.inc`` is read with the recipe rules wherever it is included from).
"""

from __future__ import annotations

import difflib
import logging
import os
import re

from layerbuild.engine.parse.statements import (
    AddFragments,
    AddHandler,
    AddPyLib,
    AddTask,
    Assign,
    DelTask,
    Export,
    ExportFunctions,
    Function,
    Include,
    Inherit,
    PyDef,
    Statement,
    Unset,
)
from layerbuild.util.errors import Location, ParseError

logger = logging.getLogger("layerbuild.parse")

_CONFIG_RE = re.compile(r"""
    ^
    (?P<exp>export\s+)?
    (?P<var>[a-zA-Z0-9\-_+.${}/~:]*?)
    (\[(?P<flag>[a-zA-Z0-9\-_+.][a-zA-Z0-9\-_+.@/]*)\])?
    (?P<ws>\s*) (
        (?P<op>:=|\?\?=|\?=|\+=|=\+|=\.|\.=|=)
    ) (?P<ws2>\s*)
    (?!'[^']*'[^']*'$)
    (?!\"[^\"]*\"[^\"]*\"$)
    (?P<apo>['\"])
    (?P<value>.*)
    (?P=apo)
    $
    """, re.X)
_INCLUDE_RE = re.compile(r"include\s+(.+)")
_REQUIRE_RE = re.compile(r"require\s+(.+)")
_INCLUDE_ALL_RE = re.compile(r"include_all\s+(.+)")
_EXPORT_RE = re.compile(r"export\s+([a-zA-Z0-9\-_+.${}/~]+)$")
_UNSET_RE = re.compile(r"unset\s+([a-zA-Z0-9\-_+.${}/~]+)$")
_UNSET_FLAG_RE = re.compile(r"unset\s+([a-zA-Z0-9\-_+.${}/~]+)\[([a-zA-Z0-9\-_+.][a-zA-Z0-9\-_+.@]+)\]$")
# (compiled when a line first starts with the directive: few files hold one, and every command starts)
_ADDPYLIB = r"addpylib\s+(.+)\s+(.+)"
_ADDFRAGMENTS = r"addfragments\s+(.+)\s+(.+)\s+(.+)\s+(.+)"
_FUNC_START_RE = re.compile(
    r"(((?P<py>python(?=(\s|\()))|(?P<fr>fakeroot(?=\s)))\s*)*(?P<func>[\w.\-+{}$:]+)?\s*\(\s*\)\s*{$")
_INHERIT_RE = re.compile(r"inherit\s+(.+)")
_INHERIT_DEFER_RE = re.compile(r"inherit_defer\s+(.+)")
_EXPORT_FUNCS_RE = re.compile(r"EXPORT_FUNCTIONS\s+(.+)")
_ADDTASK_RE = re.compile(r"addtask\s+([^#\n]+)(?P<comment>#.*|.*?)")
_DELTASK_RE = re.compile(r"deltask\s+([^#\n]+)(?P<comment>#.*|.*?)")
_ADDHANDLER_RE = re.compile(r"addhandler\s+(.+)")
_DEF_RE = re.compile(r"def\s+(\w+).*:")
_PY_BODY_RE = re.compile(r"(\s+.*)|(^$)|(^#)")
_OLD_OVERRIDE_RE = re.compile(r"_(append|prepend|remove)(?=$|_)")
_OLD_SYNTAX_FIX_RE = re.compile(r"_(append|prepend|remove)(_(?=.))?")


def old_syntax_fix(var: str) -> str:
    """``FOO_append_arm`` -> ``FOO:append:arm``: the hint for the old override syntax (the parser's, and
    the datastore's for a name set from Python)."""
    return _OLD_SYNTAX_FIX_RE.sub(lambda m: ":" + m.group(1) + (":" if m.group(2) else ""), var)


def is_conf(path: str) -> bool:
    return path.endswith(".conf")


def decode_metadata(path: str, data: bytes) -> str:
    """The text of a metadata file: UTF-8 without NUL bytes, or a ParseError at the first bad line."""
    nul = data.find(b"\0")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if nul < 0 or nul > exc.start:
            line = data.count(b"\n", 0, exc.start) + 1
            column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            raise ParseError(f"invalid UTF-8 (byte 0x{data[exc.start]:02x} in column {column}): metadata files "
                             "must be UTF-8", Location(path, line),
                             hint="convert the file to UTF-8, for example with iconv -f latin1 -t utf-8") from None
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        column = nul - (data.rfind(b"\n", 0, nul) + 1) + 1
        raise ParseError(f"NUL byte in column {column}: metadata files are text", Location(path, line),
                         hint="remove the NUL byte (was the file saved as UTF-16, or is it binary?)")
    return text


def parse_file(path: str, text: str | None = None) -> tuple[Statement, ...]:
    """Read ``path`` (or ``text`` given for it) into statements."""
    if text is None:
        with open(path, "rb") as fh:
            text = decode_metadata(path, fh.read())
    if is_conf(path):
        return _Reader(path, conf=True).read(text)
    return _Reader(path, conf=False).read(text)


class _Reader:
    def __init__(self, path: str, conf: bool) -> None:
        self.path = path
        self.conf = conf
        base = os.path.basename(path)
        root, ext = os.path.splitext(base)
        self.classname = root if ext == ".bbclass" else ""
        self.out: list[Statement] = []

    def loc(self, line: int) -> Location:
        return Location(self.path, line)

    def read(self, text: str) -> tuple[Statement, ...]:
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if self.conf:
            return self._read_conf(lines)
        n = len(lines)
        i = 0
        residue: list[str] = []
        residue_start = 0
        func: tuple[str, bool, bool, int] | None = None
        body: list[str] = []
        pydef: tuple[str, int] | None = None
        while i < n:
            lineno = i + 1
            s = lines[i].rstrip()
            i += 1
            if func is not None:
                if s == "}":
                    name, py, fr, start = func
                    body.append("")
                    self.out.append(Function(self.loc(start), name, "\n".join(body), py, fr, lineno))
                    func = None
                    body = []
                else:
                    body.append(s)
                continue
            if pydef is not None:
                if _PY_BODY_RE.match(s):
                    body.append(s)
                    continue
                self._end_def(pydef, body)
                pydef = None
                body = []
            if s and s[0] == "#" and residue and residue[0][:1] != "#":
                raise ParseError("a comment in the middle of a line continued with a backslash",
                                 self.loc(lineno), hint="move the comment above the continued lines")
            if residue and residue[0][:1] == "#" and (not s or s[0] != "#"):
                raise ParseError("a comment is continued with a backslash onto a line that is not a comment",
                                 self.loc(residue_start),
                                 hint="remove the trailing backslash, or start the next line with '#' as well")
            if s.endswith("\\"):
                if not residue:
                    residue_start = lineno
                residue.append(s[:-1])
                continue
            start = residue_start if residue else lineno
            if residue:
                s = "".join(residue) + s
                residue = []
            if not s or s[0] == "#":
                continue
            if not self.conf:
                m = _FUNC_START_RE.match(s)
                if m:
                    func = (m.group("func") or "", m.group("py") is not None, m.group("fr") is not None, start)
                    continue
                m = _DEF_RE.match(s)
                if m:
                    body = [s]
                    pydef = (m.group(1), start)
                    continue
                if self._recipe_directive(s, start):
                    continue
            self._conf_line(s, start)
        if residue:
            if residue[0][:1] == "#":
                raise ParseError("a comment is continued with a backslash at the end of the file",
                                 self.loc(residue_start), hint="remove the trailing backslash")
            raise ParseError("the last line ends with a backslash but nothing follows",
                             self.loc(residue_start), hint="remove the trailing backslash")
        if func is not None:
            raise ParseError(f"function {func[0] or '(anonymous)'} is never closed",
                             self.loc(func[3]), hint="close it with a line holding just '}'")
        if pydef is not None:
            self._end_def(pydef, body)
        return tuple(self.out)

    def _read_conf(self, lines: list[str]) -> tuple[Statement, ...]:
        # Configuration files join continued lines as BitBake's ConfHandler does: a '#' line inside
        # a continued value is part of the value, but a comment may not continue onto code.
        n = len(lines)
        i = 0
        while i < n:
            start = i + 1
            s = lines[i]
            i += 1
            if not s.strip():
                continue
            s = s.rstrip()
            while s.endswith("\\"):
                nxt = lines[i].rstrip() if i < n else ""
                i += 1
                if s[0] == "#" and (not nxt or nxt[0] != "#"):
                    raise ParseError("a comment is continued with a backslash onto a line that is not a comment",
                                     self.loc(start),
                                     hint="remove the trailing backslash, or start the next line with '#' as well")
                s = s[:-1] + nxt
                if i > n:
                    break
            if s[0] == "#":
                continue
            self._conf_line(s, start)
        return tuple(self.out)

    def _end_def(self, pydef: tuple[str, int], body: list[str]) -> None:
        self.out.append(PyDef(self.loc(pydef[1]), pydef[0], "\n".join(body)))

    def _recipe_directive(self, s: str, lineno: int) -> bool:
        m = _EXPORT_FUNCS_RE.match(s)
        if m:
            self.out.append(ExportFunctions(self.loc(lineno), m.group(1), self.classname))
            return True
        m = _ADDTASK_RE.match(s)
        if m:
            expr = m.group(1)
            tasks = expr.split(" before ")[0].split(" after ")[0]
            after = ""
            before = ""
            for part in expr.split(" before "):
                pieces = part.split(" after ")
                if len(pieces) > 1:
                    after += " ".join(pieces[1:])
            for part in expr.split(" after "):
                pieces = part.split(" before ")
                if len(pieces) > 1:
                    before += " ".join(pieces[1:])
            for word in s.split():
                if any(f"{kw}_" in word for kw in (":append", ":prepend", ":remove")):
                    raise ParseError(f"task name '{word}' contains an override keyword", self.loc(lineno),
                                     hint="rename the task")
            _check_addtask(tasks, before, after, self.loc(lineno))
            self.out.append(AddTask(self.loc(lineno), tasks, before, after))
            return True
        m = _DELTASK_RE.match(s)
        if m:
            self.out.append(DelTask(self.loc(lineno), m.group(1)))
            return True
        m = _ADDHANDLER_RE.match(s)
        if m:
            self.out.append(AddHandler(self.loc(lineno), m.group(1)))
            return True
        m = _INHERIT_RE.match(s)
        if m:
            self.out.append(Inherit(self.loc(lineno), m.group(1)))
            return True
        m = _INHERIT_DEFER_RE.match(s)
        if m:
            self.out.append(Inherit(self.loc(lineno), m.group(1), defer=True))
            return True
        return False

    def _conf_line(self, s: str, lineno: int) -> None:
        m = _CONFIG_RE.match(s)
        if m:
            var = m.group("var")
            if var == "":
                raise ParseError(f"empty variable name in assignment: '{s}'", self.loc(lineno))
            if _OLD_OVERRIDE_RE.search(var) and not var.startswith("__anon_"):
                raise ParseError(f"'{var}' uses the old override syntax, which is no longer supported",
                                 self.loc(lineno), hint=f"write {old_syntax_fix(var)}")
            _check_overrides(var, self.loc(lineno))
            self.out.append(Assign(self.loc(lineno), var, m.group("op"), m.group("value"), m.group("flag"),
                                   m.group("exp") is not None))
            return
        for regex, kind in ((_INCLUDE_RE, "include"), (_REQUIRE_RE, "require"),
                            (_INCLUDE_ALL_RE, "include_all")):
            m = regex.match(s)
            if m:
                self.out.append(Include(self.loc(lineno), m.group(1), kind))
                return
        m = _EXPORT_RE.match(s)
        if m:
            self.out.append(Export(self.loc(lineno), m.group(1)))
            return
        m = _UNSET_RE.match(s)
        if m:
            self.out.append(Unset(self.loc(lineno), m.group(1)))
            return
        m = _UNSET_FLAG_RE.match(s)
        if m:
            self.out.append(Unset(self.loc(lineno), m.group(1), m.group(2)))
            return
        m = re.match(_ADDPYLIB, s) if s.startswith("addpylib") else None
        if m:
            # (where it may stand, the evaluator knows: BitBake reads it in base configuration files only)
            self.out.append(AddPyLib(self.loc(lineno), m.group(1), m.group(2)))
            return
        m = re.match(_ADDFRAGMENTS, s) if s.startswith("addfragments") else None
        if m:
            self.out.append(AddFragments(self.loc(lineno), *m.groups()))
            return
        raise ParseError(f"unparsed line: '{s}'", self.loc(lineno), hint=_hint_for(s, self.conf))


_KEYWORD_OVERRIDE_RE = re.compile(r":(append|prepend|remove):(?P<override>[^${}]*)$")


def _check_overrides(var: str, loc: Location) -> None:
    """``A::append`` (an empty override) is an error and ``A:append:Machine`` (an override that can never
    be active: OVERRIDES are lower case) a warning: typos BitBake takes silently as other variable names."""
    plain = re.sub(r"\$\{[^}]*\}", "x", var)
    if "::" in plain or plain.endswith(":") or plain.startswith(":"):
        fixed = re.sub(r":{2,}", ":", var).strip(":")
        raise ParseError(f"'{var}' has an empty override (a ':' with nothing before or after it)", loc,
                         hint=f"write {fixed}")
    m = _KEYWORD_OVERRIDE_RE.search(var)
    if m and any(c.isupper() for c in m.group("override")):
        # BitBake takes it as a variable of that name; a warning, so the semantics stay BitBake's
        override = m.group("override")
        logger.warning("%s: '%s': the override '%s' has upper-case letters, so it never applies (OVERRIDES are "
                       "lower case); write %s%s", loc, var, override, var[:len(var) - len(override)],
                       override.lower())


def _check_addtask(tasks: str, before: str, after: str, loc: Location) -> None:
    """``addtask NAME... [before NAME...] [after NAME...]``: a keyword with nothing after it is refused; a
    word that is neither a task name nor a keyword is a task, as in BitBake (``addtask do_a b`` adds
    do_a and do_b), with a warning when it looks like a misspelt keyword or sits among ``do_`` names."""
    words = tasks.split()
    if not words:
        raise ParseError("addtask names no task", loc, hint="write: addtask do_NAME [after do_X] [before do_Y]")
    prefixed = any(w.startswith("do_") for w in words)
    for word in words:
        if word in ("before", "after"):
            raise ParseError(f"addtask: nothing follows '{word}'", loc,
                             hint=f"name the tasks, as in: addtask {words[0]} {word} do_compile")
        close = [] if word.startswith(("do_", "${")) else \
            difflib.get_close_matches(word, ("before", "after"), n=1, cutoff=0.6)
        if close or (prefixed and not word.startswith(("do_", "${"))):
            what = f"did you mean '{close[0]}'?" if close else "addtask knows only 'before' and 'after'"
            logger.warning("%s: addtask: '%s' is not 'before' or 'after': it adds the task do_%s (%s)", loc, word,
                           word, what)
    for part in (before, after):
        for word in part.split():
            if word in ("before", "after"):
                raise ParseError(f"addtask: nothing follows '{word}'", loc)


_OPERATORS = ("=", "?=", "??=", ":=", "+=", "=+", ".=", "=.")
_OPERATOR_TYPO_RE = re.compile(r"""[\w${}:/.+-]+(\[[^\]]*\])?\s*(?P<op>[=:+.?<>!]+)\s*['"]""")


def _hint_for(s: str, conf: bool) -> str | None:
    stripped = s.lstrip()
    if stripped != s:
        return "statements must start in the first column"
    word = s.split(None, 1)[0] if s.split() else ""
    if conf and word in ("inherit", "addtask", "deltask", "EXPORT_FUNCTIONS", "python", "def", "inherit_defer"):
        return f"'{word}' is not allowed in a .conf file; use INHERIT += \"...\" for classes"
    m = _OPERATOR_TYPO_RE.match(s)
    if m and m.group("op") not in _OPERATORS:
        return f"'{m.group('op')}' is not an operator; the operators are {' '.join(_OPERATORS)}"
    if "=" in s and '"' not in s and "'" not in s:
        return "values must be quoted: VAR = \"value\""
    if s.count('"') % 2 or s.count("'") % 2:
        return "a quote is not closed"
    if re.match(r"[\w${}:.+-]+\[[^\]]*(\s|$)", s) or re.match(r"unset\s+\S+\[[^\]]*$", s):
        return "a flag is written VAR[flag]: the ']' is missing"
    if s == "}":
        return "a '}' closes a function, and no function is open here"
    m = re.match(r"((?:python\s+|fakeroot\s+)*)([\w.+${}:-]+)\s*\{$", s)
    if m:
        return f"write {m.group(1)}{m.group(2)}() {{"
    if word == "export":
        return "export takes one variable name (export VAR, or export VAR = \"value\")"
    if re.match(r"[\w.+-]+$", s):
        return "a line is an assignment (VAR = \"value\"), a directive (include, require, inherit, addtask...) " \
               "or a function"
    return None
