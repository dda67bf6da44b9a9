"""Job classes the API tests enqueue and process; importable, as a worker needs them to be."""

from __future__ import annotations

from typing import Any

#: What the job methods saw, so tests can check they ran: (method, jid, payload).
CALLS: list[tuple[str, str, Any]] = []


class Plain:
    """A job class with only the generic ``process``."""

    @staticmethod
    def process(job: Any) -> None:
        CALLS.append(("process", job.jid, job.payload))
        job.complete()


class PerQueue:
    """Runs ``q`` for jobs in queue ``q`` and ``process`` elsewhere."""

    @staticmethod
    def q(job: Any) -> None:
        CALLS.append(("q", job.jid, job.payload))
        job.complete()

    @staticmethod
    def process(job: Any) -> None:
        CALLS.append(("process", job.jid, job.payload))
        job.complete()


class Broken:
    @staticmethod
    def process(job: Any) -> None:
        raise ValueError("the job's own bug")


class NoMethod:
    """Has neither a method named after the queue nor ``process``."""


class AsyncJob:
    @staticmethod
    async def process(job: Any) -> None:
        CALLS.append(("async", job.jid, job.payload))
        await job.complete()
