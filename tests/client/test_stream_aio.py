"""Streamed batches on asyncio: ``AsyncCoreScript.call_each``, what ``aio`` put_many uses.

Alone, a batch is written in chunks as it is packed, in one round trip of its
own; behind calls in flight it joins the auto-pipeline instead. Either way the
replies come back in order with errors in place, and the calls queued while a
batch streams are flushed after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis

from reqless import AsyncCoreScript, InvalidArgumentError
from reqless._settings import ClientSettings
from reqless.drivers import Arg, AsyncStreamingDriver, _internals, connect_async
from reqless.drivers._adapter import STREAM_CHUNK

MANY = 3 * STREAM_CHUNK + 7
Scenario = Callable[[AsyncCoreScript], Awaitable[Any]]


def _puts(count: int, start: int = 0) -> list[list[Arg]]:
    return [["w", "q", f"jid-{n}", "tests.Job", "{}", 0] for n in range(start, start + count)]


@pytest.fixture
def run(settings: ClientSettings, admin: redis.Redis) -> Callable[[Scenario], Any]:
    def runner(scenario: Scenario) -> Any:
        async def main() -> Any:
            driver = connect_async(settings)
            assert isinstance(driver, AsyncStreamingDriver)
            try:
                return await scenario(AsyncCoreScript(driver, clock=lambda: 1000.0))
            finally:
                await driver.aclose()

        return asyncio.run(main())

    return runner


def _round_trips(core: AsyncCoreScript) -> int:
    count: int = getattr(core.driver, "_auto").round_trips  # noqa: B009 - internal counter
    return count


def test_a_lone_batch_is_one_round_trip_with_errors_in_place(
    run: Callable[[Scenario], Any], admin: redis.Redis
) -> None:
    async def scenario(core: AsyncCoreScript) -> tuple[list[Any], int]:
        await core.call("queue.length", "q")  # loads the core
        before = _round_trips(core)
        items = _puts(MANY)
        items[STREAM_CHUNK] = ["w", "q", "bad", "tests.Job", "not json", 0]
        return await core.call_each("queue.put", items), _round_trips(core) - before

    results, round_trips = run(scenario)
    assert round_trips == 1
    assert isinstance(results[STREAM_CHUNK], InvalidArgumentError)
    assert results[-1] == f"jid-{MANY - 1}"
    assert admin.zcard("ql:q:q-work") == MANY - 1


def test_batches_and_calls_made_meanwhile_each_get_their_own_replies(
    run: Callable[[Scenario], Any], admin: redis.Redis
) -> None:
    async def scenario(core: AsyncCoreScript) -> list[Any]:
        await core.call("queue.length", "q")
        return await asyncio.gather(  # type: ignore[no-any-return]
            core.call_each("queue.put", _puts(MANY)),
            core.call("queue.put", "w", "q", "single", "tests.Job", "{}", 0),
            core.call_each("queue.put", _puts(MANY, MANY)),
            core.call("queue.length", "q"),
        )

    first, single, second, length = run(scenario)
    assert first == [f"jid-{n}" for n in range(MANY)]
    assert single == "single"
    assert second == [f"jid-{n}" for n in range(MANY, 2 * MANY)]
    assert length == 2 * MANY + 1


def test_a_batch_recovers_when_the_core_vanished_or_the_connection_dropped(
    run: Callable[[Scenario], Any], admin: redis.Redis
) -> None:
    async def scenario(core: AsyncCoreScript) -> list[Any]:
        await core.call_each("queue.put", _puts(1))
        admin.script_flush()
        admin.function_flush()
        first = await core.call_each("queue.put", _puts(MANY, 1))
        admin.execute_command("CLIENT", "KILL", "TYPE", "normal")
        second = await core.call_each("queue.put", _puts(2, 1000))
        return [first[-1], second, await core.call("queue.length", "q")]

    assert run(scenario) == [f"jid-{MANY}", ["jid-1000", "jid-1001"], MANY + 3]


def test_a_batch_that_cannot_be_packed_leaves_the_next_call_in_step(
    run: Callable[[Scenario], Any],
) -> None:
    async def scenario(core: AsyncCoreScript) -> list[Any]:
        items = _puts(MANY)
        items[-1] = ["w", "q", "jid-x", "tests.Job", "{}", object()]  # type: ignore[list-item]
        with pytest.raises(InvalidArgumentError):
            await core.call_each("queue.put", items)
        return await core.call_each("queue.put", _puts(2, 1000))

    assert run(scenario) == ["jid-1000", "jid-1001"]


def test_replies_are_read_one_at_a_time_without_hiredis(
    run: Callable[[Scenario], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_internals, "hiredis", None)

    async def scenario(core: AsyncCoreScript) -> list[Any]:
        items = _puts(MANY)
        items[3] = ["w", "q", "bad", "tests.Job", "not json", 0]
        return await core.call_each("queue.put", items)

    results = run(scenario)
    assert isinstance(results[3], InvalidArgumentError)
    assert results[-1] == f"jid-{MANY - 1}"
