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
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import reqless
from reqless import (
    Job,
    JobNotFoundError,
    LostLockError,
    ReplicationTimeoutError,
    ReqlessError,
    ServerUnavailableError,
    commands,
)
from reqless_plugins import PluginManager, WorkerInfo, bind_log_context, hookimpl
from reqless_worker._errors import JobCancelled, Shutdown
from reqless_worker._imports import ClassLoader
from reqless_worker._outage import Outage, replies_of, unreplicated
from reqless_worker._sandbox import SlotSandbox
from reqless_worker._settings import WorkerSettings

if TYPE_CHECKING:
    from reqless_worker._completions import Completions

__all__ = ["JobOutcome", "JobRunner", "MethodGuard", "WorkerJob"]

T = TypeVar("T")

#: ``guard(job, method)``: what runs in the place of ``job``'s method (see JobRunner).
JobMethod = Callable[["WorkerJob"], object]
MethodGuard = Callable[["WorkerJob", JobMethod], JobMethod]

logger = logging.getLogger(__name__)

PERFORMER_NAME = "reqless-worker"


class JobOutcome(enum.Enum):
    """How one run ended, as far as this worker knows."""

    COMPLETED = "completed"  # completed (or moved to a next queue / requeued by its method)
    FAILED = "failed"
    RETRIED = "retried"  # its method called job.retry()
    GIVEN_BACK = "given_back"  # interrupted (INT/QUIT): retried so that it is not lost
    LOCK_LOST = "lock_lost"  # no longer ours: nothing was reported
    #: Its method returned without finishing it: the job is to be completed (see
    #: :meth:`JobRunner.perform`; :meth:`JobRunner.run` completes it).
    RETURNED = "returned"


class WorkerJob(Job):
    """A :class:`reqless.Job` that remembers whether its method already finished it,
    and whose calls on the server outlive an outage.

    Its state-changing methods first call ``on_finishing(jid)`` (the runner
    stops heartbeating the job there, so a heartbeat racing the change is not
    taken for a lost lock), then record what they did in ``finished_as``.

    With ``outage`` set (the runner sets it), a call that meets an outage is
    made again once the server is back, and the core then decides: a job whose
    lease ran out meanwhile may have gone to another worker, and the refusal
    stops the job (:class:`reqless_worker.JobCancelled`), as a lost lock does.
    A heartbeat that cannot reach the server returns the lease as it was.
    """

    finished_as: JobOutcome | None = None
    failed_with: tuple[str, str] | None = None
    on_finishing: Callable[[str], None] | None = None
    target: Callable[..., Any] | None = None
    #: Makes the sandbox on the first read of :attr:`sandbox` (set by the runner).
    sandbox_opener: Callable[[WorkerJob], str | None] | None = None
    #: The child's outage record; None: calls raise on an outage, as a plain Job's do.
    outage: Outage | None = None
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

    def _through_outage(self, call: Callable[[], T]) -> T:
        """``call()``, made again after an outage until the server answers."""
        outage = self.outage
        if outage is None:
            return call()
        met = False

        def attempt() -> T:
            nonlocal met
            try:
                return call()
            except ServerUnavailableError:
                met = True
                raise

        try:
            return outage.retry(attempt)
        except ReplicationTimeoutError as error:
            # Done on the master: the job goes on as if acknowledged (see unreplicated).
            unreplicated(error, f"a call on {self.jid}")
            [reply] = replies_of(error, 1)
            return reply  # type: ignore[no-any-return]
        except (LostLockError, JobNotFoundError) as exc:
            if not met:
                raise
            # The lease ran out during the outage and the core gave the job away (or
            # the first try was done before the connection dropped): either way the
            # job is no longer this worker's to run or report.
            raise JobCancelled(f"{self.jid} after an outage: {exc.detail}") from exc

    def complete(
        self,
        next_queue: str | None = None,
        *,
        delay: float | None = None,
        depends: Any = None,
    ) -> str:
        self._finishing()
        state = self._through_outage(
            lambda: super(WorkerJob, self).complete(next_queue, delay=delay, depends=depends)
        )
        self.finished_as = JobOutcome.COMPLETED
        return state

    def fail(self, group: str, message: str) -> str:
        self._finishing()
        jid = self._through_outage(lambda: super(WorkerJob, self).fail(group, message))
        self.finished_as = JobOutcome.FAILED
        self.failed_with = (group, message)
        return jid

    def retry(self, delay: float = 0, group: str | None = None, message: str | None = None) -> int:
        self._finishing()
        remaining = self._through_outage(
            lambda: super(WorkerJob, self).retry(delay, group, message)
        )
        self.finished_as = JobOutcome.RETRIED if remaining >= 0 else JobOutcome.FAILED
        if remaining < 0:
            self.failed_with = (group or f"failed-retries-{self.queue_name}", message or "")
        return remaining

    def requeue(self, queue: str, **options: Any) -> str:
        self._finishing()
        jid = self._through_outage(lambda: super(WorkerJob, self).requeue(queue, **options))
        self.finished_as = JobOutcome.COMPLETED
        return jid

    move = requeue

    def cancel(self) -> list[str]:
        self._finishing()
        cancelled = self._through_outage(lambda: super(WorkerJob, self).cancel())
        self.finished_as = JobOutcome.COMPLETED
        return cancelled

    def heartbeat(self) -> float:
        outage = self.outage
        if outage is None:
            return super().heartbeat()
        try:
            expires = super().heartbeat()
        except ServerUnavailableError as exc:
            # The lease keeper renews it once the server is back; the job goes on.
            outage.lost(exc)
            return self.expires_at
        outage.back()
        return expires

    def set_priority(self, priority: int) -> None:
        self._through_outage(lambda: super(WorkerJob, self).set_priority(priority))

    def track(self) -> bool:
        return self._through_outage(lambda: super(WorkerJob, self).track())

    def untrack(self) -> bool:
        return self._through_outage(lambda: super(WorkerJob, self).untrack())

    def tag(self, *tags: str) -> list[str]:
        return self._through_outage(lambda: super(WorkerJob, self).tag(*tags))

    def untag(self, *tags: str) -> list[str]:
        return self._through_outage(lambda: super(WorkerJob, self).untag(*tags))

    def depend(self, *jids: str) -> None:
        self._through_outage(lambda: super(WorkerJob, self).depend(*jids))

    def undepend(self, *jids: str, all: bool = False) -> None:
        self._through_outage(lambda: super(WorkerJob, self).undepend(*jids, all=all))

    def log(self, message: str, data: Any = None) -> None:
        self._through_outage(lambda: super(WorkerJob, self).log(message, data))


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

    ``leases``: a :class:`reqless_worker._leases.LeaseKeeper` whose registration of a
    job is dropped before the job's outcome is reported. ``sandbox_subdir``
    (``greenlet-<m>``) is appended to the sandbox path the plugins choose.
    ``outage`` is the child's record of server outages (one per child, shared
    by its runners); ``completions`` where the runner's completions go (one
    per child too, so that they can travel together). ``performing`` is True
    while the job's own code runs, for signal handlers deciding whether to
    interrupt it. ``method_guard(job, method)``, if given, returns what runs in
    the method's place, innermost, inside every plugin's ``reqless_perform``
    wrapper: how a concurrent strategy knows when a job's own code runs.
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
        outage: Outage | None = None,
        completions: Completions | None = None,
        method_guard: MethodGuard | None = None,
    ) -> None:
        from reqless_worker._completions import Completions

        self.client = client
        self.settings = settings
        self.plugins = plugins
        self.info = info
        self.leases = leases
        self.loader = loader or ClassLoader(reload=settings.reload)
        self.outage = outage or Outage()
        self.completions = completions or Completions(client, self.outage)
        self.performing = False
        self.method_guard = method_guard
        self.sandbox = SlotSandbox(plugins, info, sandbox_subdir)
        # The sandbox the current job opened, cleaned when the job is over.
        self._opened: Path | None = None
        # The job whose completion perform() sends itself, in its log context.
        self._current: WorkerJob | None = None
        if plugins.pluggy.get_plugin(PERFORMER_NAME) is None:
            plugins.register(_Performer(), PERFORMER_NAME)

    # ------------------------------------------------------------------ public

    def run(self, job: WorkerJob, *, cancelled: Callable[[], bool] = lambda: False) -> JobOutcome:
        """Run ``job`` to its outcome and report it; a job whose method returned without
        finishing it is completed now (see :meth:`perform` to batch completions)."""
        return self._perform(job, cancelled, complete=True)

    def perform(
        self, job: WorkerJob, *, cancelled: Callable[[], bool] = lambda: False
    ) -> JobOutcome:
        """Run ``job``: hooks, method, and the report of any outcome but one.

        Never raises for the job's own errors, nor for an outage (what must be
        reported is retried until the server is back); a lost lock while
        reporting is logged, not raised. ``cancelled()`` True means the job is
        no longer ours: it is not started, or not reported once its method
        returns. ``RETURNED``: the method returned without finishing the job,
        which the caller completes (through :attr:`completions`, alone or with
        others and a pop).
        """
        return self._perform(job, cancelled, complete=False)

    def _perform(
        self, job: WorkerJob, cancelled: Callable[[], bool], *, complete: bool
    ) -> JobOutcome:
        job.outage = self.outage
        if self.leases is not None:
            job.on_finishing = self.leases.unregister
        with bind_log_context(self.plugins.log_context(job)):
            self._opened = None
            job.sandbox_opener = self._open_sandbox
            try:
                self.plugins.notify("reqless_job_popped", worker=self.info, job=job)
                outcome = self._run(job, cancelled)
                if outcome is JobOutcome.RETURNED and (complete or self._sandbox_opened()):
                    # Completed now, in its log context; a job that opened its sandbox
                    # is never batched: its plugins hear of the completion before the
                    # sandbox is cleaned, in the documented order.
                    self._current = job
                    outcome = self.completions.complete(job, self)
                return outcome
            finally:
                self._current = None
                job.sandbox_opener = None
                # A strategy's guard around the method refers back to the job: without
                # this, every job would be a reference cycle, left to the garbage collector.
                job.target = None
                if self.leases is not None:
                    self.leases.unregister(job.jid)
                opened = self._take_opened()
                if opened is not None:
                    self.sandbox.close(job, opened)

    def give_back(self, job: WorkerJob) -> JobOutcome:
        """Return a job this slot holds but will not run (shutdown): retried, never lost."""
        if self.leases is not None:
            self.leases.unregister(job.jid)
        try:
            self.outage.retry(lambda: self.client.execute(commands.retry(job)))
        except ReplicationTimeoutError as error:
            unreplicated(error, f"giving back {job.jid}")
        except (LostLockError, JobNotFoundError) as exc:
            self._lost(job, exc)
            return JobOutcome.LOCK_LOST
        logger.info("gave back %s", job.jid)
        self.plugins.notify("reqless_job_retried", worker=self.info, job=job)
        return JobOutcome.GIVEN_BACK

    def flush(self, older_than: float = 0.0) -> None:
        """Send the held completions (see :class:`reqless_worker._completions.Completions`);
        with ``older_than``, only if the first was held at least that long ago."""
        self.completions.flush(older_than)

    def completion_answered(self, job: WorkerJob, result: object) -> JobOutcome:
        """The server's answer to ``job``'s completion: tell the plugins how it went."""
        if job is self._current:  # inside perform(): its log context is bound already
            return self._answered(job, result)
        with bind_log_context(self.plugins.log_context(job)):
            return self._answered(job, result)

    def _answered(self, job: WorkerJob, result: object) -> JobOutcome:
        if isinstance(result, (LostLockError, JobNotFoundError)):
            return self._lost(job, result)
        if isinstance(result, ReqlessError):
            logger.error("completing %s failed: %s", job.jid, result)
            return JobOutcome.LOCK_LOST
        self.plugins.notify("reqless_job_completed", worker=self.info, job=job)
        return JobOutcome.COMPLETED

    # ---------------------------------------------------------------- internals

    def _run(self, job: WorkerJob, cancelled: Callable[[], bool]) -> JobOutcome:
        if cancelled():
            return self._lost(job, None)
        refused = self._find_target(job)
        if refused is not None:
            return refused
        if self.method_guard is not None and job.target is not None:
            job.target = self.method_guard(job, job.target)
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
        if isinstance(error, ServerUnavailableError):
            # The job's own call to the server (not on its job: those outlive an outage)
            # met an outage. That is no failure of the job: it runs again, at once.
            logger.warning("%s met a server outage; giving it back to run again", job.jid)
            return self.give_back(job)
        if error is not None:
            return self._fail(job, f"{job.queue_name}-{type(error).__name__}", details)
        if self.leases is not None:
            self.leases.unregister(job.jid)
        return JobOutcome.RETURNED

    def _find_target(self, job: WorkerJob) -> JobOutcome | None:
        """Set ``job.target`` to the method to run; or fail the job and return that outcome."""
        queue = job.queue_name
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
        return None

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

    def _fail(self, job: WorkerJob, group: str, message: str) -> JobOutcome:
        if self.leases is not None:
            self.leases.unregister(job.jid)
        logger.warning("job %s failed: %s", job.jid, group)
        try:
            self.outage.retry(lambda: self.client.execute(commands.fail(job, group, message)))
        except ReplicationTimeoutError as error:
            unreplicated(error, f"failing {job.jid}")
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

    # ----------------------------------------------------------------- sandbox

    def _open_sandbox(self, job: WorkerJob) -> str | None:
        path = self.sandbox.open(job)
        self._opened = path
        return None if path is None else str(path)

    def _sandbox_opened(self) -> bool:
        return self._opened is not None

    def _take_opened(self) -> Path | None:
        opened, self._opened = self._opened, None
        return opened
