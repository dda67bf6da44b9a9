"""Every hook a reqless worker calls, in the order it calls them.

This module is the plugin author's reference. Implement a hook by defining a
function (in a module, or a method on an object) with the hook's name and any
subset of its arguments, decorated with ``reqless_plugins.hookimpl``, and
publish the module or object under the ``reqless.plugins`` entry-point group::

    [project.entry-points."reqless.plugins"]
    timing = "my_package.reqless_timing"

Three kinds of hook, and what happens to their errors:

* **Notifications** return nothing. The worker calls every implementation one
  by one; an exception from one is logged (logger ``reqless_plugins``) with the
  plugin's name and the others still run, so an observer never breaks a job.
  ``BaseException``s that are not ``Exception`` (shutdown, cancellation) still
  propagate. Notifications cannot be wrapped (``wrapper=True`` is refused).
* **Decisions** are ``firstresult``: implementations are called until one
  returns something other than ``None``, and that is the answer; ``None`` from
  all of them means "no opinion", for which each hook documents the default.
  Their errors propagate to the worker. The built-in plugins implement their
  decisions ``trylast``, so any third-party implementation is asked first.
* **``reqless_perform``** runs the job. The worker registers the
  implementation that calls the job's method; plugins wrap it with
  ``@hookimpl(wrapper=True)`` for around-advice. Its errors are the job's.

Call order: ``tryfirst`` implementations, then third-party plugins in
alphabetical order of their plugin names, then the built-in plugins, then
``trylast`` ones. A function named ``reqless_...`` that matches no hook fails
at start-up, so a misspelled hook never goes silently unused.

``job`` is a ``reqless.Job`` (imported for type checking only, so this
package does not depend on the client at run time); ``worker`` is a
``reqless_plugins.WorkerInfo``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from reqless_plugins._markers import hookspec
from reqless_plugins._worker import WorkerInfo

if TYPE_CHECKING:
    from reqless import Job

__all__ = [
    "WorkerInfo",
    "reqless_after_perform",
    "reqless_allow_job_class",
    "reqless_before_perform",
    "reqless_configure_logging",
    "reqless_job_completed",
    "reqless_job_failed",
    "reqless_job_lock_lost",
    "reqless_job_popped",
    "reqless_job_retried",
    "reqless_log_context",
    "reqless_perform",
    "reqless_sandbox_clean",
    "reqless_sandbox_path",
    "reqless_sandbox_prepare",
    "reqless_worker_started",
    "reqless_worker_stopping",
]


# --------------------------------------------------------------------------
# Logging. Called by the CLI before anything is logged, then around each job.
# --------------------------------------------------------------------------


@hookspec
def reqless_configure_logging(config: dict[str, Any], verbose: bool, log_file: str | None) -> None:
    """Edit the ``logging.config.dictConfig`` dictionary the CLI is about to apply.

    Notification, called once per process start, before the worker logs
    anything. ``config`` is edited in place; the CLI applies it after every
    plugin ran. ``verbose`` is ``-v``; ``log_file`` is ``--log-file`` or
    ``None``. The built-in ``logging`` plugin runs first (``tryfirst``) and
    adds a ``console`` handler, a ``file`` handler when ``log_file`` is given,
    the ``reqless`` formatter and the ``reqless_job_context`` filter, so the
    plugins after it can change or replace those entries.
    """


@hookspec
def reqless_log_context(job: Job) -> dict[str, object] | None:
    """Fields to attach to every log record emitted while ``job`` runs.

    Called once per job, before ``reqless_before_perform``; every
    implementation is called and the dictionaries are merged (a plugin called
    earlier wins on a conflicting key, so a third-party plugin overrides the
    built-in ``jid``, ``queue``, ``klass`` and ``worker``). ``None`` adds
    nothing. Errors are logged with the plugin's name and the job runs with
    the other plugins' fields.
    """


# --------------------------------------------------------------------------
# Worker lifecycle. Called in each child (each slot), not in the supervisor.
# --------------------------------------------------------------------------


@hookspec
def reqless_worker_started(worker: WorkerInfo) -> None:
    """A slot is ready and about to pop its first job.

    Notification. A good place to open connections a plugin reuses per job.
    """


@hookspec
def reqless_worker_stopping(worker: WorkerInfo, reason: str) -> None:
    """A slot stops taking jobs and is about to exit.

    Notification. ``reason`` says why, in words meant for a log line: e.g.
    ``"TERM"``, ``"INT"``, ``"max-jobs"``, ``"max-jobs-per-child"``. Called
    once per slot that called ``reqless_worker_started``, after its last job
    has finished or been given back.
    """


# --------------------------------------------------------------------------
# Job-class policy. Called after the pop, before the class is imported.
# --------------------------------------------------------------------------


@hookspec(firstresult=True)
def reqless_allow_job_class(job: Job, klass_name: str) -> bool | None:
    """May this worker import and run ``klass_name`` (the job's dotted class path)?

    Decision. ``False`` refuses the class before it is imported: the worker
    fails the job with group ``<queue>-JobClassRefused`` and never imports its
    module. ``True`` allows it without asking later plugins; ``None`` from all
    of them allows it. Errors propagate (the worker treats the job as failed
    rather than running code a broken policy could not vet).
    """


# --------------------------------------------------------------------------
# Sandbox policy. A job that reads ``job.sandbox`` gets a clean directory; the
# worker makes it on that first read (by the job or by a plugin), not for jobs
# that never look, and disposes of it after the job.
# --------------------------------------------------------------------------


@hookspec(firstresult=True)
def reqless_sandbox_path(worker: WorkerInfo) -> Path | None:
    """Where this slot's sandbox lives.

    Decision, asked once per slot, when a job first reads ``job.sandbox``.
    The built-in ``sandbox`` plugin answers
    ``<workdir>/reqless-py-workers/sandbox-<slot>``; for ``gevent`` and
    ``trio`` the worker appends ``greenlet-<m>`` (the greenlet or task index
    inside the child) to whatever path wins, so one answer serves a whole
    child. ``None`` from all plugins means the slot runs its jobs without a
    sandbox (``job.sandbox`` stays ``None``). Errors propagate.
    """


@hookspec(firstresult=True)
def reqless_sandbox_prepare(worker: WorkerInfo, path: Path, job: Job) -> bool | None:
    """Make ``path`` exist and be empty before ``job`` uses it.

    Decision, called when ``job.sandbox`` is first read during a job (by the
    job's code or by a plugin, e.g. in ``reqless_before_perform``); never for
    a job that does not read it. Return ``True`` when done (later plugins are
    not asked). ``None`` from all plugins leaves the directory as it is.
    Errors propagate: reading ``job.sandbox`` raises
    ``reqless_worker.SandboxError``, which fails the job (group
    ``<queue>-SandboxError``) rather than run it in a directory in an unknown
    state.
    """


@hookspec(firstresult=True)
def reqless_sandbox_clean(worker: WorkerInfo, path: Path, job: Job) -> bool | None:
    """Dispose of ``path`` after ``job`` finished, whatever its outcome.

    Decision, called after ``reqless_after_perform`` and after the job was
    completed, failed or retried (or its completion held to be sent with its
    batch's, see ``reqless_job_completed``), only if ``reqless_sandbox_prepare``
    ran for this job. The built-in plugin removes the directory.
    Return ``True`` when done; ``None`` from all plugins leaves it. Errors
    propagate to the worker, which logs them (the job's outcome is already
    recorded).
    """


# --------------------------------------------------------------------------
# Job lifecycle, in order.
# --------------------------------------------------------------------------


@hookspec
def reqless_job_popped(worker: WorkerInfo, job: Job) -> None:
    """The worker now holds ``job``'s lease; nothing has run yet.

    Notification, first of the per-job hooks. Called also for a job the
    worker then refuses (``reqless_allow_job_class``).
    """


@hookspec
def reqless_before_perform(worker: WorkerInfo, job: Job) -> None:
    """``job``'s class is imported; its method runs next.

    Notification, called outside ``reqless_perform`` and its wrappers.
    """


@hookspec(firstresult=True)
def reqless_perform(worker: WorkerInfo, job: Job) -> object:
    """Run ``job``: call the method named after its queue, or ``process``.

    The worker registers the one plain implementation (``trylast``), which
    returns the method's return value. Plugins do not replace it: they wrap it
    with ``@hookimpl(wrapper=True)`` and ``result = yield`` (for timing,
    tracing, retrying, ...); a wrapper may also raise or return a different
    value. Errors propagate: an exception out of this hook is the job's
    exception, and fails it with group ``<queue>-<ExceptionType>``. A
    wrapper looks like::

        @hookimpl(wrapper=True)
        def reqless_perform(job):
            started = time.monotonic()
            try:
                return (yield)
            finally:
                metrics.observe(job.klass_name, time.monotonic() - started)
    """


@hookspec
def reqless_after_perform(worker: WorkerInfo, job: Job, error: BaseException | None) -> None:
    """``job``'s method returned (``error`` is ``None``) or raised ``error``.

    Notification, called before the worker reports the outcome to the server
    (so ``job``'s state is still ``running``), and also when the job's
    execution was stopped because its lock was lost or it was canceled.
    """


@hookspec
def reqless_job_completed(worker: WorkerInfo, job: Job) -> None:
    """``job``'s method returned and the job is completed (or moved to a next queue).

    Notification, after the server accepted the completion, whether the worker
    sent it (the method returned without completing, failing or moving the
    job) or the method called ``job.complete()`` itself. The process strategy
    sends the completions of a batch of short jobs together, once the batch's
    last job is done, so this may come after hooks of the jobs that ran next.
    """


@hookspec
def reqless_job_failed(worker: WorkerInfo, job: Job, group: str, message: str) -> None:
    """The server recorded ``job`` as failed under ``group`` with ``message``.

    Notification. ``group`` is ``<queue>-<ExceptionType>`` for an exception,
    ``<queue>-JobClassRefused`` for a refused class; ``message`` is the
    traceback or the reason.
    """


@hookspec
def reqless_job_retried(worker: WorkerInfo, job: Job) -> None:
    """``job`` was given back to its queue to run again (retry or release).

    Notification: e.g. its method called ``job.retry()``, or the worker was
    interrupted (INT/QUIT) and gave the job back rather than lose it.
    """


@hookspec
def reqless_job_lock_lost(worker: WorkerInfo, job: Job) -> None:
    """This worker lost ``job``'s lease; its execution has been stopped.

    Notification: a heartbeat, complete or fail was refused, or the worker's
    channel reported ``lock_lost``, ``canceled`` or ``put`` for the job. The
    job belongs to someone else now: do not touch it on the server.
    """
