"""``--strategy process``: each child runs its jobs one at a time, in its main thread.

Heartbeats and pub/sub run in two background threads. When a job's lock is
lost (a heartbeat refused, or ``lock_lost`` / ``canceled`` on the worker's
channel), nothing can stop arbitrary code in the main thread safely, so the
child reports it to the plugins and exits with ``EXIT_LOCK_LOST``; the
supervisor starts a fresh child at once. SIGINT/SIGQUIT raise
:class:`reqless_worker.Shutdown` into the running job, which is then given
back (retried), never lost.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import deque

from reqless import Job, ReqlessError
from reqless_worker._child import ChildSession
from reqless_worker._control import EXIT_LOCK_LOST, ChildControl
from reqless_worker._errors import JobCancelled
from reqless_worker._runner import JobOutcome, JobRunner, WorkerJob
from reqless_worker._signals import install_child_signals
from reqless_worker.strategies import Strategy

__all__ = ["ProcessStrategy"]

logger = logging.getLogger(__name__)


class ProcessStrategy(Strategy):
    """Serial jobs in each forked child; ``--workers`` children run in parallel.

    A child pops a batch of jobs per round trip when its jobs are short: as
    many as it expects to run in ``batch_seconds`` (from the running average
    of its jobs' durations), at most ``max_batch``, and one while it knows
    nothing or its jobs are long, so that a popped job never waits long behind
    its neighbours holding a lock another child could use. The completions of
    a batch are held and sent together, with the pop for the next batch, when
    its last job is done: one round trip per batch. So a child killed with
    SIGKILL may leave up to ``batch_seconds`` of finished jobs unreported,
    which its replacement (same name) takes back and runs again at once, like
    the job it was killed in; every orderly exit (signals, a lost lock, the
    job budget) sends them first, and a completion is never held longer than
    ``hold_limit`` (a batch whose last job turns out long sends the others'
    from a background thread: they must not wait, unheartbeated, behind it).
    """

    name = "process"
    #: A child that lost a running job's lock exits to stop it; False when it runs
    #: in the caller's process (:class:`reqless_worker.Worker`), which must live on.
    exit_on_lost_lock = True
    batch_seconds = 0.005
    max_batch = 32
    hold_limit = 0.02

    def run_child(self, slot: int, stop: ChildControl) -> int:
        session = ChildSession(self.settings, slot, stop, self.name)
        runner = session.runner()
        pending: deque[WorkerJob] = deque()
        running: list[str] = []
        lost: set[str] = set()
        lock = threading.Lock()

        def on_lost(job: Job, error: ReqlessError) -> None:
            with lock:
                if job.jid not in running:
                    lost.add(job.jid)  # popped but not started: skipped when its turn comes
                    return
                if not self.exit_on_lost_lock:
                    # Dying would end the caller's process: the job runs on, unreported.
                    lost.add(job.jid)
                    logger.warning("lost the lock of running job %s; its end is ignored", job.jid)
                    return
            # The job's code cannot be stopped from here: tell the plugins, then die.
            cancelled = JobCancelled(error.detail)
            info = runner.info
            runner.plugins.notify("reqless_after_perform", worker=info, job=job, error=cancelled)
            runner.plugins.notify("reqless_job_lock_lost", worker=info, job=job)
            logger.warning("lost the lock of running job %s; restarting this child", job.jid)
            try:
                runner.flush()  # the batch's finished jobs must not run again
            except BaseException:
                logger.exception("could not report the jobs finished before %s", job.jid)
            _flush_logs()
            os._exit(EXIT_LOCK_LOST)

        install_child_signals(stop, interrupt=lambda: runner.performing)
        session.start(on_lost)
        late = _LateCompletions(runner, self.hold_limit)
        pending.extend(session.resume() if self.settings.resume else [])
        # What a killed child of the same name left running restarts now, not after its lease.
        session.take_back()
        try:
            self._loop(session, runner, stop, pending, running, lost, lock)
        finally:
            late.stop()
            runner.flush()
            while pending:
                job = pending.popleft()
                if job.jid not in lost:
                    runner.give_back(job)
            session.stop(session.stop_reason())
        return stop.exit_code()

    def _loop(
        self,
        session: ChildSession,
        runner: JobRunner,
        stop: ChildControl,
        pending: deque[WorkerJob],
        running: list[str],
        lost: set[str],
        lock: threading.Lock,
    ) -> None:
        batch = _BatchSize(self.batch_seconds, self.max_batch)
        # Whether the last pop said every queue is empty (then no second pop before waiting).
        queues_were_empty = False
        # Jobs already popped are run on TERM (they are short, or there would be one);
        # on INT, QUIT or an expired drain they are given back by the caller.
        while not (stop.aborting or stop.drain_expired):
            if not pending:
                if stop.stopping:
                    return
                session.after_outage()
                if not queues_were_empty:
                    pending.extend(session.pop(batch.size))
                queues_were_empty = False
                if not pending:
                    if stop.stopping or stop.budget_spent:
                        return
                    # What the wait popped runs next; if nothing, every queue is popped again.
                    pending.extend(session.wait_for_work(batch.size))
                    continue
            job = pending.popleft()
            with lock:
                running[:] = [job.jid]
            started = time.perf_counter()
            try:
                outcome = runner.perform(
                    job,
                    cancelled=lambda jid=job.jid: jid in lost,  # type: ignore[misc]
                )
            finally:
                with lock:
                    running.clear()
                    lost.discard(job.jid)
            batch.ran(time.perf_counter() - started)
            if outcome is JobOutcome.RETURNED:
                runner.completions.hold(job, runner)
            if pending and not stop.stopping:
                continue
            # The batch is done: its completions and the next pop, in one round trip.
            request = None if stop.stopping else session.pop_request(batch.size)
            sent = runner.completions.send(request)
            if request is not None:
                popped = session.took(request, sent.popped)
                pending.extend(popped)
                queues_were_empty = sent.popped == [] and request.asked_every_queue


class _LateCompletions:
    """A thread sending completions held longer than ``limit`` (the main thread is
    stuck in a long job); it sleeps while nothing is held."""

    def __init__(self, runner: JobRunner, limit: float) -> None:
        self.runner = runner
        self.limit = limit
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reqless-late-completions")
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self.runner.completions.holding.set()  # out of its wait
        self._thread.join(5)

    def _run(self) -> None:
        while True:
            self.runner.completions.holding.wait()
            if self._stopped.wait(self.limit):
                return
            try:
                self.runner.flush(older_than=self.limit)
            except Exception:
                logger.exception("sending held completions failed; the child sends them later")


class _BatchSize:
    """How many jobs to pop at once, from a running average of how long jobs take."""

    def __init__(self, seconds: float, most: int) -> None:
        self.seconds = seconds
        self.most = most
        self.size = 1
        self._average: float | None = None

    def ran(self, took: float) -> None:
        average = took if self._average is None else self._average * 0.8 + took * 0.2
        self._average = average
        self.size = max(1, min(self.most, int(self.seconds / max(average, 1e-6))))


def _flush_logs() -> None:
    for handler in logging.getLogger().handlers:
        # Dying anyway: a log that cannot flush must not stop it.
        with contextlib.suppress(Exception):
            handler.flush()
