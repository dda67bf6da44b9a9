"""Leases: job.heartbeat, job.timeout, lock expiry and reclamation at pop
(spec 3.14, 3.21, 4.3, 4.4).

The usual story: worker w1 pops a job at 0 and holds it until 60 (the default
heartbeat); a pop by another worker at or after 60 sends w1 a notice and
grants a grace period (default 10 s); a pop after that hands the job over,
or fails it once its retries are spent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, cast

import pytest
import redis

from tests.core.conftest import Core

EXHAUSTED = 'Job exhausted retries in queue "q"'


def put(
    core: Core,
    jid: str = "jid",
    queue: str = "q",
    *,
    now: float = 0,
    data: str = "{}",
    extra: Mapping[str, object] | None = None,
    **options: object,
) -> None:
    args: list[object] = ["putter", queue, jid, "klass", data, 0]
    for name, value in {**(extra or {}), **options}.items():
        args += [name, value if isinstance(value, str | int | float) else json.dumps(value)]
    core.call("queue.put", *args, now=now)


def pop(core: Core, worker: str, now: float, limit: int = 1, queue: str = "q") -> Any:
    return core.json("queue.pop", queue, worker, limit, now=now)


def heartbeat(core: Core, worker: str, now: float, *data: str, jid: str = "jid") -> Any:
    return core.call("job.heartbeat", jid, worker, *data, now=now)


def fields(core: Core, jid: str = "jid") -> dict[str, str]:
    return cast(dict[str, str], core.redis.hgetall(f"ql:j:{jid}"))


def job(core: Core, jid: str = "jid") -> Any:
    return core.json("job.get", jid)


def lost(worker: str, jid: str = "jid") -> dict[str, str]:
    return {"jid": jid, "event": "lock_lost", "worker": worker}


def held(
    core: Core,
    jid: str = "jid",
    worker: str = "w1",
    now: float = 0,
    data: str = "{}",
    **options: object,
) -> None:
    """Put a job and let ``worker`` pop it."""
    put(core, jid, now=now, data=data, extra=options)
    assert [popped["jid"] for popped in pop(core, worker, now)] == [jid]


# --- job.heartbeat -----------------------------------------------------------


def test_heartbeat_renews_the_lock_in_all_three_places(core: Core) -> None:
    held(core)
    assert heartbeat(core, "w1", 30) == 90
    assert float(fields(core)["expires"]) == 90
    assert core.redis.zscore("ql:q:q-locks", "jid") == 90
    assert core.redis.zscore("ql:w:w1:jobs", "jid") == 90


def test_heartbeat_reply_is_truncated_but_the_stored_expiry_is_not(core: Core) -> None:
    held(core)
    assert heartbeat(core, "w1", 30.75) == 90
    assert float(fields(core)["expires"]) == 90.75
    assert core.redis.zscore("ql:q:q-locks", "jid") == 90.75
    assert job(core)["expires"] == 90.75


def test_heartbeat_uses_the_queue_heartbeat_before_the_global_one(core: Core) -> None:
    held(core)
    core.call("config.set", "heartbeat", 300)
    assert heartbeat(core, "w1", 10) == 310
    core.call("config.set", "q-heartbeat", 5)
    assert heartbeat(core, "w1", 10) == 15
    core.call("config.set", "other-heartbeat", 1)
    assert heartbeat(core, "w1", 10) == 15


def test_a_negative_heartbeat_gives_an_already_expired_lock(core: Core) -> None:
    held(core)
    core.call("config.set", "heartbeat", -10)
    # -4.5 truncates toward zero.
    assert heartbeat(core, "w1", 5.5) == -4
    assert core.redis.zscore("ql:q:q-locks", "jid") == -4.5


def test_heartbeat_with_data_stores_it_re_encoded(core: Core) -> None:
    held(core, data='{"a": 1}')
    heartbeat(core, "w1", 1, '{"list": [], "url": "a/b"}')
    stored = fields(core)["data"]
    assert json.loads(stored) == {"list": {}, "url": "a/b"}
    assert " " not in stored
    assert "a\\/b" in stored


def test_heartbeat_without_data_keeps_the_data_verbatim(core: Core) -> None:
    held(core, data='{"a": [1, 2]}')
    heartbeat(core, "w1", 1)
    assert fields(core)["data"] == '{"a": [1, 2]}'


def test_heartbeat_neither_refreshes_the_worker_registry_nor_publishes(core: Core) -> None:
    held(core)
    with core.events() as ev:
        heartbeat(core, "w1", 30)
    assert ev.messages == []
    assert core.redis.zscore("ql:workers", "w1") == 0


def test_heartbeat_refuses_a_missing_jid(core: Core) -> None:
    core.raises(re.escape("Job(): no jid provided"), "job.heartbeat")


def test_heartbeat_refuses_a_missing_worker_with_the_misspelled_message(core: Core) -> None:
    held(core)
    core.raises(re.escape('Heatbeat(): Arg "worker" missing'), "job.heartbeat", "jid")


def test_heartbeat_refuses_data_that_is_not_json_before_looking_up_the_job(core: Core) -> None:
    core.raises(r"JSON|decode|Expected", "job.heartbeat", "nope", "w1", "{")
    held(core)
    core.raises(r"JSON|decode|Expected", "job.heartbeat", "jid", "w1", "[1,")


def test_heartbeat_of_a_missing_job_is_refused(core: Core) -> None:
    core.raises(re.escape("Heartbeat(): Job does not exist"), "job.heartbeat", "nope", "w1")


def test_heartbeat_by_another_worker_is_refused(core: Core) -> None:
    held(core)
    core.raises(
        re.escape("Heartbeat(): Job given out to another worker: w1"), "job.heartbeat", "jid", "w2"
    )


def put_waiting(core: Core) -> None:
    put(core)


def put_scheduled(core: Core) -> None:
    core.call("queue.put", "putter", "q", "jid", "klass", "{}", 100)


def put_depends(core: Core) -> None:
    put(core, "parent")
    put(core, depends=["parent"])


def completed(core: Core) -> None:
    held(core)
    core.call("job.complete", "jid", "w1", "q", "{}")


def failed(core: Core) -> None:
    held(core)
    core.call("job.fail", "jid", "w1", "group", "message")


def timed_out(core: Core) -> None:
    held(core)
    core.call("job.timeout", "jid")


@pytest.mark.parametrize(
    ("setup", "state"),
    [
        (put_waiting, "waiting"),
        (put_scheduled, "scheduled"),
        (put_depends, "depends"),
        (completed, "complete"),
        (failed, "failed"),
        (timed_out, "stalled"),
    ],
)
def test_heartbeat_of_a_job_that_is_not_running_names_its_state(
    core: Core, setup: Callable[[Core], None], state: str
) -> None:
    setup(core)
    core.raises(
        re.escape(f"Heartbeat(): Job not currently running: {state}"), "job.heartbeat", "jid", "w1"
    )


# --- job.timeout -------------------------------------------------------------


def test_timeout_stalls_a_running_job_at_the_head_of_the_work_queue(core: Core) -> None:
    held(core)
    assert core.call("job.timeout", "jid", now=5) is None
    stored = fields(core)
    assert (stored["state"], stored["worker"], stored["expires"], stored["remaining"]) == (
        "stalled",
        "",
        "0",
        "5",
    )
    assert core.redis.zscore("ql:q:q-work", "jid") == float("inf")
    assert core.redis.exists("ql:q:q-locks") == 0
    assert job(core)["history"][-1] == {"when": 5, "what": "timed-out"}


def test_timeout_leaves_the_jid_in_the_old_workers_job_set(core: Core) -> None:
    # Quirk: so the job later shows as stalled for w1.
    held(core)
    core.call("job.timeout", "jid", now=5)
    assert core.redis.zrange("ql:w:w1:jobs", 0, -1, withscores=True) == [("jid", 60.0)]


def test_timeout_tells_the_worker_then_the_log(core: Core) -> None:
    held(core)
    with core.events() as ev:
        core.call("job.timeout", "jid", now=5)
    assert ev.parsed() == [("ql:w:w1", lost("w1")), ("ql:log", lost("w1"))]


def test_timeout_releases_the_jobs_throttles(core: Core) -> None:
    core.call("throttle.set", "t", 1)
    put(core, "a", now=0, throttles=["t"])
    put(core, "b", now=1, throttles=["t"])
    pop(core, "w1", now=2, limit=2)
    core.call("job.timeout", "a", now=3)
    assert core.redis.exists("ql:th:t-locks", "ql:th:ql:q:q-locks", "ql:th:t-pending") == 0
    assert core.redis.zrange("ql:q:q-work", 0, -1) == ["b", "a"]


def test_a_timed_out_job_is_popped_before_any_priority(core: Core) -> None:
    held(core)
    core.call("job.timeout", "jid", now=5)
    put(core, "urgent", now=6, priority=1000)
    popped = pop(core, "w2", now=7, limit=2)
    assert [item["jid"] for item in popped] == ["jid", "urgent"]
    assert (popped[0]["state"], popped[0]["worker"], popped[0]["remaining"]) == ("running", "w2", 5)


def test_timeout_of_a_job_that_is_not_running_is_refused(core: Core) -> None:
    put(core)
    core.raises(re.escape("Timeout(): Job jid not running"), "job.timeout", "jid")
    core.raises(re.escape("Timeout(): Job nope not running"), "job.timeout", "nope")


def test_timeout_of_several_jobs_stops_at_the_first_that_is_not_running(core: Core) -> None:
    held(core, "a")
    held(core, "c")
    put(core, "b")
    with pytest.raises(
        redis.exceptions.ResponseError, match=re.escape("Timeout(): Job b not running")
    ):
        core.call("job.timeout", "a", "b", "c", now=5)
    assert fields(core, "a")["state"] == "stalled"
    assert fields(core, "c")["state"] == "running"


# --- expiry, notice and grace period (4.3) -----------------------------------


def test_other_pops_leave_an_unexpired_lock_alone(core: Core) -> None:
    held(core)
    with core.events() as ev:
        assert pop(core, "w2", 59.9) == []
    assert ev.messages == []
    assert fields(core)["worker"] == "w1"
    assert core.redis.zscore("ql:q:q-locks", "jid") == 60


def test_the_first_pop_after_expiry_only_sends_the_owner_a_notice(core: Core) -> None:
    held(core)
    with core.events() as ev:
        assert core.call("queue.pop", "q", "w2", 1, now=60) == "[]"
    assert ev.parsed() == [("ql:w:w1", lost("w1")), ("ql:log", lost("w1"))]
    stored = fields(core)
    assert (stored["state"], stored["worker"], stored["grace"], stored["remaining"]) == (
        "running",
        "w1",
        "1",
        "5",
    )
    # The grace period extends the queue's lock only.
    assert core.redis.zscore("ql:q:q-locks", "jid") == 70
    assert float(stored["expires"]) == 60
    assert core.redis.exists("ql:w:w1:jobs") == 0
    assert job(core)["history"][-1] == {"when": 60, "what": "timed-out"}
    assert core.redis.hget("ql:s:stats:0:q", "retries") == "1"


def test_a_notice_for_a_tracked_job_is_preceded_by_ql_stalled(core: Core) -> None:
    held(core)
    core.call("job.track", "jid")
    with core.events() as ev:
        pop(core, "w2", 60)
    assert ev.parsed() == [("ql:stalled", "jid"), ("ql:w:w1", lost("w1")), ("ql:log", lost("w1"))]


def test_the_notice_is_counted_in_the_day_of_the_pop(core: Core) -> None:
    held(core, now=86400 - 30)
    pop(core, "w2", 86400 + 30)
    assert core.redis.hget("ql:s:stats:86400:q", "retries") == "1"
    assert core.json("queue.stats", "q", 86400)["retries"] == 1


def test_nothing_happens_during_the_grace_period(core: Core) -> None:
    held(core)
    pop(core, "w2", 60)
    before = core.snapshot()
    with core.events() as ev:
        assert pop(core, "w3", 69.9) == []
    assert ev.messages == []
    # Only the popping worker's registration changes.
    after = core.snapshot()
    after.pop("ql:workers")
    before.pop("ql:workers")
    assert after == before


def test_the_owner_may_still_finish_the_job_during_the_grace_period(core: Core) -> None:
    held(core)
    pop(core, "w2", 60)
    assert core.call("job.complete", "jid", "w1", "q", "{}", now=65) == "complete"


def test_the_first_pop_after_the_grace_period_hands_the_job_over(core: Core) -> None:
    held(core)
    pop(core, "w2", 60)
    with core.events() as ev:
        [taken] = pop(core, "w3", 70)
    assert ev.messages == []
    assert (
        taken["jid"],
        taken["worker"],
        taken["state"],
        taken["remaining"],
        taken["expires"],
    ) == (
        "jid",
        "w3",
        "running",
        4,
        130,
    )
    assert [entry["what"] for entry in taken["history"]] == ["put", "popped", "timed-out", "popped"]
    assert taken["history"][-1] == {"when": 70, "what": "popped", "worker": "w3"}
    assert "grace" not in fields(core)
    assert core.redis.zscore("ql:q:q-locks", "jid") == 130
    assert core.redis.zrange("ql:w:w3:jobs", 0, -1, withscores=True) == [("jid", 130.0)]
    assert core.redis.hget("ql:s:stats:0:q", "retries") == "1"


def test_the_old_owner_cannot_heartbeat_a_reclaimed_job(core: Core) -> None:
    held(core)
    pop(core, "w2", 60)
    pop(core, "w3", 70)
    core.raises(
        re.escape("Heartbeat(): Job given out to another worker: w3"),
        "job.heartbeat",
        "jid",
        "w1",
        now=71,
    )


def test_reclaimed_jobs_come_before_waiting_jobs(core: Core) -> None:
    held(core)
    pop(core, "w2", 60)
    put(core, "urgent", now=65, priority=1000)
    assert [item["jid"] for item in pop(core, "w3", 70, limit=2)] == ["jid", "urgent"]


def test_expired_locks_are_examined_by_expiry_then_jid_up_to_the_limit(core: Core) -> None:
    put(core, "b", now=0)
    put(core, "a", now=0.5)
    put(core, "c", now=1)
    pop(core, "w1", 0, limit=2)
    pop(core, "w1", 1)
    with core.events() as ev:
        pop(core, "w2", 100, limit=1)
    assert ev.parsed() == [("ql:w:w1", lost("w1", "a")), ("ql:log", lost("w1", "a"))]
    assert [jid for jid in "abc" if "grace" in fields(core, jid)] == ["a"]


def test_with_no_grace_period_one_pop_notifies_and_reclaims(core: Core) -> None:
    core.call("config.set", "grace-period", 0)
    held(core)
    core.call("job.track", "jid")
    with core.events() as ev:
        [taken] = pop(core, "w2", 60)
    assert ev.parsed() == [
        ("ql:stalled", "jid"),
        ("ql:w:w1", lost("w1")),
        ("ql:log", lost("w1")),
        ("ql:popped", "jid"),
    ]
    assert (taken["worker"], taken["remaining"], taken["expires"]) == ("w2", 4, 120)
    assert [entry["what"] for entry in taken["history"]] == ["put", "popped", "timed-out", "popped"]
    assert "grace" not in fields(core)
    assert core.redis.hget("ql:s:stats:0:q", "retries") == "1"


def test_a_negative_grace_period_also_reclaims_at_once(core: Core) -> None:
    core.call("config.set", "grace-period", -5)
    held(core)
    assert [item["worker"] for item in pop(core, "w2", 60)] == ["w2"]


def test_a_negative_heartbeat_lets_the_next_pop_reclaim_at_once(core: Core) -> None:
    core.call("config.set", "heartbeat", -10)
    core.call("config.set", "grace-period", 0)
    put(core)
    [first] = pop(core, "w1", 0)
    assert first["expires"] == -10
    [second] = pop(core, "w2", 0)
    assert (second["jid"], second["worker"], second["remaining"], second["expires"]) == (
        "jid",
        "w2",
        4,
        -10,
    )


def test_heartbeating_in_the_grace_period_keeps_the_marker_so_no_second_notice(core: Core) -> None:
    # Quirk: the next expiry is reclaimed straight away.
    held(core)
    pop(core, "w2", 60)
    assert heartbeat(core, "w1", 65) == 125
    assert fields(core)["grace"] == "1"
    with core.events() as ev:
        [taken] = pop(core, "w3", 125)
    assert ev.messages == []
    assert (taken["worker"], taken["remaining"]) == ("w3", 4)
    assert core.redis.hget("ql:s:stats:0:q", "retries") == "1"


def test_a_put_keeps_the_grace_marker(core: Core) -> None:
    held(core)
    pop(core, "w2", 60)
    put(core, now=61)
    assert fields(core)["grace"] == "1"
    pop(core, "w3", 61)
    with core.events() as ev:
        [taken] = pop(core, "w4", 121)
    assert ev.messages == []
    assert taken["worker"] == "w4"


def test_a_retry_clears_the_grace_marker(core: Core) -> None:
    held(core)
    pop(core, "w2", 60)
    assert core.call("job.retry", "jid", "q", "w1", 0, now=61) == 4
    assert "grace" not in fields(core)


def test_a_reclaimed_job_keeps_its_throttle_locks_even_on_a_full_queue(core: Core) -> None:
    core.call("config.set", "grace-period", 0)
    core.call("queue.throttle.set", "q", 1)
    put(core, "jid", now=0, throttles=["t"])
    # Queued before the queue throttle fills, so the put does not throttle it.
    put(core, "waiting", now=0.5)
    pop(core, "w1", 0.5)
    assert [item["jid"] for item in pop(core, "w2", 61, limit=2)] == ["jid"]
    assert core.redis.zrange("ql:th:ql:q:q-locks", 0, -1) == ["jid"]
    assert core.redis.zrange("ql:th:t-locks", 0, -1) == ["jid"]
    assert fields(core, "waiting")["state"] == "waiting"


# --- retry accounting and automatic failure (4.4) ----------------------------


def test_a_job_survives_as_many_reclaims_as_it_has_retries(core: Core) -> None:
    core.call("config.set", "grace-period", 0)
    held(core, retries=1)
    assert [item["remaining"] for item in pop(core, "w2", 60)] == [0]
    assert pop(core, "w3", 120) == []
    assert fields(core)["state"] == "failed"
    assert fields(core)["remaining"] == "-1"


def test_reclaiming_a_job_without_retries_fails_it(core: Core) -> None:
    core.call("config.set", "grace-period", 0)
    held(core, retries=0, throttles=["t"])
    with core.events() as ev:
        assert core.call("queue.pop", "q", "w2", 1, now=60.25) == "[]"
    assert ev.parsed() == [
        ("ql:w:w1", lost("w1")),
        ("ql:log", lost("w1")),
        (
            "ql:log",
            {
                "message": EXHAUSTED,
                "jid": "jid",
                "group": "failed-retries-q",
                "event": "failed",
                "worker": "w1",
            },
        ),
    ]
    stored = fields(core)
    assert (stored["state"], stored["worker"], stored["expires"], stored["remaining"]) == (
        "failed",
        "",
        "",
        "-1",
    )
    # Unlike explicit failures, the time is not floored and the worker is empty.
    assert json.loads(stored["failure"]) == {
        "group": "failed-retries-q",
        "message": EXHAUSTED,
        "when": 60.25,
        "worker": "",
    }
    assert job(core)["history"][-2:] == [
        {"when": 60, "what": "timed-out"},
        {"when": 60, "what": "failed", "group": "failed-retries-q"},
    ]
    assert core.redis.smembers("ql:failures") == {"failed-retries-q"}
    assert core.redis.lrange("ql:f:failed-retries-q", 0, -1) == ["jid"]
    assert core.redis.hgetall("ql:s:stats:0:q") == {"failures": "1", "failed": "1", "retries": "1"}
    for key in ("ql:q:q-locks", "ql:q:q-work", "ql:q:q-scheduled", "ql:w:w1:jobs", "ql:w:w2:jobs"):
        assert core.redis.exists(key) == 0, key
    assert core.redis.exists("ql:th:t-locks", "ql:th:ql:q:q-locks") == 0


def test_automatic_failure_of_a_tracked_job_publishes_in_order(core: Core) -> None:
    core.call("config.set", "grace-period", 0)
    held(core, retries=0)
    core.call("job.track", "jid")
    with core.events() as ev:
        pop(core, "w2", 60)
    events = [
        (channel, payload if isinstance(payload, str) else payload["event"])
        for channel, payload in ev.parsed()
    ]
    assert events == [
        ("ql:stalled", "jid"),
        ("ql:w:w1", "lock_lost"),
        ("ql:log", "lock_lost"),
        ("ql:failed", "jid"),
        ("ql:log", "failed"),
    ]


def test_automatic_failure_after_the_grace_period_names_the_last_owner(core: Core) -> None:
    held(core, retries=0)
    pop(core, "w2", 60)
    with core.events() as ev:
        assert pop(core, "w3", 70.5) == []
    assert ev.parsed() == [
        (
            "ql:log",
            {
                "message": EXHAUSTED,
                "jid": "jid",
                "group": "failed-retries-q",
                "event": "failed",
                "worker": "w1",
            },
        )
    ]
    assert job(core)["failure"] == {
        "group": "failed-retries-q",
        "message": EXHAUSTED,
        "when": 70.5,
        "worker": "",
    }


def test_an_automatically_failed_job_is_not_handed_out_but_others_are(core: Core) -> None:
    core.call("config.set", "grace-period", 0)
    held(core, retries=0)
    put(core, "other", now=1)
    assert [item["jid"] for item in pop(core, "w2", 60, limit=2)] == ["other"]
    assert fields(core)["state"] == "failed"


def test_automatic_failure_releases_throttles_to_waiting_jobs(core: Core) -> None:
    core.call("config.set", "grace-period", 0)
    core.call("throttle.set", "t", 1)
    held(core, retries=0, throttles=["t"])
    put(core, "next", now=1, throttles=["t"])
    pop(core, "w1", 2)
    assert fields(core, "next")["state"] == "throttled"
    assert [item["jid"] for item in pop(core, "w2", 60)] == ["next"]
    assert fields(core)["state"] == "failed"
    assert core.redis.zrange("ql:th:t-locks", 0, -1) == ["next"]
