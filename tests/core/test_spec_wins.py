"""Where ours follows the spec and the reqless 0.13.3 reference core does not.

One test per section D-20 .. D-28 of ``reqless-core/DEVIATIONS.md`` (``test_d<N>_...``
pins ``D-<N>``), each replaying the section's reproducer from an empty database.
"""

from __future__ import annotations

import json

from tests.core.conftest import Core

T = 1_700_000_000


def running(core: Core, jid: str = "j1", *options: object) -> None:
    core.call("queue.put", "w1", "q1", jid, "K", "{}", 0, *options, now=T)
    assert [job["jid"] for job in core.json("queue.pop", "q1", "w1", 1, now=T + 1)] == [jid]


def test_d20_a_put_history_entry_names_its_queue_queue(core: Core) -> None:
    core.call("queue.put", "w1", "q1", "j1", "K", "{}", 0, now=T)
    entry = core.json("job.get", "j1", now=T)["history"][0]
    assert entry == {"what": "put", "when": T, "queue": "q1"}


def test_d21_an_empty_top_level_list_is_an_array(core: Core) -> None:
    assert core.call("queue.pop", "q1", "w1", 1, now=T) == "[]"


def test_d22_the_throttle_object_has_a_ttl(core: Core) -> None:
    assert core.json("throttle.get", "t1", now=T) == {"id": "t1", "ttl": -2, "maximum": 0}


def test_d23_throttle_locks_and_pending_answer_json_text(core: Core) -> None:
    core.call("throttle.set", "t1", 1, now=T)
    core.call("queue.put", "w1", "q1", "j1", "K", "{}", 0, "throttles", '["t1"]', now=T)
    core.call("queue.put", "w1", "q1", "j2", "K", "{}", 0, "throttles", '["t1"]', now=T + 1)
    core.call("queue.pop", "q1", "w1", 2, now=T + 1)
    assert core.call("throttle.locks", "t1", now=T + 1) == '["j1"]'
    assert core.call("throttle.pending", "t1", now=T + 1) == '["j2"]'
    assert core.call("throttle.locks", "t2", now=T + 1) == "[]"


def test_d24_config_get_answers_the_spec_defaults(core: Core) -> None:
    expected = {
        "application": "reqless",
        "max-pop-retry": "1",
        "max-job-history": "100",
        "max-worker-age": "86400",
    }
    for key, value in expected.items():
        assert core.call("config.get", key, now=T) == value


def test_d24_config_get_without_a_key_is_refused(core: Core) -> None:
    core.raises("key", "config.get", now=T)


def test_d25_unfail_with_a_count_of_zero_is_refused(core: Core) -> None:
    running(core)
    core.call("job.fail", "j1", "w1", "g", "m", "{}", now=T + 2)
    core.raises('"count"', "queue.unfail", "q1", "g", 0, now=T + 3)
    assert core.redis.lrange("ql:f:g", 0, -1) == ["j1"]


def test_d26_recurring_add_tag_of_no_tags_is_an_array(core: Core) -> None:
    core.call("queue.recurAtInterval", "q2", "r1", "K", "{}", 10, 0, now=T)
    assert core.call("recurringJob.addTag", "r1", now=T) == "[]"
    assert core.redis.hget("ql:r:r1", "tags") == "[]"


def test_d27_an_exhausting_retry_records_failed_retries(core: Core) -> None:
    running(core, "j1", "retries", 0)
    assert core.call("job.retry", "j1", "q1", "w1", now=T + 2) == -1
    last = core.json("job.get", "j1", now=T + 2)["history"][-1]
    assert last == {"what": "failed-retries", "when": T + 2, "group": "failed-retries-q1"}


def test_d28_timeout_clears_the_worker(core: Core) -> None:
    running(core)
    core.call("job.timeout", "j1", now=T + 2)
    job = json.loads(core.call("job.get", "j1", now=T + 2))
    assert (job["state"], job["worker"]) == ("stalled", "")
    assert core.redis.hget("ql:j:j1", "worker") == ""
