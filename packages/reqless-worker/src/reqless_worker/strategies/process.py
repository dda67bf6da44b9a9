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
from collections import deque

from reqless import Job, ReqlessError
from reqless_worker._child import ChildSession
from reqless_worker._control import EXIT_LOCK_LOST, ChildControl
from reqless_worker._errors import JobCancelled
from reqless_worker._runner import JobRunner, as_worker_job
from reqless_worker._signals import install_child_signals
from reqless_worker.strategies import Strategy

__all__ = ["ProcessStrategy"]

logger = logging.getLogger(__name__)


class ProcessStrategy(Strategy):
    """Serial jobs in each forked child; ``--workers`` children run in parallel."""

    name = "process"
    #: Jobs popped per round trip. One: a popped job waiting behind a long one
    #: would hold a lock another child could use.
    batch = 1

    def run_child(self, slot: int, stop: ChildControl) -> int:
        session = ChildSession(self.settings, slot, stop, self.name)
        runner = session.runner()
        pending: deque[Job] = deque()
        running: list[str] = []
        lost: set[str] = set()
        lock = threading.Lock()

        def on_lost(job: Job, error: ReqlessError) -> None:
            with lock:
                if job.jid not in running:
                    lost.add(job.jid)  # popped but not started: skipped when its turn comes
                    return
            # The job's code cannot be stopped from here: tell the plugins, then die.
            cancelled = JobCancelled(error.detail)
            worker_job = as_worker_job(job)
            info = runner.info
            runner.plugins.notify(
                "reqless_after_perform", worker=info, job=worker_job, error=cancelled
            )
            runner.plugins.notify("reqless_job_lock_lost", worker=info, job=worker_job)
            logger.warning("lost the lock of running job %s; restarting this child", job.jid)
            _flush_logs()
            os._exit(EXIT_LOCK_LOST)

        install_child_signals(stop, interrupt=lambda: runner.performing)
        session.start(on_lost)
        pending.extend(session.resume() if self.settings.resume else [])
        try:
            self._loop(session, runner, stop, pending, running, lost, lock)
        finally:
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
        pending: deque[Job],
        running: list[str],
        lost: set[str],
        lock: threading.Lock,
    ) -> None:
        while not stop.stopping:
            if not pending:
                pending.extend(session.pop(self.batch))
                if not pending:
                    if stop.stopping or stop.budget_spent:
                        return
                    session.wait_for_work()
                    continue
            job = pending.popleft()
            with lock:
                running[:] = [job.jid]
            try:
                runner.run(job, cancelled=lambda jid=job.jid: jid in lost)  # type: ignore[misc]
            finally:
                with lock:
                    running.clear()
                    lost.discard(job.jid)


def _flush_logs() -> None:
    for handler in logging.getLogger().handlers:
        # Dying anyway: a log that cannot flush must not stop it.
        with contextlib.suppress(Exception):
            handler.flush()
