"""``reqless.aio``: the same API as coroutines, on the driver's asyncio client."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
import redis

import reqless
import reqless.aio
from tests.client.api.jobs_for_tests import CALLS, AsyncJob, Plain
from tests.client.conftest import Clock, Scenario


def test_put_pop_complete(run: Callable[[Scenario], None]) -> None:
    async def scenario(client: reqless.aio.Client) -> None:
        queue = client.queues["q"]
        jid = await queue.put(Plain, {"n": 1}, priority=0, retries=0)
        counts = await queue.counts()
        assert counts.waiting == 1
        job = await queue.pop()
        assert isinstance(job, reqless.aio.Job)
        assert (job.jid, job.retries, job.payload) == (jid, 0, {"n": 1})
        assert await job.complete() == "complete"
        done = await client.jobs[jid]
        assert done is not None and done.state == "complete"
        assert await queue.pop(0) == []
        assert await client.jobs["missing"] is None

    run(scenario)


def test_put_many_and_bad_input(run: Callable[[Scenario], None], admin: redis.Redis) -> None:
    async def scenario(client: reqless.aio.Client) -> None:
        queue = client.queues["q"]
        with pytest.raises(reqless.InvalidArgumentError):
            await queue.put_many([(Plain, {}), (Plain, {"bad": object()})])
        assert admin.dbsize() == 0
        jids = await queue.put_many([(Plain, {"n": n}) for n in range(5)])
        assert [job.jid for job in await client.jobs.get(*jids)] == jids
        assert await queue.length() == 5

    run(scenario)


def test_job_methods_and_async_process(run: Callable[[Scenario], None], clock: Clock) -> None:
    async def scenario(client: reqless.aio.Client) -> None:
        queue = client.queues["q"]
        jid = await queue.put(AsyncJob, {"a": 1}, tags=["t"])
        job = await queue.pop()
        assert job is not None
        assert await job.tag("u") == ["t", "u"]
        assert await job.heartbeat() == int(clock.now + 60)
        await job.process()
        assert ("async", jid, {"a": 1}) in CALLS
        finished = await client.jobs[jid]
        assert finished is not None and finished.state == "complete"

    run(scenario)


def test_config_workers_throttles_and_tags(run: Callable[[Scenario], None]) -> None:
    async def scenario(client: reqless.aio.Client) -> None:
        assert await client.config.get("heartbeat") == 60
        assert await client.config.get("missing", "") == ""
        await client.config.set("heartbeat", 5)
        assert (await client.config.all())["heartbeat"] == "5"
        await client.config.unset("heartbeat")
        throttle = client.throttles["api"]
        await throttle.set_maximum(2)
        assert await throttle.maximum() == 2
        queue = client.queues["q"]
        await queue.put(Plain, {}, tags=["x"])
        await queue.put(Plain, {}, tags=["x"])
        assert await client.tags.top() == ["x"]
        await queue.pop()
        assert [w.name for w in await client.workers.counts()] == ["worker-a"]
        assert len((await client.workers["worker-a"]).jobs) == 1
        assert await client.queue_patterns.resolve() == ["q"]

    run(scenario)


def test_recurring_jobs(run: Callable[[Scenario], None], clock: Clock) -> None:
    async def scenario(client: reqless.aio.Client) -> None:
        jid = await client.queues["q"].recur(Plain, {}, interval=10)
        recurring = await client.jobs[jid]
        assert isinstance(recurring, reqless.aio.RecurringJob)
        await recurring.update(priority=0, retries=0, interval=20)
        stored = await client.jobs[jid]
        assert isinstance(stored, reqless.aio.RecurringJob)
        assert (stored.priority, stored.retries, stored.interval) == (0, 0, 20)
        # A longer interval postpones the next spawn by the difference (10 s).
        clock.advance(11)
        assert [job.jid for job in await client.queues["q"].pop(5)] == [f"{jid}-1"]

    run(scenario)


def test_events_as_an_async_iterator(run: Callable[[Scenario], None]) -> None:
    async def scenario(client: reqless.aio.Client) -> None:
        got: list[reqless.Event] = []
        async with client.events as events:
            jid = await client.queues["q"].put(Plain, {})
            async for event in events:
                got.append(event)
                events.stop()
        assert [(e.name, e.kind, e.jid) for e in got] == [("log", "put", jid)]

    run(scenario)


def test_listen_returns_at_its_timeout_when_no_event_comes(
    run: Callable[[Scenario], None],
) -> None:
    # The timeout is looked at between polls, not only between events (as the sync
    # listen does): with nothing published, listen() still returns.
    async def scenario(client: reqless.aio.Client) -> None:
        client.events.on("put", lambda jid: None)
        async with client.events as events:
            await asyncio.wait_for(events.listen(timeout=0.2), timeout=30)

    run(scenario)


def test_events_callbacks_with_listen(run: Callable[[Scenario], None]) -> None:
    async def scenario(client: reqless.aio.Client) -> None:
        got: list[reqless.Event] = []

        async def on_put(event: reqless.Event) -> None:
            got.append(event)
            client.events.stop()

        client.events.on_event("log", on_put)
        client.events.off("log")
        client.events.on_event("log", on_put)
        async with client.events as events:
            jid = await client.queues["q"].put(Plain, {})
            await events.listen(timeout=5)
        assert [(e.kind, e.jid) for e in got] == [("put", jid)]

    run(scenario)
