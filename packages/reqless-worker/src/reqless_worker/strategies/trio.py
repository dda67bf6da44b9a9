"""``--strategy trio``: each child runs up to ``--concurrency`` jobs at once, one trio task each.

trio is not asyncio, so the client's asyncio twin cannot serve it: every call
to the server goes through the synchronous client in a worker thread
(``trio.to_thread``), except an idle child's wait for work while no job runs,
which blocks the loop itself (it has nothing else to do then). Pops are
batched and carry the held completions (see
:mod:`reqless_worker.strategies._slots`). Each job task hands its job to a
:class:`JobRunner` in a thread (at most ``--concurrency`` such threads at
once); a job method that is ``async def`` (or returns any awaitable) is sent
back to the trio loop and awaited there, inside the job task, so it runs
natively while the hooks and the reporting stay synchronous. Each task has
its own sandbox ``sandbox-<child>/greenlet-<m>``.

Stopping a job (its lock lost: a heartbeat refused, or ``lock_lost``,
``canceled`` or ``put`` on the worker's channel; or the worker aborting on
INT, QUIT or an expired drain): an ``async def`` method is cancelled through
its task's cancel scope; a synchronous method running in its thread gets
:class:`reqless_worker.JobCancelled` (or :class:`reqless_worker.Shutdown`)
raised asynchronously, which takes effect at its next Python instruction (a
call blocked in C, such as a long ``time.sleep``, ends first). A job not yet in
its method stops when the method would start; one already reporting its
outcome is not interrupted.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from reqless_worker.strategies import Strategy
from reqless_worker.strategies._slots import (
    HOLD_LIMIT,
    Running,
    SlotChild,
    close_awaitable,
    raise_in_thread,
)

if TYPE_CHECKING:
    from reqless import Job, ReqlessError
    from reqless_worker._control import ChildControl
    from reqless_worker._runner import WorkerJob

__all__ = ["TrioStrategy"]

logger = logging.getLogger(__name__)

# How often the loop looks at the flags the signal handlers set.
WATCH_SECONDS = 0.05
GUARD_PLUGIN = "reqless-worker-trio"
# The longest a wait's thread lets a job just started go first.
SETTLE_SECONDS = 0.005


@dataclass
class _Running(Running):
    """One job in one task, and how far it got."""

    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    #: The worker thread running the job's synchronous parts.
    thread: int | None = None
    #: True while an async method is awaited in the trio loop.
    in_trio: bool = False
    #: Orders "the method ended" against "raise into the method's thread".
    lock: threading.Lock = field(default_factory=threading.Lock)


class TrioStrategy(Strategy):
    """``--concurrency`` trio tasks per child; ``async def`` job methods run on the trio loop."""

    name = "trio"

    def run_child(self, slot: int, stop: ChildControl) -> int:
        return _TrioChild(self, slot, stop).run()


class _TrioChild(SlotChild):
    """The state of one child: its session, its tasks and the jobs they run."""

    holds_completions = True

    def __init__(self, strategy: TrioStrategy, slot: int, stop: ChildControl) -> None:
        super().__init__(strategy.settings, slot, stop, strategy.name)
        self.session.plugins.register(_perform_guard(self), GUARD_PLUGIN)
        self._token: trio.lowlevel.TrioToken | None = None
        self._changed = trio.Event()
        self._aborted = False
        self._threads = trio.CapacityLimiter(self.settings.concurrency)
        # Set when a job reaches its method (or its thread is done with it).
        self._began = threading.Event()

    # ------------------------------------------------------------------ life

    def run(self) -> int:
        from reqless_worker._signals import install_child_signals

        # Before trio.run: trio then leaves SIGINT to our handler. Handlers only
        # set flags, which the watcher task reads.
        install_child_signals(self.stop)
        try:
            trio.run(self._main)
        finally:
            self.flush()
            self.give_back_pending()
            self.session.stop(self.session.stop_reason())
        return self.stop.exit_code()

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        await trio.to_thread.run_sync(self.session.start, self._on_lost)
        if self.settings.resume:
            self.pending.extend(await trio.to_thread.run_sync(self.session.resume))
        await trio.to_thread.run_sync(self.session.take_back)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._watch)
            await self._serve(nursery)
            while self.running:
                if self.holding():
                    await trio.to_thread.run_sync(self.flush)
                    continue  # a job may have ended meanwhile: look again before waiting
                await self._wait_changed()
            nursery.cancel_scope.cancel()

    async def _serve(self, nursery: trio.Nursery) -> None:
        """Keep every task busy until told to stop or the job budget is spent."""
        stop = self.stop
        idle = False
        while not stop.stopping:
            if not self.free:
                if self.holding():
                    with trio.move_on_after(HOLD_LIMIT):
                        await self._wait_changed()
                    await trio.to_thread.run_sync(self.flush, HOLD_LIMIT)
                else:
                    await self._wait_changed()
                continue
            if not self.pending:
                busy = self.in_hand()  # read here: the loop's thread owns the books
                wanted = len(self.free)
                if not idle:
                    jobs = await trio.to_thread.run_sync(self._pop, wanted, busy)
                elif not self.running:
                    # Nothing runs, so the loop has nothing to do while it waits: the wait
                    # blocks it (signals still end the wait), and the job found is
                    # started with no hop back from a thread.
                    jobs = self._wait_then_pop(wanted, busy)
                else:
                    # One trip to a thread for both: a put wakes it and it pops at once.
                    # Its thread lets the jobs just started reach their methods first.
                    jobs = await trio.to_thread.run_sync(self._wait_then_pop, wanted, busy, True)
                # Fewer than asked after a wait: the queue is empty, and a pop now would
                # only delay the job just started (the next put wakes the wait anyway).
                idle = idle and 0 < len(jobs) < wanted
                if idle:
                    self._began.clear()
                self.pending.extend(jobs)
            if not self.pending:
                if stop.stopping or stop.budget_spent:
                    return
                idle = True
                continue
            for job in self.startable():
                self._start(nursery, job)

    def _pop(self, count: int, busy: set[str]) -> list[WorkerJob]:
        if self.stop.stopping:
            return []
        return self.fetch(busy)

    def _wait_then_pop(self, count: int, busy: set[str], settle: bool = False) -> list[WorkerJob]:
        if settle:
            # The GIL goes to a job on its way to its method before to this wait's Python.
            self._began.wait(SETTLE_SECONDS)
        self.flush()  # nothing held may wait with us
        return self.session.wait_for_work(count) or self._pop(count, busy)

    async def _watch(self) -> None:
        """Turn the signal handlers' flags into actions on the loop."""
        from reqless_worker._errors import Shutdown

        while True:
            await trio.sleep(WATCH_SECONDS)
            if self.stop.aborting and not self._aborted:
                self._aborted = True
                for run in list(self.running.values()):
                    self.interrupt(run, Shutdown("the worker is stopping"))
            if self.stop.stopping:
                self._changed.set()

    async def _wait_changed(self) -> None:
        """Sleep until a job ends or the flags changed."""
        self._changed = trio.Event()
        await self._changed.wait()

    # ------------------------------------------------------------------ jobs

    def _start(self, nursery: trio.Nursery, job: WorkerJob) -> None:
        run = _Running(job, self.free.pop())
        self.occupy(run)
        nursery.start_soon(self._run_job, run, name=f"job {job.jid}")

    async def _run_job(self, run: _Running) -> None:
        from reqless_worker._errors import JobCancelled, Shutdown

        try:
            while True:
                try:
                    with run.scope:
                        await trio.to_thread.run_sync(
                            self._run_in_thread, run, limiter=self._threads
                        )
                except (JobCancelled, Shutdown):
                    # Raised into the thread as it was leaving the job: too late to matter,
                    # and it must not end the nursery (and every other job) with it.
                    logger.debug("late stop of %s ignored", run.job.jid)
                finally:
                    self.vacate(run)
                # The next popped job runs in this task, with no new task and no turn of
                # the serving task in between.
                job = None if self.stop.stopping else next(self.startable(), None)
                if job is None:
                    return
                run = _Running(job, self.free.pop())
                self.occupy(run)
        finally:
            self._changed.set()
            if self.holding():
                # Out of a wait on the server in a thread: the completion goes now.
                self.stop.wake()

    def _run_in_thread(self, run: _Running) -> None:
        run.thread = threading.get_ident()
        try:
            self.run_job(run, logger)
        finally:
            self._began.set()
            with run.lock:
                run.performing = False
                run.thread = None
                # This thread serves other jobs next: nothing meant for this one may linger.
                raise_in_thread(threading.get_ident(), None)

    async def _await_job(self, run: _Running, awaitable: Awaitable[object]) -> object:
        """Await an async job method, in the job's task (so its cancel scope applies)."""
        if run.stop is not None:
            close_awaitable(awaitable)
            raise run.stop
        run.in_trio = True
        try:
            return await awaitable
        except trio.Cancelled:
            if run.stop is None:
                raise
            # The scope stays cancelled: the task still ends at its next checkpoint.
            raise run.stop from None
        finally:
            run.in_trio = False

    def _on_lost(self, job: Job, error: ReqlessError) -> None:
        """From the lease keeper's or the listener's thread: the job is no longer ours."""
        token = self._token
        if token is None:
            return
        # The loop has ended: nothing runs any more, so nothing needs stopping.
        with contextlib.suppress(trio.RunFinishedError):
            token.run_sync_soon(self._lose, job.jid, error.detail)

    def _lose(self, jid: str, why: str) -> None:
        self.lose(jid, why)

    def interrupt(self, run: Running, reason: BaseException) -> None:
        if not isinstance(run, _Running):
            return
        with run.lock:
            if run.stop is not None or run.reporting:
                return
            run.stop = reason
            if run.in_trio:
                run.scope.cancel()
            elif run.performing and run.thread is not None:
                raise_in_thread(run.thread, type(reason))


def _perform_guard(child: _TrioChild) -> object:
    """A plugin whose ``reqless_perform`` is the innermost wrapper (it runs in the job's
    thread): it knows when the method runs, stops a job told to stop before its
    method started, and hands an awaitable the method returns to the trio loop."""
    from types import SimpleNamespace

    from reqless_plugins import hookimpl

    @hookimpl(wrapper=True, trylast=True)
    def reqless_perform(worker: Any, job: WorkerJob) -> Generator[None, object, object]:
        run = child.running.get(id(job))
        if not isinstance(run, _Running):
            return (yield)
        method = job.target
        if method is not None:
            job.target = _bridge(child, run, method)
        with run.lock:
            if run.stop is not None:
                raise run.stop
            run.performing = True
        child._began.set()
        try:
            return (yield)
        finally:
            with run.lock:
                run.performing = False
                run.reporting = True

    return SimpleNamespace(reqless_perform=reqless_perform)


def _bridge(
    child: _TrioChild, run: _Running, method: Callable[..., Any]
) -> Callable[[WorkerJob], object]:
    def call(job: WorkerJob) -> object:
        result = method(job)
        if inspect.isawaitable(result):
            return trio.from_thread.run(child._await_job, run, result)
        return result

    return call
