"""One popped job, from hooks to outcome: :class:`JobRunner`, the same for every strategy.

Order for each job: ``reqless_job_popped``; the class policy is asked
(``reqless_allow_job_class``); the class is imported (reimported if changed,
with ``--reload``); ``reqless_before_perform``; ``reqless_perform`` (the
worker's implementation calls ``<klass>.<queue>(job)`` or
``<klass>.process(job)``, third-party wrappers around it);
``reqless_after_perform``; then the outcome is reported: an exception fails the
job with group ``<queue>-<ExceptionType>`` and the traceback, a method that
returned without finishing its job has it completed, and the matching
``reqless_job_*`` notification follows. The sandbox is prepared when
``job.sandbox`` is first read (see :mod:`reqless_worker._sandbox`) and, if it
was, cleaned last, whatever happened.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import reqless
from reqless import Job, JobNotFoundError, LostLockError, ReqlessError, ServerUnavailableError
from reqless_plugins import PluginManager, WorkerInfo, bind_log_context, hookimpl
from reqless_worker._completions import Completions
from reqless_worker._errors import JobCancelled, Shutdown
from reqless_worker._imports import ClassLoader
from reqless_worker._next_pop import NextPop
from reqless_worker._sandbox import SlotSandbox
from reqless_worker._settings import WorkerSettings

__all__ = ["JobOutcome", "JobRunner", "WorkerJob", "as_worker_job"]

logger = logging.getLogger(__name__)

PERFORMER_NAME = "reqless-worker"
MAX_REPORT_BACKOFF = 5.0


class JobOutcome(enum.Enum):
    """How one run ended, as far as this worker knows."""

    COMPLETED = "completed"  # completed (or moved to a next queue / requeued by its method)
    FAILED = "failed"
    RETRIED = "retried"  # its method called job.retry()
    GIVEN_BACK = "given_back"  # interrupted (INT/QUIT): retried so that it is not lost
    LOCK_LOST = "lock_lost"  # no longer ours: nothing was reported


class WorkerJob(Job):
    """A :class:`reqless.Job` that remembers whether its method already finished it.

    Its state-changing methods first call ``on_finishing(jid)`` (the runner
    stops heartbeating the job there, so a heartbeat racing the change is not
    taken for a lost lock), then record what they did in ``finished_as``.
    """

    finished_as: JobOutcome | None = None
    failed_with: tuple[str, str] | None = None
    on_finishing: Callable[[str], None] | None = None
    target: Callable[..., Any] | None = None
    #: Makes the sandbox on the first read of :attr:`sandbox` (set by the runner).
    sandbox_opener: Callable[[WorkerJob], str | None] | None = None
    _sandbox: str | None = None

    @property
    def sandbox(self) -> str | None:
        """The job's scratch directory, made (existing and empty) on first read."""
        opener = self.sandbox_opener
        if opener is not None:
            self.sandbox_opener = None
            self._sandbox = opener(self)
        return self._sandbox

    @sandbox.setter
    def sandbox(self, value: str | None) -> None:
        self.sandbox_opener = None
        self._sandbox = value

    def _finishing(self) -> None:
        if self.on_finishing is not None:
            self.on_finishing(self.jid)

    def complete(
        self,
        next_queue: str | None = None,
        *,
        delay: float | None = None,
        depends: Any = None,
    ) -> str:
        self._finishing()
        state = super().complete(next_queue, delay=delay, depends=depends)
        self.finished_as = JobOutcome.COMPLETED
        return state

    def fail(self, group: str, message: str) -> str:
        self._finishing()
        jid = super().fail(group, message)
        self.finished_as = JobOutcome.FAILED
        self.failed_with = (group, message)
        return jid

    def retry(self, delay: float = 0, group: str | None = None, message: str | None = None) -> int:
        self._finishing()
        remaining = super().retry(delay, group, message)
        self.finished_as = JobOutcome.RETRIED if remaining >= 0 else JobOutcome.FAILED
        if remaining < 0:
            self.failed_with = (group or f"failed-retries-{self.queue_name}", message or "")
        return remaining

    def requeue(self, queue: str, **options: Any) -> str:
        self._finishing()
        jid = super().requeue(queue, **options)
        self.finished_as = JobOutcome.COMPLETED
        return jid

    move = requeue

    def cancel(self) -> list[str]:
        self._finishing()
        cancelled = super().cancel()
        self.finished_as = JobOutcome.COMPLETED
        return cancelled


def as_worker_job(job: Job) -> WorkerJob:
    """``job`` as a :class:`WorkerJob` (the same object if it already is one)."""
    if isinstance(job, WorkerJob):
        return job
    worker_job = WorkerJob(job._client, job._state)
    worker_job.sandbox = job.sandbox
    return worker_job


class _Performer:
    """The worker's own ``reqless_perform``: calls the method the runner resolved."""

    @hookimpl(trylast=True)
    def reqless_perform(self, worker: WorkerInfo, job: Job) -> object:
        target = getattr(job, "target", None)
        if target is None:
            raise RuntimeError(f"job {job.jid} reached reqless_perform without a resolved method")
        result = target(job)
        if inspect.iscoroutine(result):
            # An ``async def`` method under a synchronous strategy: run it to the end here.
            return asyncio.run(result)
        return result


class JobRunner:
    """Runs popped jobs for one slot (a child, a greenlet or a trio task).

    ``leases``: a :class:`reqless_worker.LeaseKeeper` whose registration of a
    job is dropped before the job's outcome is reported. ``sandbox_subdir``
    (``greenlet-<m>``) is appended to the sandbox path the plugins choose.
    ``performing`` is True while the job's own code runs, for signal handlers
    deciding whether to interrupt it.
    """

    def __init__(
        self,
        client: reqless.Client,
        settings: WorkerSettings,
        plugins: PluginManager,
        info: WorkerInfo,
        *,
        leases: Any = None,
        sandbox_subdir: str | None = None,
        loader: ClassLoader | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.plugins = plugins
        self.info = info
        self.leases = leases
        self.loader = loader or ClassLoader(reload=settings.reload)
        self.performing = False
        self.sandbox = SlotSandbox(plugins, info, sandbox_subdir)
        self._then: NextPop | None = None
        self._hold = False
        self.completions = Completions(client, self._held_result)
        # The sandbox the current job opened, cleaned when the job is over.
        self._opened: Path | None = None
        if plugins.pluggy.get_plugin(PERFORMER_NAME) is None:
            plugins.register(_Performer(), PERFORMER_NAME)

    # ------------------------------------------------------------------ public

    def run(
        self,
        job: Job,
        *,
        cancelled: Callable[[], bool] = lambda: False,
        then: NextPop | None = None,
        hold: bool = False,
    ) -> JobOutcome:
        """Run ``job`` to its outcome. Never raises for the job's own errors; a lost lock
        while reporting is logged, not raised. ``cancelled()`` True means the job is no
        longer ours: it is not started, or not reported once its method returns.

        If the runner completes the job (its method returned without finishing it):
        ``then`` is a pop sent in the same round trip (``then.sent`` says whether it
        was); ``hold`` keeps the completion to send with the next one, or with
        :meth:`flush`, and ``COMPLETED`` is returned before the server heard of it
        (``reqless_job_completed`` follows once it has)."""
        self._then = then
        self._hold = hold
        worker_job = as_worker_job(job)
        if self.leases is not None:
            worker_job.on_finishing = self.leases.unregister
        with bind_log_context(self.plugins.log_context(worker_job)):
            self._opened = None
            worker_job.sandbox_opener = self._open_sandbox
            try:
                self.plugins.notify("reqless_job_popped", worker=self.info, job=worker_job)
                return self._run(worker_job, cancelled)
            finally:
                self._then = None
                self._hold = False
                worker_job.sandbox_opener = None
                if self.leases is not None:
                    self.leases.unregister(worker_job.jid)
                opened = self._take_opened()
                if opened is not None:
                    self.sandbox.close(worker_job, opened)

    def give_back(self, job: Job) -> JobOutcome:
        """Return a job this slot holds but will not run (shutdown): retried, never lost."""
        worker_job = as_worker_job(job)
        if self.leases is not None:
            self.leases.unregister(worker_job.jid)
        try:
            self._report(lambda: worker_job.retry())
        except (LostLockError, JobNotFoundError) as exc:
            self._lost(worker_job, exc)
            return JobOutcome.LOCK_LOST
        logger.info("gave back %s", worker_job.jid)
        self.plugins.notify("reqless_job_retried", worker=self.info, job=worker_job)
        return JobOutcome.GIVEN_BACK

    # ---------------------------------------------------------------- internals

    def _run(self, job: WorkerJob, cancelled: Callable[[], bool]) -> JobOutcome:
        queue = job.queue_name
        if cancelled():
            return self._lost(job, None)
        try:
            allowed = self.plugins.decide(
                "reqless_allow_job_class", job=job, klass_name=job.klass_name
            )
        except Exception:
            return self._fail(
                job,
                f"{queue}-JobClassPolicyError",
                f"the job-class policy failed on {job.klass_name}:\n{traceback.format_exc()}",
            )
        if allowed is False:
            return self._fail(
                job, f"{queue}-JobClassRefused", f"a plugin refused the job class {job.klass_name}"
            )
        try:
            klass = self.loader.load(job.klass_name)
        except Exception as exc:
            return self._fail(
                job,
                f"{queue}-{type(exc).__name__}",
                f"cannot import {job.klass_name}:\n{traceback.format_exc()}",
            )
        target = getattr(klass, queue, None) or getattr(klass, "process", None)
        if not callable(target):
            return self._fail(
                job,
                f"{queue}-method-missing",
                f"{job.klass_name} has neither a {queue!r} nor a 'process' method",
            )
        job.target = target
        self.plugins.notify("reqless_before_perform", worker=self.info, job=job)
        error: Exception | None = None
        details = ""
        self.performing = True
        try:
            self.plugins.perform(self.info, job)
        except Exception as exc:
            error, details = exc, traceback.format_exc()
        except Shutdown as stop:
            self.performing = False
            self.plugins.notify("reqless_after_perform", worker=self.info, job=job, error=stop)
            if job.finished_as is not None:
                return self._finished(job)
            return self.give_back(job)
        except JobCancelled as stop:
            self.performing = False
            self.plugins.notify("reqless_after_perform", worker=self.info, job=job, error=stop)
            return self._lost(job, None)
        finally:
            self.performing = False
        self.plugins.notify("reqless_after_perform", worker=self.info, job=job, error=error)
        if job.finished_as is not None:
            return self._finished(job)
        if cancelled():
            return self._lost(job, None)
        if error is not None:
            return self._fail(job, f"{queue}-{type(error).__name__}", details)
        return self._complete(job)

    def _finished(self, job: WorkerJob) -> JobOutcome:
        """The method finished its own job: tell the plugins what it did."""
        outcome = job.finished_as or JobOutcome.COMPLETED
        if outcome is JobOutcome.FAILED:
            group, message = job.failed_with or ("", "")
            self.plugins.notify(
                "reqless_job_failed", worker=self.info, job=job, group=group, message=message
            )
        elif outcome is JobOutcome.RETRIED:
            self.plugins.notify("reqless_job_retried", worker=self.info, job=job)
        else:
            self.plugins.notify("reqless_job_completed", worker=self.info, job=job)
        return outcome

    def _complete(self, job: WorkerJob) -> JobOutcome:
        if self.leases is not None:
            self.leases.unregister(job.jid)
        then, self._then = self._then, None
        if self._hold:
            self.completions.hold(job)
            return JobOutcome.COMPLETED
        [reply] = self.completions.send([job], then)
        if isinstance(reply, (LostLockError, JobNotFoundError)):
            return self._lost(job, reply)
        if isinstance(reply, ReqlessError):
            raise reply
        self.plugins.notify("reqless_job_completed", worker=self.info, job=job)
        return JobOutcome.COMPLETED

    def flush(self, older_than: float = 0.0) -> None:
        """Send the completions held back by ``run(hold=True)``, in one round trip, and
        tell the plugins how each went; with ``older_than``, only if the first was held
        at least that many seconds ago. Safe to call from another thread."""
        self.completions.flush(older_than)

    def _held_result(self, job: Job, result: object) -> None:
        worker_job = as_worker_job(job)
        with bind_log_context(self.plugins.log_context(worker_job)):
            if isinstance(result, (LostLockError, JobNotFoundError)):
                self._lost(worker_job, result)
            elif isinstance(result, ReqlessError):
                logger.error("completing %s failed: %s", job.jid, result)
            else:
                self.plugins.notify("reqless_job_completed", worker=self.info, job=worker_job)

    def _fail(self, job: WorkerJob, group: str, message: str) -> JobOutcome:
        if self.leases is not None:
            self.leases.unregister(job.jid)
        logger.warning("job %s failed: %s", job.jid, group)
        try:
            self._report(lambda: Job.fail(job, group, message))
        except (LostLockError, JobNotFoundError) as exc:
            return self._lost(job, exc)
        self.plugins.notify(
            "reqless_job_failed", worker=self.info, job=job, group=group, message=message
        )
        return JobOutcome.FAILED

    def _lost(self, job: WorkerJob, error: ReqlessError | None) -> JobOutcome:
        if error is not None:
            logger.warning("lost the lock of %s while reporting it: %s", job.jid, error.detail)
        else:
            logger.warning("stopped %s: it is no longer ours", job.jid)
        self.plugins.notify("reqless_job_lock_lost", worker=self.info, job=job)
        return JobOutcome.LOCK_LOST

    def _report(self, call: Callable[[], object]) -> None:
        """Send an outcome; while the server is unreachable, retry (never drop it)."""
        backoff = 0.1
        while True:
            try:
                call()
                return
            except ServerUnavailableError as exc:
                logger.warning("cannot reach the server to report a job (%s); retrying", exc)
                time.sleep(backoff)
                backoff = min(backoff * 2, MAX_REPORT_BACKOFF)

    # ----------------------------------------------------------------- sandbox

    def _open_sandbox(self, job: WorkerJob) -> str | None:
        path = self.sandbox.open(job)
        self._opened = path
        return None if path is None else str(path)

    def _take_opened(self) -> Path | None:
        opened, self._opened = self._opened, None
        return opened
