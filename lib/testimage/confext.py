"""A configuration extension merged onto its base's /etc."""

from layerbuild.testimage.case import TestCase, skipIfNotInstalled, skipUnlessKind


class ConfextTest(TestCase):
    @skipUnlessKind("confext")
    def test_extension_release_is_merged(self) -> None:
        self.assertTrue(self.target.exists(f"/etc/extension-release.d/extension-release.{self.target.name}"))

    @skipUnlessKind("confext")
    @skipIfNotInstalled("greet-conf")
    def test_configuration_file_appears_in_etc(self) -> None:
        self.assertIn("Hello from the confext", self.target.read("/etc/greet/greet.conf"))

    @skipUnlessKind("confext")
    def test_base_files_stay_visible(self) -> None:
        self.assertTrue(self.target.exists("/etc/hostname"))
