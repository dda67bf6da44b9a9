"""The README's quick start, step by step, as a user would type it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import reqless
from tests.client.api.jobs_for_tests import CALLS, Plain
from tests.client.conftest import Clock
from tests.conftest import Server


def test_quick_start(server: Server, driver_name: str, clock: Clock) -> None:
    # Producer: enqueue by class or by dotted path.
    with reqless.Client(server.url, driver=driver_name, clock=clock) as client:
        queue = client.queues["example"]
        jid = queue.put(Plain, {"to": "world"}, priority=10, tags=["greeting"])
        queue.put("tests.client.api.jobs_for_tests.Plain", {"to": "you"}, delay=60)
        jids = queue.put_many([(Plain, {"n": n}) for n in range(3)])
        assert queue.counts.waiting == 4 and queue.counts.scheduled == 1

        # Inspect.
        job = client.jobs[jid]
        assert isinstance(job, reqless.Job)
        assert (job.state, job.tags, job.priority) == ("waiting", ["greeting"], 10)

        # Worker: pop, run, finish.
        CALLS.clear()
        popped = queue.pop()
        assert popped is not None and popped.jid == jid
        popped.process()
        assert [("process", jid, {"to": "world"})] == CALLS
        assert client.jobs.complete() == [jid]
        for job in queue.pop(10):
            job.complete()
        assert sorted(client.jobs.complete(limit=10)) == sorted([jid, *jids])


def test_an_asyncio_consumer_waits_for_jobs_with_the_asyncio_pop_waiter(
    server: Server, driver_name: str
) -> None:
    handled: list[str] = []

    async def handle(job: reqless.aio.Job) -> None:
        handled.append(job.jid)

    async def consume() -> None:
        async with (
            reqless.aio.Client(server.url, driver=driver_name) as client,
            reqless.aio.PopWaiter(client, "example") as waiter,
        ):
            while len(handled) < 2:
                for job in await waiter.pop(10, timeout=5):
                    await handle(job)
                    await job.complete()

    async def main() -> None:
        consumer = asyncio.create_task(consume())
        await asyncio.sleep(0.2)  # the consumer now waits on the server for a put
        with reqless.Client(server.url, driver=driver_name) as producer:
            jids.extend(producer.queues["example"].put_many([(Plain, {})] * 2))
        await asyncio.wait_for(consumer, 10)

    jids: list[str] = []
    asyncio.run(main())
    assert sorted(handled) == sorted(jids)
    with reqless.Client(server.url, driver=driver_name) as client:
        assert sorted(client.jobs.complete()) == sorted(jids)


def test_the_eval_form_serves_the_same_api(server: Server, driver_name: str) -> None:
    with reqless.Client(server.url, driver=driver_name, form="eval") as client:
        jid = client.queues["q"].put(Plain, {})
        job = client.queues["q"].pop()
        assert job is not None and job.jid == jid
        assert job.complete() == "complete"


def test_an_embedded_server_is_shared_by_clients(tmp_path: Path) -> None:
    from reqless._embedded import stop_embedded

    try:
        with reqless.Client.embedded(tmp_path / "dev") as producer:
            jid = producer.queues["q"].put(Plain, {})
        with reqless.Client.embedded(tmp_path / "dev") as worker:
            job = worker.queues["q"].pop()
            assert job is not None and job.jid == jid
    finally:
        stop_embedded(tmp_path / "dev")
