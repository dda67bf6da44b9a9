"""Queue listings and controls: queue.counts, queue.forget, queue.jobsByState, queue.length,
queue.pause/unpause, queues.counts, queues.names (spec 2.8, 3.28-3.32, 3.41, 3.46, 3.47)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.core.conftest import Core


def put(
    core: Core, jid: str, queue: str = "q", now: float = 0, *, delay: float = 0, **options: Any
) -> None:
    extra: list[Any] = []
    for name, value in options.items():
        extra += [name, value if isinstance(value, str | int | float) else json.dumps(value)]
    core.call("queue.put", "putter", queue, jid, "klass", "{}", delay, *extra, now=now)


def pop(
    core: Core, queue: str = "q", worker: str = "worker", now: float = 0, limit: int = 1
) -> list[Any]:
    return list(core.json("queue.pop", queue, worker, limit, now=now))


def recur(core: Core, jid: str, queue: str = "q", now: float = 0, offset: float = 0) -> None:
    core.call("queue.recurAtInterval", queue, jid, "klass", "{}", 60, offset, now=now)


def by_state(core: Core, state: str, *args: Any, now: float = 0) -> Any:
    return core.json("queue.jobsByState", state, *args, now=now)


def counts(queue: str = "q", **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": queue,
        "waiting": 0,
        "stalled": 0,
        "running": 0,
        "throttled": 0,
        "scheduled": 0,
        "depends": 0,
        "recurring": 0,
        "paused": False,
    }
    return base | overrides


# --- queue.counts -------------------------------------------------------------------------------


def test_counts_of_an_unknown_queue_are_all_zero(core: Core) -> None:
    assert core.json("queue.counts", "nowhere") == counts("nowhere")


def test_counts_reports_every_state(core: Core) -> None:
    core.call("throttle.set", "gate", 1)
    put(core, "runner", throttles=["gate"])
    pop(core, now=0)
    put(core, "w1")
    put(core, "w2")
    put(core, "later", delay=100)
    put(core, "dep", depends=["w1"])
    put(core, "blocked", throttles=["gate"])
    recur(core, "tpl", offset=500)
    assert core.json("queue.counts", "q", now=1) == counts(
        waiting=2, running=1, throttled=1, scheduled=1, depends=1, recurring=1
    )


def test_counts_splits_locks_into_stalled_and_running_at_now(core: Core) -> None:
    put(core, "a")
    put(core, "b")
    pop(core, now=0)
    pop(core, now=10)
    assert core.json("queue.counts", "q", now=59) == counts(running=2)
    # A lock that expires exactly at now is already stalled.
    assert core.json("queue.counts", "q", now=60) == counts(stalled=1, running=1)
    assert core.json("queue.counts", "q", now=100) == counts(stalled=2)


def test_counts_treats_a_negative_lock_expiry_as_running(core: Core) -> None:
    core.call("config.set", "heartbeat", -10)
    put(core, "jid")
    pop(core, now=0)
    assert core.redis.zscore("ql:q:q-locks", "jid") == -10
    assert core.json("queue.counts", "q", now=0) == counts(running=1)


def test_counts_promotes_due_scheduled_jobs(core: Core) -> None:
    put(core, "due", delay=10, now=0)
    put(core, "later", delay=50, now=0)
    assert core.json("queue.counts", "q", now=10) == counts(waiting=1, scheduled=1)
    assert core.redis.hget("ql:j:due", "state") == "waiting"
    assert core.redis.zscore("ql:q:q-work", "due") == -10 / 10_000_000_000
    assert core.redis.zscore("ql:q:q-scheduled", "later") == 50


def test_counts_of_a_timed_out_job_is_waiting(core: Core) -> None:
    put(core, "jid")
    pop(core, now=0)
    core.call("job.timeout", "jid", now=1)
    assert core.json("queue.counts", "q", now=2) == counts(waiting=1)


def test_counts_reports_paused(core: Core) -> None:
    core.call("queue.pause", "q")
    assert core.json("queue.counts", "q")["paused"] is True


def test_counts_without_a_queue_lists_every_queue(core: Core) -> None:
    put(core, "a", queue="one", now=1)
    put(core, "b", queue="two", now=2)
    assert core.json("queue.counts") == [counts("one", waiting=1), counts("two", waiting=1)]


def test_counts_without_a_queue_and_no_queues_is_an_empty_object(core: Core) -> None:
    assert core.call("queue.counts") == "{}"


def test_counts_and_listings_publish_nothing(core: Core) -> None:
    put(core, "jid", delay=5)
    with core.events() as ev:
        core.call("queue.counts", "q", now=10)
        core.call("queues.counts", now=10)
        core.call("queues.names")
        core.call("queue.length", "q")
        core.call("queue.jobsByState", "scheduled", "q", now=10)
        core.call("queue.pause", "q")
        core.call("queue.unpause", "q")
        core.call("queue.forget", "q")
    assert ev.messages == []


# --- queue.length -------------------------------------------------------------------------------


def test_length_counts_locks_work_and_scheduled_only(core: Core) -> None:
    core.call("throttle.set", "gate", 1)
    put(core, "runner", throttles=["gate"])
    pop(core, now=0)
    put(core, "waiting")
    put(core, "later", delay=100)
    put(core, "dep", depends=["waiting"])
    put(core, "blocked", throttles=["gate"])
    recur(core, "tpl")
    assert core.call("queue.length", "q") == 3


def test_length_includes_stalled_locks_and_timed_out_jobs(core: Core) -> None:
    put(core, "a")
    put(core, "b")
    pop(core, now=0, limit=2)
    core.call("job.timeout", "a", now=1)
    assert core.call("queue.length", "q", now=100) == 2


def test_length_of_an_unknown_queue_is_0(core: Core) -> None:
    assert core.call("queue.length", "nowhere") == 0


def test_length_without_a_queue_is_refused(core: Core) -> None:
    core.raises(r"Queue\(\): no queue name provided", "queue.length")


# --- queue.pause / queue.unpause ----------------------------------------------------------------


def test_pause_makes_pop_return_nothing_without_registering_the_worker(core: Core) -> None:
    put(core, "jid")
    assert core.call("queue.pause", "q") is None
    assert core.redis.smembers("ql:paused_queues") == {"q"}
    assert core.call("queue.pop", "q", "worker", 5, now=1) == "[]"
    assert not core.redis.exists("ql:workers")
    assert core.redis.hget("ql:j:jid", "state") == "waiting"


def test_a_paused_queue_still_accepts_puts_and_peeks(core: Core) -> None:
    core.call("queue.pause", "q")
    put(core, "jid")
    assert [job["jid"] for job in core.json("queue.peek", "q", 0, 5)] == ["jid"]


def test_pause_and_unpause_take_several_queues(core: Core) -> None:
    core.call("queue.pause", "a", "b", "c")
    assert core.redis.smembers("ql:paused_queues") == {"a", "b", "c"}
    assert core.call("queue.unpause", "a", "c") is None
    assert core.redis.smembers("ql:paused_queues") == {"b"}


def test_unpause_lets_pop_hand_out_jobs_again(core: Core) -> None:
    put(core, "jid")
    core.call("queue.pause", "q")
    core.call("queue.unpause", "q")
    assert [job["jid"] for job in pop(core, now=1)] == ["jid"]
    assert core.json("queue.counts", "q")["paused"] is False


@pytest.mark.parametrize("command", ["queue.pause", "queue.unpause", "queue.forget"])
def test_queue_controls_without_names_are_refused(core: Core, command: str) -> None:
    core.raises(r"(?i)wrong number of arg", command)


# --- queue.forget -------------------------------------------------------------------------------


def test_forget_removes_queue_names_but_keeps_the_jobs(core: Core) -> None:
    put(core, "a", queue="one")
    put(core, "b", queue="two")
    put(core, "c", queue="three")
    assert core.call("queue.forget", "one", "three") is None
    assert core.json("queues.names") == ["two"]
    assert core.redis.zrange("ql:q:one-work", 0, -1) == ["a"]
    assert core.json("job.get", "a")["queue"] == "one"


# --- queues.counts / queues.names ---------------------------------------------------------------


def test_names_are_listed_by_first_seen_time_then_by_name(core: Core) -> None:
    put(core, "j1", queue="late", now=5)
    put(core, "j2", queue="b", now=1)
    put(core, "j3", queue="a", now=1)
    put(core, "j4", queue="late", now=0)
    assert core.json("queues.names") == ["a", "b", "late"]
    assert core.redis.zscore("ql:queues", "late") == 5


def test_names_and_counts_with_no_queue_are_empty_json_arrays(core: Core) -> None:
    assert core.call("queues.names") == "[]"
    assert core.call("queues.counts") == "[]"


def test_queues_counts_lists_counts_in_name_order_and_promotes_every_queue(core: Core) -> None:
    put(core, "x", queue="two", now=2, delay=8)
    put(core, "y", queue="one", now=1)
    put(core, "z", queue="one", now=1, delay=100)
    assert core.json("queues.counts", now=10) == [
        counts("one", waiting=1, scheduled=1),
        counts("two", waiting=1),
    ]
    assert core.redis.hget("ql:j:x", "state") == "waiting"


# --- queue.jobsByState --------------------------------------------------------------------------


def test_running_lists_unexpired_locks_by_ascending_expiry(core: Core) -> None:
    for jid in ("a", "b", "c"):
        put(core, jid)
    # Equal work scores pop in reverse jid order: c first, then b, then a.
    pop(core, now=10)
    pop(core, now=0)
    pop(core, now=5)
    assert by_state(core, "running", "q", now=1) == ["b", "a", "c"]
    assert by_state(core, "running", "q", now=65) == ["a", "c"]


def test_stalled_lists_expired_locks_including_one_expiring_now(core: Core) -> None:
    for jid in ("a", "b", "c"):
        put(core, jid)
    pop(core, now=0, limit=3)
    assert by_state(core, "stalled", "q", now=59) == []
    assert by_state(core, "stalled", "q", now=60) == ["a", "b", "c"]
    # Expiring exactly at now counts as running too.
    assert by_state(core, "running", "q", now=60) == ["a", "b", "c"]


def test_stalled_includes_negative_expiries(core: Core) -> None:
    core.call("config.set", "heartbeat", -5)
    put(core, "jid")
    pop(core, now=0)
    assert by_state(core, "stalled", "q", now=0) == ["jid"]
    assert by_state(core, "running", "q", now=0) == []


def test_running_and_stalled_page_with_limit_semantics(core: Core) -> None:
    for jid in ("a", "b", "c", "d"):
        put(core, jid)
    pop(core, now=0, limit=4)
    assert by_state(core, "running", "q", 1, 2, now=1) == ["b", "c"]
    assert core.call("queue.jobsByState", "running", "q", 0, 0, now=1) == "[]"
    assert by_state(core, "stalled", "q", 2, 5, now=100) == ["c", "d"]
    assert core.call("queue.jobsByState", "stalled", "q", 0, 0, now=100) == "[]"


def test_throttled_lists_by_time_throttled(core: Core) -> None:
    core.call("throttle.set", "gate", 1)
    put(core, "holder", throttles=["gate"])
    pop(core, now=0)
    put(core, "late", throttles=["gate"], now=3)
    put(core, "y", throttles=["gate"], now=1)
    put(core, "x", throttles=["gate"], now=1)
    assert by_state(core, "throttled", "q") == ["x", "y", "late"]


def test_scheduled_promotes_due_jobs_before_listing(core: Core) -> None:
    put(core, "due", delay=5, now=0)
    put(core, "b", delay=20, now=0)
    put(core, "a", delay=20, now=0)
    put(core, "first", delay=10, now=0)
    assert by_state(core, "scheduled", "q", now=5) == ["first", "a", "b"]
    assert core.redis.hget("ql:j:due", "state") == "waiting"


def test_depends_lists_by_time_entered(core: Core) -> None:
    put(core, "parent")
    put(core, "second", depends=["parent"], now=2)
    put(core, "first", depends=["parent"], now=1)
    assert by_state(core, "depends", "q") == ["first", "second"]


def test_recurring_lists_templates_by_next_spawn_time_ignoring_negative_scores(
    core: Core,
) -> None:
    recur(core, "later", offset=100)
    recur(core, "soon", offset=10)
    recur(core, "past", offset=-10)
    assert by_state(core, "recurring", "q") == ["soon", "later"]
    assert by_state(core, "recurring", "q", 1, 1) == ["later"]
    assert core.call("queue.jobsByState", "recurring", "q", 0, 0) == "[]"


def test_complete_takes_offset_and_limit_without_a_queue(core: Core) -> None:
    for t, jid in enumerate(("a", "b", "c")):
        put(core, jid, now=t)
        pop(core, now=t)
        core.call("job.complete", jid, "worker", "q", "{}", now=t)
    assert by_state(core, "complete") == ["c", "b", "a"]
    assert by_state(core, "complete", 1, 1) == ["b"]
    assert by_state(core, "complete", 0, 0) == ["c", "b", "a"]
    assert by_state(core, "complete") == core.json("jobs.completed")


def test_rank_range_states_return_everything_for_limit_0_at_offset_0(core: Core) -> None:
    put(core, "parent")
    for i in range(30):
        put(core, f"d{i:02}", depends=["parent"], now=i)
    assert by_state(core, "depends", "q") == [f"d{i:02}" for i in range(25)]
    assert len(by_state(core, "depends", "q", 0, 0)) == 30
    assert by_state(core, "depends", "q", 28, 5) == ["d28", "d29"]


def test_an_empty_state_listing_is_an_empty_json_array(core: Core) -> None:
    for state in ("running", "stalled", "throttled", "scheduled", "depends", "recurring"):
        assert core.call("queue.jobsByState", state, "q") == "[]", state
    assert core.call("queue.jobsByState", "complete") == "[]"


def test_jobs_by_state_rejects_bad_arguments(core: Core) -> None:
    core.raises(r'Jobs\(\): Arg "state" missing', "queue.jobsByState")
    core.raises(r'Jobs\(\): Arg "queue" missing', "queue.jobsByState", "depends")
    core.raises(
        r'Jobs\(\): Arg "offset" not a number: first', "queue.jobsByState", "depends", "q", "first"
    )
    core.raises(
        r'Jobs\(\): Arg "limit" not a number: all', "queue.jobsByState", "depends", "q", 0, "all"
    )
    core.raises(
        r'Jobs\(\): Arg "offset" not a number: first', "queue.jobsByState", "complete", "first"
    )


def test_jobs_by_state_rejects_an_unknown_state(core: Core) -> None:
    core.raises(r'Jobs\(\): Unknown type "bogus"', "queue.jobsByState", "bogus", "q")
