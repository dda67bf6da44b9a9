"""Where the reference core follows the spec and ours once did not (issue 16, items 1-8).

Each test replays the issue's reproducer, ``command now args...`` from an
empty database, and checks the replies and the keys the spec names.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

from tests.core.conftest import Core

T = 1700000000
SETS = ("work", "locks", "scheduled", "depends", "throttled")


def put(core: Core, jid: str, queue: str, *options: Any, now: float = T, delay: float = 0) -> str:
    return str(core.call("queue.put", "w1", queue, jid, "k", "{}", delay, *options, now=now))


def pop(core: Core, queue: str, worker: str, now: float) -> list[dict[str, Any]]:
    return list(core.json("queue.pop", queue, worker, 1, now=now))


def sets_holding(core: Core, jid: str, *queues: str) -> list[str]:
    """The per-queue sets of ``queues`` that hold ``jid``, as key names."""
    return [
        f"ql:q:{queue}-{kind}"
        for queue in queues
        for kind in SETS
        if core.redis.zscore(f"ql:q:{queue}-{kind}", jid) is not None
    ]


def retried_into_another_queue(core: Core) -> None:
    """Item 1's set-up: j1 running in q3 while also in q3-work.

    The issue reached it with a retry into q2, a re-put into q3 and a pop from q2;
    ours no longer leaves a job so (DEVIATIONS D-30), but the reference core does,
    and this core may find its keys: the state is written as it leaves it.
    """
    put(core, "j1", "q3", now=T + 3)
    assert [job["jid"] for job in pop(core, "q3", "w2", T + 4)] == ["j1"]
    core.redis.zadd("ql:q:q3-work", {"j1": 0})


# --- item 1: a finished job leaves all five sets of its queue ------------------


def test_a_completed_job_leaves_every_set_of_its_queue_and_is_not_handed_out_again(
    core: Core,
) -> None:
    retried_into_another_queue(core)
    assert core.call("job.complete", "j1", "w2", "q3", "{}", now=T + 5) == "complete"
    assert sets_holding(core, "j1", "q3") == []
    assert core.call("queue.pop", "q3", "w3", 1, now=T + 7) == "[]"
    assert core.redis.hget("ql:j:j1", "state") == "complete"


def test_a_failed_job_leaves_every_set_of_its_queue_and_is_not_handed_out_again(
    core: Core,
) -> None:
    retried_into_another_queue(core)
    assert core.call("job.fail", "j1", "w2", "g", "boom", now=T + 5) == "j1"
    assert sets_holding(core, "j1", "q3") == []
    assert core.call("queue.pop", "q3", "w3", 1, now=T + 7) == "[]"
    assert core.redis.lrange("ql:f:g", 0, -1) == ["j1"]


def test_complete_and_requeue_leaves_every_set_of_the_old_queue(core: Core) -> None:
    retried_into_another_queue(core)
    assert core.call("job.completeAndRequeue", "j1", "w2", "q3", "{}", "q4", now=T + 5) == (
        "waiting"
    )
    assert sets_holding(core, "j1", "q3") == []
    assert sets_holding(core, "j1", "q4") == ["ql:q:q4-work"]


@pytest.mark.parametrize("kind", ["scheduled", "depends"])
def test_a_completed_job_leaves_the_scheduled_and_depends_sets_too(core: Core, kind: str) -> None:
    # As the reference core can leave it (see retried_into_another_queue).
    put(core, "j1", "q3", now=T + 3)
    pop(core, "q3", "w2", T + 4)
    core.redis.zadd(f"ql:q:q3-{kind}", {"j1": T + 3})
    core.call("job.complete", "j1", "w2", "q3", "{}", now=T + 5)
    assert sets_holding(core, "j1", "q3") == []


def test_a_recurring_spawn_onto_an_existing_jid_is_not_handed_out_after_it_completes(
    core: Core,
) -> None:
    # An ordinary job already holds the jid the template's first child gets: the
    # spawn takes it out of its old queue (DEVIATIONS D-29).
    put(core, "r-1", "q3", now=T)
    core.call("queue.recurAtInterval", "q", "r", "k", "{}", 60, 0, now=T)
    assert core.call("queue.peek", "q", 0, 10, now=T + 1) != "[]"
    assert core.redis.hget("ql:j:r-1", "queue") == "q"
    assert sets_holding(core, "r-1", "q", "q3") == ["ql:q:q-work"]
    assert pop(core, "q3", "w1", T + 2) == []
    assert [job["jid"] for job in pop(core, "q", "w1", T + 2)] == ["r-1"]
    assert core.call("job.complete", "r-1", "w1", "q", "{}", now=T + 3) == "complete"
    assert sets_holding(core, "r-1", "q") == []
    assert core.call("queue.pop", "q", "w2", 1, now=T + 4) == "[]"


# --- item 2: the job object shows the hash's queue ------------------------------


def test_a_job_retried_into_another_queue_keeps_its_queue_field(core: Core) -> None:
    core.call("config.set", "grace-period", 0, now=T)
    put(core, "j1", "q1", "retries", 1, now=T)
    pop(core, "q1", "w1", T + 1)
    core.call("job.retry", "j1", "q2", "w1", now=T + 2)
    [job] = pop(core, "q2", "w2", T + 3)
    assert job["queue"] == "q1"
    assert core.redis.hget("ql:j:j1", "queue") == "q1"
    # Handed out, it runs in its own queue (DEVIATIONS D-30), whose pops reclaim
    # it when its lease ends: the auto-failure is q1's.
    assert core.call("queue.pop", "q2", "w3", 1, now=T + 100) == "[]"
    assert core.call("queue.pop", "q1", "w3", 1, now=T + 100) == "[]"
    assert core.redis.smembers("ql:failures") == {"failed-retries-q1"}
    assert core.redis.lrange("ql:f:failed-retries-q1", 0, -1) == ["j1"]
    failure = json.loads(core.redis.hget("ql:j:j1", "failure") or "{}")
    assert failure["group"] == "failed-retries-q1"
    assert failure["message"] == 'Job exhausted retries in queue "q1"'
    assert core.redis.hget(f"ql:s:stats:{T + 100 - (T + 100) % 86400}:q1", "failed") == "1"


def test_a_popped_job_shows_the_dependencies_it_still_has(core: Core) -> None:
    put(core, "j7", "q9", now=T)
    put(core, "j1", "q2", now=T)
    # A waiting job with a dependency, as the reference core leaves one after a
    # retry into q2 and a re-put into q1 with `depends` (ours: DEVIATIONS D-30).
    core.redis.sadd("ql:j:j1-dependencies", "j7")
    core.redis.sadd("ql:j:j7-dependents", "j1")
    [job] = pop(core, "q2", "w2", T + 4)
    assert job["jid"] == "j1"
    assert job["dependencies"] == ["j7"]
    assert json.loads(core.call("job.get", "j1", now=T + 4))["dependencies"] == ["j7"]


# --- item 3: the empty queue name is a queue ------------------------------------


def test_a_job_put_to_the_empty_queue_leaves_it_when_put_elsewhere(core: Core) -> None:
    put(core, "j1", "", now=T)
    assert core.redis.zscore("ql:q:-work", "j1") is not None
    put(core, "j1", "q1", now=T + 1)
    assert sets_holding(core, "j1", "") == []
    assert sets_holding(core, "j1", "q1") == ["ql:q:q1-work"]


@pytest.mark.parametrize(
    ("options", "delay", "kind"),
    [((), 0, "work"), ((), 10, "scheduled"), (("depends", '["d"]'), 0, "depends")],
)
def test_cancelling_a_job_of_the_empty_queue_empties_its_sets(
    core: Core, options: tuple[str, ...], delay: float, kind: str
) -> None:
    put(core, "d", "other", now=T)
    put(core, "j1", "", *options, now=T, delay=delay)
    assert core.redis.zscore(f"ql:q:-{kind}", "j1") is not None
    assert core.call("job.cancel", "j1", now=T + 1) == ["j1"]
    assert sets_holding(core, "j1", "") == []
    assert not core.redis.exists("ql:j:j1")


def test_a_running_job_of_the_empty_queue_leaves_its_locks_on_cancel(core: Core) -> None:
    put(core, "j1", "", now=T)
    pop(core, "", "w1", T + 1)
    assert core.redis.zscore("ql:q:-locks", "j1") is not None
    core.call("job.cancel", "j1", now=T + 2)
    assert sets_holding(core, "j1", "") == []


def test_a_throttled_job_of_the_empty_queue_is_released_to_its_work_set(core: Core) -> None:
    core.call("throttle.set", "t", 1, now=T)
    put(core, "a", "", "throttles", '["t"]', now=T)
    put(core, "b", "", "throttles", '["t"]', now=T + 0.5)
    assert [job["jid"] for job in pop(core, "", "w1", T + 1)] == ["a"]
    assert core.call("queue.pop", "", "w1", 1, now=T + 2) == "[]"
    assert core.redis.zscore("ql:q:-throttled", "b") is not None
    core.call("job.complete", "a", "w1", "", "{}", now=T + 3)
    assert core.redis.zscore("ql:q:-throttled", "b") is None
    assert core.redis.zscore("ql:q:-work", "b") is not None


def test_removing_the_last_dependency_of_a_job_of_the_empty_queue_releases_it(
    core: Core,
) -> None:
    put(core, "d", "other", now=T)
    put(core, "j1", "", "depends", '["d"]', now=T)
    assert core.call("job.removeDependency", "j1", "d", now=T + 1) == 1
    assert core.redis.zscore("ql:q:-depends", "j1") is None
    assert core.redis.zscore("ql:q:-work", "j1") is not None
    assert core.redis.hget("ql:j:j1", "state") == "waiting"


def test_completing_a_dependency_releases_a_dependent_of_the_empty_queue(core: Core) -> None:
    put(core, "d", "q1", now=T)
    put(core, "j1", "", "depends", '["d"]', now=T)
    pop(core, "q1", "w1", T + 1)
    core.call("job.complete", "d", "w1", "q1", "{}", now=T + 2)
    assert sets_holding(core, "j1", "") == ["ql:q:-work"]
    assert core.redis.hget("ql:j:j1", "state") == "waiting"


# --- item 4: a job may depend on itself -----------------------------------------


def test_a_job_put_depending_on_itself_waits_on_itself(core: Core) -> None:
    put(core, "j1", "q1", "depends", '["j1"]', now=T)
    job = json.loads(core.call("job.get", "j1", now=T))
    assert job["state"] == "depends"
    assert job["dependencies"] == ["j1"]
    assert job["dependents"] == ["j1"]
    assert sets_holding(core, "j1", "q1") == ["ql:q:q1-depends"]
    assert core.call("queue.pop", "q1", "w1", 1, now=T + 1) == "[]"


def test_a_completed_job_requeued_depending_on_itself_waits_on_itself(core: Core) -> None:
    put(core, "j1", "q1", now=T)
    pop(core, "q1", "w1", T + 1)
    core.call("job.complete", "j1", "w1", "q1", "{}", now=T + 2)
    core.call("job.requeue", "w1", "q1", "j1", "k", "{}", 0, "depends", '["j1"]', now=T + 3)
    assert core.redis.hget("ql:j:j1", "state") == "depends"
    assert core.redis.smembers("ql:j:j1-dependencies") == {"j1"}
    assert sets_holding(core, "j1", "q1") == ["ql:q:q1-depends"]


# --- item 5: the empty worker name holds jobs like any other --------------------


@pytest.mark.parametrize(
    ("command", "args", "reply"),
    [
        ("job.complete", ("j1", "", "q2", "{}"), "complete"),
        ("job.completeAndRequeue", ("j1", "", "q2", "{}", "q3"), "waiting"),
        ("job.fail", ("j1", "", "g", "boom"), "j1"),
        ("job.retry", ("j1", "q2", ""), 4),
    ],
)
def test_a_job_popped_by_the_empty_worker_name_can_be_finished_by_it(
    core: Core, command: str, args: tuple[str, ...], reply: Any
) -> None:
    put(core, "j1", "q2", now=T + 10)
    assert [job["jid"] for job in pop(core, "q2", "", T + 11)] == ["j1"]
    assert core.call(command, *args, now=T + 12) == reply
    assert core.redis.zscore("ql:q:q2-locks", "j1") is None
    assert core.redis.hget("ql:j:j1", "state") != "running"


def test_a_heartbeat_still_refuses_the_empty_worker_name(core: Core) -> None:
    put(core, "j1", "q2", now=T + 10)
    pop(core, "q2", "", T + 11)
    core.raises(r"Job given out to another worker: (\s|$)", "job.heartbeat", "j1", "", now=T + 12)


# --- item 6: data that decodes to false is ignored ------------------------------


def test_fail_with_data_false_ignores_the_data(core: Core) -> None:
    put(core, "j1", "q1", now=T)
    pop(core, "q1", "w1", T + 1)
    assert core.call("job.fail", "j1", "w1", "g", "boom", "false", now=T + 2) == "j1"
    assert core.redis.hget("ql:j:j1", "data") == "{}"
    assert core.redis.hget("ql:j:j1", "state") == "failed"


def test_heartbeat_with_data_false_ignores_the_data(core: Core) -> None:
    put(core, "j1", "q1", now=T)
    pop(core, "q1", "w1", T + 1)
    assert core.call("job.heartbeat", "j1", "w1", "false", now=T + 2) == T + 62
    assert core.redis.hget("ql:j:j1", "data") == "{}"
    assert core.redis.hget("ql:j:j1", "expires") == str(T + 62)


def test_fail_with_malformed_data_still_fails_the_call(core: Core) -> None:
    put(core, "j1", "q1", now=T)
    pop(core, "q1", "w1", T + 1)
    with pytest.raises(redis.exceptions.ResponseError):
        core.call("job.fail", "j1", "w1", "g", "boom", "{nope", now=T + 2)
    assert core.redis.hget("ql:j:j1", "state") == "running"


# --- item 7: a priority pattern with a string member ----------------------------


def test_a_priority_pattern_with_a_string_member_is_stored(core: Core) -> None:
    assert core.call("queuePriorityPatterns.setAll", '{"pattern":"x"}', now=T) is None
    assert core.redis.lrange("ql:qp:priorities", 0, -1) == [
        '{"pattern":"x"}',
        '{"fairly": false, "pattern": ["default"]}',
    ]


@pytest.mark.parametrize("text", ['{"pattern":5}', '{"pattern":true}', '{"fairly":true}', "[1]"])
def test_a_priority_pattern_without_a_usable_member_is_refused(core: Core, text: str) -> None:
    core.call("queuePriorityPatterns.setAll", '{"pattern":["a"]}', now=T)
    core.raises("pattern", "queuePriorityPatterns.setAll", text, now=T)


# --- item 8: a spawn migrates the child's legacy history first -------------------


def test_a_spawn_onto_a_jid_with_legacy_history_keeps_the_history_in_order(core: Core) -> None:
    legacy = [{"put": T - 100, "queue": "old", "popped": T - 90, "worker": "w0"}]
    core.redis.hset("ql:j:r-1", mapping={"jid": "r-1", "history": json.dumps(legacy)})
    core.call("queue.recurAtInterval", "q", "r", "k", "{}", 60, 0, now=T)
    core.call("queue.peek", "q", 0, 1, now=T)
    entries = [json.loads(entry) for entry in core.redis.lrange("ql:j:r-1-history", 0, -1)]
    assert [(entry[0], entry[1]) for entry in entries] == [
        (T - 100, "put"),
        (T - 90, "popped"),
        (T, "put"),
    ]
    assert not core.redis.hexists("ql:j:r-1", "history")
