"""``--strategy gevent``: each child runs up to ``--concurrency`` jobs at once, one greenlet each.

:meth:`GeventStrategy.bootstrap` monkey-patches the standard library before the
CLI imports the client, its drivers or any job code, so sockets, sleeps, locks
and threads (the lease keeper's, the wake-up listener's) all yield to the hub.
A child pops in batches, with the held completions of the jobs that ended in
the same round trip (see :mod:`reqless_worker.strategies._slots`), and each
greenlet has its own sandbox ``sandbox-<child>/greenlet-<m>``.

Stopping a job: when its lock is lost (a heartbeat refused, or ``lock_lost``,
``canceled`` or ``put`` on the worker's channel) the greenlet running the
job's method is killed with :class:`reqless_worker.JobCancelled`; on SIGINT or
SIGQUIT (or a drain that outlived its deadline) with
:class:`reqless_worker.Shutdown`, and the job is given back. A job that is
between popping and its method, or already reporting its outcome, is not
interrupted: it is stopped when its method would start, or its outcome is
not reported. A greenlet only notices a kill where it yields, so a job that
computes without yielding holds its slot (and starves the heartbeats of its
neighbours) until it does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reqless_worker.strategies import Strategy
from reqless_worker.strategies._slots import HOLD_LIMIT, STUCK_SECONDS, Running, SlotChild

if TYPE_CHECKING:
    import logging

    from reqless import Job, ReqlessError
    from reqless_worker._control import ChildControl
    from reqless_worker._runner import WorkerJob

__all__ = ["GeventStrategy"]

# Jobs whose kill has not ended them after this long are left to finish on their own.
KILL_GRACE = 5.0


@dataclass(slots=True)
class _Running(Running):
    """One job in one greenlet, and how far it got."""

    greenlet: Any = None


def _logger() -> logging.Logger:
    # Not at import: this module is imported before gevent patches threading,
    # and logging's locks must be made from the patched one.
    import logging

    return logging.getLogger(__name__)


class GeventStrategy(Strategy):
    """``--concurrency`` greenlets per child, on a monkey-patched standard library."""

    name = "gevent"

    @classmethod
    def bootstrap(cls) -> None:
        from gevent import monkey  # type: ignore[import-untyped]

        # Everything: sockets for the drivers, threading for the lease keeper
        # and the wake-up listener, time.sleep and subprocess for job code.
        monkey.patch_all()

    def run_child(self, slot: int, stop: ChildControl) -> int:
        return _GeventChild(self, slot, stop).run()


class _GeventChild(SlotChild):
    """The state of one child: its session, its greenlets and the jobs they run."""

    def __init__(self, strategy: GeventStrategy, slot: int, stop: ChildControl) -> None:
        import threading

        super().__init__(strategy.settings, slot, stop, strategy.name)
        self.job_ended = threading.Event()
        # Once: getLogger takes logging's lock, which gevent makes a Python-level one.
        self.log = _logger()

    # ------------------------------------------------------------------ life

    def run(self) -> int:
        self._install_signals()
        self.session.start(self._on_lost)
        if self.settings.resume:
            self.pending.extend(self.session.resume())
        self.session.take_back()
        try:
            self._serve()
            self._finish_running()
        finally:
            self.flush()
            self.give_back_pending()
            self.session.stop(self.session.stop_reason())
        return self.stop.exit_code()

    def _serve(self) -> None:
        """Keep every greenlet busy until told to stop or the job budget is spent."""
        import gevent

        stop = self.stop
        # After a put woke the child with all the jobs there were: wait again, not pop.
        idle = False
        while not stop.stopping:
            if not self.free:
                if self.holding():
                    stop.wait(HOLD_LIMIT)
                    self.flush(older_than=HOLD_LIMIT)
                else:
                    stop.wait(self.settings.interval)
                continue
            if not self.pending and not idle:
                self.pending.extend(self.fetch(self.in_hand()))
            if not self.pending:
                if stop.stopping or stop.budget_spent:
                    return
                # A job that ended during the pop: its completion must not wait with us.
                self.flush()
                wanted = len(self.free)
                jobs = self.session.wait_for_work(wanted)
                # Fewer than asked: the queue is empty, and a pop now would only
                # delay the job just started (the next put wakes the wait anyway).
                idle = 0 < len(jobs) < wanted
                self.pending.extend(jobs)
                continue
            with self.books:
                runs = self.new_chains(_Running)
                left = bool(self.pending)
            for run in runs:
                self._start(run)
            if left:
                # The greenlets running take the rest (a greenlet whose job turns out
                # long takes none): look again when they are done, or a chain is stuck.
                stop.wait(STUCK_SECONDS)
            elif idle:
                # Woken by a put: the job runs up to its first yield before the wait is
                # written again, not behind it.
                gevent.sleep(0)

    def _finish_running(self) -> None:
        """Let running jobs end; on abort (INT, QUIT, a drain past its deadline) stop them."""
        import gevent

        # Not stop.wait(): it returns at once while the child is stopping.
        while self.running and not self.stop.aborting:
            self.flush()
            self.job_ended.wait(0.1)
            self.job_ended.clear()
        if self.stop.aborting:
            from reqless_worker._errors import Shutdown

            self.interrupt_all(Shutdown("the worker is stopping"))
        greenlets = [run.greenlet for run in self.running.values() if isinstance(run, _Running)]
        gevent.joinall(greenlets, timeout=KILL_GRACE)
        for run in self.running.values():
            self.log.error("job %s did not stop; leaving it", run.job.jid)

    # ------------------------------------------------------------------ jobs

    def _start(self, run: Running) -> None:
        import gevent

        if isinstance(run, _Running):
            run.greenlet = gevent.spawn(self._run_job, run)

    def _run_job(self, run: Running) -> None:
        import gevent

        current = gevent.getcurrent()

        def make(job: WorkerJob, index: int) -> Running:
            return _Running(job, index, greenlet=current)

        try:
            while True:
                try:
                    self.run_job(run, self.log)
                except BaseException:
                    self.vacate(run)
                    raise
                # The next popped job runs in this greenlet, with no spawn and no turn
                # of the serving greenlet in between.
                with self.books:
                    self.free_slot(run)
                    next_run = None if self.stop.stopping else self.take_next(make)
                if next_run is None:
                    return
                run = next_run
        finally:
            self.job_ended.set()
            self.stop.wake()

    def _on_lost(self, job: Job, error: ReqlessError) -> None:
        """A lease keeper or pub/sub callback: the job is no longer ours."""
        self.lose(job.jid, error.detail)

    def interrupt(self, run: Running, reason: BaseException) -> None:
        if run.stop is not None or run.reporting:
            return
        run.stop = reason
        if run.performing and isinstance(run, _Running):
            run.greenlet.kill(reason, block=False)

    # --------------------------------------------------------------- signals

    def _install_signals(self) -> None:
        import signal

        import gevent

        from reqless_worker._signals import install_child_signals

        # Nothing is raised from a handler: the hub may be what it interrupts.
        # The job greenlets are stopped by _finish_running instead.
        install_child_signals(self.stop)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGALRM):
            handler = signal.getsignal(signum)
            if callable(handler):
                # Run the handler in a greenlet of its own, never inside the hub.
                gevent.signal_handler(signum, handler, signum, None)
        gevent.signal_handler(signal.SIGUSR1, _dump_greenlets)


def _dump_greenlets() -> None:
    """SIGUSR1: the stack of every greenlet, where thread stacks would show only the hub."""
    from gevent.util import format_run_info  # type: ignore[import-untyped]

    _logger().warning("greenlets on request:\n%s", "\n".join(format_run_info()))
