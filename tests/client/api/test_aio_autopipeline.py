"""``reqless.aio``: concurrent calls on one client share round trips (auto-pipelining).

Calls issued while a round trip is in flight go out together in the next one;
each caller still gets its own reply, or its own typed error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis

import reqless
import reqless.aio
from tests.client.api.jobs_for_tests import Plain
from tests.conftest import Server

Scenario = Callable[[reqless.aio.Client], Awaitable[Any]]


@pytest.fixture
def run(server: Server, driver_name: str) -> Callable[[Scenario], Any]:
    """Run a scenario with a fresh asyncio client in a fresh event loop; its result."""

    def runner(scenario: Scenario) -> Any:
        async def main() -> Any:
            async with reqless.aio.Client(
                server.url, driver=driver_name, worker_name="worker-a"
            ) as client:
                return await scenario(client)

        return asyncio.run(main())

    return runner


def _round_trips(client: reqless.aio.Client) -> int:
    count: int = getattr(client._driver, "_auto").round_trips  # noqa: B009 - internal counter
    return count


def test_concurrent_puts_each_get_their_own_jid_in_fewer_round_trips(
    run: Callable[[Scenario], Any], admin: redis.Redis
) -> None:
    async def scenario(client: reqless.aio.Client) -> tuple[list[str], int]:
        queue = client.queues["q"]
        await queue.put(Plain, {"warm": True}, jid="warm-up")  # loads the core
        before = _round_trips(client)
        jids = await asyncio.gather(
            *(queue.put(Plain, {"n": n}, jid=f"job-{n}") for n in range(100))
        )
        return jids, _round_trips(client) - before

    jids, round_trips = run(scenario)
    assert jids == [f"job-{n}" for n in range(100)]
    # The first put went out alone (nothing was in flight); the 99 issued
    # meanwhile went out together in the next round trip.
    assert round_trips == 2
    for n in (0, 57, 99):
        assert admin.hget(f"ql:j:job-{n}", "data") == f'{{"n":{n}}}'


def test_each_concurrent_caller_gets_its_own_typed_error(run: Callable[[Scenario], Any]) -> None:
    async def scenario(client: reqless.aio.Client) -> tuple[list[Any], int]:
        queue = client.queues["q"]
        await queue.put(Plain, {}, jid="waiting")
        before = _round_trips(client)
        results = await asyncio.gather(
            queue.put(Plain, {"n": 1}, jid="before"),
            client._script.call("job.complete", "nobody", "worker-a", "q", "{}"),
            client._script.call("job.heartbeat", "waiting", "worker-a"),
            queue.put(Plain, {"n": 2}, jid="after"),
            return_exceptions=True,
        )
        return list(results), _round_trips(client) - before

    (before, missing, not_running, after), round_trips = run(scenario)
    assert (before, after) == ("before", "after")
    assert isinstance(missing, reqless.JobNotFoundError)
    assert missing.detail == "Complete(): Job does not exist"
    assert isinstance(not_running, reqless.LostLockError)
    assert "not currently running: waiting" in not_running.message
    assert round_trips == 2


def test_calls_after_a_round_trip_ends_go_in_the_next(run: Callable[[Scenario], Any]) -> None:
    async def scenario(client: reqless.aio.Client) -> list[str]:
        queue = client.queues["q"]
        return [await queue.put(Plain, {"n": n}, jid=f"job-{n}") for n in range(5)]

    assert run(scenario) == [f"job-{n}" for n in range(5)]


def test_a_cancelled_caller_leaves_the_others_their_replies(
    run: Callable[[Scenario], Any], admin: redis.Redis
) -> None:
    async def scenario(client: reqless.aio.Client) -> list[Any]:
        queue = client.queues["q"]
        await queue.put(Plain, {}, jid="warm-up")
        tasks = [asyncio.ensure_future(queue.put(Plain, {}, jid=f"job-{n}")) for n in range(3)]
        await asyncio.sleep(0)  # each task has queued its command
        tasks[1].cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        # The client goes on working.
        results.append(await queue.put(Plain, {}, jid="later"))
        return results

    first, cancelled, third, later = run(scenario)
    assert (first, third, later) == ("job-0", "job-2", "later")
    assert isinstance(cancelled, asyncio.CancelledError)


def test_a_dropped_connection_is_reconnected(
    run: Callable[[Scenario], Any], admin: redis.Redis
) -> None:
    async def scenario(client: reqless.aio.Client) -> list[str]:
        queue = client.queues["q"]
        first = await queue.put(Plain, {}, jid="first")
        admin.execute_command("CLIENT", "KILL", "TYPE", "normal")
        together = await asyncio.gather(*(queue.put(Plain, {}, jid=f"j{n}") for n in range(3)))
        return [first, *together]

    assert run(scenario) == ["first", "j0", "j1", "j2"]
