"""Every image: it boots, says what it is, and its PID 1 is an init that reaps."""

from layerbuild.util.osrelease import parse
from layerbuild.testimage.case import TestCase


class BasicTest(TestCase):
    def test_os_release(self) -> None:
        release = parse(self.target.read("/usr/lib/os-release"))
        self.assertEqual(release.get("ID"), self.target.variables["DISTRO_ID"])

    def test_pid1_is_running(self) -> None:
        comm = self.target.read("/proc/1/comm").strip()
        self.assertTrue(comm, "the subhost has no PID 1")

    def test_machine_id_and_resolv_conf_exist(self) -> None:
        self.assertTrue(self.target.exists("/etc/machine-id"))
        self.assertTrue(self.target.exists("/etc/resolv.conf"))
