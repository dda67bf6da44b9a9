"""Completing the jobs whose method returned, with the next pop: :class:`Completions`.

A runner whose job's method returned without finishing it leaves the
completion to this object, which holds it until :meth:`Completions.send`:
the process strategy holds the completions of a batch of short jobs and sends
them, with the pop for the next batch, in one request once the batch's last
job is done (one round trip per batch instead of one per job). Whatever is
held is also sent by :meth:`Completions.flush`, which a background thread
calls while the main thread runs a long job.

The request is built and sent outside any lock (the lock only hands the held
completions to one sender). In an outage the pop is dropped (a pop whose
reply was lost would strand its jobs with nobody to run them) and the
completions are sent alone, again and again with the child's backoff, until
the server answers; then the core decides, for each, whether it is still
ours to complete. A request too few replicas acknowledged (``?wait_replicas``)
was carried out on the master: it is logged, and its replies are used as
they are (see :func:`reqless_worker._outage.replies_of`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reqless import ReplicationTimeoutError, ServerUnavailableError, commands
from reqless_worker._outage import replies_of, unreplicated
from reqless_worker._runner import WorkerJob

if TYPE_CHECKING:
    import reqless
    from reqless_worker._outage import Outage
    from reqless_worker._runner import JobOutcome, JobRunner

__all__ = ["Completions", "PopRequest", "Sent"]


@dataclass
class PopRequest:
    """A pop to send with completions: the call, the job budget it reserved (``granted``),
    and whether an empty answer means every queue of the child is empty."""

    call: commands.Call[list[commands.JobState]]
    granted: int
    asked_every_queue: bool


@dataclass
class Sent:
    """What :meth:`Completions.send` did: each completed job's outcome, and the jobs
    the pop took (None: no pop was sent, or its answer is unknown)."""

    outcomes: dict[str, JobOutcome] = field(default_factory=dict)
    popped: list[WorkerJob] | None = None


class Completions:
    """One child's completions waiting to be sent, and the sending."""

    def __init__(self, client: reqless.Client, outage: Outage) -> None:
        self.client = client
        self.outage = outage
        #: Set while completions are held.
        self.holding = threading.Event()
        self._held: list[tuple[WorkerJob, JobRunner]] = []
        self._held_at = 0.0
        # The jids held or being sent, until the server answered for them.
        self._unanswered: set[str] = set()
        # Guards _held and _unanswered only: no I/O is done while it is taken.
        self._lock = threading.Lock()

    def hold(self, job: WorkerJob, runner: JobRunner) -> None:
        """Keep ``job``'s completion for the next :meth:`send`; ``runner`` hears the answer."""
        with self._lock:
            if not self._held:
                self._held_at = time.monotonic()
                self.holding.set()
            self._held.append((job, runner))
            self._unanswered.add(job.jid)

    def unanswered(self) -> set[str]:
        """The jids whose completion is held or on its way (jobs this child still owns)."""
        with self._lock:
            return set(self._unanswered)

    def held_for(self) -> float:
        """How long the oldest held completion has waited (0.0: none is held)."""
        return time.monotonic() - self._held_at if self._held else 0.0

    def flush(self, older_than: float = 0.0) -> None:
        """Send the held completions; with ``older_than``, only if the first was held at
        least that many seconds ago."""
        if self._held and time.monotonic() - self._held_at >= older_than:
            self.send()

    def send(self, pop: PopRequest | None = None) -> Sent:
        """Complete every held job, then ``pop``, in one round trip."""
        with self._lock:
            held, self._held = self._held, []
            self.holding.clear()
        return self._send(held, pop)

    def complete(self, job: WorkerJob, runner: JobRunner) -> JobOutcome:
        """Complete ``job`` now, alone (what others hold is theirs to send). Not counted
        in :meth:`unanswered`: the caller waits for the answer, so it is never in
        flight while a take-back looks (see :meth:`ChildSession.after_outage`)."""
        return self._send([(job, runner)], None, held=False).outcomes[job.jid]

    def _send(
        self,
        jobs: list[tuple[WorkerJob, JobRunner]],
        pop: PopRequest | None,
        *,
        held: bool = True,
    ) -> Sent:
        sent = Sent()
        if not jobs and pop is None:
            return sent
        completes = [commands.complete(job) for job, _ in jobs]
        calls: list[commands.Call[Any]] = [*completes] if pop is None else [*completes, pop.call]
        try:
            try:
                results = self.client.execute(*calls, return_errors=True, job_class=WorkerJob)
            except ReplicationTimeoutError as error:
                results = replies_of(error, len(calls))
                what = _what(jobs, results[-1] if pop is not None else None)
                if what:  # an empty pop alone loses nothing worth a warning
                    unreplicated(error, what)
        except ServerUnavailableError as error:
            if not completes:
                # A pop alone: the caller pops again after its backoff.
                self.outage.lost(error)
                return sent
            results = self._after_outage(error, jobs)
        else:
            self.outage.back()
            if pop is not None:
                popped = results.pop()
                # None: the master popped, but the error could not say what; the
                # jobs' leases run out and the core hands them out again.
                sent.popped = (
                    None if popped is None else [] if isinstance(popped, Exception) else popped
                )
        if held:
            with self._lock:
                self._unanswered.difference_update(job.jid for job, _ in jobs)
        for (job, runner), result in zip(jobs, results, strict=True):
            sent.outcomes[job.jid] = runner.completion_answered(job, result)
        return sent

    def _after_outage(
        self, error: ServerUnavailableError, jobs: list[tuple[WorkerJob, JobRunner]]
    ) -> list[Any]:
        """The completions again, alone, until the server answers."""
        completes = [commands.complete(job) for job, _ in jobs]
        time.sleep(self.outage.lost(error))
        try:
            return self.outage.retry(lambda: self.client.execute(*completes, return_errors=True))
        except ReplicationTimeoutError as lagging:
            unreplicated(lagging, _what(jobs, None))
            return replies_of(lagging, len(completes))


def _what(jobs: list[tuple[WorkerJob, JobRunner]], popped: object) -> str:
    """What a request did, for log lines: the jobs it completed and those it popped."""
    parts = [f"completing {', '.join(job.jid for job, _ in jobs)}"] if jobs else []
    if isinstance(popped, list) and popped:
        parts.append(f"popping {', '.join(job.jid for job in popped)}")
    return " and ".join(parts)
