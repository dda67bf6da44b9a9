"""Configuration commands (spec 3.1-3.4) and what the options change (4.19)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.core.conftest import Core

DEFAULTS = {
    "application": "reqless",
    "grace-period": "10",
    "heartbeat": "60",
    "jobs-history": "604800",
    "jobs-history-count": "50000",
    "max-job-history": "100",
    "max-pop-retry": "1",
    "max-worker-age": "86400",
}


def put(core: Core, jid: str, queue: str = "q", now: float = 0) -> None:
    core.call("queue.put", "putter", queue, jid, "Klass", "{}", 0, now=now)


def pop(core: Core, worker: str, queue: str = "q", limit: int = 1, now: float = 0) -> list[str]:
    return [job["jid"] for job in core.json("queue.pop", queue, worker, limit, now=now)]


def job(core: Core, jid: str) -> Any:
    return core.json("job.get", jid)


# -- config.get ---------------------------------------------------------------


@pytest.mark.parametrize(("option", "default"), sorted(DEFAULTS.items()))
def test_get_falls_back_to_the_default_as_a_string(core: Core, option: str, default: str) -> None:
    assert core.call("config.get", option) == default


@pytest.mark.parametrize("option", ["q-heartbeat", "q-max-pop-retry", "no-such-option"])
def test_get_of_an_unset_option_without_default_is_nil(core: Core, option: str) -> None:
    assert core.call("config.get", option) is None


def test_get_prefers_the_stored_value_over_the_default(core: Core) -> None:
    core.redis.hset("ql:config", "heartbeat", "15")
    assert core.call("config.get", "heartbeat") == "15"


def test_get_without_a_key_is_refused(core: Core) -> None:
    core.raises("config.get\\(\\): Argument 'key' missing", "config.get")


# -- config.getAll ------------------------------------------------------------


def test_get_all_lists_every_default_when_nothing_is_set(core: Core) -> None:
    assert core.json("config.getAll") == DEFAULTS


def test_get_all_overlays_every_stored_option_on_the_defaults(core: Core) -> None:
    core.call("config.set", "heartbeat", "30")
    core.call("config.set", "q-heartbeat", "5")
    assert core.json("config.getAll") == {**DEFAULTS, "heartbeat": "30", "q-heartbeat": "5"}


def test_get_all_values_are_strings_even_for_numbers(core: Core) -> None:
    core.call("config.set", "max-pop-retry", 3)
    assert all(isinstance(value, str) for value in core.json("config.getAll").values())


def test_reads_publish_nothing(core: Core) -> None:
    with core.events() as events:
        core.call("config.get", "heartbeat")
        core.call("config.getAll")
    assert events.messages == []


# -- config.set ---------------------------------------------------------------


def test_set_stores_the_option_in_the_config_hash_and_replies_nil(core: Core) -> None:
    assert core.call("config.set", "heartbeat", "30") is None
    assert core.redis.hgetall("ql:config") == {"heartbeat": "30"}
    assert core.call("config.get", "heartbeat") == "30"


def test_set_publishes_a_config_set_event_with_the_value_as_a_string(core: Core) -> None:
    with core.events() as events:
        core.call("config.set", "heartbeat", 30)
    assert events.parsed() == [
        ("ql:log", {"option": "heartbeat", "event": "config_set", "value": "30"}),
    ]


def test_set_overwrites_an_earlier_value(core: Core) -> None:
    core.call("config.set", "grace-period", "3")
    core.call("config.set", "grace-period", "4")
    assert core.call("config.get", "grace-period") == "4"


def test_set_accepts_an_empty_value(core: Core) -> None:
    # An empty string is a present argument (1.2), unlike a missing one.
    core.call("config.set", "application", "")
    assert core.redis.hget("ql:config", "application") == ""


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        ((), 'config.set\\(\\): Arg "option" missing'),
        (("heartbeat",), 'config.set\\(\\): Arg "value" missing'),
    ],
)
def test_set_with_a_missing_argument_is_refused_silently(
    core: Core, args: tuple[str, ...], pattern: str
) -> None:
    with core.events() as events:
        core.raises(pattern, "config.set", *args)
    assert events.messages == []


# -- config.unset -------------------------------------------------------------


def test_unset_removes_the_field_and_the_default_shows_again(core: Core) -> None:
    core.call("config.set", "heartbeat", "30")
    core.call("config.set", "application", "mine")
    assert core.call("config.unset", "heartbeat") is None
    assert core.redis.hgetall("ql:config") == {"application": "mine"}
    assert core.call("config.get", "heartbeat") == "60"


def test_unset_of_an_option_without_default_makes_it_nil(core: Core) -> None:
    core.call("config.set", "q-heartbeat", "5")
    core.call("config.unset", "q-heartbeat")
    assert core.call("config.get", "q-heartbeat") is None
    assert "q-heartbeat" not in core.json("config.getAll")


def test_unset_publishes_a_config_unset_event(core: Core) -> None:
    core.call("config.set", "heartbeat", "30")
    with core.events() as events:
        core.call("config.unset", "heartbeat")
    assert events.parsed() == [("ql:log", {"event": "config_unset", "option": "heartbeat"})]


def test_unset_of_an_option_never_set_still_publishes(core: Core) -> None:
    with core.events("ql:log") as events:
        assert core.call("config.unset", "max-pop-retry") is None
    assert events.parsed() == [("ql:log", {"event": "config_unset", "option": "max-pop-retry"})]
    assert core.redis.exists("ql:config") == 0


def test_unset_without_an_option_is_refused_silently(core: Core) -> None:
    core.call("config.set", "heartbeat", "30")
    with core.events() as events:
        core.raises('config.unset\\(\\): Arg "option" missing', "config.unset")
    assert events.messages == []


# -- what the options change (4.19) -------------------------------------------


def test_heartbeat_sets_the_lock_length_given_at_pop(core: Core) -> None:
    core.call("config.set", "heartbeat", "30")
    put(core, "a")
    pop(core, "w", now=100)
    assert job(core, "a")["expires"] == 130
    assert core.redis.zscore("ql:q:q-locks", "a") == 130
    assert core.redis.zscore("ql:w:w:jobs", "a") == 130


def test_a_queue_heartbeat_overrides_the_global_one_for_that_queue_only(core: Core) -> None:
    core.call("config.set", "heartbeat", "30")
    core.call("config.set", "fast-heartbeat", "5")
    put(core, "a", queue="fast")
    put(core, "b", queue="slow")
    pop(core, "w", queue="fast", now=100)
    pop(core, "w", queue="slow", now=100)
    assert job(core, "a")["expires"] == 105
    assert job(core, "b")["expires"] == 130
    # job.heartbeat renews with the same per-queue length.
    assert core.call("job.heartbeat", "a", "w", now=200) == 205
    assert core.call("job.heartbeat", "b", "w", now=200) == 230


def test_a_negative_heartbeat_gives_locks_that_are_born_expired(core: Core) -> None:
    core.call("config.set", "heartbeat", "-10")
    core.call("config.set", "grace-period", "0")
    put(core, "a")
    pop(core, "first", now=0)
    assert core.redis.zscore("ql:q:q-locks", "a") == -10
    # Without waiting, the next pop may take the job over.
    assert pop(core, "second", now=0) == ["a"]
    assert job(core, "a")["worker"] == "second"


def test_the_default_grace_period_delays_reclaim_by_ten_seconds(core: Core) -> None:
    put(core, "a")
    pop(core, "first", now=0)
    assert pop(core, "second", now=60) == []
    assert core.redis.zscore("ql:q:q-locks", "a") == 70
    assert pop(core, "second", now=69) == []
    assert pop(core, "second", now=70) == ["a"]


def test_a_zero_grace_period_reclaims_at_the_first_pop_after_expiry(core: Core) -> None:
    core.call("config.set", "grace-period", "0")
    put(core, "a")
    pop(core, "first", now=0)
    assert pop(core, "second", now=60) == ["a"]


def test_jobs_history_count_zero_deletes_a_job_as_it_completes(core: Core) -> None:
    core.call("config.set", "jobs-history-count", "0")
    put(core, "a")
    pop(core, "w")
    core.call("job.complete", "a", "w", "q", "{}", now=1)
    assert job(core, "a") is None
    assert core.redis.zcard("ql:completed") == 0


def test_a_negative_jobs_history_deletes_a_job_as_it_completes(core: Core) -> None:
    core.call("config.set", "jobs-history", "-1")
    put(core, "a")
    pop(core, "w")
    core.call("job.complete", "a", "w", "q", "{}", now=1)
    assert job(core, "a") is None


def test_max_job_history_keeps_the_first_entry_and_the_newest(core: Core) -> None:
    core.call("config.set", "max-job-history", "5")
    for now in range(10):
        put(core, "a", now=now)
    history = [json.loads(entry) for entry in core.redis.lrange("ql:j:a-history", 0, -1)]
    assert [entry[0] for entry in history] == [0, 6, 7, 8, 9]
