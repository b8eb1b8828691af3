"""``layerbuild -c testimage``: the demo images boot in subhosts and pass their suites; a broken suite
fails the task with the failing test's output; nothing of the test boots is left behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import LAYER_CONF, BuildDir, make_build

MACHINE = "genericx86-64"

pytestmark = [pytest.mark.root, pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"),
                                 reason="needs root, unshare and iproute2")]


def _leftovers() -> list[str]:
    found = []
    mounts = Path("/proc/self/mountinfo").read_text()
    found += [line for line in mounts.splitlines() if "/testimage/" in line]
    found += [line for line in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout.splitlines()
              if ": lbt" in line or ": lbcable" in line]
    found += [n for n in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
              if n.startswith(("lbt", "lbcable"))]
    found += [line for line in subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout.splitlines()
              if "images" in line and "deploy" in line]
    return found


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> BuildDir:
    root = tmp_path_factory.mktemp("testimage")
    layer = root / "meta-broken"
    files = {
        "conf/layer.conf": LAYER_CONF.format(name="broken", priority=7),
        "lib/testimage/broken.py": """\
            from layerbuild.testimage.case import TestCase

            class BrokenTest(TestCase):
                def test_hello_says_goodbye(self):
                    status, output = self.target.run("hello")
                    self.assertIn("Goodbye", output)

                def test_still_passes(self):
                    self.assertEqual(self.target.run("hello")[0], 0)
            """,
        "recipes/images/broken-image.bb": """\
            inherit core-image
            IMAGE_INSTALL += "hello"
            TEST_SUITES = "basic broken"
            """,
    }
    for name, text in files.items():
        path = layer / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return BuildDir(make_build(root, [layer]))


@pytest.mark.parametrize(("recipe", "tests"), [
    ("some-core-image", {"basic.BasicTest.test_os_release", "hello.HelloTest.test_hello_runs"}),
    ("extending-image", {"sysext.ExtensionTest.test_greet_runs_with_libgreet_from_the_extension"}),
    ("extending-confext", {"confext.ConfextTest.test_configuration_file_appears_in_etc"}),
    ("demo-portable", {"portable.PortableTest.test_daemon_answers_over_the_cable"}),
])
def test_demo_images_pass_their_tests(build: BuildDir, recipe: str, tests: set[str]) -> None:
    result = build.run("-c", "testimage", recipe, check=False, timeout=600)
    assert result.returncode == 0, result.stderr
    report = ET.parse(build.deploy / f"{recipe}-{MACHINE}.testimage.xml").getroot()
    cases = {f"{c.get('classname', '').split('.', 1)[1]}.{c.get('name')}": c for c in report.iter("testcase")}
    assert tests <= set(cases), sorted(cases)
    for name in tests:
        assert not list(cases[name]), f"{name} did not pass"
    assert report.get("failures") == "0" and report.get("errors") == "0"
    # the summary says what ran, suite by suite, and where the report is
    summary = result.stderr.split("Build succeeded:", 1)[1].splitlines()[1:]
    passed = sum(1 for c in cases.values() if not list(c))
    skipped = sum(1 for c in cases.values() if c.find("skipped") is not None)
    assert summary[0] == (f"testimage {recipe}: {passed} passed, 0 failed, {skipped} skipped "
                          f"(report: {build.deploy}/{recipe}-{MACHINE}.testimage.xml)"), result.stderr
    suites = {c.get("classname", "").split(".")[1] for c in cases.values()}
    assert sorted(line.split(":")[0].strip() for line in summary[1:]) == sorted(suites), summary
    assert not _leftovers()


def test_a_failing_test_fails_the_task_with_its_output(build: BuildDir) -> None:
    result = build.run("-c", "testimage", "broken-image", check=False, timeout=600)
    assert result.returncode == 1
    assert "broken-image.bb:3: error: testimage broken-image: 4 passed, 1 failed, 0 skipped; " \
           "broken.BrokenTest.test_hello_says_goodbye failed:" in result.stderr, result.stderr
    assert "AssertionError: 'Goodbye' not found in 'Hello from layerbuild" in result.stderr
    summary = result.stderr.split("Build failed:", 1)[1].splitlines()[1:]
    assert summary == [f"testimage broken-image: 4 passed, 1 failed, 0 skipped (report: {build.deploy}/"
                       f"broken-image-{MACHINE}.testimage.xml)", "  basic: 3 passed, 0 failed, 0 skipped",
                       "  broken: 1 passed, 1 failed, 0 skipped"], result.stderr
    report = ET.parse(build.deploy / f"broken-image-{MACHINE}.testimage.xml").getroot()
    failed = [c for c in report.iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["BrokenTest.test_hello_says_goodbye"]
    assert not _leftovers()


def test_base_image_boots_with_a_cable_the_host_reaches(build: BuildDir, tmp_path: Path) -> None:
    """layerbuild-boot on the deployed base image: the host pings the subhost's address on the veth link."""
    from layerbuild.boot.config import make_config
    from layerbuild.boot.subhost import Subhost

    if not (build.deploy / f"some-core-image-{MACHINE}.rootfs.tar.zst").exists():
        assert build.run("some-core-image", check=False, timeout=600).returncode == 0
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("needs busybox for ping")
    base = tmp_path / "base"
    base.mkdir()
    name = "lbcable1"
    config = make_config({"NAME": name, "BASE": str(base), "CABLES": "=02:00:00:00:00:07",
                          "LOWER": str((build.deploy / f"some-core-image-{MACHINE}.rootfs.tar.zst").resolve())})
    with Subhost(config) as host:
        assert host.run("hello") == (0, "Hello from layerbuild\n")
        subprocess.run(["ip", "addr", "add", "169.254.77.1/30", "dev", f"{name}0"], check=True)
        subprocess.run(["ip", "link", "set", f"{name}0", "up"], check=True)
        for argv in (["ip", "addr", "add", "169.254.77.2/30", "dev", "eth0"], ["ip", "link", "set", "eth0", "up"]):
            subprocess.run(["ip", "netns", "exec", name, *argv], check=True)
        ping = subprocess.run([busybox, "ping", "-c", "1", "-W", "3", "169.254.77.2"], capture_output=True, text=True)
        assert ping.returncode == 0, ping.stdout + ping.stderr
    assert not _leftovers()
    assert name not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
