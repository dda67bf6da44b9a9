"""``reqless.aio.PopWaiter``: the waiting pop from an asyncio loop.

It shares its steps with the synchronous waiter (tests/client/test_pop_waiter.py
covers their every branch); here: that a put wakes it with the job in hand, on
both servers, both drivers and both forms of the core; that the loop stays free
while it waits; interrupts from another thread; cancellation; a put into a
``wake_on`` queue; the synchronous client's jobs; bad arguments. Timeouts here
are hang guards only.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
import redis

import reqless
import reqless.aio
from tests.conftest import Server

KLASS = "tests.client.api.jobs_for_tests.Plain"
LONG = 60.0
GUARD = 20.0

T = TypeVar("T")


@pytest.fixture
def putter(
    server: Server, driver_name: str, form: str, admin: redis.Redis
) -> Iterator[reqless.Client]:
    # After ``admin`` (which flushes the server's scripts): a put that finds the core
    # missing sends its wake-up twice, and the first wakes waiters before the job is in.
    client = reqless.Client(
        server.url,
        driver=driver_name,
        form=form,  # type: ignore[arg-type]
        worker_name="putter",
    )
    client.queues["q"].length()  # the core loaded before anyone waits
    yield client
    client.close()


def blocked(admin: redis.Redis) -> int:
    return sum(1 for c in admin.client_list() if c["cmd"] == "bzpopmin" and "b" in c["flags"])


async def wait_blocked(admin: redis.Redis, count: int = 1) -> None:
    deadline = time.monotonic() + GUARD
    while await asyncio.to_thread(blocked, admin) < count:
        assert time.monotonic() < deadline, "the waiter never blocked on the server"
        await asyncio.sleep(0.005)


def run(
    server: Server,
    driver_name: str,
    form: str,
    scenario: Callable[[reqless.aio.Client], Awaitable[T]],
) -> T:
    async def main() -> T:
        client = reqless.aio.Client(
            server.url,
            driver=driver_name,
            form=form,  # type: ignore[arg-type]
            worker_name="waiter",
        )
        try:
            return await asyncio.wait_for(scenario(client), GUARD)
        finally:
            await client.aclose()

    return asyncio.run(main())


def test_a_put_wakes_the_waiting_pop_while_the_loop_runs_other_tasks(
    server: Server, driver_name: str, form: str, putter: reqless.Client, admin: redis.Redis
) -> None:
    async def scenario(client: reqless.aio.Client) -> tuple[Any, str, int]:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)

        ticker = asyncio.create_task(tick())
        async with reqless.aio.PopWaiter(client, "q") as waiter:
            popping = asyncio.create_task(waiter.pop(1, LONG))
            await wait_blocked(admin)
            before = ticks
            jid = await asyncio.to_thread(putter.queues["q"].put, KLASS, {"n": 1})
            [job] = await popping
            woken_by = waiter.woken_by
        ticker.cancel()
        assert ticks > before or before > 0  # the loop ran the ticker during the wait
        assert isinstance(job, reqless.aio.Job)
        assert (job.jid, job.payload, job.worker_name) == (jid, {"n": 1}, "waiter")
        return job, woken_by or "", ticks

    job, woken_by, ticks = run(server, driver_name, form, scenario)
    assert woken_by == "q"
    assert ticks > 1
    stored = putter.jobs[job.jid]
    assert isinstance(stored, reqless.Job)
    assert (stored.state, stored.worker_name) == ("running", "waiter")
    history = stored.history
    assert [entry["what"] for entry in history] == ["put", "popped"]


def test_a_timeout_ends_with_the_poll_that_finds_unannounced_jobs(
    server: Server, driver_name: str, form: str, putter: reqless.Client
) -> None:
    quiet = reqless.Client(server.url, driver=driver_name, wake_workers=False)

    async def scenario(client: reqless.aio.Client) -> tuple[list[Any], list[Any], str | None]:
        async with reqless.aio.PopWaiter(client, "q") as waiter:
            empty = await waiter.pop(1, 0.05)
            jid = quiet.queues["q"].put(KLASS, {})
            found = await waiter.pop(1, 0.05)
            assert [job.jid for job in found] == [jid]
            return empty, found, waiter.woken_by

    try:
        empty, found, woken_by = run(server, driver_name, form, scenario)
    finally:
        quiet.close()
    assert empty == []
    assert len(found) == 1
    assert woken_by is None


def test_an_interrupt_from_another_thread_ends_the_wait_at_once(
    server: Server, driver_name: str, form: str, admin: redis.Redis
) -> None:
    async def scenario(client: reqless.aio.Client) -> tuple[list[Any], float]:
        async with reqless.aio.PopWaiter(client, "q") as waiter:
            popping = asyncio.create_task(waiter.pop(1, LONG))
            await wait_blocked(admin)
            started = time.monotonic()
            threading.Thread(target=waiter.interrupt).start()
            jobs = await popping
            took = time.monotonic() - started
            # The server's side of the wait ended too: nobody is left blocked.
            await asyncio.sleep(0.05)
            assert await asyncio.to_thread(blocked, admin) == 0
            # The waiter still works afterwards.
            assert await waiter.pop(1, 0.01) == []
            return jobs, took

    jobs, took = run(server, driver_name, form, scenario)
    assert jobs == []
    assert took < LONG / 2


def test_an_interrupt_before_the_pop_ends_the_next_one(
    server: Server, driver_name: str, form: str
) -> None:
    async def scenario(client: reqless.aio.Client) -> list[Any]:
        async with reqless.aio.PopWaiter(client, "q") as waiter:
            waiter.interrupt()
            return await waiter.pop(1, LONG)

    assert run(server, driver_name, form, scenario) == []


def test_a_cancelled_pop_closes_its_connection_and_the_next_pop_works(
    server: Server, driver_name: str, form: str, putter: reqless.Client, admin: redis.Redis
) -> None:
    async def scenario(client: reqless.aio.Client) -> str:
        async with reqless.aio.PopWaiter(client, "q") as waiter:
            popping = asyncio.create_task(waiter.pop(1, LONG))
            await wait_blocked(admin)
            popping.cancel()
            with pytest.raises(asyncio.CancelledError):
                await popping
            deadline = time.monotonic() + GUARD
            while await asyncio.to_thread(blocked, admin):
                assert time.monotonic() < deadline, "the cancelled wait stayed on the server"
                await asyncio.sleep(0.01)
            popping = asyncio.create_task(waiter.pop(1, LONG))
            await wait_blocked(admin)
            jid = await asyncio.to_thread(putter.queues["q"].put, KLASS, {})
            [job] = await popping
            assert job.jid == jid
            return jid

    jid = run(server, driver_name, form, scenario)
    job = putter.jobs[jid]
    assert isinstance(job, reqless.Job)
    assert (job.state, job.worker_name) == ("running", "waiter")


def test_a_put_into_a_wake_on_queue_hands_that_job_over(
    server: Server, driver_name: str, form: str, putter: reqless.Client, admin: redis.Redis
) -> None:
    async def scenario(client: reqless.aio.Client) -> tuple[list[str], str | None, str]:
        async with reqless.aio.PopWaiter(client, "q", wake_on=["other"]) as waiter:
            popping = asyncio.create_task(waiter.pop(2, LONG))
            await wait_blocked(admin)
            jid = await asyncio.to_thread(putter.queues["other"].put, KLASS, {})
            jobs = await popping
            return [job.jid for job in jobs], waiter.woken_by, jid

    jids, woken_by, jid = run(server, driver_name, form, scenario)
    assert (jids, woken_by) == ([jid], "other")


class WorkerishJob(reqless.Job):
    """A synchronous job class, as a worker running jobs in threads has."""


def test_with_a_synchronous_client_the_jobs_are_synchronous_ones(
    server: Server, driver_name: str, form: str, putter: reqless.Client, admin: redis.Redis
) -> None:
    sync = reqless.Client(server.url, driver=driver_name, form=form, worker_name="w")  # type: ignore[arg-type]

    async def scenario() -> Any:
        async with reqless.aio.PopWaiter(sync, "q", job_class=WorkerishJob) as waiter:
            popping = asyncio.create_task(waiter.pop(1, LONG))
            await wait_blocked(admin)
            await asyncio.to_thread(putter.queues["q"].put, KLASS, {"n": 2})
            [job] = await asyncio.wait_for(popping, GUARD)
            return job

    try:
        job = asyncio.run(scenario())
        assert type(job) is WorkerishJob
        assert (job.payload, job.worker_name) == ({"n": 2}, "w")
        job.complete()  # a synchronous call on the synchronous client
        assert putter.jobs[job.jid].state == "complete"  # type: ignore[union-attr]
    finally:
        sync.close()


def test_bad_arguments_are_refused_naming_the_bad_value(
    server: Server, driver_name: str, form: str
) -> None:
    async def scenario(client: reqless.aio.Client) -> None:
        with pytest.raises(reqless.InvalidArgumentError, match="not 'nope'"):
            reqless.aio.PopWaiter("nope", "q")  # type: ignore[arg-type]
        with pytest.raises(reqless.InvalidArgumentError, match="WorkerishJob"):
            reqless.aio.PopWaiter(client, "q", job_class=WorkerishJob)
        async with reqless.aio.PopWaiter(client, "q") as waiter:
            with pytest.raises(reqless.InvalidArgumentError, match="-1"):
                await waiter.pop(1, -1)
            with pytest.raises(reqless.InvalidArgumentError, match="count"):
                await waiter.pop(-1, 1)

    run(server, driver_name, form, scenario)
