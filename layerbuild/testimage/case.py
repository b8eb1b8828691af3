"""What an image test sees: the booted image as ``self.target``, and OE-style skip decorators.

A test suite is a Python module in a layer's ``lib/testimage/`` named by ``TEST_SUITES``; its test
classes derive from :class:`TestCase`::

    from layerbuild.testimage.case import TestCase, skipIfNotInstalled

    class HelloTest(TestCase):
        @skipIfNotInstalled("hello")
        def test_hello_runs(self):
            status, output = self.target.run("hello")
            self.assertEqual(status, 0, output)
"""

from __future__ import annotations

import os
import socket
import time
import unittest
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar


class Runner(Protocol):
    def run(self, cmd: str) -> tuple[int, str]: ...


@dataclass
class Target:
    """The image under test, booted in a subhost.

    ``kind`` is ``image``, ``sysext``, ``confext`` or ``portable``; ``packages`` are the packages the
    image (and, for an extension, its base) holds; ``address`` is the subhost's address on its first
    cable and ``host_address`` the host end's, when the test boot has a cable.
    """

    host: Runner
    name: str
    kind: str
    packages: frozenset[str] = frozenset()
    features: frozenset[str] = frozenset()
    address: str | None = None
    host_address: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    #: the subhost's root as the host sees it (``/proc/PID/root`` of its init), for reading files
    root: str | None = None
    #: the image's architecture (systemd's name) when it is not the host's and qemu-user runs its programs
    emulated: str | None = None

    def run(self, cmd: str) -> tuple[int, str]:
        """Run ``cmd`` in the subhost: ``(exit status, stdout and stderr)``."""
        return self.host.run(cmd)

    def read(self, path: str) -> str:
        """The text of the file ``path`` in the subhost (for images without a shell or cat)."""
        if self.root is None:
            raise unittest.SkipTest("the subhost's root cannot be read from the host")
        with open(os.path.join(self.root, path.lstrip("/")), encoding="utf-8", errors="replace") as fh:
            return fh.read()

    def exists(self, path: str) -> bool:
        return self.root is not None and os.path.lexists(os.path.join(self.root, path.lstrip("/")))

    def interpreter(self, program: str) -> str:
        """The ELF interpreter (dynamic loader) ``program`` of the subhost names, read with pyelftools:
        ``/lib64/ld-linux-x86-64.so.2``, ``/lib/ld-linux-aarch64.so.1`` ..."""
        from layerbuild.packaging.elf import inspect
        if self.root is None:
            raise unittest.SkipTest("the subhost's root cannot be read from the host")
        info = inspect(os.path.join(self.root, program.lstrip("/")))
        if info is None or info.interpreter is None:
            raise AssertionError(f"{program} names no ELF interpreter")
        return info.interpreter

    def connect(self, port: int, timeout: float = 10.0) -> socket.socket:
        """A TCP connection from the host to ``port`` of the subhost, over the cable. A service that was
        just started may not listen yet: a refused connection is tried again until ``timeout``."""
        if self.address is None:
            raise unittest.SkipTest("the test boot has no network cable")
        deadline = time.monotonic() + timeout
        while True:
            try:
                return socket.create_connection((self.address, port), timeout=max(0.5, deadline - time.monotonic()))
            except ConnectionRefusedError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)


class TestCase(unittest.TestCase):
    """Base class of image tests; ``target`` is set by the runner before the suite runs."""

    target: Target


F = TypeVar("F", bound=Callable[..., Any])


def _skip_unless(check: Callable[[Target], str | None]) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        def wrapper(self: TestCase, *args: Any, **kwargs: Any) -> Any:
            reason = check(self.target)
            if reason:
                raise unittest.SkipTest(reason)
            return func(self, *args, **kwargs)
        wrapper.__name__ = func.__name__
        wrapper.__doc__ = func.__doc__
        return wrapper  # type: ignore[return-value]
    return decorate


def skipIfNotInstalled(*packages: str) -> Callable[[F], F]:  # noqa: N802 - OE's spelling
    """Skip the test unless every package is in the image."""
    def check(target: Target) -> str | None:
        missing = [p for p in packages if p not in target.packages]
        return f"not installed: {', '.join(missing)}" if missing else None
    return _skip_unless(check)


def skipIfNotFeature(feature: str) -> Callable[[F], F]:  # noqa: N802
    """Skip the test unless ``feature`` is in the image's IMAGE_FEATURES."""
    return _skip_unless(lambda t: None if feature in t.features else f"IMAGE_FEATURES has no {feature}")


def skipIfEmulated(reason: str) -> Callable[[F], F]:  # noqa: N802
    """Skip the test when qemu-user runs the image's programs (an image of another architecture), for what
    it does not emulate (``ptrace``: strace, gdb)."""
    return _skip_unless(lambda t: f"{t.emulated} under qemu-user: {reason}" if t.emulated else None)


def skipUnlessKind(*kinds: str) -> Callable[[F], F]:  # noqa: N802
    """Skip the test unless the image is of one of ``kinds`` (image, sysext, confext, portable)."""
    return _skip_unless(lambda t: None if t.kind in kinds else f"not for a {t.kind} image")
