"""At start-up, a warning for each queue served that has never seen a job.

A misspelled ``-q`` (``underpant`` while the jobs wait in ``underpants``) is
otherwise silent: the worker polls an empty queue for ever. The core lists
every queue that has ever held a job (``queues.names``); a plain queue name
missing from that list is warned about, with the closest known name when one
is close enough. Globs and ``@identifier`` patterns are not checked: they may
legitimately match nothing yet.

The check runs in the parent before the children are forked, on a client of
its own that is closed before the fork. It never stops the worker: a server
that cannot be reached here is the children's business (they reconnect).
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable

import reqless
from reqless_worker._settings import WorkerSettings

__all__ = ["unknown_queue_warnings", "warn_about_unknown_queues"]

logger = logging.getLogger(__name__)

#: How many known names a warning lists when none is close to the one given.
LISTED = 10


def _is_pattern(spec: str) -> bool:
    return spec.startswith(("@", "!")) or "*" in spec


def unknown_queue_warnings(served: Iterable[str], known: Iterable[str]) -> list[str]:
    """One message per plain queue name in ``served`` that is not in ``known``."""
    known = list(dict.fromkeys(known))
    messages = []
    for name in dict.fromkeys(served):
        if _is_pattern(name) or name in known:
            continue
        message = f"queue {name!r} has never seen a job"
        close = difflib.get_close_matches(name, known, n=1)
        if close:
            message += f"; did you mean {close[0]!r}? (-q {close[0]})"
        elif known:
            listed = ", ".join(known[:LISTED]) + (", ..." if len(known) > LISTED else "")
            message += f"; the known queues are: {listed}"
        else:
            message += "; no queue on this server has yet"
        messages.append(message)
    return messages


def warn_about_unknown_queues(settings: WorkerSettings) -> None:
    """Log a warning per served queue the server has never seen a job in."""
    if all(_is_pattern(spec) for spec in settings.queues):
        return
    try:
        with reqless.Client(
            settings.url, driver=settings.driver, worker_name=f"{settings.name}-start"
        ) as client:
            known = client.queues.names
    except reqless.ReqlessError as exc:
        logger.debug("could not list the known queues to check -q: %s", exc)
        return
    for message in unknown_queue_warnings(settings.queues, known):
        logger.warning(message)
