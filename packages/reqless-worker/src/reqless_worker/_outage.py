"""Living through a server outage: :class:`Outage`, the one retry policy of a child.

An outage is anything the client reports as :class:`reqless.ServerUnavailableError`:
a refused or reset connection, a timeout, a server still loading its data
after a restart, a replica answering READONLY or MASTERDOWN during a
failover. It is never a job's failure. Every part of a child that talks to
the server (popping, completing, failing, heartbeating, listening for events,
the job's own calls on its job) reports what it meets here, so the outage is
logged once when it starts and once when it ends, with how long it lasted,
however many threads noticed it; and every one of them waits the same
backoff before trying again.

Its kin, :func:`unreplicated`: a change the master made but too few replicas
acknowledged in time (``?wait_replicas=N``). Nor is that a job's failure, nor
a reason to try again (the change is made: sent again, it would be refused):
it is logged, and the child goes on with what the master answered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from reqless import (
    AuthenticationError,
    ReplicationTimeoutError,
    ReqlessError,
    ServerUnavailableError,
)

__all__ = ["Outage", "replies_of", "server_name", "unreplicated"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_PAUSE = 0.1
MAX_PAUSE = 5.0


class Outage:
    """Whether the server is away, since when, and how long to wait before trying again.

    ``where`` names the server in log lines. Until the server first answered,
    an outage is a server that is not up yet: each backoff step is logged, so
    a worker started before its server says what it waits for.
    """

    def __init__(self, where: str = "the server") -> None:
        self.where = where
        self._lock = threading.Lock()
        self._since: float | None = None
        self._failures = 0
        self._reached = False
        #: How many outages have ended (see :meth:`ChildSession.after_outage`).
        self.recoveries = 0

    @property
    def down(self) -> bool:
        """Whether the last thing heard from the server was an outage."""
        return self._since is not None

    def lost(self, error: ServerUnavailableError) -> float:
        """Record that a call met ``error``; how long to wait before the next try."""
        with self._lock:
            now = time.monotonic()
            if self._since is None:
                self._since = now
                self._failures = 0
                if self._reached:
                    logger.warning("lost %s (%s); retrying until it is back", self.where, error)
            self._failures += 1
            pause = min(MAX_PAUSE, FIRST_PAUSE * 2.0 ** min(self._failures - 1, 16))
            if not self._reached:
                logger.warning(
                    "waiting for %s (%.0fs so far, next try in %.1fs): %s",
                    self.where,
                    now - self._since,
                    pause,
                    error,
                )
            return pause

    def back(self) -> None:
        """Record that a call was answered (cheap when nothing was wrong)."""
        if self._since is None and self._reached:
            return
        with self._lock:
            since, self._since = self._since, None
            if since is not None:
                self.recoveries += 1
            if since is not None and self._reached:
                logger.warning(
                    "%s is back after an outage of %.1fs", self.where, time.monotonic() - since
                )
            elif since is not None:
                logger.info("reached %s after %.1fs", self.where, time.monotonic() - since)
            self._reached = True

    def attempt(self, call: Callable[[], T], default: T, wait: Callable[[float], None]) -> T:
        """``call()`` once; in an outage, wait a backoff with ``wait`` and return ``default``
        (for loops that look at their stop flags between tries)."""
        try:
            result = call()
        except AuthenticationError:
            raise  # bad credentials: waiting mends nothing
        except ServerUnavailableError as error:
            wait(self.lost(error))
            return default
        self.back()
        return result

    def retry(
        self,
        call: Callable[[], T],
        *,
        wait: Callable[[float], None] = time.sleep,
        give_up: Callable[[], bool] | None = None,
    ) -> T:
        """``call()``, tried again after each outage until the server answers.

        What the server answers (a result, or the core's refusal raised as a
        :class:`reqless.ReqlessError`) is what this returns or raises. With
        ``give_up``, an outage is raised once ``give_up()`` is true.
        """
        while True:
            try:
                result = call()
            except AuthenticationError:
                raise  # bad credentials: waiting mends nothing
            except ServerUnavailableError as error:
                pause = self.lost(error)
                if give_up is not None and give_up():
                    raise
                wait(pause)
                continue
            except ReqlessError:
                self.back()  # refused, so answered
                raise
            self.back()
            return result


def unreplicated(error: ReplicationTimeoutError, what: str) -> None:
    """Log that ``what`` (naming the jids) was done on the master but too few replicas
    acknowledged it in time."""
    logger.warning(
        "%s: done on the master, but %d of the %d replica(s) asked for acknowledged it "
        "in time (a failover may lose it); going on",
        what,
        error.acknowledged,
        error.wanted,
    )


def replies_of(error: ReplicationTimeoutError, count: int) -> list[Any]:
    """The master's replies to the ``count`` calls ``error`` concerns.

    When the error cannot say (too few replies), each reply is None: the change
    was made all the same, only its answer is unknown.
    """
    # A call with a trailer (a wake-up written behind it) has the trailer's reply last.
    replies = list(error.replies)
    return replies[:count] if len(replies) >= count else [None] * count


def server_name(url: str) -> str:
    """``url`` without its credentials, for log lines and errors."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "(an unreadable URL)"
    if parts.password is None and parts.username is None:
        return url
    netloc = f"{parts.hostname or ''}{f':{port}' if port else ''}"
    return parts._replace(netloc=netloc).geturl()
