"""The base image's sample program runs against the image's own C library."""

from layerbuild.testimage.case import TestCase, skipIfNotInstalled


class HelloTest(TestCase):
    @skipIfNotInstalled("hello")
    def test_hello_runs(self) -> None:
        status, output = self.target.run("hello")
        self.assertEqual(status, 0, output)
        self.assertIn("Hello from layerbuild", output)
