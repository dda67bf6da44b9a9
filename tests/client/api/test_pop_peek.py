"""Popping and peeking: counts, ordering, and the pop(0) trap."""

from __future__ import annotations

import reqless
from tests.client.api.jobs_for_tests import Plain


def test_pop_without_a_count_returns_one_job_or_none(queue: reqless.Queue) -> None:
    assert queue.pop() is None
    jid = queue.put(Plain, {})
    job = queue.pop()
    assert isinstance(job, reqless.Job)
    assert (job.jid, job.state, job.worker_name) == (jid, "running", "worker-a")


def test_pop_with_a_count_returns_a_list(queue: reqless.Queue) -> None:
    queue.put_many([(Plain, {})] * 3)
    assert len(queue.pop(2)) == 2
    assert len(queue.pop(5)) == 1
    assert queue.pop(5) == []


def test_pop_zero_pops_nothing(client: reqless.Client, queue: reqless.Queue) -> None:
    jid = queue.put(Plain, {})
    assert queue.pop(0) == []
    job = client.jobs[jid]
    assert job is not None and job.state == "waiting"


def test_peek_shows_without_taking(client: reqless.Client, queue: reqless.Queue) -> None:
    assert queue.peek() is None
    assert queue.peek(3) == []
    jid = queue.put(Plain, {})
    peeked = queue.peek()
    assert peeked is not None and peeked.jid == jid
    assert [job.jid for job in queue.peek(10)] == [jid]
    assert queue.peek(0) == []
    job = client.jobs[jid]
    assert job is not None and job.state == "waiting"


def test_higher_priority_pops_first(queue: reqless.Queue) -> None:
    first = queue.put(Plain, {}, priority=0)
    urgent = queue.put(Plain, {}, priority=5)
    assert [job.jid for job in queue.pop(2)] == [urgent, first]


def test_a_paused_queue_hands_out_nothing(queue: reqless.Queue) -> None:
    queue.put(Plain, {})
    queue.pause()
    paused_pop, paused = queue.pop(), queue.paused
    queue.unpause()
    assert (paused_pop, paused, queue.paused) == (None, True, False)
    assert queue.pop() is not None
