"""The asyncio client, ``reqless.aio.Client``, and its small helpers.

Same API as :class:`reqless.Client`; a property that reads the server becomes
a coroutine method of the same name (``await queue.counts()``), a setter that
writes it becomes ``await x.set_<name>(value)``, and ``client.jobs[jid]`` /
``client.workers[name]`` are awaited.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar, overload

from reqless import _protocol as p
from reqless._client import default_worker_name, execute_results, run_many
from reqless._config import config_value
from reqless._patterns import order_queues, resolve_queues
from reqless._script import AsyncCoreScript
from reqless._settings import ClientSettings
from reqless._wake import wake_argv
from reqless.aio._events import Events
from reqless.aio._job import Job, RecurringJob
from reqless.aio._queue import Queues
from reqless.drivers import AsyncDriver, connect_async

__all__ = ["Client", "Config", "Jobs", "QueuePatterns", "Tags", "Throttle", "Throttles", "Workers"]

T = TypeVar("T")
Form = Literal["auto", "function", "eval"]


class Jobs:
    def __init__(self, client: Client) -> None:
        self._client = client

    def __getitem__(self, jid: str) -> Awaitable[Job | RecurringJob | None]:
        """``await client.jobs[jid]``: the job or recurring job, or None."""
        return self._find(jid)

    async def _find(self, jid: str) -> Job | RecurringJob | None:
        job, recurring = await self._client._run_many(
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

    async def get(self, *jids: str) -> list[Job]:
        if not jids:
            return []
        states = await self._client._run(p.Call("job.getMulti", jids, p.parse_jobs))
        return [Job(self._client, state) for state in states]

    async def tagged(self, tag: str, offset: int = 0, limit: int = 25) -> p.JidPage:
        return await self._client._run(
            p.page(
                "jobs.tagged",
                p.check_str("tag", tag),
                p.check_int("offset", offset, minimum=0),
                p.check_int("limit", limit, minimum=0),
            )
        )

    async def tracked(self) -> p.TrackedJobs[Job]:
        """Tracked jobs that still exist, and the jids of tracked jobs that are gone."""
        found = await self._client._run(p.tracked())
        return p.TrackedJobs([Job(self._client, state) for state in found.jobs], found.expired)

    @overload
    async def failed(
        self, group: None = None, start: int = 0, limit: int = 25
    ) -> dict[str, int]: ...
    @overload
    async def failed(self, group: str, start: int = 0, limit: int = 25) -> p.JidPage: ...
    async def failed(
        self, group: str | None = None, start: int = 0, limit: int = 25
    ) -> dict[str, int] | p.JidPage:
        if group is None:
            return await self._client._run(p.failure_counts())
        return await self._client._run(
            p.page(
                "jobs.failedByGroup",
                p.check_str("group", group),
                p.check_int("start", start, minimum=0),
                p.check_int("limit", limit, minimum=0),
            )
        )

    async def complete(self, offset: int = 0, limit: int = 25) -> list[str]:
        return await self._client._run(p.listing("jobs.completed", offset, limit))


class Config:
    """The core's options; values are strings. ``unset`` restores an option's default."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def get(self, key: str, default: str | None = None) -> str | None:
        value = await self._client._run(p.simple("config.get", p.check_str("key", key)))
        return default if value is None else str(value)

    async def set(self, key: str, value: str | int | float) -> None:
        await self._client._run(
            p.nothing("config.set", p.check_str("key", key), config_value(value))
        )

    async def unset(self, key: str) -> None:
        await self._client._run(p.nothing("config.unset", p.check_str("key", key)))

    async def all(self) -> dict[str, str]:
        return await self._client._run(p.config_all())

    async def clear(self) -> None:
        keys = list(await self.all())
        await self._client._run_many([p.nothing("config.unset", key) for key in keys])


class Workers:
    def __init__(self, client: Client) -> None:
        self._client = client

    async def counts(self) -> list[p.WorkerCounts]:
        return await self._client._run(p.worker_counts())

    def __getitem__(self, worker: str) -> Awaitable[p.WorkerJobs]:
        return self._client._run(p.worker_jobs(worker))

    async def forget(self, *workers: str) -> None:
        if workers:
            await self._client._run(
                p.nothing("worker.forget", *p.check_strings("workers", workers))
            )


class Tags:
    def __init__(self, client: Client) -> None:
        self._client = client

    async def top(self, offset: int = 0, limit: int = 25) -> list[str]:
        return await self._client._run(p.listing("tags.top", offset, limit))


class Throttle:
    def __init__(self, client: Client, name: str) -> None:
        self._client = client
        self.name = p.check_str("throttle name", name)

    async def info(self) -> p.ThrottleInfo:
        return await self._client._run(p.throttle_info(self.name))

    async def maximum(self) -> int:
        return (await self.info()).maximum

    async def set_maximum(self, maximum: int, expiration: int = 0) -> None:
        await self._client._run(p.throttle_set(self.name, maximum, expiration))

    async def ttl(self) -> int:
        return (await self.info()).ttl

    async def locks(self) -> list[str]:
        return await self._client._run(p.json_list("throttle.locks", self.name))

    async def pending(self) -> list[str]:
        return await self._client._run(p.json_list("throttle.pending", self.name))

    async def release(self, *jids: str) -> None:
        if jids:
            await self._client._run(
                p.nothing("throttle.release", self.name, *p.check_strings("jids", jids))
            )

    async def delete(self) -> None:
        await self._client._run(p.nothing("throttle.delete", self.name))


class Throttles:
    def __init__(self, client: Client) -> None:
        self._client = client

    def __getitem__(self, name: str) -> Throttle:
        return Throttle(self._client, name)


class QueuePatterns:
    def __init__(self, client: Client) -> None:
        self._client = client

    async def identifiers(self) -> dict[str, list[str]]:
        return await self._client._run(p.identifier_patterns())

    async def set_identifiers(self, patterns: Mapping[str, Sequence[str]]) -> None:
        await self._client._run(p.set_identifier_patterns(patterns))

    async def priorities(self) -> list[p.PriorityPattern]:
        return await self._client._run(p.priority_patterns())

    async def set_priorities(self, patterns: Sequence[p.PriorityPattern]) -> None:
        await self._client._run(p.set_priority_patterns(patterns))

    async def resolve(self, *specs: str) -> list[str]:
        identifiers, priorities, names = await self._client._run_many(
            [p.identifier_patterns(), p.priority_patterns(), p.json_list("queues.names")]
        )
        return order_queues(resolve_queues(specs or ("@default",), identifiers, names), priorities)


class Client:
    """A connection to one reqless server, for asyncio. Close it with ``await aclose()``.

    The arguments are :class:`reqless.Client`'s, ``wake_workers`` included:
    puts wake workers waiting with :class:`reqless.PopWaiter` unless it is
    False (this package has no asyncio waiter yet).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        driver: str | None = None,
        worker_name: str | None = None,
        clock: Callable[[], float] | None = None,
        form: Form = "auto",
        wake_workers: bool = True,
    ) -> None:
        self.settings = ClientSettings.from_url(url, driver)
        self.clock: Callable[[], float] = clock or time.time
        self.worker_name = worker_name or default_worker_name()
        self.wake_workers = wake_workers
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

    @classmethod
    def embedded(
        cls,
        path: str | os.PathLike[str],
        *,
        worker_name: str | None = None,
        clock: Callable[[], float] | None = None,
        form: Form = "auto",
        wake_workers: bool = True,
    ) -> Client:
        url = f"embedded:{Path(path)}"
        return cls(
            url,
            driver="valkey",
            worker_name=worker_name,
            clock=clock,
            form=form,
            wake_workers=wake_workers,
        )

    def __repr__(self) -> str:
        return f"<reqless.aio.Client {self.settings.url} as {self.worker_name!r}>"

    async def _run(self, call: p.Call[T]) -> T:
        return call.parse(await self._script.call(call.command, *call.args))

    async def _run_waking(self, call: p.Call[T], queue: str) -> T:
        """Run a call that makes a job ready in ``queue``, waking one waiting worker."""
        if not self.wake_workers:
            return call.parse(await self._script.call(call.command, *call.args))
        return call.parse(await self._script.call_then(call.command, call.args, wake_argv(queue)))

    async def _run_many(self, calls: Sequence[p.Call[Any]]) -> list[Any]:
        if not calls:
            return []
        results = await self._script.call_many([(call.command, call.args) for call in calls])
        return run_many(results, calls)

    async def execute(
        self,
        *calls: p.Call[Any],
        return_errors: bool = False,
        job_class: type[Job] | None = None,
    ) -> list[Any]:
        """Run ``calls`` in one round trip (see :meth:`reqless.Client.execute`)."""
        if not calls:
            return []
        results = await self._script.call_many([(call.command, call.args) for call in calls])
        return execute_results(self, results, calls, return_errors, job_class or Job, RecurringJob)

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
