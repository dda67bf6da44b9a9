"""What the concurrent strategies (gevent, trio) share: :class:`SlotChild`.

Both run up to ``--concurrency`` jobs at once in one child, each in a slot (a
greenlet, or a trio task with its thread), and keep the same books: which
slots are free, which job runs where and how far it got (:class:`Running`),
which popped jobs wait for a slot, which of those were lost before they
started. How a job is started and interrupted is each strategy's own.

A child whose strategy sets :attr:`SlotChild.holds_completions` (gevent, trio)
works like the process strategy: a job whose method returned leaves its
completion held (:class:`reqless_worker._completions.Completions`), and the
next pop carries every held completion in the same round trip
(:meth:`SlotChild.fetch`). A pop asks for more jobs than there are free slots
while jobs are short (as many as the slots are expected to run in
``BATCH_SECONDS``, at most ``MAX_BATCH``), and for just the free slots while
they are long or unknown. The strategy sends what is held (:meth:`SlotChild.flush`)
before any wait on the server, after ``HOLD_LIMIT`` while every slot is busy,
and on exit.

Standard library only at import: the gevent strategy's module imports this one
before gevent has monkey-patched.
"""

from __future__ import annotations

import ctypes
import time
from collections import deque
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging

    from reqless_worker._child import ChildSession
    from reqless_worker._control import ChildControl
    from reqless_worker._runner import JobRunner, WorkerJob
    from reqless_worker._settings import WorkerSettings

__all__ = ["Running", "SlotChild"]

# The work a batch popped beyond the free slots is expected to take, at most.
BATCH_SECONDS = 0.005
MAX_BATCH = 32
# The longest a completion is held while every slot is busy.
HOLD_LIMIT = 0.02


@dataclass
class Running:
    """One job in one slot, and how far it got."""

    job: WorkerJob
    index: int
    #: True while the job's method runs (only then may it be interrupted).
    performing: bool = False
    #: True once its method returned: its outcome is being reported, never interrupted.
    reporting: bool = False
    #: Why the job must stop (JobCancelled or Shutdown), once it must.
    stop: BaseException | None = None


class SlotChild:
    """One child's session, its slots' runners, and the books of the jobs they run."""

    #: Whether :meth:`run_job` holds completions for :meth:`fetch` (the strategy then
    #: pops with :meth:`fetch` and sends what is held with :meth:`flush`); False:
    #: each job is completed by its slot.
    holds_completions = False

    def __init__(self, settings: WorkerSettings, slot: int, stop: ChildControl, name: str) -> None:
        from reqless_worker._child import ChildSession

        self.stop = stop
        self.settings = settings
        self.session: ChildSession = ChildSession(settings, slot, stop, name)
        size = settings.concurrency
        self.runners: list[JobRunner] = [self.session.runner(index) for index in range(size)]
        self.free: list[int] = list(reversed(range(size)))
        # Keyed by the job object, not its jid: a job that moved itself into a queue
        # this child serves can be popped by another slot before its first run ends.
        self.running: dict[int, Running] = {}
        self.pending: deque[WorkerJob] = deque()
        self.lost_pending: set[str] = set()
        # The running average of the jobs' durations (None: none ran yet).
        self._average: float | None = None

    def startable(self) -> Iterator[WorkerJob]:
        """The pending jobs to start now, one per free slot (those lost meanwhile skipped)."""
        while self.pending and self.free:
            job = self.pending.popleft()
            if job.jid in self.lost_pending:
                self.lost_pending.discard(job.jid)
                continue
            yield job

    def in_hand(self) -> set[str]:
        """The jids being run or reported, and those waiting for a slot."""
        return {*(run.job.jid for run in self.running.values()), *(j.jid for j in self.pending)}

    def wanted(self) -> int:
        """How many jobs the next pop asks for: the free slots, and more while jobs are short."""
        free = len(self.free)
        average = self._average
        if average is None:
            return free
        expected = int(BATCH_SECONDS * self.settings.concurrency / max(average, 1e-6))
        return max(free, min(MAX_BATCH, expected))

    def fetch(self, busy: set[str]) -> list[WorkerJob]:
        """The held completions and a pop of :meth:`wanted` jobs, in one round trip (a
        second pop of every queue if the first queue had none). ``busy``: :meth:`in_hand`."""
        session = self.session
        session.after_outage(busy)
        completions = self.session.completions
        wanted = self.wanted()
        if session.outage.down:
            # A pop alone finds out whether the server is back (and waits a backoff if
            # not); what is held goes with the next pop once it answered.
            return session.pop(wanted)
        request = session.pop_request(wanted)
        if request is None:
            completions.send()
            return []
        sent = completions.send(request)
        jobs = session.took(request, sent.popped)
        if not jobs and sent.popped is not None and not request.asked_every_queue:
            jobs = session.pop(wanted)
        return jobs

    def holding(self) -> bool:
        """Whether completions are held (to be sent by :meth:`fetch` or :meth:`flush`)."""
        return self.session.completions.holding.is_set()

    def flush(self, older_than: float = 0.0) -> None:
        """Send the held completions; with ``older_than``, only those held that long."""
        self.session.completions.flush(older_than)

    def occupy(self, run: Running) -> None:
        self.running[id(run.job)] = run

    def vacate(self, run: Running) -> None:
        del self.running[id(run.job)]
        self.free.append(run.index)

    def run_job(self, run: Running, log: logging.Logger) -> None:
        """Run ``run``'s job with its slot's runner; a stop raised outside the job's
        method (where the runner cannot see it) is reported here."""
        from reqless_worker._errors import JobCancelled, Shutdown
        from reqless_worker._runner import JobOutcome

        runner = self.runners[run.index]
        job = run.job
        try:
            if not self.holds_completions:
                runner.run(job, cancelled=lambda: run.stop is not None)
                return
            started = time.perf_counter()
            outcome = runner.perform(job, cancelled=lambda: run.stop is not None)
            took = time.perf_counter() - started
            average = self._average
            self._average = took if average is None else average * 0.8 + took * 0.2
            if outcome is JobOutcome.RETURNED:
                runner.completions.hold(job, runner)
        except JobCancelled:
            log.warning("stopped %s: it is no longer ours", job.jid)
            runner.plugins.notify("reqless_job_lock_lost", worker=runner.info, job=job)
        except Shutdown:
            runner.give_back(job)
        except Exception:
            log.exception("running %s failed in the worker", job.jid)

    def lose(self, jid: str, why: str) -> None:
        """The job ``jid`` is no longer ours: stop it, or skip it when its turn comes."""
        from reqless_worker._errors import JobCancelled

        # The run that holds the lock: one whose job has not finished itself already.
        holders = [
            run
            for run in self.running.values()
            if run.job.jid == jid and run.job.finished_as is None
        ]
        if not holders:
            self.lost_pending.add(jid)
            return
        for run in holders:
            self.interrupt(run, JobCancelled(why))

    def interrupt(self, run: Running, reason: BaseException) -> None:
        """Stop ``run``'s job with ``reason`` (each strategy knows how)."""
        raise NotImplementedError

    def give_back_pending(self) -> None:
        """Return the popped jobs no slot started (retried, never lost)."""
        runner = self.runners[0]
        while self.pending:
            job = self.pending.popleft()
            if job.jid not in self.lost_pending:
                runner.give_back(job)


def raise_in_thread(ident: int, exception: type[BaseException] | None) -> None:
    """Make ``exception`` raise in thread ``ident`` at its next instruction (None: forget
    one that is pending): how trio and asyncio stop a sync job running in a thread."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(ident), None if exception is None else ctypes.py_object(exception)
    )


def close_awaitable(awaitable: Awaitable[object]) -> None:
    """Close a coroutine that will never be awaited (so Python does not warn about it)."""
    close = getattr(awaitable, "close", None)
    if callable(close):
        close()
