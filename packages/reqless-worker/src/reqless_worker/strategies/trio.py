"""``--strategy trio``: each child runs up to ``--concurrency`` jobs at once, one trio task each.

trio is not asyncio, so the client's asyncio twin cannot serve it: each slot is
a trio task whose thread (``trio.to_thread``) runs a chain of jobs with the
synchronous client, pops the next ones itself and, idle, waits on the server
for them (see :class:`reqless_worker.strategies._slots.ThreadedSlotChild`):
a put wakes the thread that runs its job. A job method that is ``async def``
(or returns any awaitable) is sent back to the trio loop and awaited there,
inside the slot's task, so it runs natively while the hooks and the
reporting stay synchronous. Each slot has its own sandbox
``sandbox-<child>/greenlet-<m>``.

Stopping a job (its lock lost: a heartbeat refused, or ``lock_lost``,
``canceled`` or ``put`` on the worker's channel; or the worker aborting on
INT, QUIT or an expired drain): an ``async def`` method is cancelled through
its task's cancel scope (the chain then ends with the task); a synchronous
method running in its thread gets :class:`reqless_worker.JobCancelled` (or
:class:`reqless_worker.Shutdown`) raised asynchronously, which takes effect at
its next Python instruction (a call blocked in C, such as a long
``time.sleep``, ends first). A job not yet in its method stops when the
method would start; one already reporting its outcome is not interrupted.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from reqless_worker.strategies import Strategy
from reqless_worker.strategies._slots import (
    HOLD_LIMIT,
    Running,
    ThreadedRunning,
    ThreadedSlotChild,
    close_awaitable,
)

if TYPE_CHECKING:
    from reqless import Job, ReqlessError
    from reqless_worker._control import ChildControl
    from reqless_worker._runner import WorkerJob

__all__ = ["TrioStrategy"]

logger = logging.getLogger(__name__)

# How often the loop looks at the flags the signal handlers set.
WATCH_SECONDS = 0.05


@dataclass(slots=True)
class _Running(ThreadedRunning):
    """One job in one slot's task, and how far it got."""

    #: The slot's task's cancel scope (shared by the jobs of one chain).
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)


class TrioStrategy(Strategy):
    """``--concurrency`` trio tasks per child; ``async def`` job methods run on the trio loop."""

    name = "trio"

    def run_child(self, slot: int, stop: ChildControl) -> int:
        return _TrioChild(self, slot, stop).run()


class _TrioChild(ThreadedSlotChild):
    """The state of one child: its session, its tasks and the jobs they run."""

    def __init__(self, strategy: TrioStrategy, slot: int, stop: ChildControl) -> None:
        super().__init__(strategy.settings, slot, stop, strategy.name)
        self._token: trio.lowlevel.TrioToken | None = None
        self._changed = trio.Event()
        # One more than the slots: the fetcher's thread, while the slots' threads end.
        self._threads = trio.CapacityLimiter(self.settings.concurrency + 1)

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
            async with trio.open_nursery() as slots:
                await self._serve(slots)
            nursery.cancel_scope.cancel()

    async def _serve(self, slots: trio.Nursery) -> None:
        """Start slots for the work there is, until told to stop (or the job budget is
        spent) and every slot has ended."""
        while True:
            runs, fetch = self.plan(_Running)
            for run in runs:
                slots.start_soon(self._slot, run, name="slot")
            if fetch:
                slots.start_soon(self._slot, None, name="slot")
            if self.done():
                return
            if not await self._wait_changed(self.next_plan_in()) and self.flush_late():
                await trio.to_thread.run_sync(self.flush, HOLD_LIMIT)

    async def _watch(self) -> None:
        """Turn the signal handlers' flags into actions on the loop."""
        from reqless_worker._errors import Shutdown

        while True:
            await trio.sleep(WATCH_SECONDS)
            if self.stop.aborting:
                # Again on every tick: a job that took its slot as the abort came stops too.
                self.interrupt_all(Shutdown("the worker is stopping"))
            if self.stop.stopping:
                self._changed.set()

    async def _wait_changed(self, timeout: float | None = None) -> bool:
        """Sleep until a slot ended or popped jobs, the flags changed, or ``timeout``;
        whether it was not the timeout."""
        changed = self._changed = trio.Event()
        with trio.move_on_after(math.inf if timeout is None else timeout):
            await changed.wait()
        return changed.is_set()

    def notify_loop(self) -> None:
        token = self._token
        if token is not None:
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(self._set_changed)

    def _set_changed(self) -> None:
        self._changed.set()

    # ------------------------------------------------------------------ jobs

    async def _slot(self, run: Running | None) -> None:
        """A slot's task: its thread runs a chain of jobs (see :meth:`chain`)."""
        scope = run.scope if isinstance(run, _Running) else trio.CancelScope()

        def make(job: WorkerJob, index: int) -> Running:
            return _Running(job, index, scope=scope)

        try:
            with scope:
                await trio.to_thread.run_sync(self.chain, run, make, logger, limiter=self._threads)
        finally:
            self._changed.set()

    def await_on_loop(self, run: ThreadedRunning, awaitable: Awaitable[Any]) -> Any:
        with run.lock:
            if run.stop is not None:
                close_awaitable(awaitable)
                raise run.stop
            run.on_loop = True
        try:
            # In the slot's task (trio.from_thread runs it there), under its cancel scope.
            return trio.from_thread.run(self._await_job, run, awaitable)
        finally:
            with run.lock:
                run.on_loop = False

    async def _await_job(self, run: ThreadedRunning, awaitable: Awaitable[object]) -> object:
        if run.stop is not None:
            close_awaitable(awaitable)
            raise run.stop
        # The slot's task runs one job after another: named for the one it awaits.
        trio.lowlevel.current_task().name = f"job {run.job.jid}"
        try:
            return await awaitable
        except trio.Cancelled:
            if run.stop is None:
                raise
            # The scope stays cancelled: the task still ends at its next checkpoint.
            raise run.stop from None

    def cancel_on_loop(self, run: ThreadedRunning) -> None:
        if isinstance(run, _Running):
            run.scope.cancel()

    def _on_lost(self, job: Job, error: ReqlessError) -> None:
        """From the lease keeper's or the listener's thread: the job is no longer ours."""
        token = self._token
        if token is None:
            return
        # The loop has ended: nothing runs any more, so nothing needs stopping.
        with contextlib.suppress(trio.RunFinishedError):
            token.run_sync_soon(self.lose, job.jid, error.detail)
