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
        # the interpreter path greet names: /lib64 links into /usr with usrmerge, and is a directory without
        status, output = self.target.run("/lib64/ld-linux-x86-64.so.2 --list /usr/bin/greet")
        self.assertEqual(status, 0, output)
        self.assertRegex(output, r"libgreet\.so\.1 => (/usr)?/lib/libgreet\.so\.1 ")
        self.assertRegex(output, r"libc\.so\.6 => (/usr)?/lib/x86_64-linux-gnu/libc\.so\.6 ")
