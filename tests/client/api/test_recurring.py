"""Recurring jobs: spawning, and every setting changed in place."""

from __future__ import annotations

import json

import pytest

import reqless
from tests.client.api.jobs_for_tests import PerQueue, Plain
from tests.client.conftest import Clock


def _recurring(client: reqless.Client, jid: str) -> reqless.RecurringJob:
    found = client.jobs[jid]
    assert isinstance(found, reqless.RecurringJob)
    return found


def test_recur_spawns_a_job_each_interval(
    client: reqless.Client, queue: reqless.Queue, clock: Clock
) -> None:
    jid = queue.recur(Plain, {"r": 1}, interval=60, jid="every-minute")
    assert jid == "every-minute"
    clock.advance(121)
    spawned = queue.pop(10)
    assert [job.jid for job in spawned] == ["every-minute-1", "every-minute-2", "every-minute-3"]
    assert {job.spawned_from_jid for job in spawned} == {"every-minute"}
    assert _recurring(client, jid).count == 3


def test_recurring_fields_and_defaults(client: reqless.Client, queue: reqless.Queue) -> None:
    recurring = _recurring(client, queue.recur(Plain, {}, interval=30, tags=["x"]))
    assert recurring.klass is Plain
    assert (recurring.interval, recurring.retries, recurring.priority) == (30, 0, 0)
    assert (recurring.queue_name, recurring.tags, recurring.backlog) == ("q", ["x"], 0)
    assert recurring.state == "recur"
    assert recurring.throttles == ["ql:q:q"]


def test_recurring_settings_are_written(client: reqless.Client, queue: reqless.Queue) -> None:
    recurring = _recurring(client, queue.recur(Plain, {}, interval=30))
    recurring.priority = 0 + 4
    recurring.retries = 0
    recurring.interval = 90
    recurring.data = {"new": True}
    recurring.klass = PerQueue
    recurring.backlog = 2
    stored = _recurring(client, recurring.jid)
    assert (stored.priority, stored.retries, stored.interval, stored.backlog) == (4, 0, 90, 2)
    assert json.loads(stored.data) == {"new": True}
    assert stored.klass is PerQueue


def test_recurring_tags_move_and_cancel(client: reqless.Client, queue: reqless.Queue) -> None:
    recurring = _recurring(client, queue.recur(Plain, {}, interval=30))
    assert recurring.tag("a", "b") == ["a", "b"]
    assert recurring.untag("a", "b") == []
    recurring.move("other")
    assert _recurring(client, recurring.jid).queue_name == "other"
    assert client.queues["other"].jobs.recurring() == [recurring.jid]
    recurring.cancel()
    assert client.jobs[recurring.jid] is None


def test_a_bad_interval_is_refused(queue: reqless.Queue) -> None:
    with pytest.raises(reqless.InvalidArgumentError, match="interval"):
        queue.recur(Plain, {}, interval=0)
