"""reqless-py's API beside ours on the asyncio client, item by item (see ``test_items``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest

import reqless
import reqless.abstract
import reqless.aio
import reqless.models
from tests.client.compat import processors
from tests.client.compat.processors import SEEN, Size
from tests.client.conftest import Clock, Scenario
from tests.conftest import Server

JOB = "tests.client.compat.processors.ByTypeArgument"


async def _job(client: reqless.aio.Client, jid: str) -> reqless.aio.Job:
    job = await client.jobs[jid]
    assert isinstance(job, reqless.aio.Job)
    return job


def test_results_read_as_mappings(run: Callable[[Scenario], None]) -> None:
    async def scenario(client: reqless.aio.Client) -> None:
        queue = client.queues["q"]
        jid = await queue.put(JOB, {}, tags=["t"])
        assert (await queue.counts())["waiting"] == 1
        assert (await client.queues.counts())[0]["name"] == "q"
        assert (await queue.stats())["wait"]["count"] == 0
        assert await client.jobs.tracked() == {"jobs": [], "expired": {}}
        page = await client.jobs.tagged("t")
        assert list(page) == [jid] and page["total"] == 1 and page["jobs"] == [jid]
        job = await queue.pop()
        assert job is not None
        assert (await client.workers.counts())[0]["jobs"] == 1
        assert (await client.workers["worker-a"])["jobs"] == [jid]
        await job.fail("boom", "x")
        failed = await client.jobs.failed("boom")
        assert failed["total"] == 1 and [j.jid for j in failed["jobs"]] == [jid]
        assert isinstance(failed["jobs"][0], reqless.aio.Job)
        failure = (await _job(client, jid)).failure
        assert failure is not None and failure["group"] == "boom"

    run(scenario)


def test_events_on_gives_the_payload(run: Callable[[Scenario], None]) -> None:
    async def scenario(client: reqless.aio.Client) -> None:
        jids: list[str] = []
        events: list[reqless.Event] = []

        async def on_put(jid: str) -> None:
            jids.append(jid)

        def on_event(event: reqless.Event) -> None:
            events.append(event)
            client.events.stop()

        client.events.on("put", on_put)
        client.events.on_event("put", on_event)
        async with client.events as listening:
            jid = await client.queues["q"].put(JOB, {})
            await client.track(jid)
            await client.queues["q"].put(JOB, {}, jid=jid)
            await listening.listen(timeout=5)
        assert jids == [jid] and [(e.name, e.jid) for e in events] == [("put", jid)]
        assert client.events.off("put", on_put) is on_put
        with pytest.raises(NotImplementedError):
            client.events.on("finished", print)

    run(scenario)


def test_names(run: Callable[[Scenario], None], clock: Clock) -> None:
    async def scenario(client: reqless.aio.Client) -> None:
        assert await client.database.ping() is True
        assert isinstance(client, reqless.abstract.AbstractClient)
        queue = client.queues["q"]
        jid = await queue.put(JOB, {}, retries=3)
        assert await client.track(jid) is True
        assert await client.untrack(jid) is True
        job = await queue.pop()
        assert job is not None and isinstance(job, reqless.abstract.AbstractJob)
        assert repr(job) == f"<reqless.aio.Job {jid}>"
        await job.fail("boom", "x")
        assert await client.unfail("boom", "again", 10) == 1
        again = await _job(client, jid)
        assert (again.queue_name, again.original_retries, again.retries_left) == ("again", 3, 3)
        assert await queue.heartbeat() == 60
        await queue.set_heartbeat(15)
        assert await queue.heartbeat() == 15 and await client.config.get("q-heartbeat") == 15
        assert await client.queues["next"].requeue(JOB, {"n": 1}, jid=jid) == jid
        assert (await _job(client, jid)).payload == {"n": 1}
        rjid = await queue.recur(JOB, {}, 60, offset=5)
        recurring = await client.jobs[rjid]
        assert isinstance(recurring, reqless.aio.RecurringJob)
        assert await recurring.next() == clock.now + 5
        throttle = client.throttles["t"]
        await throttle.set_maximum(4)
        assert await throttle.maximum() == 4
        await throttle.set_maximum(None)
        assert await throttle.maximum() == 0
        patterns = client.queue_patterns
        await patterns.set_queue_identifier_patterns({"b": ["b-*"]})
        assert (await patterns.get_queue_identifier_patterns())["b"] == ["b-*"]
        await patterns.set_queue_priority_patterns([reqless.models.QueuePriorityPattern(["x"])])
        assert (await patterns.get_queue_priority_patterns())[0].patterns == ["x"]

    run(scenario)


def test_hostname_names_the_worker(server: Server, driver_name: str) -> None:
    async def main() -> None:
        async with reqless.aio.Client(server.url, driver=driver_name, hostname="box") as client:
            assert client.worker_name == "box"

    asyncio.run(main())


def test_config_is_decoded(run: Callable[[Scenario], None]) -> None:
    async def scenario(client: reqless.aio.Client) -> None:
        assert await client.config.get("heartbeat") == 60
        assert await client.config.get("nope") is None
        await client.config.set("ratio", 0.25)
        assert (await client.config.all())["ratio"] == "0.25"

    run(scenario)


def test_processors_and_retry(run: Callable[[Scenario], None]) -> None:
    async def scenario(client: reqless.aio.Client) -> None:
        SEEN.clear()
        queue = client.queues["q"]
        sync_jid = await queue.put("tests.client.compat.processors.Returning", Size(1, 2))
        async_jid = await queue.put("tests.client.compat.processors.AsyncProcessor", Size(3, 4))
        for job in await queue.pop(2):
            await job.process()
        assert sorted(SEEN, key=lambda entry: entry[0]) == [
            ("async", async_jid, Size(3, 4)), ("process", sync_jid, Size(1, 2)),
        ]  # fmt: skip
        flaky = await client.queues["aprocess"].put(
            "tests.client.compat.processors.Flaky", {}, retries=2
        )
        flaky_job = await client.queues["aprocess"].pop()
        assert flaky_job is not None
        await flaky_job.process()
        retried = await _job(client, flaky)
        assert (retried.state, retried.retries_left) == ("waiting", 1)
        assert processors.Flaky.aprocess.__name__ == "aprocess"
        assert json.loads((await _job(client, sync_jid)).data) == {"width": 1, "height": 2}

    run(scenario)


def test_queue_specs_resolve_as_the_original(run: Callable[[Scenario], None]) -> None:
    async def scenario(client: reqless.aio.Client) -> None:
        for name in ("batch-1", "urgent", "batch-2"):
            await client.queues[name].put(JOB, {})
        await client.queue_patterns.set_identifiers({"batch": ["batch-*"]})
        resolve = client.queue_patterns.resolve
        assert await resolve("*", "!@batch") == ["urgent"]
        assert await resolve("urgent", "batch-*", "new") == ["urgent", "batch-1", "batch-2", "new"]

    run(scenario)


def test_now_rounds_down(run: Callable[[Scenario], None], clock: Clock) -> None:
    async def scenario(client: reqless.aio.Client) -> None:
        clock.now = 1700000000.9996
        jid = await client.queues["q"].put(JOB, {})
        job = await client.queues["q"].pop()
        assert job is not None and job.expires_at == 1700000060.999 and job.ttl <= 60
        assert (await _job(client, jid)).history[0]["when"] == 1700000000

    run(scenario)
