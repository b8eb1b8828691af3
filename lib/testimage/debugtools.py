"""Debugging tools in a booted image (debug-tools-sysext merged onto its base): the SSH server answers over
the cable, and tcpdump, iperf3 and strace run with their libraries from the extension and the C library
from the base."""

import re

from layerbuild.testimage.case import TestCase, skipIfEmulated, skipIfNotInstalled, skipUnlessKind


class DebugToolsTest(TestCase):
    @skipIfNotInstalled("dropbear")
    def test_dropbear_sends_its_ssh_banner_over_the_cable(self) -> None:
        with self.target.connect(22) as conn:
            received = b""
            while b"curve25519-sha256" not in received and len(received) < 4096:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                received += chunk
        # RFC 4253's identification string (protocol version, software version, CR LF), then the server's
        # first binary packet, its key exchange offer
        banner, _, kexinit = received.partition(b"\r\n")
        self.assertEqual(banner, b"SSH-2.0-dropbear_2022.83")
        self.assertIn(b"curve25519-sha256", kexinit)

    @skipUnlessKind("sysext")
    @skipIfNotInstalled("dropbear")
    def test_the_extension_brings_the_enabled_ssh_socket(self) -> None:
        # the enablement is merged with the unit, and the release file asks the manager to reload for it
        wants = "/usr/lib/systemd/system/sockets.target.wants/dropbear.socket"
        self.assertTrue(self.target.exists(wants))
        self.assertIn("ListenStream=22", self.target.read(wants))
        release = self.target.read(f"/usr/lib/extension-release.d/extension-release.{self.target.name}")
        self.assertIn("EXTENSION_RELOAD_MANAGER=1\n", release)

    @skipIfNotInstalled("tcpdump")
    def test_tcpdump_runs_with_libpcap(self) -> None:
        status, output = self.target.run("tcpdump --version")
        self.assertEqual(status, 0, output)
        self.assertIn("tcpdump version 4.99.3", output)
        self.assertIn("libpcap version 1.10.3", output)
        self.assert_libraries("/usr/bin/tcpdump", "libpcap.so.1")

    @skipIfNotInstalled("tcpdump")
    @skipIfEmulated("qemu-user does not emulate the SIOCETHTOOL ioctl tcpdump -D asks the link state with")
    def test_tcpdump_lists_the_cable(self) -> None:
        status, output = self.target.run("tcpdump -D")
        self.assertEqual(status, 0, output)
        self.assertRegex(output, r"(?m)^\d+\.eth0 ")

    @skipIfNotInstalled("iperf3")
    def test_iperf3_runs_with_libiperf(self) -> None:
        status, output = self.target.run("iperf3 --version")
        self.assertEqual(status, 0, output)
        self.assertRegex(output, r"^iperf 3\.9 ")
        self.assert_libraries("/usr/bin/iperf3", "libiperf.so.0")

    @skipIfNotInstalled("strace")
    def test_strace_runs(self) -> None:
        status, output = self.target.run("strace -V")
        self.assertEqual(status, 0, output)
        self.assertIn("strace -- version 6.1", output)

    @skipIfNotInstalled("strace", "iperf3")
    @skipIfEmulated("qemu-user does not emulate ptrace")
    def test_strace_traces_a_program_of_the_extension(self) -> None:
        status, output = self.target.run("strace -f -e trace=execve iperf3 --version")
        self.assertEqual(status, 0, output)
        self.assertRegex(output, r'execve\("/usr/bin/iperf3", \["iperf3", "--version"\]')
        self.assertIn("+++ exited with 0 +++", output)

    def assert_libraries(self, program: str, library: str) -> None:
        """``program`` finds ``library`` in the extension's /usr/lib and the C library in the base's."""
        status, output = self.target.run(f"{self.target.interpreter(program)} --list {program}")
        self.assertEqual(status, 0, output)
        self.assertRegex(output, rf"{re.escape(library)} => (/usr)?/lib/{re.escape(library)} ")
        self.assertRegex(output, r"libc\.so\.6 => (/usr)?/lib/[a-z0-9_]+-linux-gnu/libc\.so\.6 ")
        self.assertNotIn("not found", output)
