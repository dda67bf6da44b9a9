"""Throttles (spec 3.38, 3.39, 3.54-3.59, 4.10).

A throttle is a definition hash, a set of holders and a set of waiters. Jobs
acquire every throttle in their list at pop (or wait on the first one that is
full), and give them back when they stop running.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from tests.core.conftest import Core


def put(
    core: Core, jid: str, queue: str = "q", now: float = 0, delay: float = 0, **options: Any
) -> str:
    args: list[Any] = []
    for name, value in options.items():
        args += [name, json.dumps(value) if isinstance(value, list) else value]
    reply: str = core.call("queue.put", "putter", queue, jid, "Klass", "{}", delay, *args, now=now)
    return reply


def pop(
    core: Core, worker: str = "w", queue: str = "q", limit: int = 1, now: float = 0
) -> list[str]:
    return [job["jid"] for job in core.json("queue.pop", queue, worker, limit, now=now)]


def state(core: Core, jid: str) -> Any:
    return core.redis.hget(f"ql:j:{jid}", "state")


def history(core: Core, jid: str) -> list[str]:
    return [entry["what"] for entry in core.json("job.get", jid)["history"]]


def holders(core: Core, tid: str) -> Any:
    return core.redis.zrange(f"ql:th:{tid}-locks", 0, -1)


def waiters(core: Core, tid: str) -> Any:
    return core.redis.zrange(f"ql:th:{tid}-pending", 0, -1)


def work_score(priority: float, now: float) -> Any:
    return pytest.approx(priority - now / 10_000_000_000, abs=1e-15)


def one_holder_one_waiter(core: Core) -> None:
    """Throttle ``t`` (maximum 1) held by running job ``a``; ``b`` waits on it since t=2."""
    core.call("throttle.set", "t", 1)
    put(core, "a", throttles=["t"], now=0)
    assert pop(core, now=1) == ["a"]
    put(core, "b", throttles=["t"], now=2)
    assert state(core, "b") == "throttled"


# -- throttle.set / throttle.get / throttle.delete ----------------------------


def test_set_writes_the_id_and_maximum_and_replies_nil(core: Core) -> None:
    assert core.call("throttle.set", "t", 3) is None
    assert core.redis.hgetall("ql:th:t") == {"id": "t", "maximum": "3"}
    assert core.redis.ttl("ql:th:t") == -1


def test_get_reports_the_maximum_as_a_number_and_no_ttl(core: Core) -> None:
    core.call("throttle.set", "t", 3)
    assert core.json("throttle.get", "t") == {"id": "t", "maximum": 3, "ttl": -1}


def test_get_of_an_unknown_throttle_is_unlimited_and_absent(core: Core) -> None:
    assert core.json("throttle.get", "nope") == {"id": "nope", "maximum": 0, "ttl": -2}


def test_get_echoes_the_requested_id_not_the_stored_one(core: Core) -> None:
    core.redis.hset("ql:th:t", mapping={"id": "something-else", "maximum": "2"})
    assert core.json("throttle.get", "t") == {"id": "t", "maximum": 2, "ttl": -1}


def test_set_with_an_expiration_gives_the_definition_a_ttl(core: Core) -> None:
    core.call("throttle.set", "t", 3, 100)
    assert 0 < core.redis.ttl("ql:th:t") <= 100
    assert 0 < core.json("throttle.get", "t")["ttl"] <= 100


@pytest.mark.parametrize("extra", [(), (0,)], ids=["no-expiration", "zero-expiration"])
def test_set_without_a_positive_expiration_keeps_an_existing_ttl(
    core: Core, extra: tuple[int, ...]
) -> None:
    core.call("throttle.set", "t", 3, 100)
    core.call("throttle.set", "t", 4, *extra)
    assert core.json("throttle.get", "t")["maximum"] == 4
    assert 0 < core.redis.ttl("ql:th:t") <= 100


def test_an_expired_definition_leaves_the_throttle_unlimited(core: Core) -> None:
    core.call("throttle.set", "t", 1, 1)
    put(core, "a", throttles=["t"])
    put(core, "b", throttles=["t"], now=1)
    assert pop(core, now=2) == ["a"]
    # Lets the server's own clock pass the one-second TTL.
    time.sleep(1.2)
    assert core.json("throttle.get", "t") == {"id": "t", "maximum": 0, "ttl": -2}
    assert pop(core, now=3) == ["b"]
    assert holders(core, "t") == ["a", "b"]


def test_a_zero_maximum_means_unlimited(core: Core) -> None:
    core.call("throttle.set", "t", 0)
    for index, jid in enumerate("abc"):
        put(core, jid, throttles=["t"], now=index)
    assert pop(core, limit=3, now=5) == ["a", "b", "c"]


def test_set_without_a_maximum_is_refused(core: Core) -> None:
    core.raises("", "throttle.set", "t")


def test_set_with_a_non_numeric_expiration_is_refused(core: Core) -> None:
    # The reference writes the definition before comparing the expiration,
    # so only the error itself is asserted here.
    with pytest.raises(redis.exceptions.ResponseError):
        core.call("throttle.set", "t", 1, "soon")


def test_delete_removes_the_definition_but_keeps_holders_and_waiters(core: Core) -> None:
    one_holder_one_waiter(core)
    assert core.call("throttle.delete", "t") is None
    assert core.redis.exists("ql:th:t") == 0
    assert holders(core, "t") == ["a"]
    assert waiters(core, "t") == ["b"]
    assert core.json("throttle.get", "t") == {"id": "t", "maximum": 0, "ttl": -2}


def test_a_deleted_throttle_no_longer_limits_new_jobs(core: Core) -> None:
    one_holder_one_waiter(core)
    core.call("throttle.delete", "t")
    put(core, "c", throttles=["t"], now=3)
    assert state(core, "c") == "waiting"
    assert pop(core, now=4) == ["c"]


# -- throttle.locks / throttle.pending ----------------------------------------


def test_locks_and_pending_are_empty_json_arrays_for_an_unknown_throttle(core: Core) -> None:
    assert core.call("throttle.locks", "t") == "[]"
    assert core.call("throttle.pending", "t") == "[]"


def test_locks_lists_holders_in_jid_order_with_score_one(core: Core) -> None:
    for index, jid in enumerate("cab"):
        put(core, jid, throttles=["t"], now=index)
    assert pop(core, limit=3, now=5) == ["c", "a", "b"]
    assert core.json("throttle.locks", "t") == ["a", "b", "c"]
    assert core.redis.zrange("ql:th:t-locks", 0, -1, withscores=True) == [
        ("a", 1),
        ("b", 1),
        ("c", 1),
    ]


def test_pending_lists_waiters_by_time_then_jid(core: Core) -> None:
    one_holder_one_waiter(core)
    put(core, "x", throttles=["t"], now=7)
    put(core, "y", throttles=["t"], now=5)
    put(core, "w", throttles=["t"], now=5)
    assert core.json("throttle.pending", "t") == ["b", "w", "y", "x"]
    assert core.redis.zscore("ql:th:t-pending", "x") == 7


# -- queue throttle -----------------------------------------------------------


def test_queue_throttle_get_of_an_unset_queue(core: Core) -> None:
    assert core.json("queue.throttle.get", "q") == {"id": "ql:q:q", "maximum": 0, "ttl": -2}


def test_queue_throttle_set_writes_the_throttle_named_after_the_queue(core: Core) -> None:
    assert core.call("queue.throttle.set", "q", 5) is None
    assert core.redis.hgetall("ql:th:ql:q:q") == {"id": "ql:q:q", "maximum": "5"}
    assert core.json("queue.throttle.get", "q") == {"id": "ql:q:q", "maximum": 5, "ttl": -1}
    assert core.json("throttle.get", "ql:q:q") == {"id": "ql:q:q", "maximum": 5, "ttl": -1}


def test_queue_throttle_set_keeps_an_existing_ttl(core: Core) -> None:
    core.call("throttle.set", "ql:q:q", 2, 100)
    core.call("queue.throttle.set", "q", 5)
    assert core.json("queue.throttle.get", "q")["maximum"] == 5
    assert 0 < core.redis.ttl("ql:th:ql:q:q") <= 100


def test_queue_throttle_get_without_a_queue_is_refused(core: Core) -> None:
    core.raises("", "queue.throttle.get")


def test_queue_throttle_limits_how_many_jobs_of_the_queue_run(core: Core) -> None:
    core.call("queue.throttle.set", "q", 2)
    for index, jid in enumerate("abc"):
        put(core, jid, now=index)
    assert pop(core, limit=3, now=10) == ["a", "b"]
    assert holders(core, "ql:q:q") == ["a", "b"]
    assert state(core, "c") == "throttled"
    assert core.redis.zscore("ql:q:q-work", "c") is None
    assert core.redis.zscore("ql:q:q-throttled", "c") == 10
    assert core.redis.zscore("ql:th:ql:q:q-pending", "c") == 10
    last = core.json("job.get", "c")["history"][-1]
    assert last == {"when": 10, "what": "throttled", "queue": "q"}


def test_a_full_queue_throttle_stops_pop_before_the_work_queue(core: Core) -> None:
    put(core, "a", now=0)
    put(core, "b", now=1)
    put(core, "later", now=2, delay=5)
    core.call("queue.throttle.set", "q", 1)
    assert pop(core, now=3) == ["a"]
    assert pop(core, now=10) == []
    # b is not even examined, and the due scheduled job is not promoted.
    assert state(core, "b") == "waiting"
    assert core.redis.zscore("ql:q:q-work", "b") is not None
    assert core.redis.zscore("ql:q:q-scheduled", "later") == 7
    assert core.redis.zscore("ql:workers", "w") == 10


def test_a_reclaimed_job_is_handed_out_even_when_the_queue_is_full(core: Core) -> None:
    core.call("config.set", "grace-period", "0")
    core.call("queue.throttle.set", "q", 1)
    put(core, "a", throttles=["t"])
    assert pop(core, "first", now=0) == ["a"]
    assert pop(core, "second", now=60) == ["a"]
    # The new owner inherits the locks; nothing was re-acquired or released.
    assert holders(core, "ql:q:q") == ["a"]
    assert holders(core, "t") == ["a"]


# -- job throttles ------------------------------------------------------------


def test_put_appends_the_queue_throttle_to_the_given_throttles(core: Core) -> None:
    put(core, "a", throttles=["t1", "t2"])
    assert json.loads(core.redis.hget("ql:j:a", "throttles") or "null") == ["t1", "t2", "ql:q:q"]
    assert core.json("job.get", "a")["throttles"] == ["t1", "t2", "ql:q:q"]


def test_put_acquires_nothing_and_pop_acquires_every_throttle(core: Core) -> None:
    put(core, "a", throttles=["t1", "t2"])
    assert holders(core, "t1") == []
    pop(core, now=1)
    for tid in ("t1", "t2", "ql:q:q"):
        assert core.redis.zscore(f"ql:th:{tid}-locks", "a") == 1


def test_an_undefined_throttle_is_unlimited_but_records_its_holders(core: Core) -> None:
    put(core, "a", throttles=["free"], now=0)
    put(core, "b", throttles=["free"], now=1)
    assert pop(core, limit=2, now=2) == ["a", "b"]
    assert core.json("throttle.locks", "free") == ["a", "b"]
    assert core.redis.exists("ql:th:free") == 0


def test_a_job_that_cannot_get_every_throttle_acquires_none(core: Core) -> None:
    core.call("throttle.set", "narrow", 1)
    put(core, "a", throttles=["narrow"], now=0)
    put(core, "b", throttles=["wide", "narrow"], now=1)
    assert pop(core, limit=2, now=2) == ["a"]
    assert holders(core, "wide") == []
    assert holders(core, "ql:q:q") == ["a"]
    # It waits on the first throttle in its list that is full, and only there.
    assert waiters(core, "narrow") == ["b"]
    assert waiters(core, "wide") == []
    assert waiters(core, "ql:q:q") == []


def test_a_job_throttled_again_gets_no_second_throttled_history_entry(core: Core) -> None:
    one_holder_one_waiter(core)
    core.call("job.complete", "a", "w", "q", "{}", now=3)
    # b is back in the work queue (still marked throttled); c jumps ahead of it.
    put(core, "c", throttles=["t"], priority=1, now=4)
    assert pop(core, now=5) == ["c"]
    assert pop(core, now=6) == []
    assert state(core, "b") == "throttled"
    assert waiters(core, "t") == ["b"]
    assert core.redis.zscore("ql:q:q-throttled", "b") == 6
    assert history(core, "b") == ["put", "throttled"]


# -- put-time check -------------------------------------------------------------


def test_put_throttles_a_ready_job_whose_throttle_is_full(core: Core) -> None:
    one_holder_one_waiter(core)
    assert history(core, "b") == ["put", "throttled"]
    assert core.redis.zscore("ql:q:q-throttled", "b") == 2
    assert core.redis.zscore("ql:th:t-pending", "b") == 2
    assert core.redis.zscore("ql:q:q-work", "b") is None


def test_put_throttles_on_the_queue_throttle_too(core: Core) -> None:
    core.call("queue.throttle.set", "q", 1)
    put(core, "a")
    pop(core, now=1)
    put(core, "b", now=2)
    assert state(core, "b") == "throttled"
    assert waiters(core, "ql:q:q") == ["b"]


def test_put_with_a_delay_skips_the_throttle_check(core: Core) -> None:
    one_holder_one_waiter(core)
    put(core, "c", throttles=["t"], delay=10, now=3)
    assert state(core, "c") == "scheduled"
    assert core.redis.zscore("ql:q:q-scheduled", "c") == 13
    assert waiters(core, "t") == ["b"]


def test_put_with_unmet_dependencies_skips_the_throttle_check(core: Core) -> None:
    one_holder_one_waiter(core)
    put(core, "c", throttles=["t"], depends=["a"], now=3)
    assert state(core, "c") == "depends"
    assert waiters(core, "t") == ["b"]


def test_put_with_room_in_every_throttle_leaves_the_job_waiting(core: Core) -> None:
    core.call("throttle.set", "t", 2)
    put(core, "a", throttles=["t"])
    pop(core, now=1)
    put(core, "b", throttles=["t"], now=2)
    assert state(core, "b") == "waiting"
    assert waiters(core, "t") == []


def test_reput_of_a_running_job_gives_back_its_locks_first(core: Core) -> None:
    # 4.10 keeps them, and the job then waits on its own slot; a job that no
    # longer runs holds none (DEVIATIONS D-31).
    core.call("throttle.set", "t", 1)
    put(core, "a", throttles=["t"])
    pop(core, now=1)
    core.call("queue.put", "w", "q", "a", "Klass", "{}", 0, "throttles", '["t"]', now=2)
    assert holders(core, "t") == []
    assert waiters(core, "t") == []
    assert state(core, "a") == "waiting"
    assert core.redis.zscore("ql:q:q-locks", "a") is None


def test_reput_does_not_inherit_throttles(core: Core) -> None:
    put(core, "a", throttles=["t"])
    put(core, "a", now=1)
    assert core.json("job.get", "a")["throttles"] == ["ql:q:q"]


# -- release (4.10) -----------------------------------------------------------


def complete(core: Core) -> None:
    core.call("job.complete", "a", "w", "q", "{}", now=10)


def complete_and_requeue(core: Core) -> None:
    core.call("job.completeAndRequeue", "a", "w", "q", "{}", "next", now=10)


def fail(core: Core) -> None:
    core.call("job.fail", "a", "w", "group", "message", now=10)


def retry(core: Core) -> None:
    core.call("job.retry", "a", "q", "w", 5, now=10)


def timeout(core: Core) -> None:
    core.call("job.timeout", "a", now=10)


def cancel(core: Core) -> None:
    core.call("job.cancel", "a", now=10)


RELEASERS = [complete, complete_and_requeue, fail, retry, timeout, cancel]


@pytest.mark.parametrize("finish", RELEASERS, ids=lambda finish: finish.__name__)
def test_a_job_that_stops_running_releases_its_throttles_to_the_next_waiter(
    core: Core, finish: Callable[[Core], None]
) -> None:
    one_holder_one_waiter(core)
    finish(core)
    assert holders(core, "t") == []
    assert holders(core, "ql:q:q") == []
    assert waiters(core, "t") == []
    assert core.redis.zscore("ql:q:q-throttled", "b") is None
    # Re-queued with the time of the release, but not yet holding anything.
    assert core.redis.zscore("ql:q:q-work", "b") == work_score(0, 10)
    assert state(core, "b") == "throttled"


def test_a_released_job_keeps_its_priority_in_the_work_queue(core: Core) -> None:
    core.call("throttle.set", "t", 1)
    put(core, "a", throttles=["t"])
    pop(core, now=1)
    put(core, "b", throttles=["t"], priority=3, now=2)
    complete(core)
    assert core.redis.zscore("ql:q:q-work", "b") == work_score(3, 10)


def test_a_released_job_runs_at_the_next_pop(core: Core) -> None:
    one_holder_one_waiter(core)
    complete(core)
    assert pop(core, now=11) == ["b"]
    assert state(core, "b") == "running"
    assert holders(core, "t") == ["b"]


def test_completing_and_requeueing_keeps_the_old_queue_throttle_in_the_list(core: Core) -> None:
    one_holder_one_waiter(core)
    complete_and_requeue(core)
    assert core.json("job.get", "a")["throttles"] == ["t", "ql:q:q"]


def test_automatic_failure_at_pop_releases_throttles_to_the_same_pop(core: Core) -> None:
    core.call("config.set", "grace-period", "0")
    core.call("throttle.set", "t", 1)
    put(core, "a", throttles=["t"], retries=0)
    assert pop(core, "first", now=0) == ["a"]
    put(core, "b", throttles=["t"], now=1)
    assert pop(core, "second", now=60) == ["b"]
    assert state(core, "a") == "failed"
    assert holders(core, "t") == ["b"]


def test_release_moves_the_earliest_waiters_up_to_the_free_room(core: Core) -> None:
    core.call("throttle.set", "t", 2)
    put(core, "a", throttles=["t"], now=0)
    put(core, "h", throttles=["t"], now=1)
    assert pop(core, limit=2, now=2) == ["a", "h"]
    put(core, "late", throttles=["t"], now=5)
    put(core, "early", throttles=["t"], now=3)
    complete(core)
    assert waiters(core, "t") == ["late"]
    assert core.redis.zscore("ql:q:q-work", "early") is not None
    assert core.redis.zscore("ql:q:q-work", "late") is None


def test_release_with_no_room_left_releases_nobody(core: Core) -> None:
    core.call("throttle.set", "t", 2)
    put(core, "a", throttles=["t"], now=0)
    put(core, "h", throttles=["t"], now=1)
    pop(core, limit=2, now=2)
    put(core, "b", throttles=["t"], now=3)
    # Lowering the maximum revokes nobody: both holders keep running.
    core.call("throttle.set", "t", 1)
    assert holders(core, "t") == ["a", "h"]
    complete(core)
    assert holders(core, "t") == ["h"]
    assert waiters(core, "t") == ["b"]
    assert core.redis.zscore("ql:q:q-work", "b") is None


def test_release_of_an_unlimited_throttle_moves_at_most_ten_waiters(core: Core) -> None:
    core.call("throttle.set", "t", 1)
    put(core, "a", throttles=["t"])
    pop(core, now=1)
    names = [f"j{index:02}" for index in range(11)]
    for jid in names:
        put(core, jid, throttles=["t"], now=2)
    core.call("throttle.delete", "t")
    complete(core)
    # Same wait time, so the first ten by jid leave and the last one stays.
    assert waiters(core, "t") == ["j10"]
    assert sorted(core.redis.zrange("ql:q:q-work", 0, -1)) == names[:10]


def test_raising_the_maximum_releases_nobody_until_a_release_runs(core: Core) -> None:
    one_holder_one_waiter(core)
    core.call("throttle.set", "t", 2)
    assert waiters(core, "t") == ["b"]
    # Releasing a jid that holds nothing still gives the waiters the new room.
    assert core.call("throttle.release", "t", "nobody", now=3) is None
    assert waiters(core, "t") == []
    assert pop(core, now=4) == ["b"]
    assert holders(core, "t") == ["a", "b"]


def test_releasing_a_holder_frees_its_slot_without_touching_the_job(core: Core) -> None:
    one_holder_one_waiter(core)
    core.call("throttle.release", "t", "a", now=3)
    assert holders(core, "t") == []
    assert waiters(core, "t") == []
    assert core.redis.zscore("ql:q:q-work", "b") == work_score(0, 3)
    assert state(core, "a") == "running"


def test_releasing_a_waiter_only_drops_it_from_the_pending_set(core: Core) -> None:
    one_holder_one_waiter(core)
    put(core, "c", throttles=["t"], now=3)
    core.call("throttle.release", "t", "b", now=4)
    assert waiters(core, "t") == ["c"]
    assert holders(core, "t") == ["a"]
    assert core.redis.zscore("ql:q:q-throttled", "b") == 2
    assert state(core, "b") == "throttled"


def test_throttle_release_touches_only_the_named_throttle(core: Core) -> None:
    put(core, "a", throttles=["t1", "t2"])
    pop(core, now=1)
    core.call("throttle.release", "t1", "a", now=2)
    assert holders(core, "t1") == []
    assert holders(core, "t2") == ["a"]
    assert holders(core, "ql:q:q") == ["a"]


def test_throttle_release_handles_each_jid_in_turn(core: Core) -> None:
    put(core, "a", throttles=["t"], now=0)
    put(core, "b", throttles=["t"], now=1)
    pop(core, limit=2, now=2)
    core.call("throttle.release", "t", "a", "b", now=3)
    assert holders(core, "t") == []


def test_cancelling_a_waiter_removes_it_from_the_pending_set(core: Core) -> None:
    one_holder_one_waiter(core)
    core.call("job.cancel", "b", now=3)
    assert waiters(core, "t") == []
    assert core.redis.zscore("ql:q:q-throttled", "b") is None
    assert holders(core, "t") == ["a"]


# -- pop rounds (4.5) ---------------------------------------------------------


def four_jobs_on_two_throttles(core: Core) -> None:
    core.call("throttle.set", "t1", 1)
    core.call("throttle.set", "t2", 1)
    put(core, "j1", throttles=["t1"], now=1)
    put(core, "j2", throttles=["t1"], now=2)
    put(core, "j3", throttles=["t2"], now=3)
    put(core, "j4", throttles=["t2"], now=4)


def test_one_pop_round_stops_after_a_throttled_job(core: Core) -> None:
    four_jobs_on_two_throttles(core)
    assert pop(core, limit=2, now=10) == ["j1"]
    assert state(core, "j2") == "throttled"
    assert state(core, "j3") == "waiting"
    assert state(core, "j4") == "waiting"


def test_more_pop_rounds_look_further_down_the_queue(core: Core) -> None:
    core.call("config.set", "max-pop-retry", "99")
    four_jobs_on_two_throttles(core)
    assert pop(core, limit=2, now=10) == ["j1", "j3"]
    assert state(core, "j2") == "throttled"
    assert state(core, "j4") == "waiting"


def test_a_queue_max_pop_retry_overrides_the_global_one(core: Core) -> None:
    core.call("config.set", "q-max-pop-retry", "2")
    four_jobs_on_two_throttles(core)
    assert pop(core, limit=2, now=10) == ["j1", "j3"]


# -- events -------------------------------------------------------------------


def test_throttle_commands_publish_nothing(core: Core) -> None:
    one_holder_one_waiter(core)
    with core.events() as events:
        core.call("throttle.set", "u", 2, 50)
        core.call("throttle.get", "u")
        core.call("throttle.locks", "t")
        core.call("throttle.pending", "t")
        core.call("queue.throttle.set", "q", 3)
        core.call("queue.throttle.get", "q")
        core.call("throttle.release", "t", "a", now=3)
        core.call("throttle.delete", "u")
    assert events.messages == []
