"""Queues for asyncio: the sync API as coroutines (``counts()`` and ``paused()`` are calls)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, overload

from reqless import _protocol as p
from reqless._bulk import PUT, PutManyItem, put_many_args, put_many_jids
from reqless._wake import wake_argv
from reqless.aio._job import Job

if TYPE_CHECKING:
    from reqless.aio._client import Client, Throttle

__all__ = ["Queue", "QueueJobs", "Queues"]


class QueueJobs:
    def __init__(self, client: Client, name: str) -> None:
        self._client = client
        self._name = name

    async def _list(self, state: str, offset: int, limit: int) -> list[str]:
        return await self._client._run(p.jobs_by_state(self._name, state, offset, limit))

    async def running(self, offset: int = 0, limit: int = 25) -> list[str]:
        return await self._list("running", offset, limit)

    async def stalled(self, offset: int = 0, limit: int = 25) -> list[str]:
        return await self._list("stalled", offset, limit)

    async def scheduled(self, offset: int = 0, limit: int = 25) -> list[str]:
        return await self._list("scheduled", offset, limit)

    async def depends(self, offset: int = 0, limit: int = 25) -> list[str]:
        return await self._list("depends", offset, limit)

    async def throttled(self, offset: int = 0, limit: int = 25) -> list[str]:
        return await self._list("throttled", offset, limit)

    async def recurring(self, offset: int = 0, limit: int = 25) -> list[str]:
        return await self._list("recurring", offset, limit)


class Queue:
    def __init__(self, client: Client, name: str) -> None:
        self._client = client
        self.name = p.check_str("queue name", name)
        self.jobs = QueueJobs(client, name)

    def __repr__(self) -> str:
        return f"<aio.Queue {self.name!r}>"

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
        args = p.put_args(
            self._client.worker_name,
            self.name,
            klass,
            data,
            priority,
            tags,
            delay,
            retries,
            jid,
            depends,
            throttles,
        )
        if delay:
            # Nobody can take a scheduled job yet: waking a worker would waste its pop.
            return await self._client._run(p.put_call(args))
        return await self._client._run_waking(p.put_call(args), self.name)

    async def put_many(self, jobs: Iterable[PutManyItem]) -> list[str]:
        args = put_many_args(self._client.worker_name, self.name, jobs)
        then = wake_argv(self.name, len(args)) if self._client.wake_workers and args else None
        return put_many_jids(await self._client._script.call_each(PUT, args, then))

    @overload
    async def pop(self, count: None = None) -> Job | None: ...
    @overload
    async def pop(self, count: int) -> list[Job]: ...
    async def pop(self, count: int | None = None) -> Job | list[Job] | None:
        if count == 0:
            return []
        states = await self._client._run(p.pop(self.name, self._client.worker_name, count or 1))
        jobs = [Job(self._client, state) for state in states]
        if count is None:
            return jobs[0] if jobs else None
        return jobs

    @overload
    async def peek(self, count: None = None) -> Job | None: ...
    @overload
    async def peek(self, count: int) -> list[Job]: ...
    async def peek(self, count: int | None = None) -> Job | list[Job] | None:
        if count == 0:
            return []
        states = await self._client._run(p.peek(self.name, count or 1))
        jobs = [Job(self._client, state) for state in states]
        if count is None:
            return jobs[0] if jobs else None
        return jobs

    async def length(self) -> int:
        return int(await self._client._run(p.simple("queue.length", self.name)))

    async def counts(self) -> p.QueueCounts:
        return await self._client._run(p.queue_counts(self.name))

    async def pause(self) -> None:
        await self._client._run(p.nothing("queue.pause", self.name))

    async def unpause(self) -> None:
        await self._client._run(p.nothing("queue.unpause", self.name))

    async def paused(self) -> bool:
        return (await self.counts()).paused

    async def stats(self, date: float | None = None) -> p.QueueStats:
        when = self._client.clock() if date is None else date
        return await self._client._run(p.stats(self.name, when))

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
        call = p.recur(
            self.name,
            klass,
            data,
            interval,
            offset,
            priority=priority,
            tags=tags,
            retries=retries,
            backlog=backlog,
            throttles=throttles,
            jid=jid,
        )
        return await self._client._run(call)

    @property
    def throttle(self) -> Throttle:
        return self._client.throttles[f"ql:q:{self.name}"]

    async def unfail(self, group: str, count: int = 25) -> int:
        call = p.simple(
            "queue.unfail",
            self.name,
            p.check_str("group", group),
            p.check_int("count", count, minimum=1),
        )
        return int(await self._client._run(call))

    async def forget(self) -> None:
        await self._client._run(p.nothing("queue.forget", self.name))


class Queues:
    def __init__(self, client: Client) -> None:
        self._client = client

    def __getitem__(self, name: str) -> Queue:
        return Queue(self._client, name)

    async def names(self) -> list[str]:
        return [str(name) for name in await self._client._run(p.json_list("queues.names"))]

    async def counts(self) -> list[p.QueueCounts]:
        return await self._client._run(p.all_queue_counts())
