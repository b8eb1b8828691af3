"""``bb.fatal``, ``bb.warn``, ``bb.note`` and the other messages of metadata Python; ``bb.multiprocessing``.

As in BitBake the arguments are joined without a separator, ``bb.error`` only logs, and ``bb.fatal``
stops: here with a :class:`FatalError`, which the parse reports at the line of the metadata that
called it.
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn

from layerbuild.util.errors import FatalError

logger = logging.getLogger("layerbuild.metadata")

#: what BitBake raises once it has shown an error; metadata catches it by this name
BBHandledException = FatalError

_once: set[tuple[int, str]] = set()


def _text(args: tuple[Any, ...]) -> str:
    return "".join(str(a) for a in args)


def plain(*args: Any) -> None:
    logger.info("%s", _text(args))


def note(*args: Any) -> None:
    logger.info("%s", _text(args))


def verbnote(*args: Any) -> None:
    logger.info("%s", _text(args))


def debug(level: Any, *args: Any) -> None:
    if isinstance(level, str):  # BitBake takes a missing level as the first word of the message
        args = (level, *args)
    logger.debug("%s", _text(args))


def warn(*args: Any) -> None:
    logger.warning("%s", _text(args))


def error(*args: Any, **_extra: Any) -> None:
    logger.error("%s", _text(args))


def _once_only(level: int, text: str) -> None:
    # (a message text is shown once per process, as BitBake's warnonce filter does per server)
    if (level, text) not in _once:
        _once.add((level, text))
        logger.log(level, "%s", text)


def warnonce(*args: Any) -> None:
    _once_only(logging.WARNING, _text(args))


def erroronce(*args: Any) -> None:
    _once_only(logging.ERROR, _text(args))


def fatal(*args: Any, **_extra: Any) -> NoReturn:
    raise FatalError(_text(args))


class _ForkContext:
    """``bb.multiprocessing``: the ``multiprocessing`` module with the fork start method, whatever the
    platform's default (metadata hands datastores to pool workers, which only forking can do).
    ``multiprocessing`` is imported on first use: most parses never need it."""

    def __getattr__(self, name: str) -> Any:
        import multiprocessing
        ctx = multiprocessing.get_context("fork")
        return getattr(ctx, name) if hasattr(ctx, name) else getattr(multiprocessing, name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"bb.multiprocessing.{name} cannot be set")


multiprocessing = _ForkContext()
