"""The messages the subhost's init sends its supervisor: one JSON object a line on the init's stdout.

``{"event": "pid", ...}`` (its pid on the host and its namespaces), ``{"event": "loop", ...}`` (a loop
device it attached), ``{"event": "ready"}``, or ``{"event": "error", ...}`` (a typed error, kept whole).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from layerbuild.util.errors import LayerbuildError, Location
from layerbuild.util.exits import Exit


def encode(event: str, **fields: object) -> bytes:
    return (json.dumps({"event": event, **fields}, sort_keys=True) + "\n").encode()


def encode_error(exc: LayerbuildError) -> bytes:
    location = [exc.location.path, exc.location.line] if exc.location else None
    return encode("error", message=exc.message, location=location, hint=exc.hint, notes=list(exc.notes))


def encode_exit(end: Exit, who: str = "") -> bytes:
    """The error event of a process that ended with ``end``; ``who`` names the process in an internal error."""
    error = end.error if end.error is not None else LayerbuildError(end.message)
    if end.internal and who:
        error = LayerbuildError(f"{who}: {error.message}")
    return encode_error(error)


def decode(line: bytes) -> dict[str, object]:
    try:
        message = json.loads(line)
    except ValueError:
        return {"event": "output", "text": line.decode("utf-8", "replace")}
    return message if isinstance(message, dict) else {"event": "output", "text": str(message)}


def decode_error(message: Mapping[str, object]) -> LayerbuildError:
    where = message.get("location")
    location = Location(str(where[0]), int(where[1])) if isinstance(where, list) else None
    hint = message.get("hint")
    notes = message.get("notes") or []
    return LayerbuildError(str(message.get("message")), location, None if hint is None else str(hint),
                           tuple(str(n) for n in notes) if isinstance(notes, list) else ())
