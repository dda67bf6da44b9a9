"""What every strategy does in a child besides running jobs: :class:`ChildSession`.

A session connects as ``<name>-<slot>``, loads the plugins, owns the
child's :class:`LeaseKeeper` and :class:`PutListener`, chooses queues, pops within
the job budget (reconnecting with backoff when the server goes away: it never
silently stops), waits for work idle, and finds the jobs ``--resume`` should
pick up again.

Waiting idle is a pop that waits on the server (:class:`reqless.PopWaiter`):
a put through our client unblocks it there and the pop behind it runs at
once, so the job reaches the child with no round trip after the put. Puts
from other clients wake it through :class:`PutListener`; ``--interval`` bounds
every wait, and the pop at its end is the poll.

Strategies build one per child; runners come from :meth:`ChildSession.runner`.
"""

from __future__ import annotations

import gc
import importlib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import reqless
from reqless import ReplicationTimeoutError, ReqlessError, ServerUnavailableError, commands
from reqless_plugins import PluginManager, WorkerInfo
from reqless_worker._completions import Completions, PopRequest
from reqless_worker._control import ChildControl
from reqless_worker._imports import ClassLoader
from reqless_worker._leases import LeaseKeeper, LostCallback
from reqless_worker._outage import Outage, server_name, unreplicated
from reqless_worker._put_listener import PutListener
from reqless_worker._runner import JobRunner, MethodGuard, WorkerJob
from reqless_worker._settings import WorkerSettings

__all__ = ["ChildSession", "QueueSelector", "child_worker_name"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# How often queue patterns (globs, @identifiers) are resolved again.
RESOLVE_SECONDS = 1.0


def child_worker_name(settings: WorkerSettings, slot: int) -> str:
    """The name a child pops as: ``<worker name>-<slot>``, stable across restarts."""
    return f"{settings.name}-{slot}"


class QueueSelector:
    """The queues to pop from, in order.

    Plain names are used as given (a queue need not exist yet); globs
    (``*``, ``!name``) and ``@identifier`` patterns are resolved against the
    known queues and the stored priority patterns, at most once a second.
    """

    def __init__(self, client: reqless.Client, specs: tuple[str, ...]) -> None:
        self.client = client
        self.specs = specs
        self.dynamic = any(spec.startswith(("@", "!")) or "*" in spec for spec in specs)
        self._names: list[str] = [] if self.dynamic else list(dict.fromkeys(specs))
        self._resolved_at = float("-inf")

    def names(self) -> list[str]:
        if self.dynamic and time.monotonic() - self._resolved_at >= RESOLVE_SECONDS:
            self._names = self.client.queue_patterns.resolve(*self.specs)
            self._resolved_at = time.monotonic()
        return self._names

    def wants(self, queue: str) -> bool:
        """Whether a put into ``queue`` may concern us (patterns: any queue might match)."""
        if self.dynamic:
            self._resolved_at = float("-inf")
            return True
        return queue in self._names


class ChildSession:
    """One child's connection, plugins, leases, wake-up and queues."""

    def __init__(
        self,
        settings: WorkerSettings,
        slot: int,
        control: ChildControl,
        strategy: str,
    ) -> None:
        self.settings = settings
        self.slot = slot
        self.control = control
        self.strategy = strategy
        self.worker_name = child_worker_name(settings, slot)
        for path in settings.paths:
            if path not in sys.path:
                sys.path.insert(0, path)
        for module in settings.imports:
            importlib.import_module(module)
        self.client = reqless.Client(
            settings.url, driver=settings.driver, worker_name=self.worker_name
        )
        self.plugins = PluginManager.load(settings.plugins, settings.disabled_plugins)
        #: The child's one record of server outages, shared by everything that calls it.
        self.outage = Outage(f"the server at {server_name(self.client.settings.url)}")
        self.completions = Completions(self.client, self.outage)
        self.leases = LeaseKeeper(clock=self.client.clock, outage=self.outage)
        self.queues = QueueSelector(self.client, settings.queues)
        self.wakeup = PutListener(
            self.client.settings,
            self.worker_name,
            control,
            self.queues.wants,
            enabled=settings.wakeup,
            outage=self.outage,
        )
        self.loader = ClassLoader(reload=settings.reload)
        self.info = self.worker_info()
        # The waiting pop and the queues it was made for (remade when they change).
        self._waiter: reqless.PopWaiter | None = None
        self._waiter_queues: list[str] = []
        self._recoveries_seen = 0
        self._on_lost: LostCallback = lambda job, error: None
        #: Burst: this child found its queues empty and is draining.
        self.burst_over = False

    def worker_info(self, index: int | None = None) -> WorkerInfo:
        """What hooks are told about this child (``index``: a greenlet or task inside it;
        the sandbox is nested as ``greenlet-<index>`` by the runner, not here)."""
        return WorkerInfo(
            name=self.worker_name,
            strategy=self.strategy,
            workdir=Path(self.settings.workdir).absolute(),
            pid=os.getpid(),
            slot=self.slot,
        )

    def runner(
        self, index: int | None = None, method_guard: MethodGuard | None = None
    ) -> JobRunner:
        """A runner for this child, or for slot ``index`` inside it (``method_guard``:
        see :class:`JobRunner`)."""
        return JobRunner(
            self.client,
            self.settings,
            self.plugins,
            self.worker_info(index),
            leases=self.leases,
            sandbox_subdir=None if index is None else f"greenlet-{index}",
            loader=self.loader,
            outage=self.outage,
            completions=self.completions,
            method_guard=method_guard,
        )

    # --------------------------------------------------------------- lifecycle

    def start(self, on_lost: LostCallback) -> None:
        """Start heartbeating and listening; ``on_lost(job, error)`` runs (in a background
        thread) for a registered job whose lock is gone, whoever noticed."""
        self._on_lost = on_lost
        self.leases.start()
        self.wakeup.on_job_event(self._job_event)
        self.wakeup.start()
        self.plugins.notify("reqless_worker_started", worker=self.info)
        logger.info(
            "%s (%s, pid %d) serving %s",
            self.worker_name,
            self.strategy,
            os.getpid(),
            ", ".join(self.settings.queues),
        )
        # What start-up made (modules, the client, plugins) lives as long as the child:
        # keep it out of the collector's generations, so a collection while jobs run
        # walks only what the jobs made (a full one otherwise costs milliseconds).
        gc.freeze()

    def stop(self, reason: str) -> None:
        self.plugins.notify("reqless_worker_stopping", worker=self.info, reason=reason)
        self._close_waiter()
        self.wakeup.stop()
        self.leases.stop()
        try:
            self.client.close()
        except ReqlessError:
            logger.debug("closing the client failed", exc_info=True)

    def stop_reason(self) -> str:
        control = self.control
        if control.aborting:
            return "INT"
        if self.burst_over:
            return "burst"
        if control.draining:
            return "TERM"
        if control.recycling:
            return "max-jobs-per-child"
        return "max-jobs"

    def _job_event(self, jid: str, event: str) -> None:
        for job in self.leases.jobs():
            if job.jid == jid:
                self.leases.unregister(jid)
                error = reqless.LostLockError(f"the core reported {event} for {jid}")
                self._on_lost(job, error)
                return

    # ----------------------------------------------------------------- popping

    def pop(self, wanted: int) -> list[WorkerJob]:
        """Up to ``wanted`` jobs from the first queue that has some, registered for
        heartbeats; ``[]`` when there is no work, the budget is spent or the server
        is unreachable (then it has waited a backoff)."""
        granted = self.control.reserve(wanted)
        if granted <= 0:
            return []
        jobs: list[WorkerJob] = []
        try:
            jobs = self._guarded(lambda: self._pop_from_queues(granted), default=[])
        finally:
            self.control.release(granted - len(jobs))
        return self.adopt(jobs)

    def pop_request(self, wanted: int) -> PopRequest | None:
        """A pop of up to ``wanted`` jobs from the first queue, to send with completions
        (:meth:`Completions.send`), its job budget reserved; None when nothing is to be
        popped (stopping, the budget spent, no queue). Hand what it popped (or None)
        to :meth:`took`."""
        if self.control.stopping:
            return None
        names: list[str] = self._guarded(self.queues.names, default=[])
        if not names:
            return None
        granted = self.control.reserve(wanted)
        if granted <= 0:
            return None
        call = commands.pop(names[0], self.worker_name, granted)
        return PopRequest(call, granted, asked_every_queue=len(names) == 1)

    def took(self, request: PopRequest, popped: list[WorkerJob] | None) -> list[WorkerJob]:
        """The jobs ``request`` popped (None: it was not answered), adopted; the budget
        it did not use is given back."""
        jobs = popped or []
        self.control.release(request.granted - len(jobs))
        return self.adopt(jobs)

    def adopt(self, jobs: list[WorkerJob]) -> list[WorkerJob]:
        """Jobs just popped: heartbeated from now on; the child counts as busy."""
        for job in jobs:
            self.leases.register(job, self._lost_by_lease)
        if jobs:
            self.wakeup.busy()
        return jobs

    def _pop_from_queues(self, count: int) -> list[WorkerJob]:
        for name in self.queues.names():
            call = commands.pop(name, self.worker_name, count)
            try:
                [jobs] = self.client.execute(call, job_class=WorkerJob)
            except ReplicationTimeoutError as error:
                jobs = self.unreplicated_pop(error, error.replies[0] if error.replies else None)
            if jobs:
                return list(jobs)
        return []

    def _lost_by_lease(self, job: reqless.Job, error: ReqlessError) -> None:
        self._on_lost(job, error)

    def wait_for_work(self, wanted: int) -> list[WorkerJob]:
        """Idle: wait until a put for our queues, a signal, or ``--interval``; returns
        up to ``wanted`` jobs popped at once (from the first queue, or the one whose
        put woke it); ``[]``: pop every queue again, the work may be elsewhere.

        With ``burst``, a child holding no job pops every queue once more instead of
        waiting; if that finds nothing (and the server answered), it drains: every
        strategy calls this when idle, so this is where each of them stops."""
        if self.settings.burst and not self._holding():
            found = self.pop(wanted)
            if not found and not self.outage.down and not self.control.stopping:
                logger.info("%s: every queue is empty; stopping (burst)", self.worker_name)
                self.burst_over = True
                self.control.drain()
            return found
        wakeup = self.wakeup
        if wakeup.arm():
            return []  # subscribed just now: a put may have come before, so pop first
        waiter = self._waiter_for(self.queues.names())
        if waiter is None:
            wakeup.wait_for_work(self.settings.interval)
            return []
        control, interval = self.control, self.settings.interval
        granted = control.reserve(wanted)
        if granted <= 0:
            return []
        jobs: list[WorkerJob] = []
        try:
            if control.begin_server_wait(waiter.interrupt):
                jobs = self._guarded(
                    lambda: self._wait_and_pop(waiter, granted, interval), default=[]
                )
        finally:
            control.end_server_wait()
            if len(jobs) < granted:
                control.release(granted - len(jobs))
        wakeup.took(jobs)
        return self.adopt(jobs)

    def _wait_and_pop(
        self, waiter: reqless.PopWaiter, count: int, interval: float
    ) -> list[WorkerJob]:
        try:
            return _worker_jobs(waiter.pop(count, interval))
        except ReplicationTimeoutError as error:
            return self.unreplicated_pop(error, error.replies)  # the waiter's: its jobs

    def unreplicated_pop(self, error: ReplicationTimeoutError, popped: object) -> list[WorkerJob]:
        """The jobs of a pop too few replicas acknowledged (``popped``: the pop's reply
        in ``error.replies``; a waiter's replies are its jobs): handed out on the master
        all the same, so ours to run; logged. For strategies with a waiting pop of their own."""
        jobs = _worker_jobs(popped if isinstance(popped, list) else [])
        if jobs:  # an empty pop loses nothing worth a warning at every idle poll
            unreplicated(error, f"popping {', '.join(job.jid for job in jobs)}")
        return jobs

    def _holding(self) -> bool:
        """Whether some job of this child is still running or being reported (its end
        may put work into our queues)."""
        return bool(self.leases.jids or self.completions.unanswered())

    def _waiter_for(self, names: list[str]) -> reqless.PopWaiter | None:
        """The waiting pop for ``names`` (None: pure polling, or no queue yet)."""
        if not self.settings.wakeup or not names:
            self._close_waiter()
            return None
        if self._waiter is None or names != self._waiter_queues:
            self._close_waiter()
            # WorkerJobs straight away: the runner would otherwise copy each job into one.
            self._waiter = reqless.PopWaiter(
                self.client, names[0], wake_on=names[1:], job_class=WorkerJob
            )
            self._waiter_queues = list(names)
        return self._waiter

    def _close_waiter(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            try:
                waiter.close()
            except ReqlessError:
                logger.debug("closing the waiting pop's connection failed", exc_info=True)

    def resume(self) -> list[WorkerJob]:
        """Jobs this worker name still holds (``--resume``), registered for heartbeats."""
        mine = self._held_by_name()
        resumed: list[WorkerJob] = []
        for job in mine:
            if self.control.reserve(1) < 1:
                break
            try:
                self.outage.retry(lambda job=job: self.client.execute(commands.heartbeat(job)))  # type: ignore[misc]
            except ReplicationTimeoutError as error:
                unreplicated(error, f"resuming {job.jid}")
            except ReqlessError as exc:
                self.control.release(1)
                logger.warning("cannot resume %s: %s", job.jid, exc)
                continue
            self.leases.register(job, self._lost_by_lease)
            resumed.append(job)
        if resumed:
            logger.info("resuming %d job(s): %s", len(resumed), ", ".join(j.jid for j in resumed))
        return resumed

    def take_back(self, busy: Iterable[str] = ()) -> list[str]:
        """Give back (retry at once) the jobs this worker name holds that no runner of
        this child runs: those of a child killed before it (its replacement has the
        same name) or of a pop whose answer an outage lost. ``busy``: jids the caller
        has in hand besides those heartbeated and those whose completion is on its way
        (jobs being run or reported). Returns the jids taken back."""
        known = {*self.leases.jids, *self.completions.unanswered(), *busy}
        stranded = [job for job in self._held_by_name() if job.jid not in known]
        taken: list[str] = []
        for job in stranded:
            try:
                self.outage.retry(lambda job=job: self.client.execute(commands.retry(job)))  # type: ignore[misc]
            except ReplicationTimeoutError as error:
                unreplicated(error, f"taking back {job.jid}")
            except ReqlessError as exc:
                logger.info("did not take back %s: %s", job.jid, exc.detail)
                continue
            taken.append(job.jid)
        if taken:
            logger.warning(
                "took back %d job(s) held by %s without a runner: %s",
                len(taken),
                self.worker_name,
                ", ".join(taken),
            )
        return taken

    def after_outage(self, busy: Iterable[str] = ()) -> None:
        """Once after each outage, :meth:`take_back` the jobs a pop whose answer was lost
        left to this name. Call it from the one place that pops, between pops, with
        ``busy`` the jids being run or reported."""
        recoveries = self.outage.recoveries
        if recoveries != self._recoveries_seen:
            self._recoveries_seen = recoveries
            self.take_back(busy)

    def _held_by_name(self) -> list[WorkerJob]:
        """The running jobs whose lock this worker name holds (or held, expired)."""

        def read() -> list[WorkerJob]:
            [held] = self.client.execute(commands.worker_jobs(self.worker_name))
            jids = [*held.jobs, *held.stalled]
            if not jids:
                return []
            [found] = self.client.execute(commands.get(*jids), job_class=WorkerJob)
            return list(found)

        try:
            found = self.outage.retry(
                read, wait=self.control.wait, give_up=lambda: self.control.stopping
            )
        except ServerUnavailableError:
            return []  # stopping before the server came back
        return [
            job for job in found if job.state == "running" and job.worker_name == self.worker_name
        ]

    def _guarded(self, call: Callable[[], T], *, default: T) -> T:
        """``call()``; if the server is unreachable, wait a backoff and return ``default``."""
        return self.outage.attempt(call, default, self.control.wait)


def _worker_jobs(jobs: list[Any]) -> list[WorkerJob]:
    # The waiting pop is made with job_class=WorkerJob: this only tells the type checker.
    return [job for job in jobs if isinstance(job, WorkerJob)]
