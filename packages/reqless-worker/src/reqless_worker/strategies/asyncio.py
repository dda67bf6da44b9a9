"""``--strategy asyncio``: each child runs one event loop with up to ``--concurrency`` jobs at once.

Standard library only (uvloop with ``--loop uvloop``). Each job is a task on
the loop that hands the job to its slot's :class:`JobRunner` in a thread of a
bounded pool (``--concurrency`` threads): the hooks, the reporting and a
synchronous job method run there, so a synchronous job never holds the loop.
A method that is ``async def`` (or returns any awaitable) is sent back to the
loop and awaited there, in a task of its own, so asyncio libraries (httpx,
asyncpg, ``reqless.aio``) work in it as anywhere. Each slot has its own
sandbox ``sandbox-<child>/greenlet-<m>``.

The job's own calls on ``job`` (``job.complete()``, ``job.heartbeat()``, ...)
stay synchronous, one short round trip each, also from an ``async def``
method; a method that talks to the server much uses :mod:`reqless.aio`.

Each slot's thread runs a chain of jobs, pops the next ones itself and, when
the queues are empty, waits on the server for them (see
:class:`reqless_worker.strategies._slots.ThreadedSlotChild`), so the thread a
put wakes runs its job, with no hop through the loop: the loop is never held
by a call to the server.

Stopping a job (its lock lost: a heartbeat refused, or ``lock_lost``,
``canceled`` or ``put`` on the worker's channel; or the worker aborting on
INT, QUIT or an expired drain): an ``async def`` method's task is cancelled,
so its ``finally`` blocks and ``async with`` exits run; a synchronous method
gets :class:`reqless_worker.JobCancelled` (or :class:`reqless_worker.Shutdown`)
raised asynchronously in its thread, which takes effect at its next Python
instruction (a call blocked in C, such as a long ``time.sleep``, ends first).
A job not yet in its method stops when the method would start; one already
reporting its outcome is not interrupted.

A job that holds the loop (a blocking call in an ``async def`` method) stalls
every other job of the child: a watchdog thread logs it, with its jid and
stack, once it has held the loop for :attr:`AsyncioStrategy.block_threshold`
seconds. SIGUSR1 logs every thread's stack and every task's.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import io
import logging
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from reqless_worker._errors import Shutdown, WorkerSettingsError
from reqless_worker.strategies import Strategy
from reqless_worker.strategies._slots import (
    HOLD_LIMIT,
    Running,
    ThreadedRunning,
    ThreadedSlotChild,
    close_awaitable,
)

if TYPE_CHECKING:
    from types import FrameType

    from reqless import Job, ReqlessError
    from reqless_worker._control import ChildControl
    from reqless_worker._settings import WorkerSettings

__all__ = ["AsyncioStrategy"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# How often the loop looks at the flags the signal handlers set.
WATCH_SECONDS = 0.05


@dataclass(slots=True)
class _Running(ThreadedRunning):
    """One job in one slot, and how far it got."""

    #: The loop's task awaiting the async method (once it started).
    task: asyncio.Task[Any] | None = None


class AsyncioStrategy(Strategy):
    """One event loop per child, ``--concurrency`` jobs at once: ``async def`` methods on
    the loop, synchronous ones in a bounded thread pool."""

    name = "asyncio"
    #: Seconds a job may hold the event loop before the watchdog logs it.
    block_threshold = 1.0

    def __init__(self, settings: WorkerSettings) -> None:
        super().__init__(settings)
        loop = settings.loop
        if loop == "uvloop" and importlib.util.find_spec("uvloop") is None:
            raise WorkerSettingsError(
                "--loop uvloop needs uvloop, which is not installed: pip install uvloop"
            )
        self.loop = loop

    def run_child(self, slot: int, stop: ChildControl) -> int:
        return _AsyncioChild(self, slot, stop).run()

    def new_loop(self) -> asyncio.AbstractEventLoop:
        """The child's event loop (uvloop's with ``--loop uvloop``)."""
        if self.loop == "uvloop":
            uvloop = importlib.import_module("uvloop")
            made: asyncio.AbstractEventLoop = uvloop.new_event_loop()
            return made
        return asyncio.new_event_loop()


class _AsyncioChild(ThreadedSlotChild):
    """The state of one child: its session, its loop, its slots and the jobs they run."""

    def __init__(self, strategy: AsyncioStrategy, slot: int, stop: ChildControl) -> None:
        super().__init__(strategy.settings, slot, stop, strategy.name)
        self.strategy = strategy
        # One more than the slots: the fetcher's thread, while the slots' threads end.
        self._threads = ThreadPoolExecutor(
            self.settings.concurrency + 1, thread_name_prefix="reqless-slot"
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None
        self._watchdog: _Watchdog | None = None

    # ------------------------------------------------------------------ life

    def run(self) -> int:
        import signal

        from reqless_worker._signals import install_child_signals

        # Handlers only set flags, which the watcher task reads; asyncio.Runner leaves
        # SIGINT to ours since it is not Python's default handler.
        install_child_signals(self.stop)
        signal.signal(signal.SIGUSR1, self._dump_stacks)
        try:
            with asyncio.Runner(loop_factory=self.strategy.new_loop) as runner:
                runner.run(self._main())
        finally:
            if self._watchdog is not None:
                self._watchdog.stop()
            self.flush()
            self.give_back_pending()
            self.session.stop(self.session.stop_reason())
            self._threads.shutdown(wait=False, cancel_futures=True)
        return self.stop.exit_code()

    async def _main(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        await self._call(self.session.start, self._on_lost)
        if self.settings.resume:
            self.pending.extend(await self._call(self.session.resume))
        await self._call(self.session.take_back)
        self._watchdog = _Watchdog(self, loop, threading.get_ident())
        watcher = loop.create_task(self._watch(), name="reqless-watcher")
        slots: set[asyncio.Task[None]] = set()
        try:
            await self._serve(slots)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _serve(self, slots: set[asyncio.Task[None]]) -> None:
        """Start slots for the work there is, until told to stop (or the job budget is
        spent) and every slot has ended."""
        loop = asyncio.get_running_loop()
        while True:
            runs, fetch = self.plan(_Running)
            for run in [*runs, *([None] if fetch else [])]:
                task = loop.create_task(self._slot(run), name="slot")
                slots.add(task)
                task.add_done_callback(slots.discard)
            if self.done():
                return
            if not await self._wait_changed(self.next_plan_in()) and self.flush_late():
                await self._call(self.flush, HOLD_LIMIT)

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in a thread (it calls the server)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, function, *args)

    async def _watch(self) -> None:
        """Turn the signal handlers' flags into actions on the loop; beat for the watchdog."""
        while True:
            if self._watchdog is not None:
                self._watchdog.beat()
            await asyncio.sleep(WATCH_SECONDS)
            if self.stop.aborting:
                # Again on every tick: a job that took its slot as the abort came stops too.
                self.interrupt_all(Shutdown("the worker is stopping"))
            if self.stop.stopping:
                self._notify()

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()

    async def _wait_changed(self, timeout: float | None = None) -> bool:
        """Sleep until a slot ended or popped jobs, the flags changed, or ``timeout``;
        whether it was not the timeout."""
        changed = self._changed = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await changed.wait()
        return changed.is_set()

    def notify_loop(self) -> None:
        loop = self._loop
        if loop is not None:
            # The loop has closed: nothing waits for the news any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._notify)

    # ------------------------------------------------------------------ jobs

    async def _slot(self, run: Running | None) -> None:
        """A slot's task: its thread runs a chain of jobs (see :meth:`chain`)."""
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._threads, self.chain, run, _Running, logger)
        finally:
            self._notify()

    def await_on_loop(self, run: ThreadedRunning, awaitable: Awaitable[Any]) -> Any:
        # In a task of its own, so that an interrupt can cancel it.
        loop = self._loop
        if loop is None:
            raise RuntimeError("the event loop is not running")
        with run.lock:
            if run.stop is not None:
                close_awaitable(awaitable)
                raise run.stop
            # From here an interrupt cancels the task (or stops it before it starts)
            # instead of raising into this thread, which waits in C below.
            run.on_loop = True
        try:
            return asyncio.run_coroutine_threadsafe(self._await_job(run, awaitable), loop).result()
        finally:
            with run.lock:
                run.on_loop = False

    async def _await_job(self, run: ThreadedRunning, awaitable: Awaitable[Any]) -> Any:
        if run.stop is not None:
            close_awaitable(awaitable)
            raise run.stop
        task = asyncio.current_task()
        if task is not None:
            task.set_name(f"job {run.job.jid}")
        if isinstance(run, _Running):
            run.task = task
        try:
            return await awaitable
        except asyncio.CancelledError:
            if run.stop is None:
                raise
            raise run.stop from None
        finally:
            if isinstance(run, _Running):
                run.task = None

    def _on_lost(self, job: Job, error: ReqlessError) -> None:
        """From the lease keeper's or the listener's thread: the job is no longer ours."""
        loop = self._loop
        if loop is None:
            return
        # The loop has closed: nothing runs any more, so nothing needs stopping.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self.lose, job.jid, error.detail)

    def cancel_on_loop(self, run: ThreadedRunning) -> None:
        if isinstance(run, _Running) and run.task is not None:
            run.task.cancel()
        # else: _await_job has yet to start, and stops at once when it does.

    def job_on_loop(self) -> _Running | None:
        """The job whose task the loop runs now (for the watchdog, from its thread)."""
        loop = self._loop
        task = None if loop is None else asyncio.current_task(loop)
        if task is None:
            return None
        for run in list(self.running.values()):
            if isinstance(run, _Running) and run.task is task:
                return run
        return None

    # --------------------------------------------------------------- signals

    def _dump_stacks(self, signum: int, frame: FrameType | None) -> None:
        """SIGUSR1: every thread's stack, then every task's."""
        from reqless_worker._signals import dump_stacks

        dump_stacks(signum, frame)
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        out = io.StringIO()
        for task in list(asyncio.all_tasks(loop)):
            out.write(f"task {task.get_name()}:\n")
            task.print_stack(file=out)
        logger.warning("asyncio tasks on request:\n%s", out.getvalue())


class _Watchdog:
    """A thread that logs a job holding the event loop longer than the threshold."""

    def __init__(
        self, child: _AsyncioChild, loop: asyncio.AbstractEventLoop, loop_thread: int
    ) -> None:
        self.child = child
        self.loop = loop
        self.loop_thread = loop_thread
        self.threshold = child.strategy.block_threshold
        self._beat = time.monotonic()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reqless-loop-watchdog")
        self._thread.daemon = True
        self._thread.start()

    def beat(self) -> None:
        self._beat = time.monotonic()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(5)

    def _run(self) -> None:
        reported = None
        while not self._stopped.wait(max(self.threshold / 4, 0.01)):
            beat = self._beat
            held = time.monotonic() - beat
            if held < self.threshold + WATCH_SECONDS or reported == beat:
                continue
            reported = beat
            self._report(held)

    def _report(self, held: float) -> None:
        frame = sys._current_frames().get(self.loop_thread)
        stack = "".join(traceback.format_stack(frame)) if frame is not None else "(unknown)\n"
        run = self.child.job_on_loop()
        if run is None:
            logger.warning(
                "the event loop has been blocked for %.1fs (not by a job's task):\n%s",
                held,
                stack,
            )
            return
        logger.warning(
            "job %s has blocked the event loop for %.1fs, stalling every job of this child "
            "(an async method must not make blocking calls; a synchronous method runs in a "
            "thread):\n%s",
            run.job.jid,
            held,
            stack,
        )
