"""Inspecting and steering a queue, and all queues at once."""

from __future__ import annotations

import reqless
from tests.client.api.jobs_for_tests import Plain
from tests.client.conftest import Clock


def test_counts_and_length(client: reqless.Client, queue: reqless.Queue) -> None:
    queue.put(Plain, {})
    queue.put(Plain, {}, delay=60)
    queue.put(Plain, {})
    queue.pop()
    counts = queue.counts
    assert (counts.name, counts.waiting, counts.running, counts.scheduled) == ("q", 1, 1, 1)
    assert counts.paused is False
    assert queue.length() == 3 == len(queue)


def test_all_queues_are_listed_with_their_counts(client: reqless.Client) -> None:
    client.queues["a"].put(Plain, {})
    client.queues["b"].put(Plain, {})
    assert client.queues.names == ["a", "b"]
    assert [c.name for c in client.queues.counts] == ["a", "b"]
    assert [q.name for q in client.queues] == ["a", "b"]


def test_no_queues_means_empty_lists(client: reqless.Client) -> None:
    assert client.queues.names == []
    assert client.queues.counts == []


def test_jobs_by_state(queue: reqless.Queue, clock: Clock) -> None:
    running = queue.put(Plain, {})
    queue.pop()
    scheduled = queue.put(Plain, {}, delay=100)
    depends = queue.put(Plain, {}, depends=[scheduled])
    recurring = queue.recur(Plain, {}, interval=60, offset=600)
    assert queue.jobs.running() == [running]
    assert queue.jobs.scheduled() == [scheduled]
    assert queue.jobs.depends() == [depends]
    assert queue.jobs.recurring() == [recurring]
    assert queue.jobs.stalled() == []
    assert queue.jobs.throttled() == []
    clock.advance(61)
    assert queue.jobs.stalled() == [running]


def test_stats_of_today(queue: reqless.Queue, clock: Clock) -> None:
    queue.put(Plain, {})
    clock.advance(2)
    job = queue.pop()
    assert job is not None
    clock.advance(3)
    job.complete()
    stats = queue.stats()
    assert (stats.wait.count, stats.wait.mean, stats.run.count, stats.run.mean) == (1, 2, 1, 3)
    assert len(stats.wait.histogram) == 148
    assert queue.stats(clock.now - 86400).wait.count == 0


def test_unfail_moves_failed_jobs_back(client: reqless.Client, queue: reqless.Queue) -> None:
    for _ in range(3):
        queue.put(Plain, {})
    for job in queue.pop(3):
        job.fail("g", "m")
    assert client.queues["retry"].unfail("g", 2) == 2
    assert client.queues["retry"].length() == 2
    assert client.jobs.failed() == {"g": 1}


def test_forget_drops_the_name_only(client: reqless.Client, queue: reqless.Queue) -> None:
    jid = queue.put(Plain, {})
    queue.forget()
    assert client.queues.names == []
    assert client.jobs[jid] is not None


def test_the_queue_throttle_limits_running_jobs(queue: reqless.Queue) -> None:
    queue.throttle.maximum = 1
    queue.put_many([(Plain, {})] * 2)
    assert len(queue.pop(2)) == 1
    assert queue.throttle.name == "ql:q:q"
    assert queue.throttle.maximum == 1
