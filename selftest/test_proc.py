"""proc.run: the one place subprocesses start. Output goes where asked, failures name the command and log."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from typing import IO

import pytest

from layerbuild.util.errors import LayerbuildError
from layerbuild.util.proc import CommandError, run

PY = sys.executable


def test_captures_stdout_and_passes_cwd_and_env(tmp_path: Path) -> None:
    r = run([PY, "-c", "import os; print(os.getcwd(), os.environ['X'])"], cwd=tmp_path, env={"X": "42"},
            stdout=subprocess.PIPE)
    assert r.returncode == 0 and r.stdout == f"{tmp_path} 42\n".encode()


def test_log_gets_the_command_line_and_both_streams_appended(tmp_path: Path) -> None:
    log = tmp_path / "temp" / "log.do_x"
    argv = [PY, "-c", "import sys; print('out'); print('err', file=sys.stderr)"]
    run(argv, log=log)
    run(["true"], log=log)
    lines = log.read_text().splitlines()
    assert lines[0] == f"$ {shlex.join(argv)}"
    assert sorted(lines[1:3]) == ["err", "out"] and lines[3:] == ["$ true"]


def test_failure_shows_the_command_its_status_and_the_log(tmp_path: Path) -> None:
    log = tmp_path / "log"
    argv = [PY, "-c", "import sys; sys.exit(3)", "an arg"]
    with pytest.raises(CommandError) as info:
        run(argv, log=log)
    err = info.value
    assert isinstance(err, LayerbuildError)
    assert err.message == f"command failed with exit status 3: {shlex.join(argv)}"
    assert err.returncode == 3 and err.argv == argv and err.log == log
    assert f"log: {log}" in err.format()


def test_a_command_that_cannot_start(tmp_path: Path) -> None:
    with pytest.raises(CommandError) as info:
        run([str(tmp_path / "no-such-tool"), "x"])
    assert info.value.returncode is None
    assert info.value.message.startswith(f"cannot run {tmp_path / 'no-such-tool'} x: ")


def test_check_false_returns_the_status() -> None:
    r = run([PY, "-c", "raise SystemExit(7)"], check=False)
    assert r.returncode == 7


def test_input_bytes_file_and_producer(tmp_path: Path) -> None:
    cat = [PY, "-c", "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read()[::-1])"]
    assert run(cat, input=b"abc", stdout=subprocess.PIPE).stdout == b"cba"
    src = tmp_path / "in"
    src.write_bytes(b"xyz")
    with src.open("rb") as fh:
        assert run(cat, input=fh, stdout=subprocess.PIPE).stdout == b"zyx"

    def produce(pipe: IO[bytes]) -> None:
        for _ in range(1000):
            pipe.write(b"0123456789" * 100)  # 1 MB, more than a pipe buffer holds

    out = run([PY, "-c", "import sys; print(len(sys.stdin.buffer.read()))"], input=produce,
              stdout=subprocess.PIPE).stdout
    assert out == b"1000000\n"


def test_a_producer_error_reaches_the_caller() -> None:
    def produce(pipe: IO[bytes]) -> None:
        pipe.write(b"x")
        raise ValueError("producer broke")

    with pytest.raises(ValueError, match="producer broke"):
        run([PY, "-c", "import sys; sys.stdin.read()"], input=produce)


def test_a_command_that_stops_reading_is_not_a_producer_error() -> None:
    def produce(pipe: IO[bytes]) -> None:
        while True:
            pipe.write(b"y" * 65536)

    r = run([PY, "-c", "import sys; sys.stdin.buffer.read(10)"], input=produce, check=False)
    assert r.returncode == 0


def test_merged_output_is_captured_in_order_copied_to_the_log_and_shown_on_failure(tmp_path: Path) -> None:
    log = tmp_path / "log"
    code = "import sys; print('one', flush=True); print('two', file=sys.stderr, flush=True); print('three')"
    r = run([PY, "-c", code], merged=True, log=log)
    assert r.stdout == b"one\ntwo\nthree\n"
    assert log.read_text().endswith("one\ntwo\nthree\n")
    with pytest.raises(CommandError) as info:
        run([PY, "-c", "import sys; print('why it broke', file=sys.stderr); sys.exit(1)"], merged=True)
    assert "why it broke" in info.value.notes[0]
