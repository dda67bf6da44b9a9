"""Wake keys: every put through our client wakes a waiting worker, at no extra round trip.

A put, ``put_many``, requeue or move writes ``ZADD reqless:wake:<queue>``
right behind the core's command in the same write; its reply is dropped, so
a key a user owns under that name never fails the put. ``wake_workers=False``
writes nothing of ours. The asyncio client does the same.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import redis

import reqless
import reqless.aio
from reqless import CoreScript
from reqless._wake import WAKE_CAP, wake_argv, wake_key
from reqless.drivers import Arg, Driver, Pipeline, PubSub, TrailingDriver
from tests.conftest import Server

KLASS = "tests.client.api.jobs_for_tests.Plain"


@pytest.fixture
def client(
    server: Server, driver_name: str, form: str, admin: redis.Redis
) -> Iterator[reqless.Client]:
    with reqless.Client(server.url, driver=driver_name, form=form) as c:  # type: ignore[arg-type]
        yield c


def members(admin: redis.Redis, queue: str = "q") -> list[str]:
    return [str(member) for member in admin.zrange(wake_key(queue), 0, -1)]


def our_keys(admin: redis.Redis) -> list[str]:
    return [str(key) for key in admin.keys("reqless:*")]


def test_the_wake_command_is_a_zadd_of_fixed_members() -> None:
    assert wake_argv("q") == ("ZADD", "reqless:wake:q", 0, "w0")
    assert wake_argv("q", 3) == ("ZADD", "reqless:wake:q", 0, "w0", 0, "w1", 0, "w2")
    assert len(wake_argv("q", 1000)) == 2 + 2 * WAKE_CAP
    assert wake_argv("q", 0) == wake_argv("q")


def test_the_shipped_drivers_send_trailing_commands(driver: Driver) -> None:
    assert isinstance(driver, TrailingDriver)


def test_a_put_writes_its_queues_wake_key(client: reqless.Client, admin: redis.Redis) -> None:
    jid = client.queues["q"].put(KLASS, {})
    assert members(admin) == ["w0"]
    assert admin.type(wake_key("q")) == "zset"
    assert client.queues["q"].peek().jid == jid  # type: ignore[union-attr]


def test_put_many_wakes_as_many_workers_as_jobs_up_to_the_cap(
    client: reqless.Client, admin: redis.Redis
) -> None:
    client.queues["q"].put_many([(KLASS, {})] * 3)
    assert members(admin) == ["w0", "w1", "w2"]
    client.queues["big"].put_many([(KLASS, {})] * (WAKE_CAP + 40))
    assert len(members(admin, "big")) == WAKE_CAP


def test_with_nobody_waiting_a_wake_key_stays_small(
    client: reqless.Client, admin: redis.Redis
) -> None:
    queue = client.queues["q"]
    for _ in range(50):
        queue.put(KLASS, {})
    for _ in range(5):
        queue.put_many([(KLASS, {})] * 30)
    assert len(members(admin)) == WAKE_CAP
    assert queue.length() == 200


def test_requeue_and_move_wake_the_target_queue(client: reqless.Client, admin: redis.Redis) -> None:
    jid = client.queues["a"].put(KLASS, {})
    job = client.jobs[jid]
    assert isinstance(job, reqless.Job)
    job.requeue("b")
    assert members(admin, "b") == ["w0"]
    job.move("c")
    assert members(admin, "c") == ["w0"]


def test_a_job_completed_into_a_next_queue_wakes_it(
    client: reqless.Client, admin: redis.Redis
) -> None:
    client.queues["a"].put(KLASS, {})
    client.queues["a"].put(KLASS, {})
    first, second = client.queues["a"].pop(2)
    admin.delete(wake_key("a"))
    assert first.complete("b") == "waiting"
    assert members(admin, "b") == ["w0"]
    # Finished for good, or moved on later: nothing to wake anyone for.
    admin.delete(wake_key("b"))
    second.complete("b", delay=60)
    assert our_keys(admin) == []


def test_a_delayed_job_wakes_nobody(client: reqless.Client, admin: redis.Redis) -> None:
    jid = client.queues["q"].put(KLASS, {}, delay=60)
    job = client.jobs[jid]
    assert isinstance(job, reqless.Job)
    job.requeue("r", delay=60)
    assert our_keys(admin) == []


def test_wake_workers_false_writes_no_key_of_ours(
    server: Server, driver_name: str, admin: redis.Redis
) -> None:
    with reqless.Client(server.url, driver=driver_name, wake_workers=False) as client:
        jid = client.queues["q"].put(KLASS, {})
        client.queues["q"].put_many([(KLASS, {})] * 3)
        job = client.jobs[jid]
        assert isinstance(job, reqless.Job)
        job.requeue("r")
        assert client.queues["q"].length() == 3
    assert our_keys(admin) == []


def test_a_users_key_of_another_type_does_not_fail_a_put(
    client: reqless.Client, admin: redis.Redis
) -> None:
    admin.set(wake_key("q"), "the user's own")
    admin.set(wake_key("r"), "the user's own")
    queue = client.queues["q"]
    jid = queue.put(KLASS, {})
    jids = queue.put_many([(KLASS, {})] * 3)
    job = client.jobs[jid]
    assert isinstance(job, reqless.Job)
    job.requeue("r")
    assert queue.length() == 3
    assert [j.jid for j in client.jobs.get(jid, *jids)] == [jid, *jids]
    assert admin.get(wake_key("q")) == admin.get(wake_key("r")) == "the user's own"


def test_the_cores_error_is_raised_though_the_wake_command_follows(
    client: reqless.Client, admin: redis.Redis
) -> None:
    jid = client.queues["q"].put(KLASS, {})
    job = client.jobs[jid]
    assert isinstance(job, reqless.Job)
    job.cancel()
    with pytest.raises(reqless.JobNotFoundError):
        job.requeue("r")
    # Pipelined replies stay in step: the next call gets its own.
    assert client.queues["q"].put(KLASS, {}, jid="next") == "next"


def test_a_put_that_finds_the_core_gone_loads_it_and_wakes_again(
    client: reqless.Client, admin: redis.Redis
) -> None:
    queue = client.queues["q"]
    queue.put(KLASS, {})
    queue.put_many([(KLASS, {})] * 2)
    admin.script_flush()
    admin.function_flush()
    admin.delete(wake_key("q"))
    queue.put(KLASS, {})
    assert members(admin) == ["w0"]
    admin.script_flush()
    admin.function_flush()
    admin.delete(wake_key("q"))
    queue.put_many([(KLASS, {})] * 2)
    assert members(admin) == ["w0", "w1"]
    assert queue.length() == 6


def test_a_put_after_the_server_dropped_the_connection_still_wakes(
    client: reqless.Client, admin: redis.Redis
) -> None:
    queue = client.queues["q"]
    queue.put(KLASS, {})
    admin.delete(wake_key("q"))
    admin.execute_command("CLIENT", "KILL", "TYPE", "normal")
    queue.put(KLASS, {})
    assert members(admin) == ["w0"]
    admin.delete(wake_key("q"))
    admin.execute_command("CLIENT", "KILL", "TYPE", "normal")
    queue.put_many([(KLASS, {})] * 2)
    assert members(admin) == ["w0", "w1"]
    assert queue.length() == 4


class NoTrailing:
    """A shipped driver seen through only the :class:`Driver` protocol: no trailing calls."""

    def __init__(self, inner: Driver) -> None:
        self._inner = inner
        self.name = inner.name

    def fcall(self, function: str, *args: Arg) -> Any:
        return self._inner.fcall(function, *args)

    def fcall_ro(self, function: str, *args: Arg) -> Any:
        return self._inner.fcall_ro(function, *args)

    def evalsha(self, sha: str, *args: Arg) -> Any:
        return self._inner.evalsha(sha, *args)

    def script_load(self, script: str) -> str:
        return self._inner.script_load(script)

    def function_load(self, code: str, replace: bool = False) -> str:
        return self._inner.function_load(code, replace)

    def publish(self, channel: str, message: str) -> int:
        return self._inner.publish(channel, message)

    def execute_command(self, *args: Arg) -> Any:
        return self._inner.execute_command(*args)

    def pipeline(self) -> Pipeline:
        return self._inner.pipeline()

    def pubsub(self) -> PubSub:
        return self._inner.pubsub()

    def close(self) -> None:
        self._inner.close()


def test_a_driver_without_trailing_calls_pipelines_the_wake_command(
    driver: Driver, form: str, admin: redis.Redis
) -> None:
    plain = NoTrailing(driver)
    assert not isinstance(plain, TrailingDriver)
    core = CoreScript(plain, form=form)  # type: ignore[arg-type]
    put = ("w", "q", "jid-1", KLASS, "{}", 0)
    assert core.call_with_trailer("queue.put", put, wake_argv("q")) == "jid-1"
    admin.set(wake_key("r"), "the user's own")
    assert core.call_with_trailer(
        "queue.put", ("w", "r", "jid-2", KLASS, "{}", 0), wake_argv("r")
    ) == ("jid-2")
    items = [("w", "q", f"jid-{n}", KLASS, "{}", 0) for n in range(3, 6)]
    assert core.call_each("queue.put", items, wake_argv("q", 3)) == ["jid-3", "jid-4", "jid-5"]
    with pytest.raises(reqless.InvalidArgumentError):
        core.call_with_trailer("queue.put", ("w", "q", "bad", KLASS, "not json", 0), wake_argv("q"))
    assert members(admin) == ["w0", "w1", "w2"]


# -- asyncio ---------------------------------------------------------------------------------

AsyncScenario = Callable[[reqless.aio.Client], Awaitable[Any]]


@pytest.fixture
def run_async(
    server: Server, driver_name: str, form: str, admin: redis.Redis
) -> Callable[[AsyncScenario], Any]:
    def runner(scenario: AsyncScenario) -> Any:
        async def main() -> Any:
            client = reqless.aio.Client(server.url, driver=driver_name, form=form)  # type: ignore[arg-type]
            try:
                return await scenario(client)
            finally:
                await client.aclose()

        return asyncio.run(main())

    return runner


def test_async_puts_write_wake_keys(
    run_async: Callable[[AsyncScenario], Any], admin: redis.Redis
) -> None:
    async def scenario(client: reqless.aio.Client) -> None:
        jid = await client.queues["q"].put(KLASS, {})
        assert members(admin) == ["w0"]
        await client.queues["many"].put_many([(KLASS, {})] * 3)
        assert members(admin, "many") == ["w0", "w1", "w2"]
        job = await client.jobs[jid]
        assert isinstance(job, reqless.aio.Job)
        await job.requeue("r")
        assert members(admin, "r") == ["w0"]
        await client.queues["later"].put(KLASS, {}, delay=60)
        assert members(admin, "later") == []
        popped = await client.queues["r"].pop()
        assert popped is not None
        await popped.complete("next")
        assert members(admin, "next") == ["w0"]

    run_async(scenario)


def test_concurrent_async_puts_share_round_trips_and_each_wakes(
    run_async: Callable[[AsyncScenario], Any], admin: redis.Redis
) -> None:
    async def scenario(client: reqless.aio.Client) -> None:
        queues = [f"q{n}" for n in range(20)]
        await asyncio.gather(*(client.queues[name].put(KLASS, {}) for name in queues))
        assert all(members(admin, name) == ["w0"] for name in queues)

    run_async(scenario)


def test_async_puts_over_a_users_key_succeed_and_log_nothing(
    run_async: Callable[[AsyncScenario], Any],
    admin: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    admin.set(wake_key("q"), "the user's own")

    async def scenario(client: reqless.aio.Client) -> int:
        queue = client.queues["q"]
        await queue.put(KLASS, {})
        # Concurrent: behind a round trip in flight, through the flusher task.
        await asyncio.gather(*(queue.put(KLASS, {}) for _ in range(20)))
        await queue.put_many([(KLASS, {})] * 3)
        await asyncio.gather(queue.put_many([(KLASS, {})] * 3), queue.put(KLASS, {}))
        return await queue.length()

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        assert run_async(scenario) == 1 + 20 + 3 + 4
        gc.collect()  # an unretrieved error is reported when its future is collected
    assert admin.get(wake_key("q")) == "the user's own"
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]


def test_async_wake_workers_false_writes_no_key_of_ours(
    server: Server, driver_name: str, admin: redis.Redis
) -> None:
    async def main() -> None:
        async with reqless.aio.Client(server.url, driver=driver_name, wake_workers=False) as client:
            await client.queues["q"].put(KLASS, {})
            await client.queues["q"].put_many([(KLASS, {})] * 3)

    asyncio.run(main())
    assert our_keys(admin) == []
