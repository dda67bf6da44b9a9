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
from reqless._protocol import Arg, Call, JobState

__all__ = [
    "Call",
    "JobState",
    "all_queue_counts",
    "complete",
    "core",
    "core_json",
    "fail",
    "failure_counts",
    "get",
    "heartbeat",
    "peek",
    "pop",
    "queue_counts",
    "retry",
    "stats",
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
    return p.simple(p.check_str("command", command), *args)


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


queue_counts = p.queue_counts
all_queue_counts = p.all_queue_counts
failure_counts = p.failure_counts
worker_counts = p.worker_counts
stats = p.stats
#: The jids ``worker`` holds a lock on, and those whose lock expired (``client.workers[name]``).
worker_jobs = p.worker_jobs
