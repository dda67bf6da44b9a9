"""The asyncio client, ``reqless.aio.Client``, and its small helpers.

Same API as :class:`reqless.Client`; a property that reads the server becomes
a coroutine method of the same name (``await queue.counts()``), a setter that
writes it becomes ``await x.set_<name>(value)``, and ``client.jobs[jid]`` /
``client.workers[name]`` are awaited.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar, overload

from reqless import _ops as ops
from reqless import _protocol as p
from reqless._client import ClientBase
from reqless._script import AsyncCoreScript, Form
from reqless._throttles import ThrottleBase, ThrottlesBase
from reqless.aio._events import Events
from reqless.aio._job import Job, RecurringJob
from reqless.aio._queue import Queues
from reqless.drivers import AsyncDriver, connect_async

__all__ = ["Client", "Config", "Jobs", "QueuePatterns", "Tags", "Throttle", "Throttles", "Workers"]

T = TypeVar("T")
D = TypeVar("D")


class Jobs:
    """``client.jobs`` for asyncio (see :class:`reqless.Jobs`); ``await client.jobs[jid]``."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def __getitem__(self, jid: str) -> Awaitable[Job | RecurringJob | None]:
        """``await client.jobs[jid]``: the job or recurring job, or None."""
        return self._client._do(ops.find(self._client, jid))

    async def get(self, *jids: str) -> list[Job]:
        """The jobs that exist among ``jids``, in that order (missing ones are left out)."""
        return await self._client._do(ops.get_jobs(self._client, jids))

    async def tagged(self, tag: str, offset: int = 0, limit: int = 25) -> p.JidPage:
        """Jids carrying ``tag``, oldest tagging first."""
        return await self._client._do(ops.tagged(tag, offset, limit))

    async def tracked(self) -> p.TrackedJobs[Job]:
        """Tracked jobs that still exist, and the jids of tracked jobs that are gone."""
        return await self._client._do(ops.tracked(self._client))

    @overload
    async def failed(
        self, group: None = None, start: int = 0, limit: int = 25
    ) -> dict[str, int]: ...
    @overload
    async def failed(self, group: str, start: int = 0, limit: int = 25) -> p.JobPage[Job]: ...
    async def failed(
        self, group: str | None = None, start: int = 0, limit: int = 25
    ) -> dict[str, int] | p.JobPage[Job]:
        """Failure counts by group, or a page of one group's jids and jobs (see
        :class:`reqless.Jobs`)."""
        return await self._client._do(ops.failed(self._client, group, start, limit))

    async def complete(self, offset: int = 0, limit: int = 25) -> list[str]:
        """Jids of completed jobs, most recent first."""
        return await self._client._do(p.listing("jobs.completed", offset, limit))


class Config:
    """The core's options, values decoded as in :class:`reqless.Config`. ``unset`` restores
    an option's default."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def get(self, key: str, default: D | None = None) -> Any | D | None:
        """The option's value (decoded), or ``default`` if it has none."""
        value = await self._client._do(ops.config_get(key))
        return default if value is None else value

    async def set(self, key: str, value: str | int | float) -> None:
        await self._client._do(ops.config_set(key, value))

    async def unset(self, key: str) -> None:
        await self._client._do(ops.config_unset(key))

    async def all(self) -> dict[str, str]:
        """Every option and its value as the core keeps it (text)."""
        return await self._client._do(p.config_all())

    async def clear(self) -> None:
        """Unset every option (those with a default read back as the default)."""
        await self._client._do(ops.config_clear())


class Workers:
    def __init__(self, client: Client) -> None:
        self._client = client

    async def counts(self) -> list[p.WorkerCounts]:
        """Every known worker, most recently active first, with its running and stalled counts."""
        return await self._client._do(p.worker_counts())

    def __getitem__(self, worker: str) -> Awaitable[p.WorkerJobs]:
        return self._client._do(p.worker_jobs(worker))

    async def forget(self, *workers: str) -> None:
        """Drop workers from the registry (e.g. after they shut down)."""
        await self._client._do(ops.forget_workers(workers))


class Tags:
    def __init__(self, client: Client) -> None:
        self._client = client

    async def top(self, offset: int = 0, limit: int = 25) -> list[str]:
        """Tags used by at least two jobs, most used first."""
        return await self._client._do(p.listing("tags.top", offset, limit))

    __call__ = top


class Throttle(ThrottleBase["Client"]):
    """One throttle; ``maximum`` 0 means unlimited."""

    _REPR_NAME = "aio.Throttle"

    async def info(self) -> p.ThrottleInfo:
        return await self._client._do(p.throttle_info(self.name))

    async def maximum(self) -> int:
        return await self._client._do(ops.throttle_field(self.name, "maximum"))

    async def set_maximum(self, maximum: int | None = None, expiration: int | None = 0) -> None:
        """Set the limit (None: 0, unlimited); with ``expiration`` seconds the whole definition
        then disappears."""
        await self._client._do(ops.set_throttle(self.name, maximum, expiration))

    async def ttl(self) -> int:
        """Seconds until the definition expires; -1 if it does not, -2 if it is not set."""
        return await self._client._do(ops.throttle_field(self.name, "ttl"))

    async def locks(self) -> list[str]:
        """Jids holding the throttle."""
        return await self._client._do(p.json_list("throttle.locks", self.name))

    async def pending(self) -> list[str]:
        """Jids waiting for the throttle, longest waiting first."""
        return await self._client._do(p.json_list("throttle.pending", self.name))

    async def release(self, *jids: str) -> None:
        await self._client._do(ops.release(self.name, jids))

    async def delete(self) -> None:
        """Remove the definition (the throttle becomes unlimited)."""
        await self._client._do(p.no_reply("throttle.delete", self.name))


class Throttles(ThrottlesBase["Client", Throttle]):
    _THROTTLE = Throttle


class QueuePatterns:
    """``client.queue_patterns`` for asyncio: stored identifier and priority patterns."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def identifiers(self) -> dict[str, list[str]]:
        return await self._client._do(p.identifier_patterns())

    async def set_identifiers(self, patterns: Mapping[str, Sequence[str]]) -> None:
        """Replace every identifier; ``default`` is ``["*"]`` unless given."""
        await self._client._do(p.set_identifier_patterns(patterns))

    async def priorities(self) -> list[p.PriorityPattern]:
        return await self._client._do(p.priority_patterns())

    async def set_priorities(self, patterns: Sequence[p.PriorityPattern]) -> None:
        await self._client._do(p.set_priority_patterns(patterns))

    async def resolve(self, *specs: str) -> list[str]:
        """The queues the specs select (default ``@default``), in priority order."""
        return await self._client._do(ops.resolve(specs))

    async def get_queue_identifier_patterns(self) -> dict[str, list[str]]:
        """:meth:`identifiers`, by reqless-py's name."""
        return await self._client._do(p.identifier_patterns())

    async def set_queue_identifier_patterns(self, patterns: Mapping[str, Sequence[str]]) -> None:
        """:meth:`set_identifiers`, by reqless-py's name."""
        await self._client._do(p.set_identifier_patterns(patterns))

    async def get_queue_priority_patterns(self) -> list[p.PriorityPattern]:
        """:meth:`priorities`, by reqless-py's name."""
        return await self._client._do(p.priority_patterns())

    async def set_queue_priority_patterns(self, patterns: Sequence[p.PriorityPattern]) -> None:
        """:meth:`set_priorities`, by reqless-py's name."""
        await self._client._do(p.set_priority_patterns(patterns))


class Client(ClientBase):
    """A connection to one reqless server, for asyncio. Close it with ``await aclose()``.

    The arguments are :class:`reqless.Client`'s, ``wake_workers`` included:
    puts wake workers waiting with :class:`reqless.PopWaiter` or
    :class:`reqless.aio.PopWaiter` unless it is False.
    """

    _LABEL = "reqless.aio.Client"

    def _connect(self, form: Form) -> None:
        self._driver: AsyncDriver = connect_async(self.settings)
        self._script = AsyncCoreScript(self._driver, clock=self.clock, form=form)
        self.queues = Queues(self)
        self.jobs = Jobs(self)
        self.config = Config(self)
        self.workers = Workers(self)
        self.tags = Tags(self)
        self.throttles = Throttles(self)
        self.events = Events(self)
        self.queue_patterns = QueuePatterns(self)

    async def _do(self, op: ops.Op[T]) -> T:
        """Run an operation of :mod:`reqless._ops` to its result."""
        return await ops.run_async(self._script, op)

    def _job(self, state: p.JobState) -> Job:
        return Job(self, state)

    def _recurring(self, state: p.RecurringState) -> RecurringJob:
        return RecurringJob(self, state)

    async def _run(self, call: p.Call[T]) -> T:
        return await ops.run_async(self._script, call)

    async def _run_many(self, calls: Sequence[p.Call[Any]]) -> list[Any]:
        return await ops.run_async(self._script, ops.batch(calls))

    async def execute(
        self,
        *calls: p.Call[Any],
        return_errors: bool = False,
        job_class: type[Job] | None = None,
    ) -> list[Any]:
        """Run ``calls`` in one round trip (see :meth:`reqless.Client.execute`)."""
        return await self._do(ops.execute(self, calls, return_errors, job_class))

    async def track(self, jid: str) -> bool:
        """Track the job ``jid`` without fetching it."""
        return await self._do(ops.track_jid(jid, True))

    async def untrack(self, jid: str) -> bool:
        """Stop tracking the job ``jid``."""
        return await self._do(ops.track_jid(jid, False))

    async def unfail(self, group: str, queue: str, count: int = 500) -> int:
        """Move up to ``count`` of the oldest jobs failed in ``group`` into ``queue``."""
        return await self._do(ops.unfail(queue, group, count))

    async def server_info(self) -> dict[str, Any]:
        """The server's ``INFO`` (see :meth:`reqless.Client.server_info`)."""
        return p.parse_info(await self._driver.execute_command("INFO"))

    async def aclose(self) -> None:
        await self.events.aclose()
        await self._driver.aclose()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
