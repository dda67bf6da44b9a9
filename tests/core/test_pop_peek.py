"""queue.pop and queue.peek (spec 3.33, 3.34, 4.2, 4.5-4.7, 4.18).

Peek and pop share one ordering: expired locks first (by expiry, then jid
ascending), then the work queue by descending score (ties by jid
descending). Pop acts on it; peek only reports it.
"""

from __future__ import annotations

import json
import re
from typing import Any, cast

import pytest

from tests.core.conftest import Core


def put(
    core: Core, jid: str, queue: str = "q", *, now: float = 0, delay: float = 0, **options: object
) -> None:
    args: list[object] = ["putter", queue, jid, "klass", "{}", delay]
    for name, value in options.items():
        args += [name, value if isinstance(value, str | int | float) else json.dumps(value)]
    core.call("queue.put", *args, now=now)


def pop(
    core: Core, queue: str = "q", worker: str = "worker", limit: int = 1, now: float = 0
) -> Any:
    return core.json("queue.pop", queue, worker, limit, now=now)


def peek(core: Core, queue: str = "q", offset: int = 0, limit: int = 10, now: float = 0) -> Any:
    return core.json("queue.peek", queue, offset, limit, now=now)


def jids(jobs: list[dict[str, Any]]) -> list[str]:
    return [job["jid"] for job in jobs]


def fields(core: Core, jid: str) -> dict[str, str]:
    return cast(dict[str, str], core.redis.hgetall(f"ql:j:{jid}"))


# --- pop: reply and hand-out -------------------------------------------------


def test_pop_of_an_empty_queue_returns_an_empty_json_list(core: Core) -> None:
    assert core.call("queue.pop", "q", "worker", 5) == "[]"


def test_pop_hands_out_the_job_object_with_lock_and_history(core: Core) -> None:
    put(core, "jid", "queue", now=0)
    assert pop(core, "queue", "worker", now=1) == [
        {
            "jid": "jid",
            "klass": "klass",
            "state": "running",
            "queue": "queue",
            "worker": "worker",
            "tracked": False,
            "priority": 0,
            "expires": 61,
            "retries": 5,
            "remaining": 5,
            "data": "{}",
            "tags": {},
            "history": [
                {"when": 0, "what": "put", "queue": "queue"},
                {"when": 1, "what": "popped", "worker": "worker"},
            ],
            "failure": {},
            "throttles": ["ql:q:queue"],
            "spawned_from_jid": False,
            "dependents": {},
            "dependencies": {},
        }
    ]


def test_pop_records_the_lock_in_the_job_queue_and_worker(core: Core) -> None:
    put(core, "jid")
    pop(core, worker="w", now=10.5)
    job = fields(core, "jid")
    assert (job["state"], job["worker"], float(job["expires"])) == ("running", "w", 70.5)
    assert job["time"] == f"{10.5:.20f}"
    assert core.redis.zrange("ql:q:q-locks", 0, -1, withscores=True) == [("jid", 70.5)]
    assert core.redis.zrange("ql:w:w:jobs", 0, -1, withscores=True) == [("jid", 70.5)]
    assert core.redis.zcard("ql:q:q-work") == 0
    assert core.redis.zrange("ql:th:ql:q:q-locks", 0, -1, withscores=True) == [("jid", 1.0)]


def test_pop_uses_the_per_queue_heartbeat_for_the_lock(core: Core) -> None:
    core.call("config.set", "q-heartbeat", 15)
    core.call("config.set", "heartbeat", 100)
    put(core, "a")
    put(core, "b", "other")
    assert pop(core, now=5)[0]["expires"] == 20
    assert pop(core, "other", now=5)[0]["expires"] == 105


def test_pop_records_a_wait_time_sample_for_the_day(core: Core) -> None:
    put(core, "jid", now=86400 + 2)
    pop(core, now=86400 + 9.5)
    stats = core.redis.hgetall("ql:s:wait:86400:q")
    assert float(stats["total"]) == 1
    assert float(stats["mean"]) == 7.5
    assert float(stats["vk"]) == 0
    assert stats["s7"] == "1"
    wait = core.json("queue.stats", "q", 86400)["wait"]
    assert (wait["count"], wait["mean"], wait["histogram"][7]) == (1, 7.5, 1)


def test_pop_registers_the_worker_even_when_nothing_is_handed_out(core: Core) -> None:
    pop(core, worker="w1", now=3)
    pop(core, worker="w2", now=4)
    pop(core, worker="w1", now=8)
    assert core.redis.zrange("ql:workers", 0, -1, withscores=True) == [("w2", 4.0), ("w1", 8.0)]


def test_pop_hands_out_at_most_limit_jobs(core: Core) -> None:
    for index, jid in enumerate(["a", "b", "c"]):
        put(core, jid, now=index)
    assert jids(pop(core, limit=2, now=5)) == ["a", "b"]
    assert core.redis.zrange("ql:q:q-work", 0, -1) == ["c"]


def test_pop_with_limit_zero_hands_out_nothing_but_registers_the_worker(core: Core) -> None:
    put(core, "a")
    put(core, "later", delay=1)
    assert core.call("queue.pop", "q", "w", 0, now=5) == "[]"
    assert core.redis.zrange("ql:q:q-work", 0, -1) == ["a"]
    # The promotion budget is zero too.
    assert core.redis.zrange("ql:q:q-scheduled", 0, -1) == ["later"]
    assert core.redis.zscore("ql:workers", "w") == 5


def test_pop_of_a_tracked_job_publishes_its_jid_on_ql_popped(core: Core) -> None:
    put(core, "tracked", now=0)
    put(core, "plain", now=1)
    core.call("job.track", "tracked")
    with core.events() as ev:
        pop(core, limit=2, now=2)
    assert ev.messages == [("ql:popped", "tracked")]


def test_pop_of_untracked_jobs_publishes_nothing(core: Core) -> None:
    put(core, "a")
    with core.events() as ev:
        pop(core)
    assert ev.messages == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param((), "Queue(): no queue name provided", id="queue-missing"),
        pytest.param(("q",), 'Pop(): Arg "worker" missing', id="worker-missing"),
        pytest.param(("q", "w"), 'Pop(): Arg "limit" missing or not a number', id="limit-missing"),
        pytest.param(
            ("q", "w", "many"), 'Pop(): Arg "limit" missing or not a number: many', id="limit-nan"
        ),
    ],
)
def test_pop_refuses_bad_arguments(core: Core, args: tuple[object, ...], message: str) -> None:
    put(core, "a")
    core.raises(re.escape(message), "queue.pop", *args)


# --- ordering (4.2) ----------------------------------------------------------


def test_higher_priority_pops_first(core: Core) -> None:
    put(core, "low", now=0, priority=-1)
    put(core, "high", now=2, priority=5)
    put(core, "normal", now=1)
    assert jids(pop(core, limit=3, now=3)) == ["high", "normal", "low"]


def test_equal_priority_pops_in_put_order(core: Core) -> None:
    put(core, "b", now=1.001)
    put(core, "c", now=1.002)
    put(core, "a", now=1.003)
    assert jids(pop(core, limit=3, now=2)) == ["b", "c", "a"]


def test_equal_scores_pop_in_reverse_lexicographic_jid_order(core: Core) -> None:
    for jid in ["b", "a", "c"]:
        put(core, jid, now=7)
    assert jids(peek(core, now=7)) == ["c", "b", "a"]
    assert jids(pop(core, limit=3, now=7)) == ["c", "b", "a"]


def test_a_later_put_time_is_outweighed_by_any_priority_step(core: Core) -> None:
    put(core, "old", now=0)
    put(core, "new", now=1700000000, priority=1)
    assert jids(pop(core, limit=2, now=1700000000)) == ["new", "old"]


# --- throttles at pop (4.5 step 6 and 9) ------------------------------------


def test_pop_stops_before_the_work_queue_when_the_queue_throttle_is_full(core: Core) -> None:
    core.call("queue.throttle.set", "q", 1)
    put(core, "a", now=0)
    put(core, "b", now=1)
    assert jids(pop(core, worker="w1", now=2)) == ["a"]
    assert pop(core, worker="w2", now=3) == []
    # b was never examined, so it is not throttled.
    assert fields(core, "b")["state"] == "waiting"
    assert core.redis.zrange("ql:q:q-work", 0, -1) == ["b"]
    assert core.redis.exists("ql:q:q-throttled") == 0


def test_pop_throttles_a_job_whose_throttle_is_full(core: Core) -> None:
    core.call("throttle.set", "t", 1)
    put(core, "a", now=0, throttles=["t"])
    put(core, "b", now=1, throttles=["t"])
    assert jids(pop(core, limit=2, now=4)) == ["a"]
    job = core.json("job.get", "b")
    assert job["state"] == "throttled"
    assert job["history"][-1] == {"when": 4, "what": "throttled", "queue": "q"}
    assert core.redis.zrange("ql:q:q-throttled", 0, -1, withscores=True) == [("b", 4.0)]
    assert core.redis.zrange("ql:th:t-pending", 0, -1, withscores=True) == [("b", 4.0)]
    assert core.redis.zcard("ql:q:q-work") == 0


def max_pop_retry_fixture(core: Core) -> None:
    core.call("throttle.set", "t1", 1)
    core.call("throttle.set", "t2", 1)
    for index, (jid, tid) in enumerate([("j1", "t1"), ("j2", "t1"), ("j3", "t2"), ("j4", "t2")]):
        put(core, jid, now=index, throttles=[tid])


def test_one_pop_round_examines_limit_jobs_only(core: Core) -> None:
    max_pop_retry_fixture(core)
    assert jids(pop(core, limit=2, now=5)) == ["j1"]
    assert fields(core, "j2")["state"] == "throttled"
    assert core.redis.zrange("ql:q:q-work", 0, -1) == ["j4", "j3"]


@pytest.mark.parametrize("option", ["max-pop-retry", "q-max-pop-retry"])
def test_more_pop_rounds_examine_further_jobs(core: Core, option: str) -> None:
    core.call("config.set", option, 99)
    max_pop_retry_fixture(core)
    assert jids(pop(core, limit=2, now=5)) == ["j1", "j3"]


def test_the_per_queue_max_pop_retry_wins_over_the_global_one(core: Core) -> None:
    core.call("config.set", "max-pop-retry", 99)
    core.call("config.set", "q-max-pop-retry", 1)
    max_pop_retry_fixture(core)
    assert jids(pop(core, limit=2, now=5)) == ["j1"]


# --- scheduled promotion (4.7) -----------------------------------------------


def test_a_scheduled_job_is_not_popped_before_it_is_due(core: Core) -> None:
    put(core, "later", now=0, delay=10)
    assert pop(core, now=9.9) == []
    assert fields(core, "later")["state"] == "scheduled"


def test_a_scheduled_job_is_popped_once_due(core: Core) -> None:
    put(core, "later", now=0, delay=10)
    assert jids(pop(core, now=10)) == ["later"]


def test_promotion_scores_the_job_with_the_promoting_time(core: Core) -> None:
    put(core, "scheduled", now=0, delay=3, priority=2)
    put(core, "waiting", now=5, priority=2)
    peek(core, now=10)
    assert fields(core, "scheduled")["state"] == "waiting"
    assert core.redis.exists("ql:q:q-scheduled") == 0
    assert core.redis.zscore("ql:q:q-work", "scheduled") == pytest.approx(
        2 - 10 / 10000000000, abs=1e-12
    )
    # Due at 3 but promoted at 10, so it queues behind the job put at 5.
    assert jids(pop(core, limit=2, now=10)) == ["waiting", "scheduled"]


def test_pop_promotes_at_most_limit_scheduled_jobs_earliest_first(core: Core) -> None:
    put(core, "second", now=0, delay=2)
    put(core, "first", now=0, delay=1)
    assert jids(pop(core, limit=1, now=5)) == ["first"]
    assert fields(core, "second")["state"] == "scheduled"
    assert core.redis.zrange("ql:q:q-scheduled", 0, -1) == ["second"]


# --- pause (4.18) ------------------------------------------------------------


def test_pop_of_a_paused_queue_does_nothing_at_all(core: Core) -> None:
    core.call("config.set", "grace-period", 0)
    core.call("config.set", "heartbeat", -10)
    put(core, "stale")
    pop(core, worker="w1", now=0)
    put(core, "waiting", now=1)
    put(core, "due", now=0, delay=1)
    core.call("queue.recurAtInterval", "q", "recur", "klass", "{}", 60, 0, now=0)
    core.call("queue.pause", "q")
    before = core.snapshot()
    with core.events() as ev:
        assert core.call("queue.pop", "q", "w2", 10, now=5) == "[]"
    assert core.snapshot() == before
    assert ev.messages == []


def test_pop_works_again_after_unpause(core: Core) -> None:
    put(core, "a")
    core.call("queue.pause", "q")
    assert pop(core) == []
    core.call("queue.unpause", "q")
    assert jids(pop(core)) == ["a"]


def test_peek_ignores_pause_and_still_spawns_recurring_jobs(core: Core) -> None:
    put(core, "a", now=0)
    core.call("queue.recurAtInterval", "q", "recur", "klass", "{}", 60, 0, now=0)
    core.call("queue.pause", "q")
    assert sorted(jids(peek(core, now=1))) == ["a", "recur-1"]


# --- peek --------------------------------------------------------------------


def test_peek_of_an_empty_queue_returns_an_empty_json_list(core: Core) -> None:
    assert core.call("queue.peek", "q", 0, 10) == "[]"


def test_peek_returns_job_objects_without_changing_anything(core: Core) -> None:
    put(core, "a", now=0)
    before = core.snapshot()
    with core.events() as ev:
        [job] = peek(core, now=1)
    assert core.snapshot() == before
    assert ev.messages == []
    assert (job["jid"], job["state"], job["worker"], job["expires"]) == ("a", "waiting", "", 0)
    assert job["history"] == [{"when": 0, "what": "put", "queue": "q"}]


def test_peek_uses_the_pop_order(core: Core) -> None:
    put(core, "low", now=0, priority=-1)
    put(core, "y", now=1)
    put(core, "x", now=1)
    put(core, "first", now=0.5)
    put(core, "high", now=2, priority=3)
    assert jids(peek(core, now=3)) == ["high", "first", "y", "x", "low"]


@pytest.mark.parametrize("limit", [0, -1])
def test_peek_with_a_limit_of_zero_or_less_returns_nothing_and_promotes_nothing(
    core: Core, limit: int
) -> None:
    put(core, "a")
    put(core, "due", delay=1)
    assert core.call("queue.peek", "q", 0, limit, now=5) == "[]"
    assert fields(core, "due")["state"] == "scheduled"


def test_peek_promotes_due_scheduled_jobs(core: Core) -> None:
    put(core, "due", now=0, delay=5)
    put(core, "later", now=0, delay=50)
    assert jids(peek(core, now=5)) == ["due"]
    assert fields(core, "due")["state"] == "waiting"
    assert fields(core, "later")["state"] == "scheduled"


def test_peek_skips_jids_whose_job_is_gone(core: Core) -> None:
    put(core, "a", now=0)
    put(core, "b", now=1)
    # Simulates a dangling work entry, which the algorithm tolerates.
    core.redis.delete("ql:j:a")
    assert jids(peek(core, now=2)) == ["b"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param((), "Queue(): no queue name provided", id="queue-missing"),
        pytest.param(("q",), 'Peek(): Arg "offset" missing or not a number', id="offset-missing"),
        pytest.param(
            ("q", "x", 1), 'Peek(): Arg "offset" missing or not a number: x', id="offset-nan"
        ),
        pytest.param(("q", 0), 'Peek(): Arg "limit" missing or not a number', id="limit-missing"),
        pytest.param(
            ("q", 0, "y"), 'Peek(): Arg "limit" missing or not a number: y', id="limit-nan"
        ),
    ],
)
def test_peek_refuses_bad_arguments(core: Core, args: tuple[object, ...], message: str) -> None:
    core.raises(re.escape(message), "queue.peek", *args)


# --- peek with expired locks (4.6) ------------------------------------------


def stalled_fixture(core: Core) -> None:
    """Locks of s2 and s1 expire together at 60; w1..w3 wait in that order."""
    put(core, "s2", now=0)
    put(core, "s1", now=0.5)
    pop(core, worker="w", limit=2, now=0)
    for index, jid in enumerate(["w1", "w2", "w3"]):
        put(core, jid, now=1 + index)


def test_peek_lists_expired_locks_first_in_jid_order(core: Core) -> None:
    stalled_fixture(core)
    jobs = peek(core, now=60)
    assert jids(jobs) == ["s1", "s2", "w1", "w2", "w3"]
    # Reported only: peek never takes the lock away.
    assert [job["state"] for job in jobs[:2]] == ["running", "running"]
    assert core.redis.zrange("ql:q:q-locks", 0, -1, withscores=True) == [("s1", 60.0), ("s2", 60.0)]


def test_peek_does_not_list_locks_that_have_not_expired(core: Core) -> None:
    stalled_fixture(core)
    assert jids(peek(core, now=59.9)) == ["w1", "w2", "w3"]


def test_peek_lists_expired_locks_by_expiry_before_jid(core: Core) -> None:
    core.call("config.set", "heartbeat", 5)
    put(core, "b", now=0)
    pop(core, now=0)
    core.call("config.set", "heartbeat", -10)
    put(core, "z", now=1)
    pop(core, now=1)
    put(core, "w", now=2)
    # z's lock was born expired (-9); negative expiries count as expired too.
    assert jids(peek(core, now=10)) == ["z", "b", "w"]


@pytest.mark.parametrize(
    ("offset", "limit", "expected"),
    [
        (0, 1, ["s1"]),
        (0, 2, ["s1", "s2"]),
        (1, 1, ["s2"]),
        (1, 2, ["s2", "w1"]),
        (2, 2, ["w1", "w2"]),
        (3, 2, ["w2", "w3"]),
        (3, 5, ["w2", "w3"]),
        (4, 1, ["w3"]),
        (5, 3, []),
        (0, 10, ["s1", "s2", "w1", "w2", "w3"]),
    ],
)
def test_peek_pages_through_expired_then_waiting_jobs(
    core: Core, offset: int, limit: int, expected: list[str]
) -> None:
    stalled_fixture(core)
    assert jids(peek(core, offset=offset, limit=limit, now=100)) == expected


def test_peek_promotion_budget_shrinks_with_the_expired_locks_shown(core: Core) -> None:
    stalled_fixture(core)
    put(core, "due", now=3, delay=1)
    # offset 0, limit 2: both slots go to expired locks, so nothing is promoted.
    peek(core, offset=0, limit=2, now=100)
    assert fields(core, "due")["state"] == "scheduled"
    peek(core, offset=0, limit=3, now=100)
    assert fields(core, "due")["state"] == "waiting"
