"""Every case of the BitBake-verified corpus (selftest/data/semantics) gives BitBake's value, or is
refused with an error that points where BitBake's does.

The corpus was produced by running each snippet through BitBake itself; see its README for how the
configuration and recipe datastores were built. This harness builds them the same way with
layerbuild's evaluator: configuration files, then ``base`` and ``INHERIT``, then the recipe, its
appends and finalisation, of the recipe itself and of each of its ``BBCLASSEXTEND`` variants.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from layerbuild.engine.config import configuration_view, inherit_global_classes
from layerbuild.engine.datastore import DataStore
from layerbuild.engine.evaluate import Evaluator, new_datastore
from layerbuild.engine.recipe import parse_variants
from layerbuild.util.errors import LayerbuildError

CORPUS = Path(__file__).parent / "data" / "semantics"
PREAMBLE = """PN = "${@bb.parse.vars_from_file(d.getVar('FILE', False),d)[0] or 'defaultpkgname'}"
PV = "${@bb.parse.vars_from_file(d.getVar('FILE', False),d)[1] or '1.0'}"
"""


def _cases() -> list[Any]:
    params = []
    for path in sorted(CORPUS.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text()):
            params.append(pytest.param(case, id=f"{path.stem}:{case['name']}"))
    return params


def evaluate_case(case: dict[str, Any], tmp: Path) -> DataStore:
    files = dict(case.get("files") or {})
    bbpath = [str(tmp / p) for p in case.get("bbpath", ["."])]
    if not any(name.endswith("base.bbclass") for name in files):
        files[str(Path(case.get("bbpath", ["."])[0]) / "classes" / "base.bbclass")] = ""
    for name, text in files.items():
        target = tmp / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text or "")
    evaluator = Evaluator()
    d = new_datastore(tracking=True)
    d.setVar("BBPATH", ":".join(p.rstrip("/.") if p.endswith("/.") else p for p in bbpath))
    d.setVar("__bbclasstype", "global")
    d.setVar("BB_CURRENT_MC", "")
    d.setVar("TOPDIR", str(tmp))
    conf_dir = tmp / "conf"
    conf_dir.mkdir(exist_ok=True)
    if case["mode"] == "recipe":
        (conf_dir / "bitbake.conf").write_text(PREAMBLE)
        evaluator.eval_file(d, str(conf_dir / "bitbake.conf"), include=True)
        conf_text = case.get("conf")
    else:
        conf_text = case["main"]
    if conf_text is not None:
        (conf_dir / "local.conf").write_text(conf_text)
        evaluator.eval_file(d, str(conf_dir / "local.conf"), include=True)
    inherit_global_classes(d, evaluator)
    if case["mode"] == "conf":
        return configuration_view(d)
    recipe = tmp / "recipes" / "test_1.0.bb"
    recipe.parent.mkdir(exist_ok=True)
    recipe.write_text(case["main"])
    appends = tuple(sorted(str(tmp / n) for n in files if n.endswith(".bbappend")))
    # every variant, as bb.parse.handle makes them (an error in one fails the file), then the one asked for
    return parse_variants(d, evaluator, str(recipe), appends)[case.get("variant", "")]


def _read(d: DataStore, key: str, expand: bool) -> Any:
    if "[" in key and key.endswith("]"):
        var, flag = key[:-1].split("[", 1)
        return d.getVarFlag(var, flag, expand)
    return d.getVar(key, expand)


def _normalise(value: Any, tmp: Path) -> Any:
    if isinstance(value, str):
        return value.replace(str(tmp), "<layer>")
    if isinstance(value, list):
        return [_normalise(v, tmp) for v in value]
    return value


# Where BitBake's message names a file and line: "ParseError at P:L: message", "Variable X file: P
# line: L contains ...", "... on line L of file P:".
_BITBAKE_AT = (
    re.compile(r"^ParseError: ParseError at (?P<path>\S+):(?P<line>\d+): (?P<message>.*)$"),
    re.compile(r"^BBHandledException: Variable \S+ file: (?P<path>\S+) line: (?P<line>\d+) "),
    re.compile(r"^BBHandledException: There is .* on line (?P<line>\d+) of file (?P<path>\S+):$"),
)
# Errors about a statement keep BitBake's words, quoting the line as written; the others are worded
# our own way.
_BITBAKE_WORDS = re.compile(r"^(unparsed line|empty variable name in assignment): ")


def bitbake_location(says: str) -> tuple[str | None, str | None]:
    """The ``path:line`` BitBake's message points at, and its message when ours keeps its words."""
    for pattern in _BITBAKE_AT:
        match = pattern.match(says)
        if match:
            message = match.groupdict().get("message")
            if message is not None:
                message = message[:1].lower() + message[1:]
                if not _BITBAKE_WORDS.match(message):
                    message = None
            return f"{match['path']}:{match['line']}", message
    return None, None


def expected_error(case: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """Where our error must point, its message if fixed, and the class BitBake's error has in ours.

    ``error_at`` is ours where BitBake names no line, or a line past the end of the file.
    """
    says = case["bitbake_says"]
    at, message = bitbake_location(says)
    at = case.get("error_at", at)
    assert at, f"{case['name']}: BitBake names no line, so the case needs error_at"
    kind: str | None = says.split(":", 1)[0]
    if "bb.fatal(" in case["main"]:
        # bb.fatal's words are the metadata author's; BitBake logs them as they are.
        message, kind = says.removeprefix("BBHandledException: "), "FatalError"
    return at, message, kind if kind in ("ParseError", "ExpansionError", "FatalError") else None


@pytest.mark.parametrize("case", _cases())
def test_semantics(case: dict[str, Any], tmp_path: Path) -> None:
    expand = case.get("expand", True)
    if case.get("expect_error"):
        at, message, kind = expected_error(case)
        with pytest.raises(LayerbuildError) as err:
            d = evaluate_case(case, tmp_path)
            for key in case.get("reads") or []:
                _read(d, key, expand)
        got_at = _normalise(str(err.value.location), tmp_path)
        assert got_at == at, f"error at {got_at}, should be at {at}: {err.value.message}"
        if message is not None:
            assert _normalise(err.value.message, tmp_path) == message
        if kind is not None:
            assert type(err.value).__name__ == kind, f"{type(err.value).__name__}: {err.value.message}"
        return
    d = evaluate_case(case, tmp_path)
    for key, want in (case.get("expect") or {}).items():
        got = _normalise(d.getVar(key, expand), tmp_path)
        assert got == want and type(got) is type(want), f"{key}: got {got!r}, BitBake gives {want!r}"
    for key, want in (case.get("expect_flags") or {}).items():
        got = _normalise(_read(d, key, expand), tmp_path)
        assert got == want and type(got) is type(want), f"{key}: got {got!r}, BitBake gives {want!r}"
