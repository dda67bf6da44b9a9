"""Recurring jobs: queue.recurAtInterval, recurringJob.* and lazy spawning (spec 2.7, 3.36,
3.48-3.52, 4.9)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

from tests.core.conftest import Core

ANY_ERROR = r"."


def recur(
    core: Core,
    jid: str = "tpl",
    queue: str = "q",
    now: float = 0,
    *,
    interval: float = 60,
    offset: float = 0,
    data: str = "{}",
    **options: Any,
) -> Any:
    extra: list[Any] = []
    for name, value in options.items():
        extra += [name, value if isinstance(value, str | int | float) else json.dumps(value)]
    return core.call(
        "queue.recurAtInterval", queue, jid, "klass", data, interval, offset, *extra, now=now
    )


def pop(core: Core, queue: str = "q", now: float = 0, limit: int = 1) -> list[str]:
    return [job["jid"] for job in core.json("queue.pop", queue, "worker", limit, now=now)]


def peek(core: Core, queue: str = "q", now: float = 0, limit: int = 10) -> list[str]:
    return [job["jid"] for job in core.json("queue.peek", queue, 0, limit, now=now)]


def template(core: Core, jid: str = "tpl") -> dict[str, str]:
    fields: Any = core.redis.hgetall(f"ql:r:{jid}")
    return dict(fields)


def spawned(core: Core) -> list[str]:
    keys: Any = core.redis.keys("ql:j:*")
    return sorted(key[5:] for key in keys if not key.endswith("-history"))


# --- queue.recurAtInterval ----------------------------------------------------------------------


def test_recur_writes_the_template_and_schedules_its_first_spawn(core: Core) -> None:
    assert recur(core, now=100, offset=5, data='{"a": [1]}') == "tpl"
    fields = template(core)
    assert set(fields) == {
        "jid",
        "klass",
        "data",
        "priority",
        "tags",
        "state",
        "queue",
        "type",
        "count",
        "interval",
        "retries",
        "backlog",
        "throttles",
    }
    assert fields["jid"] == "tpl"
    assert fields["klass"] == "klass"
    assert fields["data"] == '{"a": [1]}'
    assert fields["state"] == "recur"
    assert fields["queue"] == "q"
    assert fields["type"] == "interval"
    assert fields["tags"] == "{}"
    assert json.loads(fields["throttles"]) == ["ql:q:q"]
    numbers = {
        key: float(fields[key]) for key in ("priority", "count", "interval", "retries", "backlog")
    }
    assert numbers == {"priority": 0, "count": 0, "interval": 60, "retries": 0, "backlog": 0}
    assert core.redis.zscore("ql:q:q-recur", "tpl") == 105
    assert core.redis.zscore("ql:queues", "q") == 100


def test_recur_creates_no_job_and_publishes_nothing(core: Core) -> None:
    with core.events() as ev:
        recur(core)
    assert ev.messages == []
    assert spawned(core) == []


def test_get_returns_the_template_object(core: Core) -> None:
    recur(core, priority=3, tags=["a", "b"], retries=2, backlog=4, throttles=["t"], data='{"x":1}')
    assert core.json("recurringJob.get", "tpl") == {
        "jid": "tpl",
        "klass": "klass",
        "state": "recur",
        "queue": "q",
        "priority": 3,
        "interval": 60,
        "retries": 2,
        "count": 0,
        "data": '{"x":1}',
        "tags": ["a", "b"],
        "backlog": 4,
        "throttles": ["t", "ql:q:q"],
    }


def test_get_sends_empty_tags_as_an_object_and_an_absent_backlog_as_0(core: Core) -> None:
    recur(core)
    core.redis.hdel("ql:r:tpl", "backlog")
    raw = core.call("recurringJob.get", "tpl")
    assert '"tags":{}' in raw
    reply = json.loads(raw)
    assert reply["backlog"] == 0
    assert "type" not in reply


def test_get_of_a_missing_template_is_nil(core: Core) -> None:
    assert core.call("recurringJob.get", "missing") is None


def test_recur_rejects_missing_and_malformed_arguments(core: Core) -> None:
    base = ("q", "tpl", "klass", "{}", 60, 0)
    cases: list[tuple[str, tuple[Any, ...]]] = [
        (r"Queue\(\): no queue name provided", ()),
        (r'Recur\(\): Arg "jid" missing', ("q",)),
        (r'Recur\(\): Arg "klass" missing', ("q", "tpl")),
        (ANY_ERROR, ("q", "tpl", "klass", "{not json", 60, 0)),
        (r'Recur\(\): Arg "data" not JSON: false', ("q", "tpl", "klass", "false", 60, 0)),
        (r'Recur\(\): Arg "interval" not a number: often', ("q", "tpl", "klass", "{}", "often", 0)),
        (r'Recur\(\): Arg "offset" not a number: soon', ("q", "tpl", "klass", "{}", 60, "soon")),
        (r'Recur\(\): Arg "interval" must be greater than 0', ("q", "tpl", "klass", "{}", 0, 0)),
        (r'Recur\(\): Arg "interval" must be greater than 0', ("q", "tpl", "klass", "{}", -5, 0)),
        (r"Recur\(\): Odd number of additional args", (*base, "priority")),
        (ANY_ERROR, (*base, "tags", "[unclosed")),
        (r'Recur\(\): Arg "tags" must be JSON string array: false', (*base, "tags", "false")),
        (r'Recur\(\): Arg "priority" not a number: high', (*base, "priority", "high")),
        (r'Recur\(\): Arg "retries" not a number: many', (*base, "retries", "many")),
        (r'Recur\(\): Arg "backlog" not a number: some', (*base, "backlog", "some")),
        (ANY_ERROR, (*base, "throttles", "[unclosed")),
        (r'Recur\(\): Arg "throttles" not JSON array: false', (*base, "throttles", "false")),
    ]
    for pattern, args in cases:
        core.raises(pattern, "queue.recurAtInterval", *args)


def test_recurring_commands_without_a_jid_are_refused(core: Core) -> None:
    for command in (
        "recurringJob.get",
        "recurringJob.cancel",
        "recurringJob.update",
        "recurringJob.addTag",
        "recurringJob.removeTag",
    ):
        core.raises(r"Recurring\(\): no jid provided", command)


def test_recurring_again_preserves_the_count_and_moves_the_template(core: Core) -> None:
    recur(core, queue="a", now=0)
    assert peek(core, queue="a", now=60) == ["tpl-1", "tpl-2"]
    recur(core, queue="b", now=100, offset=10, interval=30)
    assert float(template(core)["count"]) == 2
    assert core.redis.zscore("ql:q:a-recur", "tpl") is None
    assert core.redis.zscore("ql:q:b-recur", "tpl") == 110
    assert core.json("recurringJob.get", "tpl")["interval"] == 30
    assert peek(core, queue="b", now=110) == ["tpl-3"]


def test_recurring_again_drops_only_the_bare_old_queue_name_from_the_throttles(
    core: Core,
) -> None:
    # Quirk: the prefixed ql:q:<old> entry survives; the bare queue name is what is removed.
    recur(core, queue="a")
    recur(core, queue="b", throttles=["a", "ql:q:a", "t"])
    assert json.loads(template(core)["throttles"]) == ["ql:q:a", "t", "ql:q:b"]


# --- 4.9 spawning -------------------------------------------------------------------------------


def test_a_pop_spawns_one_child_per_elapsed_interval(core: Core) -> None:
    recur(core, now=0)
    assert pop(core, now=599, limit=10) == [f"tpl-{n}" for n in range(1, 11)]
    assert float(template(core)["count"]) == 10
    assert core.redis.zscore("ql:q:q-recur", "tpl") == 600
    history = [core.json("job.get", f"tpl-{n}")["history"][0] for n in range(1, 11)]
    assert history == [{"when": 60 * i, "what": "put", "queue": "q"} for i in range(10)]


def test_spawning_stops_at_now(core: Core) -> None:
    recur(core, now=0)
    assert pop(core, now=130, limit=10) == ["tpl-1", "tpl-2", "tpl-3"]
    assert core.redis.zscore("ql:q:q-recur", "tpl") == 180


def test_a_child_is_a_waiting_job_copying_the_template(core: Core) -> None:
    recur(core, data='{"x": [1]}', priority=2, tags=["t"], retries=3, throttles=["th"])
    peek(core, now=60)
    parent = template(core)
    child = dict(core.redis.hgetall("ql:j:tpl-2"))
    for key in ("klass", "data", "priority", "tags", "throttles"):
        assert child[key] == parent[key], key
    assert child["jid"] == "tpl-2"
    assert child["state"] == "waiting"
    assert child["worker"] == ""
    assert float(child["expires"]) == 0
    assert child["queue"] == "q"
    assert float(child["retries"]) == 3
    assert float(child["remaining"]) == 3
    assert float(child["time"]) == 60
    assert child["spawned_from_jid"] == "tpl"
    assert core.redis.zscore("ql:q:q-work", "tpl-2") == 2 - 60 / 10_000_000_000


def test_a_child_of_a_default_template_has_no_retries(core: Core) -> None:
    recur(core)
    peek(core)
    job = core.json("job.get", "tpl-1")
    assert (job["retries"], job["remaining"]) == (0, 0)
    assert job["throttles"] == ["ql:q:q"]


def test_children_are_tagged_at_now(core: Core) -> None:
    recur(core, tags=["x"])
    peek(core, now=70)
    assert core.redis.zrange("ql:t:x", 0, -1, withscores=True) == [("tpl-1", 70), ("tpl-2", 70)]
    assert core.json("tags.top") == ["x"]


def test_spawning_publishes_nothing(core: Core) -> None:
    recur(core)
    with core.events() as ev:
        peek(core, now=120)
    assert ev.messages == []
    assert spawned(core) == ["tpl-1", "tpl-2", "tpl-3"]


def test_the_spawn_budget_is_shared_across_templates(core: Core) -> None:
    recur(core, "a")
    recur(core, "b")
    assert pop(core, now=599, limit=3) == ["a-1", "a-2", "a-3"]
    assert core.redis.zscore("ql:q:q-recur", "a") == 180
    assert core.redis.zscore("ql:q:q-recur", "b") == 0
    assert pop(core, now=599, limit=3) == ["b-1", "b-2", "b-3"]


def test_peek_spawns_at_most_its_limit(core: Core) -> None:
    recur(core)
    assert peek(core, now=599, limit=2) == ["tpl-1", "tpl-2"]
    assert spawned(core) == ["tpl-1", "tpl-2"]


def test_backlog_skips_the_runs_beyond_it(core: Core) -> None:
    recur(core, backlog=1)
    assert pop(core, now=600, limit=10) == ["tpl-1", "tpl-2"]
    whens = [core.json("job.get", jid)["history"][0]["when"] for jid in ("tpl-1", "tpl-2")]
    assert whens == [540, 600]
    assert core.redis.zscore("ql:q:q-recur", "tpl") == 660


def test_peek_spawns_even_when_the_queue_is_paused_but_pop_does_not(core: Core) -> None:
    recur(core)
    core.call("queue.pause", "q")
    assert pop(core, now=0) == []
    assert spawned(core) == []
    assert peek(core, now=0) == ["tpl-1"]


# --- recurringJob.cancel ------------------------------------------------------------------------


def test_cancel_deletes_the_template_but_not_its_children(core: Core) -> None:
    recur(core)
    peek(core, now=0)
    assert core.call("recurringJob.cancel", "tpl") == 1
    assert not core.redis.exists("ql:r:tpl")
    assert core.redis.zscore("ql:q:q-recur", "tpl") is None
    assert core.json("job.get", "tpl-1")["state"] == "waiting"
    assert peek(core, now=600) == ["tpl-1"]


def test_cancel_of_a_missing_template_replies_1(core: Core) -> None:
    assert core.call("recurringJob.cancel", "missing") == 1


# --- recurringJob.addTag / removeTag ------------------------------------------------------------


def test_add_tag_appends_new_tags_without_collapsing_repeated_arguments(core: Core) -> None:
    recur(core, tags=["a"])
    assert core.call("recurringJob.addTag", "tpl", "b", "b", "a") == '["a","b","b"]'
    assert json.loads(template(core)["tags"]) == ["a", "b", "b"]


def test_add_tag_does_not_touch_the_tag_index(core: Core) -> None:
    recur(core)
    core.call("recurringJob.addTag", "tpl", "x")
    assert not core.redis.exists("ql:t:x")
    assert not core.redis.exists("ql:tags")


def test_add_tag_to_an_untagged_template_without_tags_stores_an_empty_array(core: Core) -> None:
    recur(core)
    assert core.call("recurringJob.addTag", "tpl") == "[]"
    assert template(core)["tags"] == "[]"


def test_remove_tag_replies_with_the_remaining_tags_and_an_object_when_empty(core: Core) -> None:
    recur(core, tags=["a", "b", "c"])
    assert core.call("recurringJob.removeTag", "tpl", "c", "a") == '["b"]'
    assert core.call("recurringJob.removeTag", "tpl", "b") == "{}"
    assert template(core)["tags"] == "{}"


def test_template_tag_commands_error_on_a_missing_template(core: Core) -> None:
    core.raises(r"Tag\(\): Job missing does not exist", "recurringJob.addTag", "missing", "a")
    core.raises(r"Untag\(\): Job missing does not exist", "recurringJob.removeTag", "missing", "a")


def test_spawned_children_carry_tags_added_to_the_template(core: Core) -> None:
    recur(core)
    core.call("recurringJob.addTag", "tpl", "later")
    peek(core, now=0)
    assert core.json("job.get", "tpl-1")["tags"] == ["later"]
    assert core.redis.zrange("ql:t:later", 0, -1) == ["tpl-1"]


# --- recurringJob.update ------------------------------------------------------------------------


def test_update_stores_plain_fields(core: Core) -> None:
    recur(core)
    assert (
        core.call(
            "recurringJob.update",
            "tpl",
            "priority",
            4,
            "retries",
            2,
            "backlog",
            3,
            "klass",
            "Other",
            "data",
            '{"v": 2}',
        )
        == 1
    )
    got = core.json("recurringJob.get", "tpl")
    assert (got["priority"], got["retries"], got["backlog"]) == (4, 2, 3)
    assert got["klass"] == "Other"
    assert got["data"] == '{"v": 2}'
    peek(core, now=0)
    child = core.json("job.get", "tpl-1")
    assert (child["klass"], child["data"], child["priority"], child["retries"]) == (
        "Other",
        '{"v": 2}',
        4,
        2,
    )


def test_update_interval_shifts_the_next_spawn_by_the_difference(core: Core) -> None:
    recur(core, offset=30)
    core.call("recurringJob.update", "tpl", "interval", 100)
    assert core.redis.zscore("ql:q:q-recur", "tpl") == 70
    assert core.json("recurringJob.get", "tpl")["interval"] == 100
    core.call("recurringJob.update", "tpl", "interval", 0)
    assert core.redis.zscore("ql:q:q-recur", "tpl") == -30


def test_update_queue_moves_the_template_and_its_queue_throttle(core: Core) -> None:
    recur(core, queue="a", offset=30, throttles=["t"])
    core.call("recurringJob.update", "tpl", "queue", "b", now=5)
    assert core.redis.zscore("ql:q:a-recur", "tpl") is None
    assert core.redis.zscore("ql:q:b-recur", "tpl") == 30
    got = core.json("recurringJob.get", "tpl")
    assert got["queue"] == "b"
    assert got["throttles"] == ["t", "ql:q:b"]
    assert core.redis.zscore("ql:queues", "b") == 5


def test_update_throttles_replaces_the_list_without_the_queue_throttle(core: Core) -> None:
    recur(core)
    core.call("recurringJob.update", "tpl", "throttles", '[ "t1", "t2" ]')
    assert template(core)["throttles"] == '["t1","t2"]'
    assert core.json("recurringJob.get", "tpl")["throttles"] == ["t1", "t2"]


def test_update_of_a_missing_template_is_refused(core: Core) -> None:
    core.raises(
        r"Recur\(\): No recurring job missing", "recurringJob.update", "missing", "priority", 1
    )


def test_update_rejects_bad_values_and_unknown_keys(core: Core) -> None:
    recur(core)
    cases: list[tuple[str, tuple[Any, ...]]] = [
        (r"No value provided for priority", ("priority",)),
        (r'Recur\(\): Arg "priority" must be a number: high', ("priority", "high")),
        (r'Recur\(\): Arg "interval" must be a number: often', ("interval", "often")),
        (r'Recur\(\): Arg "retries" must be a number: many', ("retries", "many")),
        (r'Recur\(\): Arg "backlog" not a number: some', ("backlog", "some")),
        (ANY_ERROR, ("data", "{not json")),
        (r'Recur\(\): Arg "data" is not JSON-encoded: false', ("data", "false")),
        (ANY_ERROR, ("throttles", "[unclosed")),
        (r'Recur\(\): Arg "throttles" is not JSON-encoded: false', ("throttles", "false")),
        (r'Recur\(\): Unrecognized option "colour"', ("colour", "red")),
    ]
    for pattern, args in cases:
        core.raises(pattern, "recurringJob.update", "tpl", *args)


def test_update_applies_the_pairs_before_a_failing_one(core: Core) -> None:
    recur(core)
    with pytest.raises(redis.exceptions.ResponseError, match="No value provided for retries"):
        core.call("recurringJob.update", "tpl", "priority", 5, "retries")
    assert core.json("recurringJob.get", "tpl")["priority"] == 5


def test_recurring_commands_publish_nothing(core: Core) -> None:
    recur(core)
    with core.events() as ev:
        core.call("recurringJob.update", "tpl", "priority", 1)
        core.call("recurringJob.addTag", "tpl", "x")
        core.call("recurringJob.removeTag", "tpl", "x")
        core.call("recurringJob.get", "tpl")
        core.call("recurringJob.cancel", "tpl")
    assert ev.messages == []
