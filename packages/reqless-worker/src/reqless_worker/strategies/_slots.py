"""What the concurrent strategies (gevent, trio, asyncio) share: :class:`SlotChild`.

Each runs up to ``--concurrency`` jobs at once in one child, each in a slot (a
greenlet, or a thread serving a trio or asyncio task), and keeps the same
books: which slots are free, which job runs where and how far it got
(:class:`Running`), which popped jobs wait for a slot, which of those were
lost before they started. How a job is started and interrupted is each
strategy's own.

A child works like the process strategy: a job whose method returned leaves
its completion held (:class:`reqless_worker._completions.Completions`), and
the next pop carries every held completion in the same round trip
(:meth:`SlotChild.fetch`). A pop asks for more jobs than there are free slots
while jobs are short (as many as the slots are expected to run in
``BATCH_SECONDS``, at most ``MAX_BATCH``), and for just the free slots while
they are long or unknown. A slot that ends a job runs the next popped one
itself. The strategy sends what is held (:meth:`SlotChild.flush`) before any
wait on the server, after ``HOLD_LIMIT`` while every slot is busy, and on exit.

Trio and asyncio run jobs in threads (:class:`ThreadedSlotChild`): a thread
runs a chain of jobs (the job it was started with, then popped ones) and,
when none is left, pops the next ones itself, or waits on the server for
them, as the child's one fetcher; the loop starts a thread only for what one
chain would not get through soon. So short jobs cost no hop between the loop
and a thread, and a put wakes the very thread that runs its job.

Standard library only at import: the gevent strategy's module imports this one
before gevent has monkey-patched.
"""

from __future__ import annotations

import ctypes
import inspect
import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

    from reqless_worker._child import ChildSession
    from reqless_worker._control import ChildControl
    from reqless_worker._runner import JobRunner, WorkerJob
    from reqless_worker._settings import WorkerSettings

__all__ = [
    "Running",
    "SlotChild",
    "ThreadedRunning",
    "ThreadedSlotChild",
    "close_awaitable",
]

# The work a batch popped beyond the free slots is expected to take, at most.
BATCH_SECONDS = 0.005
# How long a popped job may wait behind a chain whose job turned out long before it
# gets a slot of its own (a thread for trio and asyncio, a greenlet for gevent).
STUCK_SECONDS = 0.02
MAX_BATCH = 32
# The longest a completion is held while every slot is busy.
HOLD_LIMIT = 0.02


@dataclass(slots=True)
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
    #: When the slot took the job (time.monotonic()).
    since: float = field(default_factory=time.monotonic)


class SlotChild:
    """One child's session, its slots' runners, and the books of the jobs they run.

    The books (``free``, ``running``, ``pending``, ``lost_pending``) are read and
    changed under ``books`` only: trio's and asyncio's slots change them from
    their threads.
    """

    def __init__(self, settings: WorkerSettings, slot: int, stop: ChildControl, name: str) -> None:
        from reqless_worker._child import ChildSession
        from reqless_worker._errors import JobCancelled, Shutdown
        from reqless_worker._runner import JobOutcome

        # Imported here, not with this module (see above), and kept: not once per job.
        self._job_cancelled, self._shutdown = JobCancelled, Shutdown
        self._returned = JobOutcome.RETURNED
        self.stop = stop
        self.settings = settings
        self.session: ChildSession = ChildSession(settings, slot, stop, name)
        size = settings.concurrency
        self.runners: list[JobRunner] = [
            self.session.runner(index, self.guard_method) for index in range(size)
        ]
        self.books = threading.Lock()
        self.free: list[int] = list(reversed(range(size)))
        # Keyed by the job object, not its jid: a job that moved itself into a queue
        # this child serves can be popped by another slot before its first run ends.
        self.running: dict[int, Running] = {}
        self.pending: deque[WorkerJob] = deque()
        self.lost_pending: set[str] = set()
        # The running average of the jobs' durations (None: none ran yet).
        self._average: float | None = None

    def take_next(self, make: Callable[[WorkerJob, int], Running]) -> Running | None:
        """Under ``books``: the next pending job (those lost meanwhile skipped) in a free
        slot, as ``make(job, slot)``, now running; None if there is none or no slot."""
        while self.pending and self.free:
            job = self.pending.popleft()
            if job.jid in self.lost_pending:
                self.lost_pending.discard(job.jid)
                continue
            run = make(job, self.free.pop())
            self.running[id(job)] = run
            return run
        return None

    def new_chains(self, make: Callable[[WorkerJob, int], Running]) -> list[Running]:
        """Under ``books``: the pending jobs to start a slot for now, as ``make(job, slot)``,
        now running. A slot runs popped jobs one after another (a chain), so only those
        the chains running will not get through within ``BATCH_SECONDS`` need a slot of
        their own; a chain stuck in a long job for ``STUCK_SECONDS`` takes none."""
        wanted = len(self.pending)
        average = self._average
        if average is not None:
            now = time.monotonic()
            soon = sum(1 for run in self.running.values() if now - run.since < STUCK_SECONDS)
            wanted = math.ceil(wanted * average / BATCH_SECONDS) - soon
        runs: list[Running] = []
        while len(runs) < wanted and (run := self.take_next(make)) is not None:
            runs.append(run)
        return runs

    def in_hand(self) -> set[str]:
        """The jids being run or reported, and those waiting for a slot."""
        with self.books:
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

    def guard_method(
        self, job: WorkerJob, method: Callable[[WorkerJob], object]
    ) -> Callable[[WorkerJob], object]:
        """What the runners run in the place of a job's method: it knows when the method
        runs, and stops a job told to stop before its method started; once the method
        returned, the job is reporting its outcome, which is never interrupted."""
        run = self.running.get(id(job))
        if run is None:
            return method

        def guarded(job: WorkerJob) -> object:
            if run.stop is not None:
                raise run.stop
            run.performing = True
            try:
                return method(job)
            finally:
                run.performing = False
                run.reporting = True

        return guarded

    def vacate(self, run: Running) -> None:
        with self.books:
            self.free_slot(run)

    def free_slot(self, run: Running) -> None:
        """Under ``books``: ``run`` is over; its slot is free."""
        del self.running[id(run.job)]
        self.free.append(run.index)

    def run_job(self, run: Running, log: logging.Logger) -> None:
        """Run ``run``'s job with its slot's runner and hold its completion; a stop raised
        outside the job's method (where the runner cannot see it) is reported here."""
        runner = self.runners[run.index]
        job = run.job
        try:
            started = time.perf_counter()
            outcome = runner.perform(job, cancelled=lambda: run.stop is not None)
            took = time.perf_counter() - started
            average = self._average
            self._average = took if average is None else average * 0.8 + took * 0.2
            if outcome is self._returned:
                runner.completions.hold(job, runner)
        except self._job_cancelled:
            log.warning("stopped %s: it is no longer ours", job.jid)
            runner.plugins.notify("reqless_job_lock_lost", worker=runner.info, job=job)
        except self._shutdown:
            runner.give_back(job)
        except Exception:
            log.exception("running %s failed in the worker", job.jid)

    def lose(self, jid: str, why: str) -> None:
        """The job ``jid`` is no longer ours: stop it, or skip it when its turn comes."""
        with self.books:
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
            self.interrupt(run, self._job_cancelled(why))

    def interrupt_all(self, reason: BaseException) -> None:
        """Stop every running job with ``reason``."""
        with self.books:
            runs = list(self.running.values())
        for run in runs:
            self.interrupt(run, reason)

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


@dataclass(slots=True)
class ThreadedRunning(Running):
    """One job run by a slot's thread, and how far it got."""

    #: The thread running the job's synchronous parts.
    thread: int | None = None
    #: True from when an async method is handed to the loop until it is over.
    on_loop: bool = False
    #: Orders "the method ended" against "raise into the method's thread".
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Whether a stop was raised into the thread (which must then forget it).
    raised: bool = False


class ThreadedSlotChild(SlotChild):
    """A :class:`SlotChild` whose slots are threads serving an event loop (trio, asyncio).

    The loop calls :meth:`plan` and starts a thread for each run it returns (and
    one with no job when it says so); each thread runs :meth:`chain`. A thread
    tells the loop about jobs it popped for others with :meth:`notify_loop`; an
    ``async def`` method is awaited on the loop through :meth:`await_on_loop`.
    """

    def __init__(self, settings: WorkerSettings, slot: int, stop: ChildControl, name: str) -> None:
        super().__init__(settings, slot, stop, name)
        #: True while a thread pops or waits on the server for the child (at most one).
        self.fetching = False
        # The last wait on the server popped fewer jobs than asked: the queues are empty,
        # so the next fetch waits at once instead of popping first.
        self._queues_empty = False
        # When the loop plans next unless told sooner (None: only when told).
        self._next_plan: float | None = None
        # True while the fetcher waits on the server.
        self._waiting = False

    # ----------------------------------------------------------- the loop's side

    def plan(self, make: Callable[[WorkerJob, int], Running]) -> tuple[list[Running], bool]:
        """On the loop: the runs to start a thread for now (more than the chains already
        running will get through within ``BATCH_SECONDS``), and whether to start one
        more, with no job, to fetch (nothing pending, a slot free, nobody fetching)."""
        stop = self.stop
        with self.books:
            if stop.stopping:
                return [], False
            runs = self.new_chains(make)
            fetch = not (self.pending or self.fetching or stop.budget_spent) and bool(self.free)
            if fetch:
                self.fetching = True
        return runs, fetch

    def next_plan_in(self) -> float | None:
        """On the loop, after :meth:`plan`: how long until it should plan again unless
        told sooner (None: not before). While a slot runs, every ``STUCK_SECONDS``: a
        pending job may wait behind a chain stuck in a long job (it then gets a thread
        of its own), and completions may be held too long (see :meth:`flush_late`).
        A slot's thread tells the loop only what it would not see by then, so a
        busy child's loop wakes fifty times a second, not once a batch."""
        holding = self.holding()
        with self.books:
            # A fetcher between two batches counts; one waiting on the server does not.
            fetching = self.fetching and not self._waiting
            busy = bool(self.running or self.pending) or fetching or holding
            timeout = STUCK_SECONDS if busy else None
            self._next_plan = None if timeout is None else time.monotonic() + timeout
        return timeout

    def flush_late(self) -> bool:
        """Whether completions have been held for ``HOLD_LIMIT`` (the loop then sends
        them from a thread, with :meth:`flush`)."""
        return self.session.completions.held_for() >= HOLD_LIMIT

    def done(self) -> bool:
        """Whether the loop may end: no thread runs and no job is to be started or
        fetched any more (stopping, or the job budget spent with nothing pending)."""
        stop = self.stop
        with self.books:
            busy = bool(self.running or self.fetching)
            idle = not (busy or self.pending)
        return not busy and (stop.stopping or (idle and stop.budget_spent))

    def notify_loop(self) -> None:
        """From a slot's thread: make the loop :meth:`plan` again."""
        raise NotImplementedError

    def await_on_loop(self, run: ThreadedRunning, awaitable: Awaitable[Any]) -> Any:
        """From ``run``'s thread: await ``awaitable`` on the loop (where an interrupt
        cancels it) and return its result."""
        raise NotImplementedError

    def cancel_on_loop(self, run: ThreadedRunning) -> None:
        """On the loop, ``run.lock`` held: cancel ``run``'s method awaited on the loop."""
        raise NotImplementedError

    def guard_method(
        self, job: WorkerJob, method: Callable[[WorkerJob], object]
    ) -> Callable[[WorkerJob], object]:
        """As :meth:`SlotChild.guard_method`, in the job's thread, and an awaitable the
        method returns is awaited on the loop (:meth:`await_on_loop`)."""
        run = self.running.get(id(job))
        if not isinstance(run, ThreadedRunning):
            return method

        def guarded(job: WorkerJob) -> object:
            with run.lock:
                if run.stop is not None:
                    raise run.stop
                run.performing = True
            try:
                result = method(job)
                if result is not None and inspect.isawaitable(result):
                    return self.await_on_loop(run, result)
                return result
            finally:
                with run.lock:
                    run.performing = False
                    run.reporting = True

        return guarded

    def interrupt(self, run: Running, reason: BaseException) -> None:
        if not isinstance(run, ThreadedRunning):
            return
        with run.lock:
            if run.stop is not None or run.reporting:
                return
            run.stop = reason
            if run.on_loop:
                self.cancel_on_loop(run)
            elif run.performing and run.thread is not None:
                run.raised = True
                raise_in_thread(run.thread, type(reason))

    # --------------------------------------------------------- the threads' side

    def chain(
        self,
        run: Running | None,
        make: Callable[[WorkerJob, int], Running],
        log: logging.Logger,
    ) -> None:
        """In a slot's thread: run ``run``'s job (None: become the child's fetcher first),
        then the pending ones; with none left, fetch more as the child's fetcher unless
        another thread is. Returns when there is nothing to do, or a job was stopped."""
        stop = self.stop
        while True:
            if run is None:
                run = self._fetch(make)
                if run is None:
                    return
            self._run_in_thread(run, log)
            with self.books:
                self.free_slot(run)
                if run.stop is not None:
                    return  # (trio) its task's cancel scope is cancelled: the task must end
                run = None if stop.stopping else self.take_next(make)
                if run is None:
                    if self.fetching or stop.stopping:
                        break
                    self.fetching = True
        if self.holding():
            # The fetcher may be waiting on the server: it sends what is held first.
            stop.wake()

    def _fetch(self, make: Callable[[WorkerJob, int], Running]) -> Running | None:
        """As the child's one fetcher (``fetching`` set by the caller): pop jobs, or wait
        on the server for them; the first runs in this thread, the others are left
        pending for the loop to start (or this chain to run next)."""
        stop = self.stop
        run = None
        try:
            while run is None and not (stop.stopping or stop.budget_spent):
                jobs = self._pop_or_wait()
                with self.books:
                    self.pending.extend(jobs)
                    # Stopping: what the wait popped meanwhile is given back, not started.
                    run = None if stop.stopping else self.take_next(make)
        finally:
            with self.books:
                self.fetching = False
                # A free slot: the loop starts a fetcher, or threads for the pending jobs,
                # now or (if this chain's job turns out long) within STUCK_SECONDS; it is
                # told unless it plans by then anyway (a wake-up takes the GIL from jobs).
                next_plan = self._next_plan
                wake = bool(self.free) and (
                    not self.pending
                    or next_plan is None
                    or next_plan > time.monotonic() + STUCK_SECONDS
                )
            if wake:
                self.notify_loop()
        return run

    def _pop_or_wait(self) -> list[WorkerJob]:
        stop = self.stop
        if not self._queues_empty:
            jobs = self.fetch(self.in_hand())
            if jobs or stop.stopping or stop.budget_spent:
                return jobs
        self.flush()  # nothing held may wait with us
        with self.books:
            wanted = len(self.free)
            self._waiting = True
        try:
            jobs = self.session.wait_for_work(wanted)
        finally:
            self._waiting = False
        self._queues_empty = 0 < len(jobs) < wanted
        return jobs

    def _run_in_thread(self, run: Running, log: logging.Logger) -> None:
        if not isinstance(run, ThreadedRunning):
            return
        run.thread = threading.get_ident()
        try:
            self.run_job(run, log)
        except (self._job_cancelled, self._shutdown):
            # Raised into the thread as it was leaving the job: too late to matter.
            log.debug("late stop of %s ignored", run.job.jid)
        finally:
            with run.lock:
                run.performing = False
                run.thread = None
                if run.raised:
                    # This thread runs other jobs next: nothing meant for this one may linger.
                    raise_in_thread(threading.get_ident(), None)


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
