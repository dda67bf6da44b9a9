"""The job object of job.get / job.getMulti (spec 2.6, 3.12, 3.13) and job.setPriority (3.20)."""

from __future__ import annotations

import json
from typing import Any

from tests.core.conftest import Core


def put(
    core: Core,
    jid: str,
    queue: str = "queue",
    now: float = 0,
    *,
    data: str = "{}",
    delay: float = 0,
    **options: Any,
) -> None:
    extra: list[Any] = []
    for name, value in options.items():
        extra += [name, value if isinstance(value, str | int | float) else json.dumps(value)]
    core.call("queue.put", "putter", queue, jid, "klass", data, delay, *extra, now=now)


def pop(
    core: Core, queue: str = "queue", worker: str = "worker", now: float = 0, limit: int = 1
) -> list[dict[str, Any]]:
    return list(core.json("queue.pop", queue, worker, limit, now=now))


def get(core: Core, jid: str) -> dict[str, Any]:
    job = core.json("job.get", jid)
    assert job is not None, f"job {jid} does not exist"
    return dict(job)


# --- job.get: the object ----------------------------------------------------------------------


def test_every_key_of_the_job_object_has_its_documented_json_type(core: Core) -> None:
    put(core, "jid", tags=["t"])
    pop(core, now=1)
    job = get(core, "jid")
    types = {
        "jid": str,
        "klass": str,
        "state": str,
        "queue": str,
        "worker": str,
        "tracked": bool,
        "priority": int,
        "expires": int,
        "retries": int,
        "remaining": int,
        "data": str,
        "tags": list,
        "history": list,
        "failure": dict,
        "throttles": list,
        "spawned_from_jid": bool,
        "dependents": dict,
        "dependencies": dict,
    }
    assert set(job) == set(types)
    for key, kind in types.items():
        assert type(job[key]) is kind, key


def test_get_returns_the_spec_example_for_a_job_put_at_0_and_popped_at_1(core: Core) -> None:
    put(core, "jid", now=0)
    pop(core, now=1)
    assert get(core, "jid") == {
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


def test_empty_lists_inside_the_job_object_are_sent_as_empty_objects(core: Core) -> None:
    put(core, "jid")
    raw = core.call("job.get", "jid")
    assert '"tags":{}' in raw
    assert '"dependents":{}' in raw
    assert '"dependencies":{}' in raw
    assert '"failure":{}' in raw


def test_a_waiting_job_has_empty_worker_zero_expires_and_false_spawned_from_jid(
    core: Core,
) -> None:
    put(core, "jid")
    job = get(core, "jid")
    assert job["state"] == "waiting"
    assert job["worker"] == ""
    assert job["expires"] == 0
    assert job["tracked"] is False
    assert job["spawned_from_jid"] is False
    assert '"spawned_from_jid":false' in core.call("job.get", "jid")


def test_data_is_returned_as_the_verbatim_json_text_string(core: Core) -> None:
    text = '{"b": [1, 2],   "a": "x"}'
    put(core, "jid", data=text)
    job = get(core, "jid")
    assert job["data"] == text
    assert isinstance(job["data"], str)


def test_forward_slashes_are_escaped_in_the_raw_reply_including_inside_data(core: Core) -> None:
    put(core, "jid", queue="a/b", data='{"u":"c/d"}')
    raw = core.call("job.get", "jid")
    assert r'"queue":"a\/b"' in raw
    assert r'"data":"{\"u\":\"c\/d\"}"' in raw
    job = json.loads(raw)
    assert job["queue"] == "a/b"
    assert job["data"] == '{"u":"c/d"}'


def test_numbers_are_printed_with_14_significant_digits(core: Core) -> None:
    put(core, "jid", now=1700000000.5)
    pop(core, now=1700000001.987654)
    raw = core.call("job.get", "jid")
    assert '"expires":1700000061.9877' in raw
    job = json.loads(raw)
    assert job["expires"] == 1700000061.9877
    # History times are floored to whole seconds.
    assert [entry["when"] for entry in job["history"]] == [1700000000, 1700000001]


def test_fractional_priority_is_kept_and_integral_numbers_have_no_decimal_point(
    core: Core,
) -> None:
    put(core, "jid", priority=2.5, retries=3)
    raw = core.call("job.get", "jid")
    assert '"priority":2.5' in raw
    assert '"retries":3,' in raw or '"retries":3}' in raw


def test_remaining_is_floored_to_an_integer(core: Core) -> None:
    put(core, "jid", retries=2.5)
    job = get(core, "jid")
    assert job["retries"] == 2.5
    assert job["remaining"] == 2


def test_a_number_renders_the_same_whatever_was_rendered_before(core: Core) -> None:
    # The core remembers how short numeric texts render, and starts over past a
    # bound: the same text floored (remaining) or not (retries) must not mix,
    # and values seen before and after the memo starts over must stay right.
    put(core, "first", retries=2.5)
    assert (get(core, "first")["retries"], get(core, "first")["remaining"]) == (2.5, 2)
    for index in range(1100):
        core.redis.hset(f"ql:j:{index}", mapping={"jid": str(index), "klass": "k"})
        core.redis.hset(f"ql:j:{index}", "priority", f"{index}.25")
        assert get(core, str(index))["priority"] == index + 0.25
    put(core, "again", retries=2.5)
    assert (get(core, "again")["retries"], get(core, "again")["remaining"]) == (2.5, 2)
    core.redis.hset("ql:j:again", "priority", "0.25")
    assert get(core, "again")["priority"] == 0.25


def test_a_failed_job_reports_expires_0_although_the_field_is_empty(core: Core) -> None:
    put(core, "jid")
    pop(core, now=1)
    core.call("job.fail", "jid", "worker", "group", "message", now=2.75)
    assert core.redis.hget("ql:j:jid", "expires") == ""
    job = get(core, "jid")
    assert job["expires"] == 0
    assert job["state"] == "failed"
    assert job["worker"] == ""
    assert job["failure"] == {"group": "group", "message": "message", "when": 2, "worker": "worker"}


def test_a_completed_job_has_no_queue_worker_or_failure(core: Core) -> None:
    put(core, "jid")
    pop(core, now=1)
    core.call("job.complete", "jid", "worker", "queue", '{"done":true}', now=2)
    job = get(core, "jid")
    assert (job["state"], job["queue"], job["worker"], job["expires"]) == ("complete", "", "", 0)
    assert job["failure"] == {}
    assert job["data"] == '{"done":true}'
    assert job["remaining"] == job["retries"] == 5


def test_a_non_numeric_expires_field_is_reported_as_0(core: Core) -> None:
    put(core, "jid")
    core.redis.hset("ql:j:jid", "expires", "soon")
    assert get(core, "jid")["expires"] == 0


def test_remaining_goes_negative_when_retries_are_exhausted(core: Core) -> None:
    put(core, "jid", retries=0)
    pop(core, now=1)
    assert core.call("job.retry", "jid", "queue", "worker", 0, now=2) == -1
    assert get(core, "jid")["remaining"] == -1


def test_tracked_is_true_for_a_tracked_job(core: Core) -> None:
    put(core, "jid")
    core.call("job.track", "jid")
    assert get(core, "jid")["tracked"] is True


def test_tags_and_throttles_are_arrays_with_the_queue_throttle_last(core: Core) -> None:
    put(core, "jid", tags=["b", "a"], throttles=["t1"])
    job = get(core, "jid")
    assert job["tags"] == ["b", "a"]
    assert job["throttles"] == ["t1", "ql:q:queue"]


def test_dependencies_and_dependents_list_the_other_jid(core: Core) -> None:
    put(core, "parent")
    put(core, "child", depends=["parent"])
    child = get(core, "child")
    parent = get(core, "parent")
    assert child["state"] == "depends"
    assert child["dependencies"] == ["parent"]
    assert child["dependents"] == {}
    assert parent["dependents"] == ["child"]
    assert parent["dependencies"] == {}


def test_a_spawned_recurring_job_names_its_template(core: Core) -> None:
    core.call("queue.recurAtInterval", "queue", "tpl", "klass", "{}", 60, 0, now=0)
    core.call("queue.peek", "queue", 0, 1, now=0)
    assert get(core, "tpl-1")["spawned_from_jid"] == "tpl"


def test_get_of_a_missing_job_is_nil(core: Core) -> None:
    assert core.call("job.get", "missing") is None


def test_get_of_a_hash_without_a_jid_field_is_nil(core: Core) -> None:
    core.redis.hset("ql:j:odd", "klass", "klass")
    assert core.call("job.get", "odd") is None


def test_get_without_a_jid_is_an_error(core: Core) -> None:
    core.raises(r"Job\(\): no jid provided", "job.get")


def test_get_publishes_nothing(core: Core) -> None:
    put(core, "jid")
    with core.events() as ev:
        core.call("job.get", "jid")
        core.call("job.getMulti", "jid")
    assert ev.messages == []


# --- job.getMulti -------------------------------------------------------------------------------


def test_get_multi_returns_jobs_in_argument_order(core: Core) -> None:
    for jid in ("a", "b", "c"):
        put(core, jid)
    jobs = core.json("job.getMulti", "c", "a", "b")
    assert [job["jid"] for job in jobs] == ["c", "a", "b"]
    assert jobs[1] == get(core, "a")


def test_get_multi_omits_missing_jobs_without_placeholders(core: Core) -> None:
    put(core, "a")
    put(core, "b")
    jobs = core.json("job.getMulti", "missing", "b", "gone", "a")
    assert [job["jid"] for job in jobs] == ["b", "a"]


def test_get_multi_with_no_existing_job_is_an_empty_json_array(core: Core) -> None:
    assert core.call("job.getMulti", "missing", "gone") == "[]"
    assert core.call("job.getMulti") == "[]"


# --- job.setPriority ----------------------------------------------------------------------------


def test_set_priority_stores_the_priority_and_replies_with_it(core: Core) -> None:
    put(core, "jid")
    assert core.call("job.setPriority", "jid", 7) == 7
    assert core.redis.hget("ql:j:jid", "priority") == "7"
    assert get(core, "jid")["priority"] == 7


def test_set_priority_reply_is_truncated_toward_zero(core: Core) -> None:
    put(core, "jid")
    assert core.call("job.setPriority", "jid", "2.7") == 2
    assert get(core, "jid")["priority"] == 2.7
    assert core.call("job.setPriority", "jid", "-1.5") == -1


def test_set_priority_rescores_a_waiting_job_to_exactly_the_priority(core: Core) -> None:
    put(core, "jid", now=100)
    assert core.redis.zscore("ql:q:queue-work", "jid") == -100 / 10_000_000_000
    core.call("job.setPriority", "jid", 3, now=200)
    assert core.redis.zscore("ql:q:queue-work", "jid") == 3


def test_set_priority_drops_the_time_component_so_the_job_jumps_its_peers(core: Core) -> None:
    put(core, "early", now=50)
    put(core, "late", now=100)
    core.call("job.setPriority", "late", 0, now=150)
    popped = pop(core, now=200, limit=2)
    assert [job["jid"] for job in popped] == ["late", "early"]


def test_set_priority_higher_pops_first(core: Core) -> None:
    put(core, "a", now=1)
    put(core, "b", now=2)
    core.call("job.setPriority", "b", 1, now=3)
    assert [job["jid"] for job in pop(core, now=4, limit=2)] == ["b", "a"]


def test_set_priority_of_a_job_outside_the_work_queue_only_stores_the_field(core: Core) -> None:
    put(core, "jid", delay=10, now=0)
    core.call("job.setPriority", "jid", 4)
    assert core.redis.zscore("ql:q:queue-work", "jid") is None
    assert core.redis.zscore("ql:q:queue-scheduled", "jid") == 10
    assert core.redis.hget("ql:j:jid", "priority") == "4"


def test_set_priority_of_a_running_job_does_not_put_it_back_to_work(core: Core) -> None:
    put(core, "jid")
    pop(core, now=1)
    core.call("job.setPriority", "jid", 9, now=2)
    assert core.redis.zscore("ql:q:queue-work", "jid") is None
    assert core.redis.zscore("ql:q:queue-locks", "jid") == 61
    assert get(core, "jid")["priority"] == 9


def test_set_priority_of_a_missing_job_raises_the_queue_name_error(core: Core) -> None:
    core.raises(r"Queue\(\): no queue name provided", "job.setPriority", "missing", 5)


def test_set_priority_rejects_a_missing_or_non_numeric_priority(core: Core) -> None:
    put(core, "jid")
    core.raises(
        r'Priority\(\): Arg "priority" missing or not a number: high',
        "job.setPriority",
        "jid",
        "high",
    )
    core.raises(r'Priority\(\): Arg "priority" missing or not a number', "job.setPriority", "jid")


def test_set_priority_publishes_nothing(core: Core) -> None:
    put(core, "jid")
    with core.events() as ev:
        core.call("job.setPriority", "jid", 2)
    assert ev.messages == []
