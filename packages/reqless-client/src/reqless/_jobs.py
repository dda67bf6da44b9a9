"""``client.jobs``: find jobs by jid, tag, tracking, failure or completion (sync)."""

from __future__ import annotations

from typing import TYPE_CHECKING, overload

from reqless import _ops as ops
from reqless import _protocol as p
from reqless._job import Job, RecurringJob

if TYPE_CHECKING:
    from reqless._client import Client

__all__ = ["Jobs"]


class Jobs:
    """``client.jobs``: find jobs by jid, tag, tracking, failure or completion."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def __getitem__(self, jid: str) -> Job | RecurringJob | None:
        """The job or recurring job with this jid, or None."""
        return self._client._do(ops.find(self._client, jid))

    def get(self, *jids: str) -> list[Job]:
        """The jobs that exist among ``jids``, in that order (missing ones are left out)."""
        return self._client._do(ops.get_jobs(self._client, jids))

    def tagged(self, tag: str, offset: int = 0, limit: int = 25) -> p.JidPage:
        """Jids carrying ``tag``, oldest tagging first: iterate the page for them;
        ``page["total"]`` / ``page["jobs"]`` read it as reqless-py's dict."""
        return self._client._do(ops.tagged(tag, offset, limit))

    def tracked(self) -> p.TrackedJobs[Job]:
        """Tracked jobs that still exist, and the jids of tracked jobs that are gone."""
        return self._client._do(ops.tracked(self._client))

    @overload
    def failed(self, group: None = None, start: int = 0, limit: int = 25) -> dict[str, int]: ...
    @overload
    def failed(self, group: str, start: int = 0, limit: int = 25) -> p.JobPage[Job]: ...
    def failed(
        self, group: str | None = None, start: int = 0, limit: int = 25
    ) -> dict[str, int] | p.JobPage[Job]:
        """Without a group: how many jobs failed in each group. With one: a page of its jids,
        newest failure first, with the jobs themselves in ``jobs`` (``page["jobs"]``)."""
        return self._client._do(ops.failed(self._client, group, start, limit))  # type: ignore[no-any-return]

    def complete(self, offset: int = 0, limit: int = 25) -> list[str]:
        """Jids of completed jobs, most recent first."""
        return self._client._do(p.listing("jobs.completed", offset, limit))
