"""Queues (sync): put, pop, peek, inspect and steer one queue; ``client.queues`` for all."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, overload

from reqless import _protocol as p
from reqless._bulk import PUT, PutManyItem, put_many_args, put_many_jids
from reqless._job import Job
from reqless._wake import wake_argv

if TYPE_CHECKING:
    from reqless._client import Client
    from reqless._throttles import Throttle

__all__ = ["PutManyItem", "Queue", "QueueJobs", "Queues"]


class QueueJobs:
    """The jids of one queue by state; each listing pages with ``offset`` and ``limit``."""

    def __init__(self, client: Client, name: str) -> None:
        self._client = client
        self._name = name

    def _list(self, state: str, offset: int, limit: int) -> list[str]:
        return self._client._run(p.jobs_by_state(self._name, state, offset, limit))

    def running(self, offset: int = 0, limit: int = 25) -> list[str]:
        return self._list("running", offset, limit)

    def stalled(self, offset: int = 0, limit: int = 25) -> list[str]:
        return self._list("stalled", offset, limit)

    def scheduled(self, offset: int = 0, limit: int = 25) -> list[str]:
        return self._list("scheduled", offset, limit)

    def depends(self, offset: int = 0, limit: int = 25) -> list[str]:
        return self._list("depends", offset, limit)

    def throttled(self, offset: int = 0, limit: int = 25) -> list[str]:
        return self._list("throttled", offset, limit)

    def recurring(self, offset: int = 0, limit: int = 25) -> list[str]:
        return self._list("recurring", offset, limit)


class Queue:
    """One queue, addressed by name (it exists on the server once a job was put in it)."""

    def __init__(self, client: Client, name: str) -> None:
        self._client = client
        self.name = p.check_str("queue name", name)
        self.jobs = QueueJobs(client, name)

    def __repr__(self) -> str:
        return f"<Queue {self.name!r}>"

    def put(
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
            return self._client._run(p.put_call(args))
        return self._client._run_waking(p.put_call(args), self.name)

    def put_many(self, jobs: Iterable[PutManyItem]) -> list[str]:
        """Enqueue many jobs in one round trip; returns their jids in order.

        Each item is a :class:`JobSpec`, a mapping of :meth:`put`'s arguments or a
        ``(klass, data)`` pair. Every item is validated before anything is sent;
        then the commands are written in chunks, so the server starts on the
        first jobs while later ones are still being packed.
        """
        args = put_many_args(self._client.worker_name, self.name, jobs)
        then = wake_argv(self.name, len(args)) if self._client.wake_workers and args else None
        return put_many_jids(self._client._script.call_each(PUT, args, then))

    @overload
    def pop(self, count: None = None) -> Job | None: ...
    @overload
    def pop(self, count: int) -> list[Job]: ...
    def pop(self, count: int | None = None) -> Job | list[Job] | None:
        """Take work as this client's worker: one job (or None), or a list of up to ``count``."""
        if count == 0:
            return []
        states = self._client._run(p.pop(self.name, self._client.worker_name, count or 1))
        jobs = [Job(self._client, state) for state in states]
        if count is None:
            return jobs[0] if jobs else None
        return jobs

    @overload
    def peek(self, count: None = None) -> Job | None: ...
    @overload
    def peek(self, count: int) -> list[Job]: ...
    def peek(self, count: int | None = None) -> Job | list[Job] | None:
        """Look at the next job(s) ``pop`` would take, without taking them."""
        if count == 0:
            return []
        states = self._client._run(p.peek(self.name, count or 1))
        jobs = [Job(self._client, state) for state in states]
        if count is None:
            return jobs[0] if jobs else None
        return jobs

    def length(self) -> int:
        """Jobs waiting, scheduled or running (not depends, throttled or recurring)."""
        return int(self._client._run(p.simple("queue.length", self.name)))

    def __len__(self) -> int:
        return self.length()

    @property
    def counts(self) -> p.QueueCounts:
        return self._client._run(p.queue_counts(self.name))

    def pause(self) -> None:
        self._client._run(p.nothing("queue.pause", self.name))

    def unpause(self) -> None:
        self._client._run(p.nothing("queue.unpause", self.name))

    @property
    def paused(self) -> bool:
        return self.counts.paused

    def stats(self, date: float | None = None) -> p.QueueStats:
        """Statistics of the day containing ``date`` (default: today)."""
        return self._client._run(p.stats(self.name, self._client.clock() if date is None else date))

    def recur(
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
        return self._client._run(call)

    @property
    def throttle(self) -> Throttle:
        """The throttle limiting how many of this queue's jobs run at once."""
        return self._client.throttles[f"ql:q:{self.name}"]

    def unfail(self, group: str, count: int = 25) -> int:
        """Move up to ``count`` of the oldest jobs failed in ``group`` into this queue."""
        call = p.simple(
            "queue.unfail",
            self.name,
            p.check_str("group", group),
            p.check_int("count", count, minimum=1),
        )
        return int(self._client._run(call))

    def forget(self) -> None:
        """Drop the name from the list of known queues (its jobs are untouched)."""
        self._client._run(p.nothing("queue.forget", self.name))


class Queues:
    """``client.queues[name]`` and the counts of every known queue."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def __getitem__(self, name: str) -> Queue:
        return Queue(self._client, name)

    def __iter__(self) -> Iterator[Queue]:
        return iter([Queue(self._client, name) for name in self.names])

    @property
    def names(self) -> list[str]:
        return [str(name) for name in self._client._run(p.json_list("queues.names"))]

    @property
    def counts(self) -> list[p.QueueCounts]:
        return self._client._run(p.all_queue_counts())
