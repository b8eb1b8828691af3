"""A system extension merged onto its base: its tools run, with their libraries from the extension and the
C library from the base."""

from layerbuild.testimage.case import TestCase, skipIfNotInstalled, skipUnlessKind


class ExtensionTest(TestCase):
    @skipUnlessKind("sysext")
    def test_extension_release_is_merged(self) -> None:
        name = self.target.name
        self.assertTrue(self.target.exists(f"/usr/lib/extension-release.d/extension-release.{name}"))

    @skipUnlessKind("sysext")
    @skipIfNotInstalled("greet")
    def test_greet_runs_with_libgreet_from_the_extension(self) -> None:
        status, output = self.target.run("greet layerbuild")
        self.assertEqual(status, 0, output)
        self.assertIn("Hello, layerbuild! (libgreet", output)
        # the interpreter path greet names (/lib64/ld-linux-x86-64.so.2, /lib/ld-linux-aarch64.so.1): /lib64
        # and /lib link into /usr with usrmerge, and are directories without
        status, output = self.target.run(f"{self.target.interpreter('/usr/bin/greet')} --list /usr/bin/greet")
        self.assertEqual(status, 0, output)
        self.assertRegex(output, r"libgreet\.so\.1 => (/usr)?/lib/libgreet\.so\.1 ")
        self.assertRegex(output, r"libc\.so\.6 => (/usr)?/lib/[a-z0-9_]+-linux-gnu/libc\.so\.6 ")
