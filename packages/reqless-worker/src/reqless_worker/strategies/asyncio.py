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

Idle, the child waits on the server with :class:`reqless.aio.PopWaiter` (a
put starts a job within the process strategy's latency) without holding the
loop; other calls to the server (pops, take-backs) go through the synchronous
client in a thread of their own.

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
import inspect
import io
import logging
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Coroutine, Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import reqless
import reqless.aio
from reqless import AuthenticationError, ServerUnavailableError
from reqless_worker._errors import JobCancelled, Shutdown, WorkerSettingsError
from reqless_worker._runner import WorkerJob
from reqless_worker.strategies import Strategy
from reqless_worker.strategies._slots import (
    Running,
    SlotChild,
    close_awaitable,
    raise_in_thread,
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
GUARD_PLUGIN = "reqless-worker-asyncio"


@dataclass
class _Running(Running):
    """One job in one slot, and how far it got."""

    #: The pool thread running the job's synchronous parts.
    thread: int | None = None
    #: True from when an async method is handed to the loop until it is over.
    on_loop: bool = False
    #: The loop's task awaiting the async method (once it started).
    task: asyncio.Task[Any] | None = None
    #: Orders "the method ended" against "raise into the method's thread".
    lock: threading.Lock = field(default_factory=threading.Lock)


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


class _AsyncioChild(SlotChild):
    """The state of one child: its session, its loop, its slots and the jobs they run."""

    def __init__(self, strategy: AsyncioStrategy, slot: int, stop: ChildControl) -> None:
        super().__init__(strategy.settings, slot, stop, strategy.name)
        self.strategy = strategy
        self.session.plugins.register(_perform_guard(self), GUARD_PLUGIN)
        size = self.settings.concurrency
        self._jobs = ThreadPoolExecutor(size, thread_name_prefix="reqless-job")
        # Calls to the server outside jobs, one at a time, never queued behind a job.
        self._calls = ThreadPoolExecutor(1, thread_name_prefix="reqless-calls")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None
        self._aborted = False
        self._waiter: reqless.aio.PopWaiter | None = None
        self._waiter_queues: list[str] = []
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
            self.give_back_pending()
            self.session.stop(self.session.stop_reason())
            self._jobs.shutdown(wait=False, cancel_futures=True)
            self._calls.shutdown(wait=False, cancel_futures=True)
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
        try:
            await self._serve()
            while self.running:
                await self._wait_changed()
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            if self._waiter is not None:
                await self._waiter.aclose()

    async def _serve(self) -> None:
        """Keep every slot busy until told to stop or the job budget is spent."""
        stop = self.stop
        idle = False
        while not stop.stopping:
            if not self.free:
                await self._wait_changed()
                continue
            if not self.pending:
                busy = self.in_hand()  # read here: the loop's thread owns the books
                count = len(self.free)
                if idle:
                    self.pending.extend(await self._wait_for_work(count))
                if not self.pending:
                    self.pending.extend(await self._call(self._pop, count, busy))
            if not self.pending:
                if stop.stopping or stop.budget_spent:
                    return
                idle = True
                continue
            idle = False
            for job in self.startable():
                self._start(job)

    def _pop(self, count: int, busy: set[str]) -> list[WorkerJob]:
        if self.stop.stopping:
            return []
        self.session.after_outage(busy)
        return self.session.pop(count)

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in the thread for calls to the server."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._calls, function, *args)

    async def _watch(self) -> None:
        """Turn the signal handlers' flags into actions on the loop; beat for the watchdog."""
        while True:
            if self._watchdog is not None:
                self._watchdog.beat()
            await asyncio.sleep(WATCH_SECONDS)
            if self.stop.aborting and not self._aborted:
                self._aborted = True
                for run in list(self.running.values()):
                    self.interrupt(run, Shutdown("the worker is stopping"))
            if self.stop.stopping:
                self._notify()

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()

    async def _wait_changed(self) -> None:
        """Sleep until a job ends or the flags changed."""
        changed = self._changed = asyncio.Event()
        await changed.wait()

    # -------------------------------------------------------------- waiting

    async def _wait_for_work(self, wanted: int) -> list[WorkerJob]:
        """Idle: :meth:`ChildSession.wait_for_work` on the loop, with the asyncio waiter."""
        session, control = self.session, self.stop
        if session.wakeup.arm():
            return []  # subscribed just now: a put may have come before, so pop first
        names: list[str] = await self._call(
            lambda: session._guarded(session.queues.names, default=[])
        )
        waiter = self._waiter_for(names)
        if waiter is None:
            await self._call(session.wakeup.wait_for_work, self.settings.interval)
            return []
        granted = control.reserve(wanted)
        if granted <= 0:
            return []
        jobs: list[WorkerJob] = []
        try:
            if control.begin_server_wait(waiter.interrupt):
                jobs = await self._outlive_outage(waiter.pop(granted, self.settings.interval))
        finally:
            control.end_server_wait()
            if len(jobs) < granted:
                control.release(granted - len(jobs))
        session.wakeup.took(jobs)
        return session.adopt(jobs)

    def _waiter_for(self, names: list[str]) -> reqless.aio.PopWaiter | None:
        if not self.settings.wakeup or not names:
            self._drop_waiter()
            return None
        if self._waiter is None or names != self._waiter_queues:
            self._drop_waiter()
            # The synchronous client: the jobs are WorkerJobs, run in the pool's threads.
            self._waiter = reqless.aio.PopWaiter(
                self.session.client, names[0], wake_on=names[1:], job_class=WorkerJob
            )
            self._waiter_queues = list(names)
        return self._waiter

    def _drop_waiter(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter._steps.close()

    async def _outlive_outage(self, popping: Coroutine[Any, Any, list[Any]]) -> list[WorkerJob]:
        """The waiting pop's jobs; in an outage, none, after a backoff (cut short by a stop)."""
        outage = self.session.outage
        try:
            jobs = await popping
        except AuthenticationError:
            raise  # bad credentials: waiting mends nothing
        except ServerUnavailableError as error:
            deadline = time.monotonic() + outage.lost(error)
            while time.monotonic() < deadline and not self.stop.stopping:
                await asyncio.sleep(min(WATCH_SECONDS, deadline - time.monotonic()))
            return []
        outage.back()
        return [job for job in jobs if isinstance(job, WorkerJob)]

    # ------------------------------------------------------------------ jobs

    def _start(self, job: WorkerJob) -> None:
        run = _Running(job, self.free.pop())
        self.occupy(run)
        asyncio.get_running_loop().create_task(self._run_job(run), name=f"job {job.jid}")

    async def _run_job(self, run: _Running) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._jobs, self._run_in_thread, run)
        except (JobCancelled, Shutdown):
            # Raised into the thread as it was leaving the job: too late to matter.
            logger.debug("late stop of %s ignored", run.job.jid)
        finally:
            self.vacate(run)
            self._notify()

    def _run_in_thread(self, run: _Running) -> None:
        run.thread = threading.get_ident()
        try:
            self.run_job(run, logger)
        finally:
            with run.lock:
                run.performing = False
                run.thread = None
                # This thread serves other jobs next: nothing meant for this one may linger.
                raise_in_thread(threading.get_ident(), None)

    def await_on_loop(self, run: _Running, awaitable: Awaitable[Any]) -> Any:
        """From the job's thread: await ``awaitable`` on the loop, in a task of its own."""
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

    async def _await_job(self, run: _Running, awaitable: Awaitable[Any]) -> Any:
        if run.stop is not None:
            close_awaitable(awaitable)
            raise run.stop
        run.task = asyncio.current_task()
        try:
            return await awaitable
        except asyncio.CancelledError:
            if run.stop is None:
                raise
            raise run.stop from None
        finally:
            run.task = None

    def _on_lost(self, job: Job, error: ReqlessError) -> None:
        """From the lease keeper's or the listener's thread: the job is no longer ours."""
        loop = self._loop
        if loop is None:
            return
        # The loop has closed: nothing runs any more, so nothing needs stopping.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self.lose, job.jid, error.detail)

    def interrupt(self, run: Running, reason: BaseException) -> None:
        """On the loop's thread: stop ``run``'s job with ``reason``."""
        if not isinstance(run, _Running):
            return
        with run.lock:
            if run.stop is not None or run.reporting:
                return
            run.stop = reason
            if run.on_loop:
                if run.task is not None:
                    run.task.cancel()
                # else: _await_job has yet to start, and stops at once when it does.
            elif run.performing and run.thread is not None:
                raise_in_thread(run.thread, type(reason))

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


def _perform_guard(child: _AsyncioChild) -> object:
    """A plugin whose ``reqless_perform`` is the innermost wrapper (it runs in the job's
    thread): it knows when the method runs, stops a job told to stop before its
    method started, and hands an awaitable the method returns to the loop."""
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
        try:
            return (yield)
        finally:
            with run.lock:
                run.performing = False
                run.reporting = True

    return SimpleNamespace(reqless_perform=reqless_perform)


def _bridge(
    child: _AsyncioChild, run: _Running, method: Callable[..., Any]
) -> Callable[[WorkerJob], object]:
    def call(job: WorkerJob) -> object:
        result = method(job)
        if inspect.isawaitable(result):
            return child.await_on_loop(run, result)
        return result

    return call
