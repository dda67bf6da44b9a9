"""One test per deliberate difference from the reference core, named after its
section in ``reqless-core/DEVIATIONS.md`` (``test_d<N>_...`` pins ``D-<N>``).

Each replays the section's reproducer (``command now args...`` from an empty
database) and checks what ours does.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.core.conftest import Core


def put(core: Core, jid: str, queue: str = "q", *options: Any, now: float = 0) -> str:
    return str(core.call("queue.put", "w", queue, jid, "k", "{}", 0, *options, now=now))


def jids(reply: str) -> list[str]:
    return [job["jid"] for job in json.loads(reply)]


# D-1 .. D-3: data-loss quirks not reproduced


def test_d1_an_invalid_option_leaves_the_existing_jobs_tags(core: Core) -> None:
    put(core, "j1", "q", "tags", '["a"]')
    core.raises("retries", "queue.put", "w", "q", "j1", "k", "{}", 0, "retries", "x", now=1)
    assert core.redis.zscore("ql:t:a", "j1") == 0
    assert json.loads(core.call("job.get", "j1"))["tags"] == ["a"]


def test_d2_cancel_of_a_failed_job_without_a_failed_counter_cancels_it(core: Core) -> None:
    # An exhausted retry counts the failure under the queue argument (q2),
    # while the job's queue field (q1) names the bucket cancel looks at.
    put(core, "j1", "q1", "retries", 0)
    core.call("queue.pop", "q1", "w", 1, now=1)
    assert core.call("job.retry", "j1", "q2", "w", now=2) == -1
    assert core.redis.hget("ql:s:stats:0:q1", "failed") is None
    assert core.call("job.cancel", "j1", now=3) == ["j1"]
    assert not core.redis.exists("ql:j:j1")
    assert core.redis.hget("ql:s:stats:0:q1", "failed") is None
    assert core.redis.hget("ql:s:stats:0:q2", "failed") == "1"


def test_d3_a_refused_priority_pattern_keeps_the_stored_ones(core: Core) -> None:
    core.call("queuePriorityPatterns.setAll", '{"pattern":["a"]}')
    core.raises("pattern", "queuePriorityPatterns.setAll", '{"fairly":true}', now=1)
    assert core.redis.lrange("ql:qp:priorities", 0, 0) == ['{"pattern":["a"]}']


# D-4 .. D-11: guards against corrupting state


@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
def test_d4_nan_and_infinities_are_refused_where_a_number_is_expected(
    core: Core, value: str
) -> None:
    core.raises(
        'Arg "priority" not a number', "queue.put", "w", "q", "j1", "k", "{}", 0, "priority", value
    )
    core.raises('Arg "delay" not a number', "queue.put", "w", "q", "j1", "k", "{}", value)
    assert not core.redis.exists("ql:j:j1")


def test_d5_a_throttle_maximum_must_be_a_number(core: Core) -> None:
    core.raises("abc", "throttle.set", "t", "abc")
    core.raises("abc", "queue.throttle.set", "q", "abc")
    assert not core.redis.exists("ql:th:t")


@pytest.mark.parametrize("tags", ['[["a"]]', '[{"a":1}]', "[true]"])
def test_d6_tag_elements_must_be_strings_or_numbers(core: Core, tags: str) -> None:
    core.raises('Arg "tags" not JSON', "queue.put", "w", "q", "j1", "k", "{}", 0, "tags", tags)
    assert core.redis.keys("*") == []


@pytest.mark.parametrize("data", ['"text"', "3", "true"])
def test_d7_log_data_must_be_an_object_or_array(core: Core, data: str) -> None:
    put(core, "j1")
    core.raises("not cjson", "job.log", "j1", "note", data, now=1)
    assert len(json.loads(core.call("job.get", "j1"))["history"]) == 1


def test_d8_identifier_pattern_values_must_be_json_arrays(core: Core) -> None:
    core.call("queueIdentifierPatterns.setAll", "one", '["a"]')
    core.raises("JSON array", "queueIdentifierPatterns.setAll", "one", '"x"', now=1)
    assert core.redis.hget("ql:qp:identifiers", "one") == '["a"]'


def test_d9_a_throttle_release_does_not_queue_a_job_that_is_no_longer_throttled(
    core: Core,
) -> None:
    core.call("throttle.set", "t", 1)
    put(core, "a", "q", "throttles", '["t"]')
    put(core, "b", "q", "throttles", '["t"]', now=0.5)
    assert jids(core.call("queue.pop", "q", "w1", 2, now=1)) == ["a"]
    assert core.redis.zscore("ql:th:t-pending", "b") is not None
    # Re-put without the throttle, b is popped while still pending on t.
    put(core, "b", "q", now=2)
    assert jids(core.call("queue.pop", "q", "w2", 1, now=3)) == ["b"]
    core.call("job.complete", "a", "w1", "q", "{}", now=4)
    assert core.redis.zscore("ql:q:q-work", "b") is None
    assert core.call("queue.pop", "q", "w3", 1, now=5) == "[]"
    assert core.redis.hget("ql:j:b", "worker") == "w2"


def test_d10_unfail_of_a_vanished_job_only_drops_it_from_the_list(core: Core) -> None:
    put(core, "j1")
    core.call("queue.pop", "q", "w", 1, now=1)
    core.call("job.fail", "j1", "w", "g", "boom", now=2)
    core.redis.delete("ql:j:j1")
    assert core.call("queue.unfail", "q", "g", 10, now=3) == 1
    assert not core.redis.exists("ql:j:j1")
    assert core.redis.zscore("ql:q:q-work", "j1") is None
    assert not core.redis.exists("ql:f:g")


def test_d11_a_vanished_template_spawns_nothing_and_leaves_the_recur_set(core: Core) -> None:
    core.call("queue.recurAtInterval", "q", "r", "k", "{}", 60, 0)
    core.redis.delete("ql:r:r")
    assert core.call("queue.pop", "q", "w", 5, now=1) == "[]"
    assert not core.redis.exists("ql:j:r-1")
    assert core.redis.zscore("ql:q:q-recur", "r") is None


# D-12 .. D-19: where ours follows the spec (or the spec is silent)


def test_d12_every_old_queue_throttle_entry_is_dropped_on_a_reput(core: Core) -> None:
    put(core, "j1", "q1")
    put(core, "j1", "q2", "throttles", '["ql:q:q1","ql:q:q1"]', now=1)
    assert json.loads(core.call("job.get", "j1", now=1))["throttles"] == ["ql:q:q2"]


def test_d12_every_old_queue_throttle_entry_is_dropped_when_a_template_moves(
    core: Core,
) -> None:
    core.call("queue.recurAtInterval", "q1", "r1", "k", "{}", 60, 0, "throttles", '["ql:q:q1"]')
    assert core.redis.hget("ql:r:r1", "throttles") == '["ql:q:q1","ql:q:q1"]'
    assert core.call("recurringJob.update", "r1", "queue", "q2", now=1) == 1
    assert json.loads(core.call("recurringJob.get", "r1", now=1))["throttles"] == ["ql:q:q2"]


def test_d13_a_trailing_next_option_does_not_change_the_next_queue(core: Core) -> None:
    put(core, "j1", "q1")
    core.call("queue.pop", "q1", "w", 1, now=1)
    reply = core.call("job.completeAndRequeue", "j1", "w", "q1", "{}", "q2", "next", "q3", now=2)
    assert reply == "waiting"
    assert core.redis.hget("ql:j:j1", "queue") == "q2"
    assert core.redis.zscore("ql:q:q2-work", "j1") is not None
    assert not core.redis.exists("ql:q:q3-work")


def test_d14_a_fifteen_digit_integer_tag_is_indexed_as_its_digits(core: Core) -> None:
    put(core, "j1", "q", "tags", "[123456789012345]")
    assert core.redis.zscore("ql:t:123456789012345", "j1") == 0
    assert core.redis.zscore("ql:tags", "123456789012345") == 1
    assert json.loads(core.call("jobs.tagged", "123456789012345", 0, 10))["jobs"] == ["j1"]
    assert json.loads(core.call("job.get", "j1"))["tags"] == [123456789012345]


def test_d14_an_index_entry_the_reference_made_goes_with_the_job(core: Core) -> None:
    put(core, "j1", "q", "tags", "[123456789012345]")
    # What the reference core wrote for the same put.
    core.redis.zadd("ql:t:1.2345678901234e+14", {"j1": 0})
    core.redis.zincrby("ql:tags", 1, "1.2345678901234e+14")
    assert core.call("job.cancel", "j1", now=1) == ["j1"]
    assert core.redis.keys("ql:t*") == []


def test_d14_a_reput_moves_a_reference_index_entry_to_the_digits(core: Core) -> None:
    put(core, "j1", "q", "tags", "[123456789012345]")
    core.redis.zrem("ql:t:123456789012345", "j1")
    core.redis.delete("ql:tags")
    core.redis.zadd("ql:t:1.2345678901234e+14", {"j1": 0})
    core.redis.zincrby("ql:tags", 1, "1.2345678901234e+14")
    put(core, "j1", "q", now=1)
    assert core.redis.keys("ql:t:*") == ["ql:t:123456789012345"]
    assert core.redis.zrange("ql:tags", 0, -1) == ["123456789012345"]


@pytest.mark.parametrize("tags", ['{"a":1}', '"a"', "5", "true"])
def test_d15_tags_that_are_not_a_json_array_are_refused(core: Core, tags: str) -> None:
    core.raises('Arg "tags" not JSON', "queue.put", "w", "q", "j1", "k", "{}", 0, "tags", tags)
    assert core.redis.keys("*") == []


def test_d16_a_negative_peek_offset_counts_positions_before_the_first_as_empty(
    core: Core,
) -> None:
    put(core, "a")
    put(core, "b", now=1)
    assert jids(core.call("queue.peek", "q", -1, 2, now=2)) == ["a"]
    assert jids(core.call("queue.peek", "q", -5, 10, now=2)) == ["a", "b"]
    assert core.call("queue.peek", "q", -2, 2, now=2) == "[]"


def test_d16_a_negative_peek_limit_is_empty(core: Core) -> None:
    put(core, "a")
    assert core.call("queue.peek", "q", 0, -1, now=1) == "[]"


def test_d17_a_negative_pop_limit_hands_out_and_reclaims_nothing(core: Core) -> None:
    core.call("config.set", "grace-period", 0)
    put(core, "a")
    assert jids(core.call("queue.pop", "q", "w1", 1, now=1)) == ["a"]
    before = core.redis.hgetall("ql:j:a")
    assert core.call("queue.pop", "q", "w2", -1, now=100) == "[]"
    assert core.redis.hgetall("ql:j:a") == before
    assert core.redis.zscore("ql:workers", "w2") == 100


def test_d18_a_fractional_history_limit_counts_as_its_floor(core: Core) -> None:
    core.call("config.set", "max-job-history", "2.5")
    put(core, "j1")
    for when in range(1, 6):
        core.call("job.log", "j1", f"n{when}", now=when)
    # floor(2.5) = 2: never trims (4.11).
    assert len(core.redis.lrange("ql:j:j1-history", 0, -1)) == 6
    core.call("config.set", "max-job-history", "3.5")
    core.call("job.log", "j1", "last", now=9)
    history = [json.loads(entry)[1] for entry in core.redis.lrange("ql:j:j1-history", 0, -1)]
    assert history == ["put", "n5", "last"]


def test_d19_fractional_retries_count_down_by_one_from_the_value(core: Core) -> None:
    put(core, "j1", "q", "retries", "1.5")
    core.call("queue.pop", "q", "w", 1, now=1)
    assert core.call("job.retry", "j1", "q", "w", now=2) == 0
    assert core.redis.hget("ql:j:j1", "remaining") == "0.5"
    core.call("queue.pop", "q", "w", 1, now=3)
    assert core.call("job.retry", "j1", "q", "w", now=4) == -1
    assert core.redis.hget("ql:j:j1", "state") == "failed"


def test_d19_a_fractional_retry_budget_is_spent_by_expired_leases_too(core: Core) -> None:
    core.call("config.set", "grace-period", 0)
    put(core, "j1", "q", "retries", "1.5")
    core.call("queue.pop", "q", "w1", 1, now=1)
    assert jids(core.call("queue.pop", "q", "w2", 1, now=100)) == ["j1"]
    assert json.loads(core.call("job.get", "j1", now=100))["remaining"] == 0
    assert core.call("queue.pop", "q", "w3", 1, now=200) == "[]"
    assert core.redis.hget("ql:j:j1", "state") == "failed"
