"""``Client.execute``: calls from ``reqless.commands`` run together in one round trip."""

from __future__ import annotations

import asyncio

import pytest

import reqless
import reqless.aio
from reqless import commands
from tests.client.api.jobs_for_tests import Plain
from tests.client.conftest import Clock
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


def test_reads_come_back_bound_to_the_client(client: reqless.Client, queue: reqless.Queue) -> None:
    jid = queue.put(Plain, {}, jid="tracked-one")
    client.jobs[jid].track()  # type: ignore[union-attr]
    recurring = queue.recur(Plain, {}, 60, jid="every-minute")

    tracked, template, found, missing, counts = client.execute(
        commands.tracked(),
        commands.recurring_job(recurring),
        commands.job(jid),
        commands.job("no-such-job"),
        commands.queue_counts("q"),
    )

    assert isinstance(tracked, reqless.TrackedJobs)
    assert [type(j) for j in tracked.jobs] == [reqless.Job] and tracked.jobs[0].jid == jid
    assert tracked.expired == []
    assert isinstance(template, reqless.RecurringJob) and template.jid == "every-minute"
    assert isinstance(found, reqless.Job) and found.jid == jid
    assert missing is None
    assert counts.waiting == 1


def test_listings_and_throttles(client: reqless.Client, queue: reqless.Queue) -> None:
    queue.put(Plain, {}, jid="a", throttles=["t"])
    client.throttles["t"].set_maximum(1)
    queue.put(Plain, {}, jid="b", throttles=["t"])
    queue.pop(2)

    running, info, locks, pending, completed = client.execute(
        commands.queue_jobs("q", "running"),
        commands.throttle("t"),
        commands.throttle_locks("t"),
        commands.throttle_pending("t"),
        commands.completed(),
    )

    assert len(running) == 1
    assert info.maximum == 1
    assert locks == running
    assert pending == sorted({"a", "b"} - set(running))
    assert completed == []
    with pytest.raises(reqless.InvalidArgumentError, match="state"):
        commands.queue_jobs("q", "sleeping")


def test_requeue_keeps_a_class_name_no_python_client_could_put(
    client: reqless.Client, queue: reqless.Queue
) -> None:
    # A job put by a client in another language: its class is not a Python path.
    (jid,) = client.execute(
        commands.core("queue.put", "worker-a", "q", "ruby-job", "Mailer::Deliver", "{}", 0)
    )
    job = client.jobs[jid]
    assert isinstance(job, reqless.Job)

    (answer,) = client.execute(commands.requeue(job, "other", throttles=["slow"]))

    assert answer == jid
    moved = client.jobs[jid]
    assert isinstance(moved, reqless.Job)
    assert (moved.queue_name, moved.klass_name, moved.throttles) == (
        "other",
        "Mailer::Deliver",
        ["slow", "ql:q:other"],
    )


def test_cancel_answers_the_canceled_jids(client: reqless.Client, queue: reqless.Queue) -> None:
    queue.put(Plain, {}, jid="x")
    (canceled,) = client.execute(commands.cancel("x"))
    assert canceled == ["x"]
    assert client.jobs["x"] is None
    with pytest.raises(reqless.InvalidArgumentError, match="jids"):
        commands.cancel("")


def test_server_info_names_the_server(client: reqless.Client) -> None:
    info = client.server_info()
    assert info.get("redis_version") or info.get("valkey_version")
    assert int(info["connected_clients"]) >= 1


def test_the_asyncio_client_binds_reads_and_reads_server_info(
    server: Server, driver_name: str, clock: Clock
) -> None:
    async def scenario() -> tuple[object, object, dict[str, object]]:
        async with reqless.aio.Client(
            server.url, driver=driver_name, worker_name="worker-a", clock=clock
        ) as client:
            queue = client.queues["q"]
            jid = await queue.put(Plain, {})
            job = await client.jobs[jid]
            assert isinstance(job, reqless.aio.Job)
            await job.track()
            await queue.recur(Plain, {}, 60, jid="every-minute")
            tracked, template = await client.execute(
                commands.tracked(), commands.recurring_job("every-minute")
            )
            return tracked, template, await client.server_info()

    tracked, template, info = asyncio.run(scenario())
    assert isinstance(tracked, reqless.TrackedJobs)
    assert [type(j) for j in tracked.jobs] == [reqless.aio.Job]
    assert isinstance(template, reqless.aio.RecurringJob)
    assert info.get("redis_version") or info.get("valkey_version")
