"""Jobs and recurring jobs for asyncio: the sync fields, coroutine methods.

Each method hands the operation of :mod:`reqless._ops` that its sync twin
runs to the asyncio client.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from reqless import _ops as ops
from reqless import _protocol as p
from reqless._job import BoundJob, RecurringFields

if TYPE_CHECKING:
    from reqless.aio._client import Client
    from reqless.aio._queue import Queue

__all__ = ["Job", "RecurringJob"]


class Job(BoundJob["Client"]):
    """A job, bound to the asyncio client that fetched it."""

    _REPR_NAME = "reqless.aio.Job"

    @property
    def queue(self) -> Queue:
        return self._client.queues[self.queue_name]

    @property
    def priority(self) -> int:
        return self._state.priority

    async def set_priority(self, priority: int) -> None:
        await self._client._do(ops.set_priority(self, priority))

    async def complete(
        self,
        next_queue: str | None = None,
        *,
        delay: float | None = None,
        depends: Sequence[str] | None = None,
    ) -> str:
        """Finish the job, or move it on to ``next_queue``; returns its new state.

        Moved on with no delay and no dependencies, it wakes a worker waiting on
        ``next_queue``, as a put does."""
        return await self._client._do(ops.complete(self._client, self, next_queue, delay, depends))

    async def fail(self, group: str, message: str) -> str:
        return await self._client._do(ops.fail(self._client, self, group, message))

    async def heartbeat(self) -> float:
        """Renew the lock; returns the new expiry time."""
        return await self._client._do(ops.heartbeat(self._client, self))

    async def cancel(self) -> list[str]:
        return await self._client._do(ops.cancel(self.jid))

    async def track(self) -> bool:
        return await self._client._do(ops.track(self, True))

    async def untrack(self) -> bool:
        return await self._client._do(ops.track(self, False))

    async def tag(self, *tags: str) -> list[str]:
        return await self._client._do(ops.retag(self, "job.addTag", tags))

    async def untag(self, *tags: str) -> list[str]:
        return await self._client._do(ops.retag(self, "job.removeTag", tags))

    async def depend(self, *jids: str) -> None:
        await self._client._do(ops.depend(self.jid, jids))

    async def undepend(self, *jids: str, all: bool = False) -> None:
        await self._client._do(ops.undepend(self.jid, jids, all))

    async def retry(
        self, delay: float = 0, group: str | None = None, message: str | None = None
    ) -> int:
        """Put the job back to be tried again; returns the retries left (-1: it failed)."""
        return await self._client._do(ops.retry(self._client, self, delay, group, message))

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
        """Move the job to ``queue`` whatever its state; a worker running it loses its lock."""
        return await self._client._do(
            ops.requeue(
                self._client, self, queue, delay, priority, tags, retries, depends, throttles
            )
        )

    move = requeue

    async def timeout(self) -> None:
        await self._client._do(p.no_reply("job.timeout", self.jid))

    async def log(self, message: str, data: Mapping[str, Any] | None = None) -> None:
        await self._client._do(p.log(self.jid, message, data))

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
    """A recurring-job template; change it with ``await update(...)`` or ``await set_<field>()``."""

    def __init__(self, client: Client, state: p.RecurringState) -> None:
        self._client = client
        self._state = state

    async def update(self, **changes: Any) -> None:
        """Change any of ``priority``, ``retries``, ``interval``, ``data``, ``klass``, ``backlog``,
        ``queue``, ``throttles`` in one call."""
        await self._client._do(ops.update_recurring(self, changes))

    @property
    def queue(self) -> Queue:
        return self._client.queues[self.queue_name]

    async def set_klass(self, value: p.KlassArg) -> None:
        await self.update(klass=value)

    async def set_data(self, value: Any) -> None:
        await self.update(data=value)

    async def set_priority(self, value: int) -> None:
        await self.update(priority=value)

    async def set_retries(self, value: int) -> None:
        await self.update(retries=value)

    async def set_interval(self, value: float) -> None:
        await self.update(interval=value)

    async def set_backlog(self, value: int) -> None:
        await self.update(backlog=value)

    async def tag(self, *tags: str) -> list[str]:
        return await self._client._do(ops.retag(self, "recurringJob.addTag", tags))

    async def untag(self, *tags: str) -> list[str]:
        return await self._client._do(ops.retag(self, "recurringJob.removeTag", tags))

    async def move(self, queue: str) -> None:
        await self.update(queue=queue)

    requeue = move

    async def next(self) -> float | None:
        """When the next job spawns (see :attr:`reqless.RecurringJob.next`)."""
        return await self._client._do(ops.recurring_next(self))

    async def cancel(self) -> None:
        await self._client._do(p.no_reply("recurringJob.cancel", self.jid))
