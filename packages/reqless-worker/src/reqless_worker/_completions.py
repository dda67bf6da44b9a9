"""Sending the completions of jobs the worker finished: :class:`Completions`.

A completion is sent at once, or held to go with a later one: the process
strategy holds the completions of a batch of short jobs and sends them all,
with the pop for the next batch, once the batch's last job is done (one
round trip per batch instead of one per job). Whatever is held is sent by
:meth:`Completions.flush`, which a background thread may call while the main
thread runs a job. While the server is unreachable, completions are retried
one by one, never dropped, and a pop is not sent (a pop whose reply was lost
would strand its jobs until their lease expired).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reqless import Job, ReqlessError, ServerUnavailableError

# The client's request building: completions are pipelined with each other and
# with a pop, which the public API has no call for.
from reqless import _protocol as p

if TYPE_CHECKING:
    import reqless
    from reqless_worker._next_pop import NextPop

__all__ = ["Completions", "HeldResult"]

logger = logging.getLogger(__name__)

MAX_BACKOFF = 5.0

#: Called with a held job and its completion's parsed reply, or the core's refusal.
HeldResult = Callable[[Job, object], None]


class Completions:
    """One slot's completions: sent now with :meth:`send`, or held with :meth:`hold`."""

    def __init__(self, client: reqless.Client, on_held: HeldResult) -> None:
        self.client = client
        self.on_held = on_held
        #: Set while completions are held.
        self.holding = threading.Event()
        self._held: list[Job] = []
        self._held_at = 0.0
        # Taken while completions are sent: flush() may run in another thread.
        self._sending = threading.Lock()

    def hold(self, job: Job) -> None:
        """Keep ``job``'s completion to send with the next one (or by :meth:`flush`)."""
        with self._sending:
            if not self._held:
                self._held_at = time.monotonic()
                self.holding.set()
            self._held.append(job)

    def flush(self, older_than: float = 0.0) -> None:
        """Send the held completions; with ``older_than``, only if the first was held at
        least that many seconds ago."""
        if self._held and time.monotonic() - self._held_at >= older_than:
            self.send([], None)

    def send(self, jobs: list[Job], then: NextPop | None) -> list[object]:
        """Complete the held jobs and ``jobs``, then pop ``then``'s jobs, in one round trip.

        Returns, for each of ``jobs``, the parsed reply or the core's refusal (a
        :class:`reqless.ReqlessError`); each held job's goes to ``on_held``.
        """
        with self._sending:
            held, self._held = self._held, []
            self.holding.clear()
            worker = self.client.worker_name
            calls = [p.complete(job._state, job._worker(worker)) for job in [*held, *jobs]]
            pop = None if then is None else then.call()
            sent = [(call.command, call.args) for call in calls]
            if pop is not None:
                sent.append((pop.command, pop.args))
            try:
                replies: list[Any] = self.client._script.call_many(sent)
            except ServerUnavailableError as exc:
                logger.warning("cannot reach the server to report jobs (%s); retrying", exc)
                replies = [self._send_alone(call) for call in calls]
                if pop is not None:
                    replies.append(None)
            except BaseException:
                self._held[:0] = held
                if held:
                    self.holding.set()
                if then is not None:
                    then.accept(None)
                raise
            if then is not None:
                then.accept(replies.pop() if pop is not None else None)
            results: list[object] = [
                reply if isinstance(reply, ReqlessError) else call.parse(reply)
                for call, reply in zip(calls, replies, strict=True)
            ]
        for job, result in zip(held, results, strict=False):
            self.on_held(job, result)
        return results[len(held) :]

    def _send_alone(self, call: p.Call[Any]) -> object:
        """One call's reply (or the core's refusal), retried until the server answers."""
        backoff = 0.1
        while True:
            try:
                return self.client._script.call(call.command, *call.args)
            except ServerUnavailableError as exc:
                logger.warning("cannot reach the server to report a job (%s); retrying", exc)
                time.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
            except ReqlessError as exc:
                return exc
