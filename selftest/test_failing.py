"""The failing corpus: each bad input in selftest/data/failing gives exactly its expected message.

A case lists files (relative to a temporary root holding the test layer ``meta-test`` and the build
directory), the command's arguments and, in ``expected``, the exact standard error. ``raw_files`` are
written as bytes (each character of the string is one byte, so ``"\xff"`` is the byte 0xff);
``bblayers_conf`` is added to the end of the build's ``bblayers.conf``. ``@ROOT@`` stands for the
temporary root and ``@CORE@`` for the core layer; ``@HASH@``, ``@PID@`` and ``@TIME@`` for the task
hashes, worker process ids and durations of cases that run tasks. Every case must exit with status 1 and
print no traceback. Run with ``LAYERBUILD_UPDATE_FAILING=1`` to write the current messages into the
corpus (then review every change).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import CORE, LAYER_CONF, Runner, make_build, write_tree

CORPUS = Path(__file__).parent / "data" / "failing"


def normalise(text: str) -> str:
    """What differs between runs of a case that runs tasks: task hashes, worker PIDs, durations."""
    text = re.sub(r"\b[0-9a-f]{64}\b", "@HASH@", text)
    text = re.sub(r"((?:log|run)\.do_[\w+-]+)\.\d+\b", r"\1.@PID@", text)
    return re.sub(r"\(\d+\.\d+s\)", "(@TIME@)", text)


def _cases() -> list[Any]:
    return [pytest.param(p, id=p.stem) for p in sorted(CORPUS.glob("*.yaml"))]


@pytest.mark.parametrize("path", _cases())
def test_failing(path: Path, tmp_path: Path, lb: Runner) -> None:
    case = yaml.safe_load(path.read_text())
    files = dict(case.get("files") or {})
    files.setdefault("meta-test/conf/layer.conf", LAYER_CONF.format(name="test", priority=6))
    write_tree(tmp_path, files)
    layers = [tmp_path / name for name in case.get("bblayers", ["meta-test"])]
    for name, text in (case.get("raw_files") or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(text.encode("latin-1"))
    build = make_build(tmp_path, layers, local=case.get("local", ""))
    if case.get("bblayers_conf"):
        with open(build / "conf" / "bblayers.conf", "a", encoding="utf-8") as fh:
            fh.write(case["bblayers_conf"].replace("@ROOT@", str(tmp_path)))
    status, out, err = lb("-B", str(build), *case["args"])
    got = normalise(err.replace(str(tmp_path), "@ROOT@").replace(CORE, "@CORE@"))
    if os.environ.get("LAYERBUILD_UPDATE_FAILING"):
        case["expected"] = got
        head = path.read_text().split("\nexpected:")[0].split('\n"expected":')[0].rstrip("\n")
        block = "".join(f"  {line}\n" if line else "\n" for line in got.splitlines())
        path.write_text(f"{head}\nexpected: |{'' if got.endswith(chr(10)) else '-'}\n{block}")
    assert status == 1, (status, err)
    assert "Traceback" not in err
    assert got == case["expected"]
