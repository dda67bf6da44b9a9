"""Queues for asyncio: the sync API as coroutines (``counts()`` and ``paused()`` are calls).

Each method hands the operation of :mod:`reqless._ops` that its sync twin
runs to the asyncio client.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, overload

from reqless import _ops as ops
from reqless import _protocol as p
from reqless._bulk import PutManyItem
from reqless._queue import QueueBase
from reqless.aio._job import Job

if TYPE_CHECKING:
    from reqless.aio._client import Client, Throttle

__all__ = ["Queue", "QueueJobs", "Queues"]


class QueueJobs:
    """The jids of one queue by state; each listing pages with ``offset`` and ``limit``."""

    def __init__(self, client: Client, name: str) -> None:
        self._client = client
        self._name = name

    async def running(self, offset: int = 0, limit: int = 25) -> list[str]:
        return await self._client._do(p.jobs_by_state(self._name, "running", offset, limit))

    async def stalled(self, offset: int = 0, limit: int = 25) -> list[str]:
        return await self._client._do(p.jobs_by_state(self._name, "stalled", offset, limit))

    async def scheduled(self, offset: int = 0, limit: int = 25) -> list[str]:
        return await self._client._do(p.jobs_by_state(self._name, "scheduled", offset, limit))

    async def depends(self, offset: int = 0, limit: int = 25) -> list[str]:
        return await self._client._do(p.jobs_by_state(self._name, "depends", offset, limit))

    async def throttled(self, offset: int = 0, limit: int = 25) -> list[str]:
        return await self._client._do(p.jobs_by_state(self._name, "throttled", offset, limit))

    async def recurring(self, offset: int = 0, limit: int = 25) -> list[str]:
        return await self._client._do(p.jobs_by_state(self._name, "recurring", offset, limit))


class Queue(QueueBase["Client"]):
    """One queue, addressed by name (it exists on the server once a job was put in it)."""

    _LABEL = "aio.Queue"

    def __init__(self, client: Client, name: str) -> None:
        super().__init__(client, name)
        self.jobs = QueueJobs(client, name)

    async def put(
        self,
        klass: p.KlassArg,
        data: p.DataArg = None,
        *,
        priority: int | None = None,
        tags: Sequence[str] | None = None,
        delay: float = 0,
        retries: int | None = None,
        jid: str | None = None,
        depends: Sequence[str] | None = None,
        throttles: Sequence[str] | None = None,
    ) -> str:
        """Enqueue a job of ``klass`` (a class or its dotted path); returns its jid.

        ``priority``, ``tags`` and ``retries`` left at None keep those of an
        existing job with the same ``jid`` (else 0, none and 5).
        """
        return await self._client._do(
            ops.put(
                self._client, self.name, klass, data, priority, tags, delay, retries, jid, depends,
                throttles,
            )
        )  # fmt: skip

    async def requeue(
        self,
        klass: p.KlassArg,
        data: p.DataArg = None,
        *,
        priority: int | None = None,
        tags: Sequence[str] | None = None,
        delay: float = 0,
        retries: int | None = None,
        jid: str | None = None,
        depends: Sequence[str] | None = None,
        throttles: Sequence[str] | None = None,
    ) -> str:
        """:meth:`put` for a job that must already exist (see :meth:`reqless.Queue.requeue`)."""
        return await self._client._do(
            ops.put(
                self._client, self.name, klass, data, priority, tags, delay, retries, jid, depends,
                throttles, requeue=True,
            )
        )  # fmt: skip

    async def heartbeat(self) -> int:
        """Seconds a popped job's lock lasts here (see :attr:`reqless.Queue.heartbeat`)."""
        return await self._client._do(ops.queue_heartbeat(self.name))

    async def set_heartbeat(self, value: int) -> None:
        """Set this queue's own ``<queue>-heartbeat`` option."""
        await self._client._do(ops.config_set(f"{self.name}-heartbeat", value))

    async def put_many(self, jobs: Iterable[PutManyItem]) -> list[str]:
        """Enqueue many jobs in one round trip; returns their jids in order.

        Each item is a :class:`JobSpec`, a mapping of :meth:`put`'s arguments or a
        ``(klass, data)`` pair. Every item is validated before anything is sent;
        then the commands are written in chunks, so the server starts on the
        first jobs while later ones are still being packed.
        """
        return await self._client._do(ops.put_many(self._client, self.name, jobs))

    @overload
    async def pop(self, count: None = None) -> Job | None: ...
    @overload
    async def pop(self, count: int) -> list[Job]: ...
    async def pop(self, count: int | None = None) -> Job | list[Job] | None:
        """Take work as this client's worker: one job (or None), or a list of up to ``count``."""
        return await self._client._do(ops.pop(self._client, self.name, count))

    @overload
    async def peek(self, count: None = None) -> Job | None: ...
    @overload
    async def peek(self, count: int) -> list[Job]: ...
    async def peek(self, count: int | None = None) -> Job | list[Job] | None:
        """Look at the next job(s) ``pop`` would take, without taking them."""
        return await self._client._do(ops.peek(self._client, self.name, count))

    async def length(self) -> int:
        """Jobs waiting, scheduled or running (not depends, throttled or recurring)."""
        return await self._client._do(ops.queue_length(self.name))

    async def counts(self) -> p.QueueCounts:
        """The queue's job counts by state, and whether it is paused."""
        return await self._client._do(p.queue_counts(self.name))

    async def pause(self) -> None:
        """Stop pops from this queue (puts still go in)."""
        await self._client._do(p.no_reply("queue.pause", self.name))

    async def unpause(self) -> None:
        await self._client._do(p.no_reply("queue.unpause", self.name))

    async def paused(self) -> bool:
        return await self._client._do(ops.paused(self.name))

    async def stats(self, date: float | None = None) -> p.QueueStats:
        """Statistics of the day containing ``date`` (default: today)."""
        return await self._client._do(
            p.stats(self.name, self._client.clock() if date is None else date)
        )

    async def recur(
        self,
        klass: p.KlassArg,
        data: p.DataArg,
        interval: float,
        offset: float = 0,
        *,
        priority: int | None = None,
        tags: Sequence[str] | None = None,
        retries: int | None = None,
        backlog: int | None = None,
        throttles: Sequence[str] | None = None,
        jid: str | None = None,
    ) -> str:
        """Spawn a job every ``interval`` seconds, the first after ``offset``; returns the jid."""
        return await self._client._do(
            p.recur(
                self.name, klass, data, interval, offset, priority=priority, tags=tags,
                retries=retries, backlog=backlog, throttles=throttles, jid=jid,
            )
        )  # fmt: skip

    @property
    def throttle(self) -> Throttle:
        """The throttle limiting how many of this queue's jobs run at once."""
        return self._client.throttles[f"ql:q:{self.name}"]

    async def unfail(self, group: str, count: int = 25) -> int:
        """Move up to ``count`` of the oldest jobs failed in ``group`` into this queue."""
        return await self._client._do(ops.unfail(self.name, group, count))

    async def forget(self) -> None:
        """Drop the name from the list of known queues (its jobs are untouched)."""
        await self._client._do(p.no_reply("queue.forget", self.name))


class Queues:
    """``client.queues[name]`` and the counts of every known queue."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def __getitem__(self, name: str) -> Queue:
        return Queue(self._client, name)

    async def names(self) -> list[str]:
        return await self._client._do(ops.queue_names())

    async def counts(self) -> list[p.QueueCounts]:
        return await self._client._do(p.all_queue_counts())
