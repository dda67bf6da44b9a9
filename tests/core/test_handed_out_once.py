"""A job is handed out once, and a deleted job holds no throttle slot.

One test group per section D-29 .. D-31 of ``reqless-core/DEVIATIONS.md``, each
starting from that section's reproducer: paths where the reference core (and the
spec, read literally) hands one job to two workers or leaks a throttle slot.
"""

from __future__ import annotations

import json
from typing import cast

from tests.core.conftest import Core

T = 1_700_000_000


def put(core: Core, queue: str, jid: str, *options: object, now: float = T) -> None:
    assert core.call("queue.put", "w1", queue, jid, "K", "{}", 0, *options, now=now) == jid


def pop(core: Core, queue: str, worker: str = "w1", *, now: float) -> list[str]:
    return [job["jid"] for job in core.json("queue.pop", queue, worker, 1, now=now)]


def places(core: Core, jid: str) -> list[str]:
    """Every state set that holds ``jid``."""
    found: list[str] = []
    for key in cast(list[str], core.redis.keys("ql:q:*")):
        if core.redis.type(key) == "zset" and core.redis.zscore(key, jid) is not None:
            found.append(key)
    for key in cast(list[str], core.redis.keys("ql:f:*")):
        if jid in core.redis.lrange(key, 0, -1):
            found.append(key)
    if core.redis.zscore("ql:completed", jid) is not None:
        found.append("ql:completed")
    return sorted(found)


# D-29: a recurring spawn onto an existing jid


def spawn_onto(core: Core, *options: object) -> None:
    core.call("queue.recurAtInterval", "q2", "r1", "K", "{}", 10, 0, *options, now=T)
    assert [job["jid"] for job in core.json("queue.peek", "q2", 0, 1, now=T)] == ["r1-1"]


def test_d29_a_spawn_onto_a_waiting_jid_hands_it_out_once(core: Core) -> None:
    put(core, "q1", "r1-1")
    spawn_onto(core)
    assert places(core, "r1-1") == ["ql:q:q2-work"]
    assert pop(core, "q1", now=T + 1) == []
    assert pop(core, "q2", "w2", now=T + 1) == ["r1-1"]
    assert pop(core, "q2", "w3", now=T + 2) == []


def test_d29_a_spawn_onto_a_jid_drops_its_old_edges_and_tags(core: Core) -> None:
    put(core, "q1", "dep")
    put(core, "q1", "r1-1", "depends", '["dep"]', "tags", '["old"]')
    spawn_onto(core)
    job = core.json("job.get", "r1-1", now=T)
    assert (job["state"], job["queue"], job["dependencies"], job["tags"]) == (
        "waiting",
        "q2",
        {},
        {},
    )
    assert places(core, "r1-1") == ["ql:q:q2-work"]
    assert core.redis.smembers("ql:j:dep-dependents") == set()
    assert core.redis.exists("ql:t:old") == 0
    assert core.redis.zscore("ql:tags", "old") is None


def test_d29_a_spawn_onto_a_running_jid_takes_it_from_its_worker(core: Core) -> None:
    core.call("queue.throttle.set", "q1", 1, now=T)
    put(core, "q1", "r1-1")
    assert pop(core, "q1", now=T) == ["r1-1"]
    spawn_onto(core)
    assert places(core, "r1-1") == ["ql:q:q2-work"]
    assert core.redis.zscore("ql:w:w1:jobs", "r1-1") is None
    assert core.call("throttle.locks", "ql:q:q1", now=T) == "[]"
    put(core, "q1", "j2", now=T + 1)
    assert pop(core, "q1", now=T + 2) == ["j2"]


def test_d29_a_spawn_onto_a_failed_jid_takes_it_off_the_failure_list(core: Core) -> None:
    put(core, "q1", "r1-1")
    assert pop(core, "q1", now=T) == ["r1-1"]
    core.call("job.fail", "r1-1", "w1", "g", "boom", now=T)
    spawn_onto(core)
    assert places(core, "r1-1") == ["ql:q:q2-work"]
    assert core.json("failureGroups.counts", now=T) == {}


def test_d29_a_spawn_onto_a_failed_jid_uncounts_it_on_the_day_it_failed(core: Core) -> None:
    stats = f"ql:s:stats:{T - T % 86_400}:q1"
    put(core, "q1", "r1-1")
    assert pop(core, "q1", now=T) == ["r1-1"]
    core.call("job.fail", "r1-1", "w1", "g", "boom", now=T)
    assert core.redis.hget(stats, "failed") == "1"
    core.call("queue.recurAtInterval", "q2", "r1", "K", "{}", 10, 0, now=T)
    # The spawn happens a day later: the failure is still taken off its own day.
    assert [job["jid"] for job in core.json("queue.peek", "q2", 0, 1, now=T + 86_400)] == ["r1-1"]
    assert core.redis.hget(stats, "failed") == "0"
    assert core.redis.exists(f"ql:s:stats:{T - T % 86_400 + 86_400}:q1") == 0


def test_d29_a_spawn_onto_a_failed_jid_leaves_an_absent_failed_counter_absent(
    core: Core,
) -> None:
    stats = f"ql:s:stats:{T - T % 86_400}:q1"
    put(core, "q1", "r1-1")
    assert pop(core, "q1", now=T) == ["r1-1"]
    core.call("job.fail", "r1-1", "w1", "g", "boom", now=T)
    core.redis.hdel(stats, "failed")
    spawn_onto(core)
    assert not core.redis.hexists(stats, "failed")
    assert core.json("failureGroups.counts", now=T) == {}


def test_d29_a_spawn_onto_a_completed_jid_takes_it_off_the_completed_set(core: Core) -> None:
    put(core, "q1", "r1-1")
    assert pop(core, "q1", now=T) == ["r1-1"]
    core.call("job.complete", "r1-1", "w1", "q1", "{}", now=T)
    spawn_onto(core)
    assert places(core, "r1-1") == ["ql:q:q2-work"]


# D-30: a put after a retry into another queue


def retried_into_q2(core: Core, *options: object) -> None:
    put(core, "q1", "j1", *options)
    assert pop(core, "q1", now=T + 1) == ["j1"]
    assert core.call("job.retry", "j1", "q2", "w1", 0, now=T + 2) >= 0


def test_d30_a_reput_after_a_retry_elsewhere_hands_the_job_out_once(core: Core) -> None:
    retried_into_q2(core)
    put(core, "q1", "j1", now=T + 3)
    assert places(core, "j1") == ["ql:q:q1-work"]
    assert pop(core, "q1", now=T + 4) == ["j1"]
    assert pop(core, "q2", "w2", now=T + 5) == []


def test_d30_a_retried_job_keeps_its_queue_field_and_runs_in_that_queue(core: Core) -> None:
    retried_into_q2(core)
    assert places(core, "j1") == ["ql:q:q2-work"]
    popped = core.json("queue.pop", "q2", "w2", 1, now=T + 3)
    assert [(job["jid"], job["queue"]) for job in popped] == [("j1", "q1")]
    # It runs in its own queue: the one complete names, and whose pops reclaim it.
    assert places(core, "j1") == ["ql:q:q1-locks"]
    assert core.call("job.complete", "j1", "w2", "q1", "{}", now=T + 4) == "complete"
    assert places(core, "j1") == ["ql:completed"]


def test_d30_a_cancel_after_a_retry_elsewhere_leaves_no_jid_behind(core: Core) -> None:
    retried_into_q2(core)
    assert core.call("job.cancel", "j1", now=T + 3) == ["j1"]
    assert places(core, "j1") == []
    assert pop(core, "q2", "w2", now=T + 4) == []


def test_d30_a_priority_change_after_a_retry_elsewhere_reorders_where_the_job_is(
    core: Core,
) -> None:
    retried_into_q2(core)
    put(core, "q2", "j2", now=T + 3)
    core.call("job.setPriority", "j1", -5, now=T + 4)
    assert places(core, "j1") == ["ql:q:q2-work"]
    assert pop(core, "q2", "w2", now=T + 5) == ["j2"]


def test_d30_a_retry_into_a_throttled_queue_is_released_where_it_waits(core: Core) -> None:
    core.call("throttle.set", "t", 1, now=T)
    retried_into_q2(core, "throttles", '["t"]')
    put(core, "q3", "holder", "throttles", '["t"]', now=T + 2)
    assert pop(core, "q3", now=T + 2) == ["holder"]
    assert pop(core, "q2", "w2", now=T + 3) == []
    assert places(core, "j1") == ["ql:q:q2-throttled"]
    core.call("job.complete", "holder", "w1", "q3", "{}", now=T + 4)
    assert places(core, "j1") == ["ql:q:q2-work"]
    assert pop(core, "q2", "w2", now=T + 5) == ["j1"]
    assert pop(core, "q1", now=T + 5) == []


# D-31: a re-put of a running job, then cancel


def test_d31_a_cancel_after_a_reput_frees_the_old_queues_slot(core: Core) -> None:
    core.call("queue.throttle.set", "q1", 1, now=T)
    put(core, "q1", "j1")
    assert pop(core, "q1", now=T + 1) == ["j1"]
    put(core, "q2", "j1", now=T + 2)
    assert core.call("job.cancel", "j1", now=T + 3) == ["j1"]
    put(core, "q1", "j2", now=T + 4)
    assert pop(core, "q1", now=T + 5) == ["j2"]
    assert core.redis.exists("ql:th:ql:q:q1-locks") == 1
    assert core.call("throttle.locks", "ql:q:q1", now=T + 5) == '["j2"]'


def test_d31_a_reput_of_a_running_job_gives_back_its_throttle_slots(core: Core) -> None:
    core.call("throttle.set", "t", 1, now=T)
    put(core, "q1", "j1", "throttles", '["t"]')
    put(core, "q1", "j2", "throttles", '["t"]', now=T + 1)
    assert pop(core, "q1", now=T + 2) == ["j1"]
    assert pop(core, "q1", now=T + 3) == []
    put(core, "q2", "j1", now=T + 4)
    assert core.call("throttle.locks", "t", now=T + 4) == "[]"
    assert json.loads(core.call("throttle.pending", "t", now=T + 4)) == []
    assert pop(core, "q1", "w2", now=T + 5) == ["j2"]
