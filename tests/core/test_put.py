"""queue.put and job.requeue (spec 3.35, 3.18, 4.15 numeric tags).

A put either creates a job or moves an existing one, whatever its state, so
most tests here set a job up in some state first and then check what the
put left behind in the keys of section 2.2.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, cast

import pytest
import redis

from tests.core.conftest import Core

DAY = 86400


def encode(value: object) -> object:
    """Option values: strings pass verbatim (so malformed JSON can be sent), lists become JSON."""
    if isinstance(value, str | int | float):
        return value
    return json.dumps(value)


def put(
    core: Core,
    jid: str = "jid",
    queue: str = "q",
    *,
    now: float = 0,
    worker: str = "worker",
    data: str = "{}",
    delay: float | str = 0,
    command: str = "queue.put",
    extra: Mapping[str, object] | None = None,
    **options: object,
) -> Any:
    args: list[object] = [worker, queue, jid, "klass", data, delay]
    for name, value in {**(extra or {}), **options}.items():
        args += [name, encode(value)]
    return core.call(command, *args, now=now)


def pop(
    core: Core, queue: str = "q", worker: str = "worker", limit: int = 1, now: float = 0
) -> Any:
    return core.json("queue.pop", queue, worker, limit, now=now)


def fields(core: Core, jid: str = "jid") -> dict[str, str]:
    return cast(dict[str, str], core.redis.hgetall(f"ql:j:{jid}"))


def history(core: Core, jid: str = "jid") -> list[Any]:
    return [json.loads(entry) for entry in core.redis.lrange(f"ql:j:{jid}-history", 0, -1)]


def work(core: Core, queue: str = "q") -> list[tuple[str, float]]:
    return cast(
        list[tuple[str, float]], core.redis.zrange(f"ql:q:{queue}-work", 0, -1, withscores=True)
    )


def members(core: Core, key: str) -> list[str]:
    return cast(list[str], core.redis.zrange(key, 0, -1))


def locations(core: Core, jid: str = "jid", queue: str = "q") -> set[str]:
    """Which of the queue's five job sets hold the jid."""
    return {
        kind
        for kind in ("work", "locks", "scheduled", "depends", "throttled")
        if core.redis.zscore(f"ql:q:{queue}-{kind}", jid) is not None
    }


# --- a new job ---------------------------------------------------------------


def test_put_returns_the_jid(core: Core) -> None:
    assert put(core, "my-job") == "my-job"


def test_put_of_a_new_job_writes_exactly_the_documented_fields(core: Core) -> None:
    data = '{"b": [1, 2], "url": "a/b"}'
    put(core, now=2.5, data=data)
    assert fields(core) == {
        "jid": "jid",
        "klass": "klass",
        "state": "waiting",
        "queue": "q",
        "worker": "",
        "priority": "0",
        "expires": "0",
        "retries": "5",
        "remaining": "5",
        # Job data is stored verbatim: spacing kept, slash not escaped.
        "data": data,
        "tags": "{}",
        "throttles": '["ql:q:q"]',
        "time": "2.50000000000000000000",
    }


def test_job_object_of_a_fresh_put_has_defaults_and_empty_lists_as_objects(core: Core) -> None:
    put(core)
    assert core.json("job.get", "jid") == {
        "jid": "jid",
        "klass": "klass",
        "state": "waiting",
        "queue": "q",
        "worker": "",
        "tracked": False,
        "priority": 0,
        "expires": 0,
        "retries": 5,
        "remaining": 5,
        "data": "{}",
        "tags": {},
        "history": [{"when": 0, "what": "put", "queue": "q"}],
        "failure": {},
        "throttles": ["ql:q:q"],
        "spawned_from_jid": False,
        "dependents": {},
        "dependencies": {},
    }


@pytest.mark.parametrize("now", [0, 1700000000.123, 12.000001])
def test_time_field_is_now_printed_with_twenty_decimals(core: Core, now: float) -> None:
    put(core, now=now)
    assert fields(core)["time"] == f"{now:.20f}"


def test_put_enters_the_work_queue_scored_priority_minus_time(core: Core) -> None:
    put(core, now=1700000000.5, priority=3)
    [(jid, score)] = work(core)
    assert jid == "jid"
    assert score == pytest.approx(3 - 1700000000.5 / 10000000000, abs=1e-12)


def test_put_appends_a_put_history_entry_with_floored_time(core: Core) -> None:
    put(core, now=10.9)
    put(core, "jid", "other", now=20.2)
    assert history(core) == [[10, "put", {"queue": "q"}], [20, "put", {"queue": "other"}]]


def test_put_registers_the_queue_with_the_time_it_was_first_seen(core: Core) -> None:
    put(core, "a", now=5)
    put(core, "b", now=9)
    put(core, "c", "other", now=7)
    assert core.redis.zrange("ql:queues", 0, -1, withscores=True) == [("q", 5.0), ("other", 7.0)]


def test_put_publishes_a_put_event_on_the_log_channel_only(core: Core) -> None:
    with core.events() as ev:
        put(core, "a/b", "q")
    assert ev.parsed() == [("ql:log", {"jid": "a/b", "event": "put", "queue": "q"})]


def test_put_of_a_tracked_job_publishes_its_jid_on_ql_put_last(core: Core) -> None:
    put(core)
    core.call("job.track", "jid")
    with core.events() as ev:
        put(core, "jid", "q2")
    assert ev.parsed() == [
        ("ql:log", {"jid": "jid", "event": "put", "queue": "q2"}),
        ("ql:put", "jid"),
    ]


def test_put_with_a_delay_schedules_the_job_at_now_plus_delay(core: Core) -> None:
    put(core, now=100, delay=30)
    assert fields(core)["state"] == "scheduled"
    assert locations(core) == {"scheduled"}
    assert core.redis.zscore("ql:q:q-scheduled", "jid") == 130


@pytest.mark.parametrize("delay", [0, -5, "0x0"])
def test_put_without_a_positive_delay_makes_the_job_waiting(core: Core, delay: float | str) -> None:
    put(core, now=100, delay=delay)
    assert fields(core)["state"] == "waiting"
    assert locations(core) == {"work"}


# --- options -----------------------------------------------------------------


def test_priority_option_sets_the_field_and_the_work_score(core: Core) -> None:
    put(core, now=0, priority=7)
    assert fields(core)["priority"] == "7"
    assert core.redis.zscore("ql:q:q-work", "jid") == 7


def test_tags_option_stores_the_list_and_indexes_each_tag(core: Core) -> None:
    put(core, now=12, tags=["b", "a"])
    assert json.loads(fields(core)["tags"]) == ["b", "a"]
    assert core.redis.zrange("ql:t:a", 0, -1, withscores=True) == [("jid", 12.0)]
    assert core.redis.zrange("ql:t:b", 0, -1, withscores=True) == [("jid", 12.0)]
    assert core.redis.zrange("ql:tags", 0, -1, withscores=True) == [("a", 1.0), ("b", 1.0)]


def test_an_empty_tags_option_is_stored_as_an_empty_object(core: Core) -> None:
    put(core, tags=[])
    assert fields(core)["tags"] == "{}"
    assert core.redis.exists("ql:tags") == 0


def test_retries_option_sets_both_retries_and_remaining(core: Core) -> None:
    put(core, retries=2)
    job = core.json("job.get", "jid")
    assert (job["retries"], job["remaining"]) == (2, 2)


def test_throttles_option_is_followed_by_the_queue_throttle(core: Core) -> None:
    put(core, throttles=["t1", "t2"])
    assert json.loads(fields(core)["throttles"]) == ["t1", "t2", "ql:q:q"]


def test_depends_on_an_existing_job_places_the_job_in_depends(core: Core) -> None:
    put(core, "parent")
    put(core, "child", now=4, depends=["parent"])
    assert fields(core, "child")["state"] == "depends"
    assert locations(core, "child") == {"depends"}
    assert core.redis.zscore("ql:q:q-depends", "child") == 4
    assert core.redis.smembers("ql:j:child-dependencies") == {"parent"}
    assert core.redis.smembers("ql:j:parent-dependents") == {"child"}


def test_dependencies_on_missing_or_complete_jobs_count_as_satisfied(core: Core) -> None:
    put(core, "done")
    pop(core)
    core.call("job.complete", "done", "worker", "q", "{}")
    put(core, "child", depends=["done", "ghost"])
    assert fields(core, "child")["state"] == "waiting"
    assert locations(core, "child") == {"work"}
    assert core.redis.exists("ql:j:child-dependencies", "ql:j:done-dependents") == 0


def test_delay_with_unmet_dependencies_waits_in_depends_and_remembers_the_schedule(
    core: Core,
) -> None:
    put(core, "parent")
    put(core, "child", now=10, delay=50, depends=["parent"])
    child = fields(core, "child")
    assert child["state"] == "depends"
    assert float(child["scheduled"]) == 60
    assert locations(core, "child") == {"depends"}
    assert core.redis.zscore("ql:q:q-depends", "child") == 10


def test_unknown_options_are_ignored(core: Core) -> None:
    put(core, colour="blue", priority=1)
    assert fields(core)["priority"] == "1"
    assert "colour" not in fields(core)


# --- validation --------------------------------------------------------------

BEFORE_TAG_REMOVAL = [
    pytest.param(("w",), "Queue(): no queue name provided", id="queue-missing"),
    pytest.param(("w", "q"), 'Put(): Arg "jid" missing', id="jid-missing"),
    pytest.param(("w", "q", "jid"), 'Put(): Arg "klass" missing', id="klass-missing"),
    pytest.param(
        ("w", "q", "jid", "k", "false"),
        'Put(): Arg "data" missing or not JSON: false',
        id="data-false",
    ),
    pytest.param(
        ("w", "q", "jid", "k", "{}"), 'Put(): Arg "delay" not a number', id="delay-missing"
    ),
    pytest.param(
        ("w", "q", "jid", "k", "{}", "soon"),
        'Put(): Arg "delay" not a number: soon',
        id="delay-nan",
    ),
    pytest.param(
        ("w", "q", "jid", "k", "{}", 0, "priority"),
        "Odd number of additional args",
        id="odd-options",
    ),
    # Each pair below has two faults: the first listed check wins.
    pytest.param(("w", "q", "jid", "k", "false", "soon"), 'Arg "data"', id="data-before-delay"),
    pytest.param(
        ("w", "q", "jid", "k", "{}", "soon", "priority"), 'Arg "delay"', id="delay-before-odd"
    ),
    pytest.param(
        ("w", "q", "jid", "k", "{}", 0, "retries", "x", "tags"),
        "Odd number",
        id="odd-before-retries",
    ),
]


@pytest.mark.parametrize(("args", "message"), BEFORE_TAG_REMOVAL)
def test_put_refuses_bad_arguments_before_touching_the_existing_job(
    core: Core, args: tuple[object, ...], message: str
) -> None:
    put(core, tags=["a"])
    core.raises(re.escape(message), "queue.put", *args)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ("w", "q", "jid", "k"), r"data|JSON|decode|Expected|string", id="data-missing"
        ),
        pytest.param(("w", "q", "jid", "k", "{"), r"JSON|decode|Expected", id="data-invalid"),
    ],
)
def test_put_refuses_missing_or_malformed_data(
    core: Core, args: tuple[object, ...], message: str
) -> None:
    core.raises(message, "queue.put", *args)


AFTER_TAG_REMOVAL = [
    pytest.param({"retries": "x"}, 'Put(): Arg "retries" not a number: x', id="retries"),
    pytest.param({"tags": "false"}, 'Put(): Arg "tags" not JSONfalse', id="tags-false"),
    pytest.param({"priority": "high"}, 'Put(): Arg "priority" not a numberhigh', id="priority"),
    pytest.param({"depends": "false"}, 'Put(): Arg "depends" not JSON: false', id="depends-false"),
    pytest.param(
        {"throttles": "false"}, 'Put(): Arg "throttles" not JSON array: false', id="throttles-false"
    ),
    # Validation order is fixed, whatever order the options are given in.
    pytest.param({"tags": "false", "retries": "x"}, 'Arg "retries"', id="retries-before-tags"),
    pytest.param({"priority": "high", "tags": "false"}, 'Arg "tags"', id="tags-before-priority"),
    pytest.param(
        {"depends": "false", "priority": "high"}, 'Arg "priority"', id="priority-before-depends"
    ),
    pytest.param(
        {"throttles": "false", "depends": "false"}, 'Arg "depends"', id="depends-before-throttles"
    ),
]


@pytest.mark.parametrize(("options", "message"), AFTER_TAG_REMOVAL)
def test_put_of_a_new_job_refuses_bad_options(
    core: Core, options: dict[str, str], message: str
) -> None:
    put(core, "bystander", tags=["a"])
    before = core.snapshot()
    with pytest.raises(redis.exceptions.ResponseError, match=re.escape(message)):
        put(core, "new", extra=options)
    assert core.snapshot() == before


@pytest.mark.parametrize("option", ["tags", "depends", "throttles"])
def test_put_refuses_option_json_that_does_not_decode(core: Core, option: str) -> None:
    core.raises(r"JSON|decode|Expected", "queue.put", "w", "q", "jid", "k", "{}", 0, option, "[1,")


def test_an_invalid_option_leaves_an_existing_job_and_its_tags_untouched(core: Core) -> None:
    # Deviation (reqless-core/DEVIATIONS.md): the reference drops the old tags
    # before it validates the options, losing them; we validate first.
    put(core, tags=["a", "b"], now=3)
    before = core.snapshot()
    with pytest.raises(redis.exceptions.ResponseError, match='Arg "priority"'):
        put(core, priority="high", now=5)
    assert core.snapshot() == before
    job = fields(core)
    assert job["tags"] == '["a","b"]'
    assert job["state"] == "waiting"
    assert locations(core) == {"work"}
    assert history(core) == [[3, "put", {"queue": "q"}]]


# --- re-putting an existing job ---------------------------------------------


def test_reput_inherits_priority_tags_and_retries(core: Core) -> None:
    put(core, priority=4, tags=["a"], retries=2)
    put(core, "jid", "q2", now=10)
    job = core.json("job.get", "jid")
    assert (job["priority"], job["tags"], job["retries"], job["remaining"]) == (4, ["a"], 2, 2)
    assert core.redis.zscore("ql:q:q2-work", "jid") == pytest.approx(
        4 - 10 / 10000000000, abs=1e-12
    )


def test_reput_options_override_the_existing_values(core: Core) -> None:
    put(core, priority=4, tags=["a"], retries=2)
    put(core, priority=1, tags=["b"], retries=7)
    job = core.json("job.get", "jid")
    assert (job["priority"], job["tags"], job["retries"], job["remaining"]) == (1, ["b"], 7, 7)


def test_reput_does_not_inherit_throttles(core: Core) -> None:
    put(core, throttles=["t1"])
    put(core)
    assert json.loads(fields(core)["throttles"]) == ["ql:q:q"]


def test_reput_to_another_queue_drops_the_old_queue_throttle_from_the_given_list(
    core: Core,
) -> None:
    put(core, "jid", "q1")
    put(core, "jid", "q2", throttles=["ql:q:q1", "t", "ql:q:q1"])
    assert json.loads(fields(core)["throttles"]) == ["t", "ql:q:q2"]


def test_reput_retags_the_job_at_the_new_time_without_inflating_counters(core: Core) -> None:
    put(core, now=1, tags=["a"])
    put(core, now=9)
    assert core.redis.zrange("ql:t:a", 0, -1, withscores=True) == [("jid", 9.0)]
    assert core.redis.zscore("ql:tags", "a") == 1


def test_reput_with_new_tags_unindexes_the_old_ones(core: Core) -> None:
    put(core, tags=["a", "shared"])
    put(core, "other", tags=["shared"])
    put(core, tags=["b"])
    assert core.redis.exists("ql:t:a") == 0
    assert members(core, "ql:t:shared") == ["other"]
    assert core.redis.zrange("ql:tags", 0, -1, withscores=True) == [("b", 1.0), ("shared", 1.0)]


def test_reput_moves_a_waiting_job_to_the_new_queue(core: Core) -> None:
    put(core, "jid", "q1", now=1)
    put(core, "jid", "q2", now=2)
    assert locations(core, queue="q1") == set()
    assert locations(core, queue="q2") == {"work"}
    assert fields(core)["queue"] == "q2"
    assert members(core, "ql:queues") == ["q1", "q2"]


def test_reput_of_a_scheduled_job_without_delay_makes_it_waiting(core: Core) -> None:
    put(core, delay=100)
    put(core, now=1)
    assert fields(core)["state"] == "waiting"
    assert locations(core) == {"work"}


def test_reput_resets_remaining_to_retries(core: Core) -> None:
    put(core, retries=3)
    pop(core)
    core.call("job.retry", "jid", "q", "worker", 0)
    assert fields(core)["remaining"] == "2"
    put(core)
    assert fields(core)["remaining"] == "3"


@pytest.mark.parametrize("depends", [None, []], ids=["absent", "empty"])
def test_reput_keeps_existing_dependencies_unless_new_ones_are_given(
    core: Core, depends: list[str] | None
) -> None:
    put(core, "parent")
    put(core, "child", depends=["parent"])
    options = {} if depends is None else {"depends": depends}
    put(core, "child", "q2", now=5, extra=options)
    assert fields(core, "child")["state"] == "depends"
    assert locations(core, "child", "q2") == {"depends"}
    assert locations(core, "child", "q") == set()
    assert core.redis.smembers("ql:j:child-dependencies") == {"parent"}


def test_reput_with_new_dependencies_replaces_the_old_edges(core: Core) -> None:
    put(core, "a")
    put(core, "b")
    put(core, "child", depends=["a"])
    put(core, "child", depends=["b"])
    assert core.redis.smembers("ql:j:child-dependencies") == {"b"}
    assert core.redis.exists("ql:j:a-dependents") == 0
    assert core.redis.smembers("ql:j:b-dependents") == {"child"}


def test_reput_keeps_old_edges_that_are_listed_again(core: Core) -> None:
    put(core, "a")
    put(core, "b")
    put(core, "child", depends=["a", "b"])
    put(core, "child", depends=["b"])
    assert core.redis.smembers("ql:j:child-dependencies") == {"b"}
    assert core.redis.smembers("ql:j:b-dependents") == {"child"}


def test_reput_that_drops_all_dependencies_keeps_a_stale_scheduled_field(core: Core) -> None:
    put(core, "parent")
    put(core, "child", now=0, delay=50, depends=["parent"])
    # "ghost" does not exist, so the new list removes the old edge and adds none.
    put(core, "child", now=1, depends=["ghost"])
    child = fields(core, "child")
    assert child["state"] == "waiting"
    assert locations(core, "child") == {"work"}
    assert float(child["scheduled"]) == 50
    assert core.redis.exists("ql:j:child-dependencies", "ql:j:parent-dependents") == 0


def test_reput_of_a_throttled_job_takes_it_out_of_the_throttled_set(core: Core) -> None:
    core.call("throttle.set", "t", 1)
    put(core, "holder", throttles=["t"])
    pop(core)
    put(core, "jid", throttles=["t"])
    assert fields(core)["state"] == "throttled"
    put(core, now=1)
    assert fields(core)["state"] == "waiting"
    assert locations(core) == {"work"}


def test_reput_of_a_timed_out_job_gives_it_a_normal_work_score(core: Core) -> None:
    put(core)
    pop(core)
    core.call("job.timeout", "jid")
    assert core.redis.zscore("ql:q:q-work", "jid") == float("inf")
    put(core, now=10)
    assert fields(core)["state"] == "waiting"
    assert core.redis.zscore("ql:q:q-work", "jid") == pytest.approx(-10 / 10000000000, abs=1e-12)


def test_reput_by_the_worker_holding_the_job_releases_its_lock_quietly(core: Core) -> None:
    put(core)
    pop(core, worker="w1")
    with core.events() as ev:
        put(core, worker="w1", now=5)
    assert ev.parsed() == [("ql:log", {"jid": "jid", "event": "put", "queue": "q"})]
    job = fields(core)
    assert (job["state"], job["worker"], job["expires"]) == ("waiting", "", "0")
    assert locations(core) == {"work"}
    assert core.redis.exists("ql:w:w1:jobs") == 0


def test_reput_of_a_job_held_by_another_worker_tells_that_worker(core: Core) -> None:
    put(core)
    pop(core, worker="w1")
    with core.events() as ev:
        put(core, worker="w2", now=5)
    lost = {"jid": "jid", "event": "lock_lost", "worker": "w1"}
    assert ev.parsed() == [
        ("ql:log", {"jid": "jid", "event": "put", "queue": "q"}),
        ("ql:w:w1", lost),
        ("ql:log", lost),
    ]
    assert core.redis.exists("ql:w:w1:jobs") == 0
    assert fields(core)["worker"] == ""


def test_reput_of_a_tracked_running_job_publishes_put_lock_lost_then_ql_put(core: Core) -> None:
    put(core)
    core.call("job.track", "jid")
    pop(core, worker="w1")
    with core.events() as ev:
        put(core, "jid", "q2", worker="w2")
    lost = {"jid": "jid", "event": "lock_lost", "worker": "w1"}
    assert ev.parsed() == [
        ("ql:log", {"jid": "jid", "event": "put", "queue": "q2"}),
        ("ql:w:w1", lost),
        ("ql:log", lost),
        ("ql:put", "jid"),
    ]


def test_reput_of_a_running_job_gives_back_its_throttle_locks(core: Core) -> None:
    # 4.10 keeps them; a job that no longer runs holds no slot (DEVIATIONS D-31).
    put(core, throttles=["t"])
    pop(core)
    put(core, "jid", "q2")
    assert members(core, "ql:th:t-locks") == []
    assert members(core, "ql:th:ql:q:q-locks") == []
    assert locations(core, queue="q") == set()


def test_reput_of_a_running_job_with_a_full_throttle_takes_its_own_slot_back(
    core: Core,
) -> None:
    core.call("throttle.set", "t", 1)
    put(core, throttles=["t"])
    pop(core)
    put(core, now=3, throttles=["t"])
    assert fields(core)["state"] == "waiting"
    assert locations(core) == {"work"}
    assert members(core, "ql:th:t-pending") == []


def test_reput_of_a_complete_job_takes_it_out_of_the_completed_set(core: Core) -> None:
    put(core)
    pop(core)
    core.call("job.complete", "jid", "worker", "q", "{}")
    put(core, "jid", "q2", now=3)
    assert core.redis.exists("ql:completed") == 0
    job = fields(core)
    assert (job["state"], job["queue"], job["failure"]) == ("waiting", "q2", "{}")
    assert locations(core, queue="q2") == {"work"}


def test_reput_of_a_failed_job_empties_its_group_and_decrements_failed_for_the_new_queue(
    core: Core,
) -> None:
    failed_at = 2 * DAY + 5
    put(core, now=failed_at - 5)
    pop(core, now=failed_at)
    core.call("job.fail", "jid", "worker", "boom", "bad things", now=failed_at)
    assert core.redis.hget(f"ql:s:stats:{2 * DAY}:q", "failed") == "1"
    failure = fields(core)["failure"]

    put(core, "jid", "q2", now=3 * DAY + 1)

    assert core.redis.exists("ql:f:boom", "ql:failures") == 0
    # The bucket is the day of the failure, the queue the one it is put into.
    assert core.redis.hget(f"ql:s:stats:{2 * DAY}:q2", "failed") == "-1"
    assert core.redis.hget(f"ql:s:stats:{2 * DAY}:q", "failed") == "1"
    assert core.redis.exists(f"ql:s:stats:{3 * DAY}:q2") == 0
    # Quirk: the old failure survives the put.
    assert fields(core)["failure"] == failure
    assert core.json("job.get", "jid")["failure"]["group"] == "boom"


def test_reput_of_one_failed_job_keeps_a_group_that_still_has_jobs(core: Core) -> None:
    for jid in ("a", "b"):
        put(core, jid)
        pop(core)
        core.call("job.fail", jid, "worker", "boom", "bad")
    put(core, "a")
    assert core.redis.lrange("ql:f:boom", 0, -1) == ["b"]
    assert core.redis.smembers("ql:failures") == {"boom"}


# --- placement ---------------------------------------------------------------


def test_put_onto_an_unavailable_throttle_throttles_the_job(core: Core) -> None:
    core.call("throttle.set", "full", 1)
    put(core, "holder", throttles=["full"])
    pop(core)
    put(core, now=7, throttles=["free", "full"])
    assert fields(core)["state"] == "throttled"
    assert core.redis.zrange("ql:q:q-throttled", 0, -1, withscores=True) == [("jid", 7.0)]
    # Pending only on the first throttle that is unavailable.
    assert core.redis.zrange("ql:th:full-pending", 0, -1, withscores=True) == [("jid", 7.0)]
    assert core.redis.exists("ql:th:free-pending") == 0
    assert history(core) == [[7, "put", {"queue": "q"}], [7, "throttled", {"queue": "q"}]]


def test_a_full_queue_throttle_throttles_new_puts(core: Core) -> None:
    core.call("queue.throttle.set", "q", 1)
    put(core, "holder")
    pop(core)
    put(core, now=2)
    assert fields(core)["state"] == "throttled"
    assert members(core, "ql:th:ql:q:q-pending") == ["jid"]


def test_a_delayed_put_is_scheduled_even_when_its_throttle_is_full(core: Core) -> None:
    core.call("throttle.set", "t", 1)
    put(core, "holder", throttles=["t"])
    pop(core)
    put(core, delay=10, throttles=["t"])
    assert fields(core)["state"] == "scheduled"
    assert locations(core) == {"scheduled"}
    assert core.redis.exists("ql:th:t-pending") == 0


def test_dependencies_take_precedence_over_a_full_throttle(core: Core) -> None:
    core.call("throttle.set", "t", 1)
    put(core, "holder", throttles=["t"])
    pop(core)
    put(core, depends=["holder"], throttles=["t"])
    assert fields(core)["state"] == "depends"
    assert locations(core) == {"depends"}


# --- numeric tags (4.15) -----------------------------------------------------


def test_numeric_tags_keep_their_json_type_and_are_indexed_by_decimal_text(core: Core) -> None:
    put(core, tags=[3, -2])
    assert core.json("job.get", "jid")["tags"] == [3, -2]
    assert members(core, "ql:t:3") == ["jid"]
    assert members(core, "ql:t:-2") == ["jid"]
    assert sorted(members(core, "ql:tags")) == ["-2", "3"]


def test_numeric_tags_count_towards_tags_top(core: Core) -> None:
    put(core, "a", tags=[7])
    put(core, "b", tags=[7])
    assert core.json("tags.top") == ["7"]
    assert core.json("jobs.tagged", "7") == {"total": 2, "jobs": ["a", "b"]}


def test_numeric_tags_are_unindexed_by_a_reput(core: Core) -> None:
    put(core, tags=[3])
    put(core, tags=["x"])
    assert core.redis.exists("ql:t:3") == 0
    assert members(core, "ql:tags") == ["x"]


# --- job.requeue (3.18) ------------------------------------------------------


def test_requeue_of_a_missing_job_is_refused_before_any_other_check(core: Core) -> None:
    core.raises(
        re.escape("Requeue(): Job nope does not exist"),
        "job.requeue",
        "w",
        "q",
        "nope",
        "k",
        "false",
        "soon",
        "priority",
    )


def test_requeue_without_a_jid_is_refused(core: Core) -> None:
    core.raises("jid", "job.requeue", "w", "q")


def test_requeue_of_a_canceled_job_is_refused(core: Core) -> None:
    put(core)
    core.call("job.cancel", "jid")
    core.raises("does not exist", "job.requeue", "w", "q", "jid", "k", "{}", 0)


def test_requeue_validates_its_arguments_like_put(core: Core) -> None:
    put(core)
    core.raises(
        re.escape('Put(): Arg "delay" not a number: soon'),
        "job.requeue",
        "w",
        "q",
        "jid",
        "k",
        "{}",
        "soon",
    )
    core.raises(
        "Odd number of additional args", "job.requeue", "w", "q", "jid", "k", "{}", 0, "tags"
    )


def test_requeue_moves_a_running_job_exactly_like_put(core: Core) -> None:
    put(core, "jid", "q1", priority=2, tags=["a"])
    pop(core, "q1", worker="w1")
    with core.events() as ev:
        assert put(core, "jid", "q2", worker="w2", now=8, command="job.requeue") == "jid"
    lost = {"jid": "jid", "event": "lock_lost", "worker": "w1"}
    assert ev.parsed() == [
        ("ql:log", {"jid": "jid", "event": "put", "queue": "q2"}),
        ("ql:w:w1", lost),
        ("ql:log", lost),
    ]
    job = core.json("job.get", "jid")
    assert (job["state"], job["queue"], job["worker"], job["priority"], job["tags"]) == (
        "waiting",
        "q2",
        "",
        2,
        ["a"],
    )
    assert job["history"][-1] == {"when": 8, "what": "put", "queue": "q2"}
    assert locations(core, queue="q1") == set()
    assert locations(core, queue="q2") == {"work"}
    assert members(core, "ql:queues") == ["q1", "q2"]
