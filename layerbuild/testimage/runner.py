"""Finding test suites in the layers, running them against a target, and the JUnit XML report."""

from __future__ import annotations

import importlib.util
import io
import os
import sys
import time
import traceback
import unittest
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import ModuleType

from layerbuild.testimage.case import Target, TestCase
from layerbuild.util.errors import LayerbuildError

SUITE_DIR = os.path.join("lib", "testimage")


@dataclass(frozen=True)
class Outcome:
    """One test's result: ``status`` is pass, fail, error or skip; ``output`` the failure or skip text."""

    suite: str
    name: str
    status: str
    seconds: float
    output: str = ""


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status in ("fail", "error")]

    def summary(self) -> str:
        return (f"{self.count('pass')} passed, {self.count('fail') + self.count('error')} failed, "
                f"{self.count('skip')} skipped")

    def suites(self) -> dict[str, Report]:
        """The outcomes of each suite, in the order the suites ran."""
        out: dict[str, Report] = {}
        for outcome in self.outcomes:
            out.setdefault(outcome.suite, Report()).outcomes.append(outcome)
        return out


def find_suite(name: str, search: Sequence[str]) -> str:
    """The file of suite ``name``: ``lib/testimage/NAME.py`` in the first layer (BBPATH) that has it."""
    if not name.replace("_", "").isalnum():
        raise LayerbuildError(f"TEST_SUITES: '{name}' is not a module name")
    tried = []
    for directory in search:
        path = os.path.join(directory, SUITE_DIR, f"{name}.py")
        tried.append(path)
        if os.path.isfile(path):
            return path
    raise LayerbuildError(f"TEST_SUITES: no test suite '{name}' in the layers",
                          notes=tuple(f"looked for {p}" for p in tried[:6]),
                          hint=f"add {SUITE_DIR}/{name}.py to a layer")


def load_suite(name: str, path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"layerbuild_testimage_{name}", path)
    if spec is None or spec.loader is None:
        raise LayerbuildError(f"cannot load test suite {path}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise LayerbuildError(f"test suite {name} cannot be imported: {type(exc).__name__}: {exc}",
                              notes=tuple(traceback.format_exception(exc)[-3:])) from None
    return module


class _Result(unittest.TestResult):
    def __init__(self, suite: str, report: Report) -> None:
        super().__init__()
        self.suite, self.report = suite, report
        self._started = 0.0

    def startTest(self, test: unittest.TestCase) -> None:  # noqa: N802 - unittest's names
        super().startTest(test)
        self._started = time.monotonic()

    def _add(self, test: unittest.TestCase, status: str, output: str = "") -> None:
        self.report.outcomes.append(Outcome(self.suite, test.id().split(".", 1)[-1], status,
                                            time.monotonic() - self._started, output))

    def addSuccess(self, test: unittest.TestCase) -> None:  # noqa: N802
        self._add(test, "pass")

    def addFailure(self, test: unittest.TestCase, err: object) -> None:  # noqa: N802
        self._add(test, "fail", self._text(err))

    def addError(self, test: unittest.TestCase, err: object) -> None:  # noqa: N802
        self._add(test, "error", self._text(err))

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:  # noqa: N802
        self._add(test, "skip", reason)

    @staticmethod
    def _text(err: object) -> str:
        exc: BaseException = err[1]  # type: ignore[index]
        lines = traceback.format_exception(exc)
        # the assertion and the test's own frames; unittest's frames say nothing
        return "".join(line for line in lines if "/unittest/" not in line).strip()


def run_suites(names: Iterable[str], search: Sequence[str], target: Target, log: io.TextIOBase | None = None) -> Report:
    """Run the suites ``names`` against ``target``; every test's outcome goes into the report."""
    report = Report()
    out = log or sys.stderr
    for name in names:
        module = load_suite(name, find_suite(name, search))
        loader = unittest.TestLoader()
        tests = unittest.TestSuite()
        for attr in sorted(vars(module)):
            obj = getattr(module, attr)
            if isinstance(obj, type) and issubclass(obj, TestCase) and obj is not TestCase \
                    and obj.__module__ == module.__name__:
                obj.target = target
                tests.addTests(loader.loadTestsFromTestCase(obj))
        before = len(report.outcomes)
        tests.run(_Result(name, report))
        for outcome in report.outcomes[before:]:
            out.write(f"{outcome.status.upper():<5} {outcome.suite}.{outcome.name} ({outcome.seconds:.2f} s)\n")
            if outcome.status != "pass" and outcome.output:
                out.write("".join(f"      {line}\n" for line in outcome.output.splitlines()))
    return report


def junit_xml(report: Report, name: str) -> bytes:
    """The report as JUnit XML (one testsuite per suite), as CI systems read it."""
    root = ET.Element("testsuites", name=name, tests=str(len(report.outcomes)),
                      failures=str(report.count("fail")), errors=str(report.count("error")),
                      skipped=str(report.count("skip")))
    suites: dict[str, ET.Element] = {}
    for outcome in report.outcomes:
        suite = suites.get(outcome.suite)
        if suite is None:
            suite = ET.SubElement(root, "testsuite", name=outcome.suite)
            suites[outcome.suite] = suite
        case = ET.SubElement(suite, "testcase", classname=f"{name}.{outcome.suite}", name=outcome.name,
                             time=f"{outcome.seconds:.3f}")
        if outcome.status == "fail":
            ET.SubElement(case, "failure", message=outcome.output.splitlines()[-1] if outcome.output else "").text = \
                outcome.output
        elif outcome.status == "error":
            ET.SubElement(case, "error", message=outcome.output.splitlines()[-1] if outcome.output else "").text = \
                outcome.output
        elif outcome.status == "skip":
            ET.SubElement(case, "skipped", message=outcome.output)
    for suite in suites.values():
        cases = suite.findall("testcase")
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
        suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
        suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
