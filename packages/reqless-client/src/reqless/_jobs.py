"""``client.jobs``: find jobs by jid, tag, tracking, failure or completion (sync)."""

from __future__ import annotations

from typing import TYPE_CHECKING, overload

from reqless import _protocol as p
from reqless._job import Job, RecurringJob

if TYPE_CHECKING:
    from reqless._client import Client

__all__ = ["Jobs"]


class Jobs:
    def __init__(self, client: Client) -> None:
        self._client = client

    def __getitem__(self, jid: str) -> Job | RecurringJob | None:
        """The job or recurring job with this jid, or None."""
        job, recurring = self._client._run_many(
            [
                p.Call("job.get", (jid,), p.parse_job),
                p.Call("recurringJob.get", (jid,), p.parse_recurring),
            ]
        )
        if job is not None:
            return Job(self._client, job)
        if recurring is not None:
            return RecurringJob(self._client, recurring)
        return None

    def get(self, *jids: str) -> list[Job]:
        """The jobs that exist among ``jids``, in that order (missing ones are left out)."""
        if not jids:
            return []
        states = self._client._run(p.Call("job.getMulti", jids, p.parse_jobs))
        return [Job(self._client, state) for state in states]

    def tagged(self, tag: str, offset: int = 0, limit: int = 25) -> p.JidPage:
        """Jids carrying ``tag``, oldest tagging first."""
        p.check_str("tag", tag)
        return self._client._run(
            p.page(
                "jobs.tagged",
                tag,
                p.check_int("offset", offset, minimum=0),
                p.check_int("limit", limit, minimum=0),
            )
        )

    def tracked(self) -> p.TrackedJobs[Job]:
        """Tracked jobs that still exist, and the jids of tracked jobs that are gone."""
        found = self._client._run(p.tracked())
        return p.TrackedJobs([Job(self._client, state) for state in found.jobs], found.expired)

    @overload
    def failed(self, group: None = None, start: int = 0, limit: int = 25) -> dict[str, int]: ...
    @overload
    def failed(self, group: str, start: int = 0, limit: int = 25) -> p.JidPage: ...
    def failed(
        self, group: str | None = None, start: int = 0, limit: int = 25
    ) -> dict[str, int] | p.JidPage:
        """Without a group: how many jobs failed in each group. With one: a page of its jids,
        newest failure first."""
        if group is None:
            return self._client._run(p.failure_counts())
        return self._client._run(
            p.page(
                "jobs.failedByGroup",
                p.check_str("group", group),
                p.check_int("start", start, minimum=0),
                p.check_int("limit", limit, minimum=0),
            )
        )

    def complete(self, offset: int = 0, limit: int = 25) -> list[str]:
        """Jids of completed jobs, most recent first."""
        return self._client._run(p.listing("jobs.completed", offset, limit))
