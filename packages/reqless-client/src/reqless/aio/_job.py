"""Jobs and recurring jobs for asyncio: the sync fields, coroutine methods."""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from reqless import _protocol as p
from reqless._job import JobFields, RecurringFields, import_klass

if TYPE_CHECKING:
    from reqless.aio._client import Client
    from reqless.aio._queue import Queue

__all__ = ["Job", "RecurringJob"]


class Job(JobFields):
    """A job, bound to the asyncio client that fetched it."""

    def __init__(self, client: Client, state: p.JobState) -> None:
        self._client = client
        self._state = state

    @property
    def queue(self) -> Queue:
        return self._client.queues[self.queue_name]

    @property
    def priority(self) -> int:
        return self._state.priority

    @property
    def ttl(self) -> float:
        return self._state.expires_at - self._client.clock()

    async def set_priority(self, priority: int) -> None:
        value = p.check_int("priority", priority)
        await self._client._run(p.simple("job.setPriority", self.jid, value))
        self._state.priority = value

    async def complete(
        self,
        next_queue: str | None = None,
        *,
        delay: float | None = None,
        depends: Sequence[str] | None = None,
    ) -> str:
        call = p.complete(
            self._state,
            self._worker(self._client.worker_name),
            next_queue,
            delay=delay,
            depends=depends,
        )
        if next_queue is None or delay or depends:
            return await self._client._run(call)
        return await self._client._run_waking(call, next_queue)

    async def fail(self, group: str, message: str) -> str:
        call = p.fail(self._state, self._worker(self._client.worker_name), group, message)
        return await self._client._run(call)

    async def heartbeat(self) -> float:
        call = p.heartbeat(self._state, self._worker(self._client.worker_name))
        expires: int = await self._client._run(call)
        self._state.expires_at = expires
        return self._state.expires_at

    async def cancel(self) -> list[str]:
        return list(await self._client._run(p.simple("job.cancel", self.jid)))

    async def track(self) -> bool:
        self._state.tracked = True
        return await self._client._run(p.track("job.track", self.jid))

    async def untrack(self) -> bool:
        self._state.tracked = False
        return await self._client._run(p.track("job.untrack", self.jid))

    async def tag(self, *tags: str) -> list[str]:
        names = p.check_strings("tags", tags)
        self._state.tags = await self._client._run(p.tag_list("job.addTag", self.jid, *names))
        return self.tags

    async def untag(self, *tags: str) -> list[str]:
        names = p.check_strings("tags", tags)
        self._state.tags = await self._client._run(p.tag_list("job.removeTag", self.jid, *names))
        return self.tags

    async def depend(self, *jids: str) -> None:
        await self._client._run(
            p.simple("job.addDependency", self.jid, *p.check_strings("jids", jids))
        )

    async def undepend(self, *jids: str, all: bool = False) -> None:
        targets = ["all"] if all else p.check_strings("jids", jids)
        await self._client._run(p.simple("job.removeDependency", self.jid, *targets))

    async def retry(
        self, delay: float = 0, group: str | None = None, message: str | None = None
    ) -> int:
        call = p.retry(self._state, self._worker(self._client.worker_name), delay, group, message)
        return await self._client._run(call)

    async def requeue(
        self,
        queue: str,
        *,
        delay: float = 0,
        priority: int | None = None,
        tags: Sequence[str] | None = None,
        retries: int | None = None,
        depends: Sequence[str] | None = None,
        throttles: Sequence[str] | None = None,
    ) -> str:
        spec = self._requeue_spec(delay, priority, tags, retries, depends, throttles)
        call = p.requeue(self._client.worker_name, queue, spec)
        if delay:
            return await self._client._run(call)
        return await self._client._run_waking(call, queue)

    move = requeue

    async def timeout(self) -> None:
        await self._client._run(p.nothing("job.timeout", self.jid))

    async def log(self, message: str, data: Mapping[str, Any] | None = None) -> None:
        await self._client._run(p.log(self.jid, message, data))

    async def process(self) -> Any:
        """As the sync ``process()``; a coroutine function is awaited."""
        method, group, message = self._process_target()
        if method is None:
            await self.fail(group, message)
            return None
        try:
            result = method(self)
            if inspect.isawaitable(result):
                result = await result
            return result
        except Exception as exc:
            await self.fail(f"{self.queue_name}-{type(exc).__name__}", traceback.format_exc())
            return None


class RecurringJob(RecurringFields):
    """A recurring-job template; change it with ``await update(...)``."""

    def __init__(self, client: Client, state: p.RecurringState) -> None:
        self._client = client
        self._state = state

    @property
    def queue(self) -> Queue:
        return self._client.queues[self.queue_name]

    @property
    def klass(self) -> type:
        return import_klass(self._state.klass_name)

    @property
    def data(self) -> str:
        return self._state.data

    @property
    def priority(self) -> int:
        return self._state.priority

    @property
    def retries(self) -> int:
        return self._state.retries

    @property
    def interval(self) -> float:
        return self._state.interval

    @property
    def backlog(self) -> int:
        return self._state.backlog

    async def update(self, **changes: Any) -> None:
        """Change any of ``priority``, ``retries``, ``interval``, ``data``, ``klass``, ``backlog``,
        ``queue``, ``throttles`` in one call."""
        known = {
            "priority",
            "retries",
            "interval",
            "data",
            "klass",
            "backlog",
            "queue",
            "throttles",
        }
        unknown = set(changes) - known
        if unknown:
            raise TypeError(f"update() got unexpected keyword arguments {sorted(unknown)}")
        if changes:
            await self._client._run(p.recurring_update(self.jid, **changes))
            self._apply(changes)

    async def tag(self, *tags: str) -> list[str]:
        names = p.check_strings("tags", tags)
        self._state.tags = await self._client._run(
            p.tag_list("recurringJob.addTag", self.jid, *names)
        )
        return self.tags

    async def untag(self, *tags: str) -> list[str]:
        names = p.check_strings("tags", tags)
        self._state.tags = await self._client._run(
            p.tag_list("recurringJob.removeTag", self.jid, *names)
        )
        return self.tags

    async def move(self, queue: str) -> None:
        await self.update(queue=queue)

    requeue = move

    async def cancel(self) -> None:
        await self._client._run(p.nothing("recurringJob.cancel", self.jid))
