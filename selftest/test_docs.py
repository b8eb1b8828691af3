"""The docs hold: no page shows the paths of one particular checkout or sets up its examples through the
test helpers, and the demo class that docs/tasks.md prints is the one the task tests use."""

from __future__ import annotations

import re
from pathlib import Path

from test_tasks import LOGTASKS

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([*(ROOT / "docs").glob("*.md"), ROOT / "README.md"])


def test_no_page_shows_this_checkout_or_the_test_helpers() -> None:
    problems = []
    for page in PAGES:
        text = page.read_text()
        if str(ROOT) + "/" in text:
            problems.append(f"{page.name} shows {ROOT}: write /path/to/layerbuild")
        if re.search(r"^\s*(from|import) (conftest|test_\w+)\b", text, re.M):
            problems.append(f"{page.name} sets up an example through the test helpers: show the files and commands")
    assert not problems, "\n".join(problems)


def test_tasks_page_prints_the_class_the_task_tests_use() -> None:
    text = (ROOT / "docs" / "tasks.md").read_text()
    blocks = re.findall(r"^```\n(.*?)^```$", text, re.M | re.S)
    assert LOGTASKS.lstrip("\n") in blocks, "docs/tasks.md: update logtasks.bbclass to LOGTASKS in selftest/test_tasks.py"
