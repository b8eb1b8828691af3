"""The evaluator's statements that metadata Python reaches through ``bb`` (``bb.build.addtask``,
``deltask``, ``bb.data.expandKeys``, ``bb.event.fire``).

The evaluator hands them in with the globals it makes (``pyenv.new_globals``); the ``bb`` namespace, which
is the process's ``bb`` as in BitBake, finds them here, so neither it nor the datastore imports the
evaluator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from layerbuild.util.errors import LayerbuildError, Location


class EvaluatorCalls(NamedTuple):
    """The evaluator's statements that metadata Python reaches through ``bb``.

    (A named tuple rather than a dataclass: every command imports it, and a frozen dataclass costs
    four times the instructions to create.)"""

    #: ``addtask`` (d, task, before, after, location)
    add_task: Callable[[Any, str, str | None, str | None, Location | None], None]
    #: ``deltask`` (d, task)
    del_task: Callable[[Any, str], None]
    #: the expansion of keys holding ``${...}`` (alterdata, readdata)
    expand_keys: Callable[[Any, Any], None]
    #: ``bb.event.fire`` to the handlers of a datastore (d, event)
    dispatch_event: Callable[[Any, Any], None]


_provided: EvaluatorCalls | None = None


def provide(calls: EvaluatorCalls) -> None:
    """Make ``calls`` what ``bb`` reaches (the evaluator's are the same in every datastore)."""
    global _provided
    _provided = calls


def evaluator_calls() -> EvaluatorCalls:
    """The calls the evaluator handed in; an error when no evaluator datastore was made in this process."""
    if _provided is None:
        raise LayerbuildError("the metadata statements are not available: this datastore was not made "
                              "by the evaluator")
    return _provided
