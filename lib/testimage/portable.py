"""A portable service image: its unit's ExecStart= runs, and the daemon answers over the cable."""

from layerbuild.testimage.case import TestCase, skipUnlessKind


class PortableTest(TestCase):
    @skipUnlessKind("portable")
    def test_daemon_answers_over_the_cable(self) -> None:
        with self.target.connect(7777) as conn:
            conn.sendall(b"over the cable\n")
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = conn.recv(100)
                if not chunk:
                    break
                reply += chunk
        self.assertEqual(reply, b"echo: over the cable\n")
