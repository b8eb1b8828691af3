"""``bb.msg``: BitBake's logging module, of which metadata uses ``fatal(domain, message)``."""

from __future__ import annotations

from typing import NoReturn

from layerbuild.util.errors import FatalError


def fatal(domain: str | None, message: str) -> NoReturn:
    raise FatalError(message)
