"""Worker registry (spec 3.60-3.62, 4.14): registration by pop, job/stalled ranges, pruning."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.core.conftest import Core

EMPTY: dict[str, Any] = {"jobs": {}, "stalled": {}}


def put(core: Core, jid: str, queue: str = "q", now: float = 0) -> None:
    core.call("queue.put", "putter", queue, jid, "Klass", "{}", 0, now=now)


def pop(core: Core, worker: str, queue: str = "q", limit: int = 1, now: float = 0) -> list[str]:
    return [job["jid"] for job in core.json("queue.pop", queue, worker, limit, now=now)]


def worker_jobs(core: Core, worker: str, now: float) -> Any:
    return core.json("worker.jobs", worker, now=now)


def counts(core: Core, now: float) -> Any:
    return core.json("workers.counts", now=now)


# -- registration -------------------------------------------------------------


def test_pop_records_the_time_of_the_workers_latest_pop(core: Core) -> None:
    put(core, "a")
    pop(core, "w", now=5)
    assert core.redis.zscore("ql:workers", "w") == 5
    pop(core, "w", now=9)
    assert core.redis.zscore("ql:workers", "w") == 9


def test_an_empty_pop_still_registers_the_worker(core: Core) -> None:
    assert pop(core, "idle", queue="nothing-here", now=3) == []
    assert core.redis.zrange("ql:workers", 0, -1, withscores=True) == [("idle", 3)]


def test_a_pop_on_a_paused_queue_does_not_register_the_worker(core: Core) -> None:
    put(core, "a")
    core.call("queue.pause", "q")
    assert pop(core, "w", now=3) == []
    assert core.redis.exists("ql:workers") == 0


def test_heartbeat_moves_the_lock_but_not_the_last_seen_time(core: Core) -> None:
    put(core, "a")
    pop(core, "w", now=0)
    core.call("job.heartbeat", "a", "w", now=30)
    assert core.redis.zscore("ql:workers", "w") == 0
    assert core.redis.zscore("ql:w:w:jobs", "a") == 90


# -- worker.jobs --------------------------------------------------------------


def test_an_unknown_worker_has_empty_job_lists_encoded_as_objects(core: Core) -> None:
    # Parsed, {} and [] stay distinct: the empty lists must be JSON objects.
    assert worker_jobs(core, "ghost", 0) == EMPTY


def hand_out_four(core: Core) -> None:
    """Worker ``w`` holds ``a`` until 65 and ``b``, ``c``, ``d`` until 70."""
    for index, jid in enumerate("abcd"):
        put(core, jid, now=index)
    assert pop(core, "w", now=5) == ["a"]
    assert pop(core, "w", limit=3, now=10) == ["b", "c", "d"]


def test_worker_jobs_lists_live_locks_latest_expiry_first(core: Core) -> None:
    hand_out_four(core)
    # Equal expiries come out in reverse jid order (descending read).
    assert worker_jobs(core, "w", 20) == {"jobs": ["d", "c", "b", "a"], "stalled": {}}


def test_worker_jobs_lists_expired_locks_as_stalled(core: Core) -> None:
    hand_out_four(core)
    assert worker_jobs(core, "w", 66) == {"jobs": ["d", "c", "b"], "stalled": ["a"]}


def test_a_lock_expiring_exactly_now_is_in_both_lists(core: Core) -> None:
    hand_out_four(core)
    assert worker_jobs(core, "w", 70) == {"jobs": ["d", "c", "b"], "stalled": ["d", "c", "b", "a"]}


def test_a_lock_with_a_negative_expiry_is_in_neither_list(core: Core) -> None:
    core.call("config.set", "heartbeat", "-10")
    put(core, "a")
    pop(core, "w", now=0)
    assert core.redis.zscore("ql:w:w:jobs", "a") == -10
    assert worker_jobs(core, "w", 0) == EMPTY
    assert counts(core, 0) == [{"name": "w", "jobs": 0, "stalled": 0}]


def test_a_lock_beyond_a_hundred_days_is_listed_only_once_in_range(core: Core) -> None:
    core.call("config.set", "heartbeat", "9000000")
    # Keep the idle worker from being pruned while the clock runs ahead.
    core.call("config.set", "max-worker-age", "100000000")
    put(core, "a")
    pop(core, "w", now=0)
    assert worker_jobs(core, "w", 0) == EMPTY
    # The upper bound now + 8640000 is inclusive.
    assert worker_jobs(core, "w", 360000) == {"jobs": ["a"], "stalled": {}}
    assert worker_jobs(core, "w", 359999) == EMPTY


def test_worker_jobs_without_a_worker_is_the_counts_array_with_empty_as_object(core: Core) -> None:
    assert core.call("worker.jobs") == "{}"
    put(core, "a")
    pop(core, "w", now=0)
    assert core.json("worker.jobs", now=10) == [{"name": "w", "jobs": 1, "stalled": 0}]


def test_a_timed_out_job_stays_in_its_workers_set_and_later_shows_stalled(core: Core) -> None:
    put(core, "a")
    pop(core, "w", now=0)
    core.call("job.timeout", "a", now=10)
    assert core.redis.zscore("ql:w:w:jobs", "a") == 60
    assert worker_jobs(core, "w", 10) == {"jobs": ["a"], "stalled": {}}
    assert worker_jobs(core, "w", 61) == {"jobs": {}, "stalled": ["a"]}


def finish_complete(core: Core) -> None:
    core.call("job.complete", "a", "w", "q", "{}", now=1)


def finish_fail(core: Core) -> None:
    core.call("job.fail", "a", "w", "group", "message", now=1)


def finish_retry(core: Core) -> None:
    core.call("job.retry", "a", "q", "w", now=1)


def finish_cancel(core: Core) -> None:
    core.call("job.cancel", "a", now=1)


def finish_requeue(core: Core) -> None:
    core.call("queue.put", "other", "q", "a", "Klass", "{}", 0, now=1)


@pytest.mark.parametrize(
    "finish",
    [finish_complete, finish_fail, finish_retry, finish_cancel, finish_requeue],
    ids=["complete", "fail", "retry", "cancel", "re-put"],
)
def test_a_job_leaves_its_workers_set_when_it_stops_running(
    core: Core, finish: Callable[[Core], None]
) -> None:
    put(core, "a")
    pop(core, "w", now=0)
    finish(core)
    assert core.redis.zscore("ql:w:w:jobs", "a") is None
    assert worker_jobs(core, "w", 2) == EMPTY


def test_a_reclaimed_job_moves_to_the_new_workers_set(core: Core) -> None:
    core.call("config.set", "grace-period", "0")
    put(core, "a")
    pop(core, "old", now=0)
    assert pop(core, "new", now=60) == ["a"]
    assert worker_jobs(core, "old", 61) == EMPTY
    assert worker_jobs(core, "new", 61) == {"jobs": ["a"], "stalled": {}}


# -- workers.counts -----------------------------------------------------------


def test_workers_counts_is_an_empty_json_array_without_workers(core: Core) -> None:
    assert core.call("workers.counts") == "[]"


def test_workers_counts_lists_the_most_recently_active_worker_first(core: Core) -> None:
    pop(core, "x", now=5)
    pop(core, "a", now=10)
    pop(core, "b", now=10)
    # Equal last-seen times read in reverse name order.
    assert [entry["name"] for entry in counts(core, 20)] == ["b", "a", "x"]


def test_workers_counts_counts_live_and_stalled_locks_per_worker(core: Core) -> None:
    hand_out_four(core)
    put(core, "e", now=11)
    pop(core, "v", now=11)
    assert counts(core, 66) == [
        {"name": "v", "jobs": 1, "stalled": 0},
        {"name": "w", "jobs": 3, "stalled": 1},
    ]
    assert counts(core, 70) == [
        {"name": "v", "jobs": 1, "stalled": 0},
        {"name": "w", "jobs": 3, "stalled": 4},
    ]


# -- pruning (4.14) -----------------------------------------------------------


def test_a_worker_idle_for_max_worker_age_is_pruned_with_its_job_set(core: Core) -> None:
    core.call("config.set", "max-worker-age", "3600")
    put(core, "a")
    pop(core, "w", now=0)
    assert [entry["name"] for entry in counts(core, 3599)] == ["w"]
    assert counts(core, 3600) == []
    assert core.redis.exists("ql:w:w:jobs") == 0
    assert core.redis.zscore("ql:workers", "w") is None
    # The job itself is not touched by pruning.
    assert core.json("job.get", "a")["state"] == "running"


def test_the_default_max_worker_age_is_one_day(core: Core) -> None:
    pop(core, "w", now=0)
    assert [entry["name"] for entry in counts(core, 86399)] == ["w"]
    assert counts(core, 86400) == []


def test_worker_jobs_prunes_every_old_worker_first(core: Core) -> None:
    core.call("config.set", "max-worker-age", "100")
    put(core, "a")
    pop(core, "old", now=0)
    # Another queue, so this pop cannot reclaim the old worker's expired lock.
    pop(core, "young", queue="elsewhere", now=150)
    assert worker_jobs(core, "young", 150) == EMPTY
    assert core.redis.zrange("ql:workers", 0, -1) == ["young"]
    assert core.redis.exists("ql:w:old:jobs") == 0
    assert worker_jobs(core, "old", 150) == EMPTY


def test_a_worker_last_seen_at_a_negative_time_is_never_pruned(core: Core) -> None:
    pop(core, "w", now=-5)
    assert [entry["name"] for entry in counts(core, 10**9)] == ["w"]


def test_a_pop_keeps_an_active_worker_from_being_pruned(core: Core) -> None:
    core.call("config.set", "max-worker-age", "100")
    pop(core, "w", now=0)
    pop(core, "w", now=90)
    assert [entry["name"] for entry in counts(core, 150)] == ["w"]


# -- worker.forget ------------------------------------------------------------


def test_forget_removes_only_the_names_and_keeps_their_job_sets(core: Core) -> None:
    put(core, "a")
    pop(core, "w", now=0)
    pop(core, "v", now=0)
    pop(core, "u", now=0)
    assert core.call("worker.forget", "w", "v") is None
    assert core.redis.zrange("ql:workers", 0, -1) == ["u"]
    assert core.redis.zscore("ql:w:w:jobs", "a") == 60
    assert worker_jobs(core, "w", 1) == {"jobs": ["a"], "stalled": {}}


def test_a_forgotten_worker_reappears_at_its_next_pop(core: Core) -> None:
    pop(core, "w", now=0)
    core.call("worker.forget", "w")
    assert counts(core, 1) == []
    pop(core, "w", now=2)
    assert counts(core, 3) == [{"name": "w", "jobs": 0, "stalled": 0}]


# -- events -------------------------------------------------------------------


def test_worker_commands_publish_nothing(core: Core) -> None:
    put(core, "a")
    pop(core, "w", now=0)
    with core.events() as events:
        core.call("worker.jobs", "w", now=1)
        core.call("workers.counts", now=1)
        core.call("worker.forget", "w", now=1)
    assert events.messages == []
