#!/usr/bin/env python3
"""Compare layerbuild with BitBake on OE-core: ``-p``, ``-e`` and ``-g``.

The reference is a directory of BitBake's outputs on the same OE-core tree (``--ref DIR``, as
``reference`` below writes it), or is made first from a BitBake checkout (``--bitbake DIR``, a few
minutes: one cold parse). layerbuild then runs in a build directory with the same configuration and
environment, and the comparison prints, per check:

- ``-p``: the summary line, the number of targets (recipe files and their ``virtual:`` variants),
  which are skipped and why, which recipe provides each name by preference;
- ``-e`` (the configuration and each recipe): every variable, with its ``export``/``unset`` state,
  and every shell and python function, after both outputs are read back from their shell quoting and
  the build directory, the OE-core and BitBake paths and the time stamps are replaced by placeholders,
  as are the few things that differ from one process to the next in either tool (``NORMALISATIONS``:
  the process id, a Python object's address, a set's word order), which the report lists;
- ``-g TARGET``: the nodes and edges of ``task-depends.dot`` and the ``pn-buildlist``;

a count per check (compared, agreeing, differing, only in one) and the first differences. A layerbuild
command that fails is reported with its error and the rest still runs, so a partial implementation
can be measured. Exit status 0 when everything agrees.

    python3 selftest/bench/oecompare.py --oe-core /path/to/openembedded-core --ref /path/to/ref
    python3 selftest/bench/oecompare.py --oe-core ... --bitbake /path/to/bitbake --ref NEWDIR
    python3 selftest/bench/oecompare.py --oe-core ... --ref ... --recipe zlib --no-parse --no-graph
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from oebuild import (  # noqa: E402
    REPO,
    clean_build,
    layerbuild_env,
    locale_dir,
    make_build,
    tool_env,
    wait_for_server,
)

BENCH = Path(__file__).resolve().parent
RECIPES = ("zlib", "busybox", "base-files", "xz", "openssl", "core-image-minimal")
GRAPH_TARGET = "core-image-minimal"
CONFIGURATION = "(configuration)"
#: variables that name the tool or its command line: shown, never counted as a difference
NOT_COMPARED = frozenset({"BB_CMDLINE"})
SUMMARY = re.compile(r"Parsing of (\d+) \.bb files complete.*?(\d+) targets, (\d+) skipped.*")

# --- reading ``-e`` output -------------------------------------------------------------------------

#: how each tool quotes a value between double quotes: BitBake escapes ``"``, ``$`` and backticks
#: and continues newlines (`` \`` at the line's end); layerbuild also escapes a backslash before
#: any of those (or at the end), so that no value can end a quote or run a command.
UNESCAPE = {
    "bitbake": re.compile(r' \\\n|\\(["$`])'),
    "layerbuild": re.compile(r' \\\n|\\(["$`\\])'),
}
VALUE = re.compile(r'^(export )?([^\s="]+)="(.*)$', re.S)
UNSET = re.compile(r"^unset (\S+)$")
SHELL_HEAD = re.compile(r"^(\S+)\(\) \{$")
PYTHON_HEAD = re.compile(r"^python (\S+) \(\) \{$")
EXPANSION_ERROR = re.compile(r"^# expansion of (\S+) threw (\S+?): (.*)$")
STAMP = re.compile(r"(?<!\d)20\d{12}(?!\d)")


@dataclass(frozen=True)
class Item:
    """One name of an ``-e`` output: kind is var, export, unset, shell, python or error."""

    kind: str
    value: str


@dataclass
class Environment:
    items: dict[str, Item] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def unescape(raw: str, dialect: str) -> str:
    return UNESCAPE[dialect].sub(lambda m: "\n" if m.group(1) is None else m.group(1), raw)


def _function_start(lines: list[str], i: int) -> bool:
    line = lines[i]
    return bool(PYTHON_HEAD.match(line) or EXPANSION_ERROR.match(line)
                or (line.startswith("# line: ") and i + 1 < len(lines) and SHELL_HEAD.match(lines[i + 1])))


def _item_start(lines: list[str], i: int) -> bool:
    line = lines[i]
    return line.startswith("#") or bool(VALUE.match(line) or UNSET.match(line) or _function_start(lines, i))


def parse_env(text: str, dialect: str) -> Environment:
    """Read ``bitbake -e`` / ``layerbuild -e`` output back into names and values.

    Console lines before the dump (``NOTE:``, ``Loading cache...``) are skipped. A value continues
    while its line ends in `` \\`` (the only way either tool writes a newline of a value); a function
    runs to the next function's header, so neither a ``#`` line inside a value nor a ``}`` inside a
    body ends it early.
    """
    env = Environment()
    lines = text.split("\n")
    n = len(lines)
    i = 0
    while i < n and not _item_start(lines, i):
        i += 1
    while i < n:
        line = lines[i]
        m = EXPANSION_ERROR.match(line)
        if m:
            env.items[m.group(1)] = Item("error", m.group(3))
            i += 1
            while i < n and not _item_start(lines, i):
                i += 1
            continue
        if _function_start(lines, i):
            python = PYTHON_HEAD.match(line)
            name = python.group(1) if python else SHELL_HEAD.match(lines[i + 1]).group(1)  # type: ignore[union-attr]
            i += 1 if python else 2
            start = i
            while i < n and not _function_start(lines, i):
                i += 1
            body = "\n".join(lines[start:i]).rstrip("\n")
            if not body.endswith("}"):
                env.problems.append(f"function {name}: no closing brace")
            body = body[:-1] if python else body[:-1].rstrip("\n")
            env.items[name] = Item("python" if python else "shell", body)
            continue
        if line.startswith("#") or not line:
            i += 1
            continue
        m = UNSET.match(line)
        if m:
            env.items[m.group(1)] = Item("unset", "")
            i += 1
            continue
        m = VALUE.match(line)
        if m:
            raw = [m.group(3)]
            while raw[-1].endswith(" \\") and i + 1 < n:
                i += 1
                raw.append(lines[i])
            i += 1
            value = "\n".join(raw)
            if not value.endswith('"'):
                env.problems.append(f"{m.group(2)}: value without a closing quote")
            env.items[m.group(2)] = Item("export" if m.group(1) else "var", unescape(value[:-1], dialect))
            continue
        env.problems.append(f"line {i + 1}: not understood: {line[:80]!r}")
        i += 1
    return env


#: where ``LOGFIFO`` (OE's logging class: ``${T}/fifo.${@os.getpid()}``) ends in the parsing process's id
FIFO_PID = re.compile(r"/fifo\.(\d+)$")
#: a Python object's default ``repr`` (``<bb.data_smart.DataSmart object at 0x7f...>``)
OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-f]+>")
#: variables whose words come from iterating a Python set (``oe.utils.set_intersect``): their order
#: follows the string hash seed, which differs from one process to the next in either tool
SET_ORDER = frozenset({"COMBINED_FEATURES"})
#: a quoted list of words in a skip reason: OE's features_check joins the missing features of a set
QUOTED_WORDS = re.compile(r"'([^']*)'")
#: what is normalised beyond paths and time stamps, and why; printed with the results
NORMALISATIONS = (
    "the id of the parsing process (PID, and after a '.' in LOGFIFO, the bb* log functions, "
    "log.do_TASK.PID) -> ${PID}: a new process each run",
    "a Python object's default repr (BB_ORIGENV) -> <object>: its class is each tool's own and its address "
    "is the process's",
    "the word order of " + ", ".join(sorted(SET_ORDER)) + ": a Python set's order, which changes from run to "
    "run in either tool (compared as sorted words)",
    "the word order inside quotes in a skip reason ('pam systemd'): OE's features_check lists the missing "
    "features of a Python set (compared as sorted words)",
)


def skip_reason(reason: str) -> str:
    """A skip reason with the words of each quoted list sorted (see ``NORMALISATIONS``)."""
    return QUOTED_WORDS.sub(lambda m: "'" + " ".join(sorted(m.group(1).split())) + "'", reason)


def process_id(env: Environment) -> str | None:
    """The id of the process that parsed this recipe: ``PID``, else the end of ``LOGFIFO``."""
    pid = env.items.get("PID")
    if pid and pid.value.isdigit():
        return pid.value
    fifo = env.items.get("LOGFIFO")
    m = FIFO_PID.search(fifo.value) if fifo else None
    return m.group(1) if m else None


def placeholders(env: Environment, paths: dict[str, str]) -> list[tuple[re.Pattern[str], str]]:
    """What to replace in this side's values: the given paths (placeholder -> path), this side's own
    TOPDIR and COREBASE, and time stamps: this side's DATETIME, DATE and TIME, then any other
    14-digit ``20YYMMDDhhmmss`` (only where no digit touches them); then this side's process id and
    object reprs (see ``NORMALISATIONS``)."""
    subs: list[tuple[re.Pattern[str], str]] = []
    found = dict(paths)
    for name in ("TOPDIR", "COREBASE"):
        item = env.items.get(name)
        if item and item.value.startswith("/"):
            found[name] = item.value
    for name, path in sorted(found.items(), key=lambda kv: -len(kv[1])):
        # /work/build, not /work/build2
        subs.append((re.compile(re.escape(path.rstrip("/")) + r"(?![\w.-])"), "${" + name + "}"))
    for name in ("DATETIME", "DATE", "TIME"):
        item = env.items.get(name)
        if item and item.value.isdigit():
            subs.append((re.compile(r"(?<!\d)" + item.value + r"(?!\d)"), "${" + name + "}"))
    # a time stamp taken at another moment of the same run (BitBake's console log name)
    subs.append((STAMP, "${DATETIME}"))
    pid = process_id(env)
    if pid:
        # the whole value (PID), or after a dot (fifo.PID, log.do_TASK.PID): a number that only
        # happens to equal the id elsewhere in a value is left alone
        subs.append((re.compile(r"(?:^|(?<=\.))" + pid + r"(?!\d)"), "${PID}"))
    subs.append((OBJECT_REPR, "<object>"))
    return subs


def normalise(env: Environment, paths: dict[str, str]) -> dict[str, Item]:
    subs = placeholders(env, paths)
    out = {}
    for name, item in env.items.items():
        value = item.value
        for pattern, repl in subs:
            value = pattern.sub(repl, value)
        if item.kind in ("shell", "python"):
            value = value.rstrip()
        if name in SET_ORDER:
            value = " ".join(sorted(value.split()))
        out[name] = Item(item.kind, value)
    return out


# --- comparing ---------------------------------------------------------------------------------------


@dataclass
class Comparison:
    """One check: how many names were compared and which differ or are only on one side."""

    title: str
    compared: int = 0
    agreeing: int = 0
    differing: list[str] = field(default_factory=list)
    only_bitbake: list[str] = field(default_factory=list)
    only_layerbuild: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not (self.error or self.differing or self.only_bitbake or self.only_layerbuild)

    def line(self) -> str:
        if self.error:
            return f"{self.title}: {self.error}"
        return (f"{self.title}: {self.compared} compared, {self.agreeing} agree, {len(self.differing)} differ, "
                f"{len(self.only_bitbake)} only in BitBake, {len(self.only_layerbuild)} only in layerbuild")


def _excerpt(a: str, b: str, width: int = 70) -> tuple[str, str]:
    """The part of two one-line values around where they first differ."""
    p = 0
    while p < min(len(a), len(b)) and a[p] == b[p]:
        p += 1
    start = max(0, p - 20)

    def cut(s: str) -> str:
        part = s[start:start + width]
        return ("..." if start else "") + repr(part)[1:-1] + ("..." if start + width < len(s) else "")
    return cut(a), cut(b)


def describe(name: str, bb: Item, lb: Item) -> str:
    head = f"{name}: BitBake {bb.kind}, layerbuild {lb.kind}" if bb.kind != lb.kind else f"{name}: {bb.kind}"
    if bb.value == lb.value:
        return head
    if "\n" in bb.value or "\n" in lb.value:
        diff = difflib.unified_diff(bb.value.split("\n"), lb.value.split("\n"), "bitbake", "layerbuild",
                                    lineterm="", n=1)
        return head + "\n" + "\n".join("    " + line for line in list(diff)[:12])
    a, b = _excerpt(bb.value, lb.value)
    return f"{head}\n    bitbake:    {a}\n    layerbuild: {b}"


def compare_env(title: str, bb: dict[str, Item], lb: dict[str, Item]) -> Comparison:
    c = Comparison(title)
    for name in sorted(set(bb) | set(lb)):
        if name in NOT_COMPARED:
            continue
        if name not in lb:
            c.only_bitbake.append(name)
        elif name not in bb:
            c.only_layerbuild.append(name)
        else:
            c.compared += 1
            x, y = bb[name], lb[name]
            same = x == y or (x.kind == y.kind == "error")
            if same:
                c.agreeing += 1
            else:
                c.differing.append(name)
                c.details.append(describe(name, x, y))
    c.details += [f"{name}: only in BitBake ({bb[name].kind})" for name in c.only_bitbake]
    c.details += [f"{name}: only in layerbuild ({lb[name].kind})" for name in c.only_layerbuild]
    return c


def _sub_paths(text: str, paths: dict[str, str]) -> str:
    for name, path in sorted(paths.items(), key=lambda kv: -len(kv[1])):
        text = re.sub(re.escape(path.rstrip("/")) + r"(?![\w.-])", "${" + name + "}", text)
    return text


def compare_recipes(bb: list[dict[str, object]], lb: list[dict[str, object]],
                    bb_paths: dict[str, str], lb_paths: dict[str, str]) -> list[Comparison]:
    """Targets, skipped recipes with their reasons, preferred providers."""
    bbe = {_sub_paths(str(e["fn"]), bb_paths): e for e in bb}
    lbe = {_sub_paths(str(e["fn"]), lb_paths): e for e in lb}
    targets = Comparison("targets (recipe files and variants)")
    targets.only_bitbake = sorted(set(bbe) - set(lbe))
    targets.only_layerbuild = sorted(set(lbe) - set(bbe))
    common = sorted(set(bbe) & set(lbe))
    targets.compared = len(common)
    for fn in common:
        x, y = bbe[fn], lbe[fn]
        keys = ("pn", "pe", "pv", "pr") if not x["skipped"] and not y["skipped"] else ("pn",)
        diffs = [f"{k} {x[k]!r} / {y[k]!r}" for k in keys if x[k] != y[k]]
        if diffs:
            targets.differing.append(fn)
            targets.details.append(f"{fn}: " + ", ".join(diffs))
        else:
            targets.agreeing += 1
    targets.details += [f"{fn}: only in BitBake" for fn in targets.only_bitbake]
    targets.details += [f"{fn}: only in layerbuild" for fn in targets.only_layerbuild]
    skipped = Comparison("skipped")
    bbs = {fn: skip_reason(str(e["skipped"])) for fn, e in bbe.items() if e["skipped"]}
    lbs = {fn: skip_reason(str(e["skipped"])) for fn, e in lbe.items() if e["skipped"]}
    skipped.only_bitbake = sorted(set(bbs) - set(lbs))
    skipped.only_layerbuild = sorted(set(lbs) - set(bbs))
    for fn in sorted(set(bbs) & set(lbs)):
        skipped.compared += 1
        if bbs[fn] == lbs[fn]:
            skipped.agreeing += 1
        else:
            skipped.differing.append(fn)
            skipped.details.append(f"{fn}: reason\n    bitbake:    {bbs[fn]}\n    layerbuild: {lbs[fn]}")
    skipped.details += [f"{fn}: skipped only by BitBake: {bbs[fn]}" for fn in skipped.only_bitbake]
    skipped.details += [f"{fn}: skipped only by layerbuild: {lbs[fn]}" for fn in skipped.only_layerbuild]
    preferred = Comparison("preferred provider of each PN")
    bbp = {str(e["pn"]): fn for fn, e in bbe.items() if e["preferred"]}
    lbp = {str(e["pn"]): fn for fn, e in lbe.items() if e["preferred"]}
    preferred.only_bitbake = sorted(set(bbp) - set(lbp))
    preferred.only_layerbuild = sorted(set(lbp) - set(bbp))
    for pn in sorted(set(bbp) & set(lbp)):
        preferred.compared += 1
        if bbp[pn] == lbp[pn]:
            preferred.agreeing += 1
        else:
            preferred.differing.append(pn)
            preferred.details.append(f"{pn}: BitBake {bbp[pn]}, layerbuild {lbp[pn]}")
    return [targets, skipped, preferred]


DOT_NODE = re.compile(r'^"([^"]+)" \[label="(.*)"\]$')
DOT_EDGE = re.compile(r'^"([^"]+)" -> "([^"]+)"$')


def parse_dot(text: str) -> tuple[dict[str, str], set[tuple[str, str]]]:
    """Nodes (name -> label) and edges of a ``task-depends.dot``."""
    nodes: dict[str, str] = {}
    edges: set[tuple[str, str]] = set()
    for line in text.splitlines():
        m = DOT_NODE.match(line)
        if m:
            nodes[m.group(1)] = m.group(2)
            continue
        m = DOT_EDGE.match(line)
        if m:
            edges.add((m.group(1), m.group(2)))
    return nodes, edges


def compare_graph(bb_text: str, lb_text: str, bb_paths: dict[str, str], lb_paths: dict[str, str]) -> list[Comparison]:
    bbn, bbe = parse_dot(bb_text)
    lbn, lbe = parse_dot(lb_text)
    nodes = Comparison("task-depends.dot nodes (labels: version and file)")
    nodes.only_bitbake = sorted(set(bbn) - set(lbn))
    nodes.only_layerbuild = sorted(set(lbn) - set(bbn))
    for name in sorted(set(bbn) & set(lbn)):
        nodes.compared += 1
        a, b = _sub_paths(bbn[name], bb_paths), _sub_paths(lbn[name], lb_paths)
        if a == b:
            nodes.agreeing += 1
        else:
            nodes.differing.append(name)
            nodes.details.append(f"{name}: label\n    bitbake:    {a}\n    layerbuild: {b}")
    nodes.details += [f"{n}: node only in BitBake" for n in nodes.only_bitbake]
    nodes.details += [f"{n}: node only in layerbuild" for n in nodes.only_layerbuild]
    edges = Comparison("task-depends.dot edges")
    edges.compared = len(bbe & lbe)
    edges.agreeing = edges.compared
    edges.only_bitbake = [f"{a} -> {b}" for a, b in sorted(bbe - lbe)]
    edges.only_layerbuild = [f"{a} -> {b}" for a, b in sorted(lbe - bbe)]
    edges.details += [f"{e}: edge only in BitBake" for e in edges.only_bitbake]
    edges.details += [f"{e}: edge only in layerbuild" for e in edges.only_layerbuild]
    # first, how many differences each kind of task (or task -> task) has: where to look for the cause
    nodes.details[:0] = _by_task(nodes.only_bitbake, nodes.only_layerbuild, "nodes")
    edges.details[:0] = _by_task(edges.only_bitbake, edges.only_layerbuild, "edges")
    return [nodes, edges]


def _task_of(item: str) -> str:
    """``pn.do_x`` -> ``do_x``; ``a.do_x -> b.do_y`` -> ``do_x -> do_y``."""
    return " -> ".join(part.rsplit(".", 1)[-1] for part in item.split(" -> "))


def _by_task(only_bitbake: list[str], only_layerbuild: list[str], what: str) -> list[str]:
    counts: dict[tuple[str, str], int] = {}
    for side, items in (("BitBake", only_bitbake), ("layerbuild", only_layerbuild)):
        for item in items:
            key = (_task_of(item), side)
            counts[key] = counts.get(key, 0) + 1
    return [f"{n} {what} {task} only in {side}" for (task, side), n in
            sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def compare_lists(title: str, bb: set[str], lb: set[str]) -> Comparison:
    c = Comparison(title, compared=len(bb & lb), agreeing=len(bb & lb))
    c.only_bitbake = sorted(bb - lb)
    c.only_layerbuild = sorted(lb - bb)
    c.details = [f"{x}: only in BitBake" for x in c.only_bitbake] + [f"{x}: only in layerbuild" for x in c.only_layerbuild]
    return c


# --- running the tools -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    returncode: int
    out: str
    err: str

    def error(self) -> str:
        """The command's error messages (``path:line: error: ...`` lines, else its last line)."""
        lines = [line for line in (self.err or self.out).splitlines() if line.strip()]
        errors = [line for line in lines if ": error: " in line or line.startswith("ERROR:")]
        shown = errors[:5] or lines[-1:]
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        return f"exit status {self.returncode}: " + " | ".join(shown) + more


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> Result:
    r = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    return Result(r.returncode, r.stdout, r.stderr)


def make_reference(bitbake: Path, oe_core: Path, ref: Path, work: Path,
                   recipes: tuple[str, ...], target: str) -> None:
    """BitBake's outputs, written as the reference directory this script reads."""
    ref.mkdir(parents=True, exist_ok=True)
    env = tool_env(bitbake, locale_dir(ref))  # in the reference: its env names it
    build = make_build(work / "bitbake-build", oe_core)
    clean_build(build)
    shutil.copytree(build / "conf", ref / "conf", dirs_exist_ok=True)

    def bb(argv: list[str], out: str, extra: dict[str, str] | None = None) -> None:
        r = run(argv, build, dict(env, **(extra or {})))
        wait_for_server(build)
        (ref / out).write_text(r.out if extra else r.out + r.err)
        if r.returncode:
            raise SystemExit(f"{' '.join(argv)} failed: {r.error()}")

    print(f"running BitBake in {build} (a cold parse takes minutes)", flush=True)
    bb(["bitbake", "-p"], "parse-cold.txt")
    bb([sys.executable, str(BENCH / "bitbake_recipes.py")], "recipes.json",
       {"PYTHONPATH": str(bitbake.resolve() / "lib")})
    bb(["bitbake", "-e"], "env-global.txt")
    for recipe in recipes:
        bb(["bitbake", "-e", recipe], f"env-{recipe}.txt")
    bb(["bitbake", "-g", target], f"graph-{target}.log")
    (build / "task-depends.dot").replace(ref / f"task-depends-{target}.dot")
    (build / "pn-buildlist").replace(ref / f"pn-buildlist-{target}.txt")
    head = run(["git", "-C", str(bitbake), "rev-parse", "HEAD"], build, env).out.strip()
    meta = {"topdir": str(build), "oe_core": str(oe_core.resolve()), "bitbake": str(bitbake.resolve()),
            "bitbake_commit": head, "recipes": list(recipes), "graph_target": target, "env": env}
    (ref / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")


# --- the report --------------------------------------------------------------------------------------


def summary_numbers(text: str) -> tuple[int, int, int] | None:
    m = SUMMARY.search(text)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def check_parse(ref: Path, build: Path, env: dict[str, str], bb_paths: dict[str, str],
                lb_paths: dict[str, str]) -> list[Comparison]:
    bb_line = summary_numbers((ref / "parse-cold.txt").read_text())
    r = run([sys.executable, "-m", "layerbuild.cli", "-p"], build, env)
    summary = Comparison("-p summary (files, targets, skipped)")
    if r.returncode:
        summary.error = "layerbuild -p " + r.error()
        return [summary]
    lb_line = summary_numbers(r.out)
    if bb_line is None or lb_line is None:
        summary.error = f"no summary line (BitBake: {bb_line}, layerbuild: {lb_line})"
    else:
        for label, a, b in zip(("files", "targets", "skipped"), bb_line, lb_line, strict=True):
            summary.compared += 1
            if a == b:
                summary.agreeing += 1
            else:
                summary.differing.append(label)
                summary.details.append(f"{label}: BitBake {a}, layerbuild {b}")
    dump = run([sys.executable, str(BENCH / "layerbuild_recipes.py")], build, env)
    if dump.returncode:
        failed = Comparison("targets")
        failed.error = "layerbuild_recipes.py " + dump.error()
        return [summary, failed]
    bb_entries = json.loads((ref / "recipes.json").read_text())
    return [summary, *compare_recipes(bb_entries, json.loads(dump.out), bb_paths, lb_paths)]


def check_env(ref: Path, build: Path, env: dict[str, str], recipe: str | None, bb_paths: dict[str, str],
              lb_paths: dict[str, str]) -> Comparison:
    title = f"-e {recipe or CONFIGURATION}"
    r = run([sys.executable, "-m", "layerbuild.cli", "-e", *([recipe] if recipe else [])], build, env)
    if r.returncode:
        return Comparison(title, error="layerbuild " + r.error())
    bb_env = parse_env((ref / f"env-{recipe or 'global'}.txt").read_text(), "bitbake")
    lb_env = parse_env(r.out, "layerbuild")
    c = compare_env(title, normalise(bb_env, bb_paths), normalise(lb_env, lb_paths))
    c.details = [f"reading BitBake's output: {p}" for p in bb_env.problems] + \
                [f"reading layerbuild's output: {p}" for p in lb_env.problems] + c.details
    return c


def check_graph(ref: Path, build: Path, env: dict[str, str], target: str, bb_paths: dict[str, str],
                lb_paths: dict[str, str]) -> list[Comparison]:
    for name in ("task-depends.dot", "pn-buildlist"):
        (build / name).unlink(missing_ok=True)
    r = run([sys.executable, "-m", "layerbuild.cli", "-g", target], build, env)
    if r.returncode:
        return [Comparison(f"-g {target}", error="layerbuild " + r.error())]
    comparisons = compare_graph((ref / f"task-depends-{target}.dot").read_text(),
                                (build / "task-depends.dot").read_text(), bb_paths, lb_paths)
    bb_list = set((ref / f"pn-buildlist-{target}.txt").read_text().split())
    lb_list = set((build / "pn-buildlist").read_text().split())
    return [*comparisons, compare_lists("pn-buildlist", bb_list, lb_list)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--oe-core", required=True, type=Path, metavar="DIR", help="an openembedded-core checkout")
    ap.add_argument("--ref", type=Path, metavar="DIR", help="BitBake's outputs (written first with --bitbake)")
    ap.add_argument("--bitbake", type=Path, metavar="DIR", help="make the reference with this BitBake first")
    ap.add_argument("--build", type=Path, metavar="DIR",
                    help="layerbuild's build directory (kept, so its parse cache serves the next run); "
                         "default: a temporary one")
    ap.add_argument("--recipe", action="append", metavar="PN", help="compare -e of these (default: the reference's)")
    ap.add_argument("--graph-target", metavar="PN", help=f"compare -g of this (default: the reference's, or {GRAPH_TARGET})")
    ap.add_argument("--no-config", action="store_true", help="skip -e of the configuration")
    ap.add_argument("--no-parse", action="store_true", help="skip -p")
    ap.add_argument("--no-env", action="store_true", help="skip -e")
    ap.add_argument("--no-graph", action="store_true", help="skip -g")
    ap.add_argument("--show", type=int, default=10, metavar="N", help="differences shown per check (default 10)")
    args = ap.parse_args()
    oe_core = args.oe_core.resolve()
    if args.ref is None:
        ap.error("give --ref DIR: BitBake's outputs (with --bitbake: where to write them)")
    work = Path(tempfile.mkdtemp(prefix="lb-oecompare-"))
    try:
        ref = args.ref
        meta_path = ref / "meta.json"
        if args.bitbake is not None:
            make_reference(args.bitbake, oe_core, ref, work, tuple(args.recipe or RECIPES),
                           args.graph_target or GRAPH_TARGET)
        elif not meta_path.is_file():
            raise SystemExit(f"{ref}: no meta.json: not a reference directory (make one with --bitbake)")
        meta = json.loads(meta_path.read_text())
        build = make_build(args.build or work / "layerbuild-build", oe_core)
        ref_conf = ref / "conf" / "local.conf"
        if ref_conf.is_file() and ref_conf.read_text() != (build / "conf" / "local.conf").read_text():
            print(f"note: {ref_conf} differs from the local.conf layerbuild reads ({build / 'conf'})")
        env = layerbuild_env(meta.get("env") or tool_env(None, None))
        bb_paths = {"TOPDIR": meta["topdir"], "COREBASE": meta["oe_core"], "BITBAKE": meta["bitbake"]}
        lb_paths = {"TOPDIR": str(build), "COREBASE": str(oe_core), "BITBAKE": meta["bitbake"]}
        print(f"BitBake reference: {ref} (OE-core {meta['oe_core']}, BitBake {meta['bitbake']}); "
              f"layerbuild {REPO} in {build}", flush=True)
        comparisons: list[Comparison] = []
        if not args.no_parse:
            comparisons += check_parse(ref, build, env, bb_paths, lb_paths)
        if not args.no_env:
            recipes = [None] if not args.no_config else []
            recipes += args.recipe or meta.get("recipes") or list(RECIPES)
            for recipe in recipes:
                comparisons.append(check_env(ref, build, env, recipe, bb_paths, lb_paths))
        if not args.no_graph:
            target = args.graph_target or meta.get("graph_target", GRAPH_TARGET)
            comparisons += check_graph(ref, build, env, target, bb_paths, lb_paths)
        print()
        if not args.no_env:
            print("-e values and skip reasons are compared after these normalisations besides paths and time stamps:")
            for note in NORMALISATIONS:
                print("  - " + note)
            print()
        for c in comparisons:
            print(("ok    " if c.ok else "DIFF  ") + c.line())
        for c in comparisons:
            if c.details and not c.error:
                shown = c.details[:args.show]
                print(f"\n== {c.title}: first {len(shown)} of {len(c.details)}")
                for detail in shown:
                    print("  " + detail)
        return 0 if all(c.ok for c in comparisons) else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
