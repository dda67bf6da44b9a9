"""``Client.execute``: calls from ``reqless.commands`` run together in one round trip."""

from __future__ import annotations

import asyncio

import pytest

import reqless
import reqless.aio
from reqless import commands
from tests.client.api.conftest import Clock
from tests.client.api.jobs_for_tests import Plain
from tests.conftest import Server


class Marked(reqless.Job):
    """A Job subclass, to show ``job_class`` reaches popped jobs."""


def test_a_completion_and_the_next_pop_run_together(
    client: reqless.Client, queue: reqless.Queue
) -> None:
    first = queue.put(Plain, {"n": 1}, priority=2)
    second = queue.put(Plain, {"n": 2}, priority=1)
    job = queue.pop()
    assert job is not None and job.jid == first

    done, popped = client.execute(commands.complete(job), commands.pop("q", "worker-a", 5))

    assert done == "complete"
    assert [j.jid for j in popped] == [second]
    assert isinstance(popped[0], reqless.Job) and popped[0].worker_name == "worker-a"
    assert client.jobs[first].state == "complete"  # type: ignore[union-attr]


def test_popped_jobs_are_made_of_the_asked_class(
    client: reqless.Client, queue: reqless.Queue
) -> None:
    queue.put(Plain, {})
    (popped,) = client.execute(commands.pop("q", "worker-a", 1), job_class=Marked)
    assert [type(job) for job in popped] == [Marked]


def test_a_refused_call_raises_after_the_others_ran(
    client: reqless.Client, queue: reqless.Queue
) -> None:
    jid = queue.put(Plain, {})
    job = queue.pop()
    assert job is not None
    client.jobs[jid].cancel()  # type: ignore[union-attr]
    queue.put(Plain, {}, jid="later")

    with pytest.raises(reqless.ReqlessError):
        client.execute(commands.complete(job), commands.core("queue.pause", "q"))

    assert client.queues["q"].paused


def test_return_errors_puts_each_refusal_in_its_place(
    client: reqless.Client, queue: reqless.Queue
) -> None:
    jid = queue.put(Plain, {})
    job = queue.pop()
    assert job is not None
    client.jobs[jid].cancel()  # type: ignore[union-attr]

    refused, counts = client.execute(
        commands.complete(job), commands.queue_counts("q"), return_errors=True
    )

    assert isinstance(refused, reqless.ReqlessError)
    assert counts.name == "q" and counts.waiting == 0


def test_bad_arguments_are_refused_before_anything_is_sent(client: reqless.Client) -> None:
    with pytest.raises(reqless.InvalidArgumentError, match="count"):
        commands.pop("q", "worker-a", -1)
    with pytest.raises(reqless.InvalidArgumentError, match="queue"):
        commands.pop(3, "worker-a")  # type: ignore[arg-type]
    assert client.execute() == []


def test_the_asyncio_client_executes_the_same_calls(
    server: Server, driver_name: str, clock: Clock
) -> None:
    async def scenario() -> tuple[str, list[reqless.aio.Job]]:
        async with reqless.aio.Client(
            server.url, driver=driver_name, worker_name="worker-a", clock=clock
        ) as client:
            queue = client.queues["q"]
            await queue.put(Plain, {}, jid="one", priority=2)
            await queue.put(Plain, {}, jid="two", priority=1)
            job = await queue.pop()
            assert job is not None
            done, popped = await client.execute(
                commands.complete(job), commands.pop("q", "worker-a", 5)
            )
            return done, popped

    done, popped = asyncio.run(scenario())
    assert done == "complete"
    assert [job.jid for job in popped] == ["two"]
    assert isinstance(popped[0], reqless.aio.Job)
