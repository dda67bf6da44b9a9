"""Core commands as values, to run several in one round trip.

Each function here checks its arguments (bad input raises
:class:`reqless.InvalidArgumentError` naming the value, before anything is
sent) and returns a :class:`Call`: the core command, its arguments and the
parser of its reply. Nothing reaches the server until a client runs it:

    done, jobs = client.execute(commands.complete(job), commands.pop("q", "w1", 5))

:meth:`reqless.Client.execute` (and its asyncio twin) sends the calls in one
round trip, all with the same ``now``, and returns each call's parsed reply in
order. A popped or peeked job comes back as a :class:`reqless.Job` of the
executing client.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reqless import _protocol as p
from reqless._job import JobFields
from reqless._protocol import Arg, Call, JobState, RecurringState

__all__ = [
    "Call",
    "JobState",
    "RecurringState",
    "all_queue_counts",
    "cancel",
    "complete",
    "completed",
    "core",
    "core_json",
    "fail",
    "failure_counts",
    "get",
    "heartbeat",
    "identifier_patterns",
    "job",
    "peek",
    "pop",
    "priority_patterns",
    "queue_counts",
    "queue_jobs",
    "recurring_job",
    "requeue",
    "retry",
    "set_identifier_patterns",
    "set_priority_patterns",
    "stats",
    "throttle",
    "throttle_locks",
    "throttle_pending",
    "tracked",
    "worker_counts",
    "worker_jobs",
]


def _worker(job: JobFields, worker: str | None) -> str:
    """The worker a job call speaks for: ``worker``, else the job's, else its client's."""
    if worker is not None:
        return p.check_str("worker", worker)
    return job._worker(job._client.worker_name)  # type: ignore[attr-defined]


def core(command: str, *args: Arg) -> Call[Any]:
    """Any core command by its protocol name, its reply as the core gives it."""
    return p.raw_reply(p.check_str("command", command), *args)


def core_json(command: str, *args: Arg) -> Call[Any]:
    """Any core command whose reply is JSON text, the reply decoded."""
    return p.json_reply(p.check_str("command", command), *args)


def pop(queue: str, worker: str, count: int = 1) -> Call[list[JobState]]:
    """Take up to ``count`` jobs from ``queue`` as ``worker`` (``queue.pop``)."""
    return p.pop(p.check_str("queue", queue), p.check_str("worker", worker), count)


def peek(queue: str, count: int = 1, offset: int = 0) -> Call[list[JobState]]:
    """The next ``count`` jobs a pop of ``queue`` would take, left in place (``queue.peek``)."""
    return p.peek(p.check_str("queue", queue), count, offset)


def get(*jids: str) -> Call[list[JobState]]:
    """The jobs that exist among ``jids``, in that order (``client.jobs.get``)."""
    return Call("job.getMulti", tuple(p.check_strings("jids", jids)), p.parse_jobs)


def complete(
    job: JobFields,
    next_queue: str | None = None,
    *,
    delay: float | None = None,
    depends: Sequence[str] | None = None,
    worker: str | None = None,
) -> Call[str]:
    """Finish ``job``, or move it on to ``next_queue`` (``job.complete``)."""
    return p.complete(job._state, _worker(job, worker), next_queue, delay=delay, depends=depends)


def fail(job: JobFields, group: str, message: str, *, worker: str | None = None) -> Call[str]:
    """Fail ``job`` into failure group ``group`` (``job.fail``)."""
    return p.fail(job._state, _worker(job, worker), group, message)


def heartbeat(job: JobFields, *, worker: str | None = None) -> Call[int]:
    """Renew ``job``'s lease; the reply is the new expiry time (``job.heartbeat``)."""
    return p.heartbeat(job._state, _worker(job, worker))


def retry(
    job: JobFields,
    delay: float = 0,
    group: str | None = None,
    message: str | None = None,
    *,
    worker: str | None = None,
) -> Call[int]:
    """Put ``job`` back to be tried again; the reply is the retries left (``job.retry``)."""
    return p.retry(job._state, _worker(job, worker), delay, group, message)


def requeue(
    job: JobFields,
    queue: str,
    *,
    delay: float = 0,
    priority: int | None = None,
    tags: Sequence[str] | None = None,
    retries: int | None = None,
    depends: Sequence[str] | None = None,
    throttles: Sequence[str] | None = None,
    worker: str | None = None,
) -> Call[str]:
    """Move ``job`` into ``queue`` whatever its state (``job.requeue``); the reply is its jid.

    The job's class name and data go back as stored, unchecked: the job may
    have been put by a client in another language. Priority, tags and retries
    left at None are kept by the core; throttles left at None are the job's.
    ``worker`` (default: the job's client's worker name) is who asks.
    """
    if worker is None:
        asker: str = job._client.worker_name  # type: ignore[attr-defined]
    else:
        asker = p.check_str("worker", worker)
    return p.requeue_job(
        asker, queue, job._state, delay, priority, tags, retries, depends, throttles
    )


def cancel(*jids: str) -> Call[list[str]]:
    """Cancel the jobs ``jids`` (``job.cancel``); the reply lists the jids canceled."""
    return p.Call("job.cancel", tuple(p.check_strings("jids", jids)), p.as_str_list)


def job(jid: str) -> Call[JobState | None]:
    """The job ``jid`` (``job.get``), or None; a client's ``execute`` makes it a Job."""
    return p.job_get(jid)


def recurring_job(jid: str) -> Call[RecurringState | None]:
    """The recurring job ``jid`` (``recurringJob.get``), or None; ``execute`` binds it."""
    return p.recurring_get(jid)


def tracked() -> Call[p.TrackedJobs[JobState]]:
    """Tracked jobs and the jids of tracked jobs that are gone (``jobs.tracked``)."""
    return p.tracked()


def completed(offset: int = 0, limit: int = 25) -> Call[list[str]]:
    """Jids of completed jobs, most recent first (``jobs.completed``)."""
    return p.listing("jobs.completed", offset, limit)


def queue_jobs(queue: str, state: str, offset: int = 0, limit: int = 25) -> Call[list[str]]:
    """Jids of ``queue`` in ``state`` (running, stalled, scheduled, depends, throttled,
    recurring) (``queue.jobsByState``)."""
    return p.jobs_by_state(p.check_str("queue", queue), state, offset, limit)


def throttle(name: str) -> Call[p.ThrottleInfo]:
    """The throttle ``name``'s definition (``throttle.get``); ``ql:q:<queue>`` is a queue's."""
    return p.throttle_info(p.check_str("throttle", name))


def throttle_locks(name: str) -> Call[list[str]]:
    """Jids holding one of throttle ``name``'s slots (``throttle.locks``)."""
    return p.json_list("throttle.locks", p.check_str("throttle", name))


def throttle_pending(name: str) -> Call[list[str]]:
    """Jids waiting for one of throttle ``name``'s slots (``throttle.pending``)."""
    return p.json_list("throttle.pending", p.check_str("throttle", name))


def queue_counts(queue: str) -> Call[p.QueueCounts]:
    """``queue``'s job counts by state and whether it is paused (``queue.counts``)."""
    return p.queue_counts(p.check_str("queue", queue))


def stats(queue: str, date: float) -> Call[p.QueueStats]:
    """``queue``'s statistics of the day containing ``date`` (``queue.stats``)."""
    return p.stats(p.check_str("queue", queue), date)


all_queue_counts = p.all_queue_counts
failure_counts = p.failure_counts
worker_counts = p.worker_counts
identifier_patterns = p.identifier_patterns
priority_patterns = p.priority_patterns
set_identifier_patterns = p.set_identifier_patterns
set_priority_patterns = p.set_priority_patterns
#: The jids ``worker`` holds a lock on, and those whose lock expired (``client.workers[name]``).
worker_jobs = p.worker_jobs
