"""A job's fields and the methods that steer it."""

from __future__ import annotations

import pytest

import reqless
from tests.client.api.jobs_for_tests import Plain
from tests.client.conftest import Clock


def _popped(queue: reqless.Queue, **put: object) -> reqless.Job:
    queue.put(Plain, {"n": 1}, **put)  # type: ignore[arg-type]
    job = queue.pop()
    assert job is not None
    return job


def _get(client: reqless.Client, jid: str) -> reqless.Job:
    job = client.jobs[jid]
    assert isinstance(job, reqless.Job)
    return job


def test_a_job_exposes_every_protocol_field(
    client: reqless.Client, queue: reqless.Queue, clock: Clock
) -> None:
    job = _popped(queue, tags=["t"], priority=3, retries=2)
    assert job.klass_name == "tests.client.api.jobs_for_tests.Plain"
    assert job.queue_name == "q"
    assert job.queue.name == "q"
    assert job.state == "running"
    assert job.tags == ["t"]
    assert (job.priority, job.retries, job.remaining) == (3, 2, 2)
    assert job.worker_name == "worker-a"
    assert job.expires_at == clock.now + 60
    assert job.ttl == 60
    assert [entry["what"] for entry in job.history] == ["put", "popped"]
    assert job.dependencies == [] and job.dependents == []
    assert job.tracked is False
    assert job.failure is None
    assert job.throttles == ["ql:q:q"]
    assert job.spawned_from_jid is None
    assert job.sandbox is None


def test_empty_lists_come_back_as_lists(client: reqless.Client, queue: reqless.Queue) -> None:
    job = _get(client, queue.put(Plain, {}))
    for value in (job.tags, job.dependencies, job.dependents):
        assert value == [] and isinstance(value, list)
    assert client.jobs.complete() == []
    assert client.jobs.tagged("nothing").jids == []
    assert client.jobs.failed() == {}
    assert client.workers["nobody"].jobs == []
    assert client.tags.top() == []


def test_complete_finishes_the_job_with_its_data(
    client: reqless.Client, queue: reqless.Queue
) -> None:
    job = _popped(queue)
    job.data = {"result": 42}
    assert job.complete() == "complete"
    done = _get(client, job.jid)
    assert done.state == "complete"
    assert done.payload == {"result": 42}
    assert client.jobs.complete() == [job.jid]


def test_complete_into_a_next_queue(client: reqless.Client, queue: reqless.Queue) -> None:
    job = _popped(queue)
    assert job.complete("next") == "waiting"
    assert _get(client, job.jid).queue_name == "next"
    again = client.queues["next"].pop()
    assert again is not None
    assert again.complete("later", delay=10) == "scheduled"


def test_complete_with_delay_but_no_next_queue_is_refused(queue: reqless.Queue) -> None:
    job = _popped(queue)
    with pytest.raises(reqless.InvalidArgumentError):
        job.complete(delay=5)


def test_fail_records_the_failure(
    client: reqless.Client, queue: reqless.Queue, clock: Clock
) -> None:
    job = _popped(queue)
    assert job.fail("boom", "it broke") == job.jid
    failed = _get(client, job.jid)
    assert failed.state == "failed"
    assert failed.failure == reqless.Failure("boom", "it broke", int(clock.now), "worker-a")
    assert client.jobs.failed() == {"boom": 1}
    assert client.jobs.failed("boom") == reqless.JidPage(total=1, jids=[job.jid])


def test_heartbeat_extends_the_lock(queue: reqless.Queue, clock: Clock) -> None:
    job = _popped(queue)
    clock.advance(30)
    assert job.heartbeat() == int(clock.now + 60)
    assert job.ttl == pytest.approx(60, abs=1)


def test_a_job_held_by_another_worker_cannot_be_finished(
    client: reqless.Client, other: reqless.Client, queue: reqless.Queue
) -> None:
    job = _popped(queue)
    theirs = _get(other, job.jid)
    # Acting for the worker that holds it is fine; pretending to be someone else is not.
    assert theirs.worker_name == "worker-a"
    client.config["grace-period"] = 0
    client.config["heartbeat"] = -10
    job.heartbeat()
    stolen = other.queues["q"].pop()
    assert stolen is not None and stolen.worker_name == "worker-b"
    with pytest.raises(reqless.LostLockError, match="another worker"):
        job.complete()
    with pytest.raises(reqless.LostLockError):
        job.heartbeat()


def test_cancel_deletes_the_job(client: reqless.Client, queue: reqless.Queue) -> None:
    job = _get(client, queue.put(Plain, {}))
    assert job.cancel() == [job.jid]
    assert client.jobs[job.jid] is None


def test_track_and_untrack(client: reqless.Client, queue: reqless.Queue) -> None:
    job = _get(client, queue.put(Plain, {}))
    assert job.track() is True
    assert job.track() is False
    tracked = client.jobs.tracked()
    assert [j.jid for j in tracked.jobs] == [job.jid] and tracked.expired == []
    assert job.untrack() is True
    assert client.jobs.tracked().jobs == []


def test_tag_and_untag(client: reqless.Client, queue: reqless.Queue) -> None:
    job = _get(client, queue.put(Plain, {}))
    assert job.tag("a", "b") == ["a", "b"]
    assert client.jobs.tagged("a").jids == [job.jid]
    assert job.untag("a") == ["b"]
    assert job.untag("b") == []
    assert _get(client, job.jid).tags == []


def test_depend_and_undepend(client: reqless.Client, queue: reqless.Queue) -> None:
    first, second = queue.put(Plain, {}), queue.put(Plain, {})
    job = _get(client, queue.put(Plain, {}, depends=[first]))
    job.depend(second)
    assert sorted(_get(client, job.jid).dependencies) == sorted([first, second])
    job.undepend(first)
    assert _get(client, job.jid).dependencies == [second]
    job.undepend(all=True)
    assert _get(client, job.jid).state == "waiting"


def test_retry_puts_the_job_back_and_counts_down(
    client: reqless.Client, queue: reqless.Queue
) -> None:
    job = _popped(queue, retries=1)
    assert job.retry() == 0
    assert _get(client, job.jid).state == "waiting"
    again = queue.pop()
    assert again is not None
    assert again.retry(group="tired", message="no more") == -1
    assert _get(client, job.jid).failure == reqless.Failure(
        "tired", "no more", int(client.clock()), "worker-a"
    )


def test_requeue_moves_a_job_keeping_its_throttles(
    client: reqless.Client, queue: reqless.Queue
) -> None:
    job = _get(client, queue.put(Plain, {"k": 1}, throttles=["t"], priority=2))
    assert job.requeue("elsewhere") == job.jid
    moved = _get(client, job.jid)
    assert (moved.queue_name, moved.priority, moved.payload) == ("elsewhere", 2, {"k": 1})
    assert moved.throttles == ["t", "ql:q:elsewhere"]
    assert moved.move("q", delay=5) == job.jid
    assert _get(client, job.jid).state == "scheduled"


def test_timeout_stalls_a_running_job(client: reqless.Client, queue: reqless.Queue) -> None:
    job = _popped(queue)
    job.timeout()
    assert _get(client, job.jid).state == "stalled"


def test_log_adds_to_the_history(client: reqless.Client, queue: reqless.Queue) -> None:
    job = _get(client, queue.put(Plain, {}))
    job.log("checked", {"by": "me"})
    assert _get(client, job.jid).history[-1] == {
        "what": "checked",
        "by": "me",
        "when": int(client.clock()),
    }


def test_setting_priority_writes_it(client: reqless.Client, queue: reqless.Queue) -> None:
    job = _get(client, queue.put(Plain, {}))
    job.priority = 9
    assert job.priority == 9
    assert _get(client, job.jid).priority == 9


def test_jobs_lookup_of_a_missing_jid_is_none(client: reqless.Client) -> None:
    assert client.jobs["missing"] is None
    assert client.jobs.get("missing") == []
