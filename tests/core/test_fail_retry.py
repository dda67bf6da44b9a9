"""Failing and retrying: job.fail, job.retry, failure listings and queue.unfail.

Spec sections 3.5, 3.11, 3.19, 3.25, 3.40, 4.4 and the failure counters of 4.13.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.core.conftest import Core
from tests.core.lifecycle import BAD_JSON, pop, put, run

EXHAUSTED_IN_Q = 'Job exhausted retries in queue "q"'


def fail(
    core: Core,
    jid: str,
    group: str = "g",
    message: str = "boom",
    *,
    worker: str = "w",
    now: float = 0,
) -> object:
    return core.call("job.fail", jid, worker, group, message, now=now)


def failed(core: Core, jid: str, group: str = "g", *, now: float = 0, **options: Any) -> None:
    """A job that ran and failed at ``now``."""
    run(core, jid, now=now, **options)
    assert fail(core, jid, group, now=now) == jid


def retry(
    core: Core, jid: str, *args: object, queue: str = "q", worker: str = "w", now: float = 0
) -> object:
    return core.call("job.retry", jid, queue, worker, *args, now=now)


def work_score(priority: float, t: float) -> float:
    return priority - t / 10_000_000_000


def job_hash(core: Core, jid: str) -> dict[str, str]:
    return {str(k): str(v) for k, v in core.redis.hgetall(f"ql:j:{jid}").items()}


def failure(core: Core, jid: str) -> dict[str, Any]:
    return dict(json.loads(job_hash(core, jid)["failure"]))


def last_history(core: Core, jid: str) -> dict[str, Any]:
    return dict(core.json("job.get", jid)["history"][-1])


def stats(core: Core, day: int = 0, queue: str = "q") -> dict[str, int]:
    return {str(k): int(v) for k, v in core.redis.hgetall(f"ql:s:stats:{day}:{queue}").items()}


def make_state(core: Core, jid: str, state: str) -> None:
    if state == "waiting":
        put(core, jid)
    elif state == "scheduled":
        put(core, jid, delay=10)
    elif state == "depends":
        put(core, "dep", "other")
        put(core, jid, depends=["dep"])
    elif state == "failed":
        failed(core, jid)
    else:
        run(core, jid)
        core.call("job.complete", jid, "w", "q", "{}")
    assert job_hash(core, jid)["state"] == state


NOT_RUNNING = ["waiting", "scheduled", "depends", "failed", "complete"]


# --- job.fail -----------------------------------------------------------------


def test_fail_returns_the_jid_and_marks_the_job_failed(core: Core) -> None:
    run(core, "a", now=1)
    assert fail(core, "a", "g", "boom", now=10.5) == "a"
    fields = job_hash(core, "a")
    assert fields["state"] == "failed"
    assert fields["worker"] == ""
    assert fields["expires"] == ""
    assert failure(core, "a") == {"group": "g", "message": "boom", "when": 10, "worker": "w"}
    job = core.json("job.get", "a")
    assert (job["expires"], job["worker"], job["queue"]) == (0, "", "q")
    assert job["failure"] == {"group": "g", "message": "boom", "when": 10, "worker": "w"}


def test_fail_files_the_job_under_its_group(core: Core) -> None:
    run(core, "a")
    fail(core, "a", "g")
    assert core.redis.smembers("ql:failures") == {"g"}
    assert core.redis.lrange("ql:f:g", 0, -1) == ["a"]
    assert core.redis.zcard("ql:q:q-locks") == 0
    assert core.redis.zcard("ql:w:w:jobs") == 0


def test_fail_appends_a_failed_history_entry(core: Core) -> None:
    run(core, "a")
    fail(core, "a", "g", now=3.7)
    stored = json.loads(str(core.redis.lindex("ql:j:a-history", -1)))
    assert stored == [3, "failed", {"worker": "w", "group": "g"}]
    assert last_history(core, "a") == {"when": 3, "what": "failed", "worker": "w", "group": "g"}


def test_fail_counts_a_failure_in_the_day_of_now(core: Core) -> None:
    run(core, "a", now=172_805)
    fail(core, "a", now=172_805)
    assert stats(core, 172_800) == {"failures": 1, "failed": 1}
    reported = core.json("queue.stats", "q", 172_805)
    assert (reported["failures"], reported["failed"], reported["retries"]) == (1, 1, 0)


def test_fail_keeps_the_data_when_none_is_given(core: Core) -> None:
    run(core, "a", data='{"k": 1}')
    fail(core, "a")
    assert job_hash(core, "a")["data"] == '{"k": 1}'


@pytest.mark.parametrize(
    ("given", "stored"),
    [("[]", "{}"), ('{"path": "a/b"}', '{"path":"a\\/b"}'), ("[1, 2.5]", "[1,2.5]")],
)
def test_fail_reencodes_the_data_it_is_given(core: Core, given: str, stored: str) -> None:
    run(core, "a")
    core.call("job.fail", "a", "w", "g", "boom", given)
    assert job_hash(core, "a")["data"] == stored


def test_fail_releases_throttles_so_a_waiting_job_can_run(core: Core) -> None:
    core.call("queue.throttle.set", "q", 1)
    run(core, "a")
    put(core, "b", now=1)
    assert job_hash(core, "b")["state"] == "throttled"
    fail(core, "a", now=2)
    assert core.redis.exists("ql:th:ql:q:q-locks", "ql:q:q-throttled") == 0
    assert core.redis.zscore("ql:q:q-work", "b") == pytest.approx(work_score(0, 2))


def test_fail_publishes_failed_on_the_log(core: Core) -> None:
    run(core, "a")
    with core.events() as ev:
        fail(core, "a", "g", "boom")
    assert ev.parsed() == [
        ("ql:log", {"message": "boom", "jid": "a", "group": "g", "event": "failed", "worker": "w"}),
    ]


def test_fail_of_a_tracked_job_notifies_failed_after_the_log(core: Core) -> None:
    run(core, "a")
    core.call("job.track", "a")
    with core.events() as ev:
        fail(core, "a", "g", "boom")
    assert [channel for channel, _ in ev.parsed()] == ["ql:log", "ql:failed"]
    assert ev.parsed()[1] == ("ql:failed", "a")


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        ((), r"Job\(\): no jid provided"),
        (("a",), r'Fail\(\): Arg "worker" missing'),
        (("a", "w"), r'Fail\(\): Arg "group" missing'),
        (("a", "w", "g"), r'Fail\(\): Arg "message" missing'),
        (("ghost", "w", "g"), r'Fail\(\): Arg "message" missing'),
        (("a", "w", "g", "boom", "{oops"), BAD_JSON),
        (("ghost", "w", "g", "boom"), r"Fail\(\): Job does not exist"),
        (("a", "intruder", "g", "boom"), r"Fail\(\): Job running with another worker: w"),
    ],
)
def test_fail_refuses_malformed_or_foreign_requests(
    core: Core, args: tuple[str, ...], pattern: str
) -> None:
    run(core, "a")
    core.raises(pattern, "job.fail", *args)


@pytest.mark.parametrize("state", NOT_RUNNING)
def test_fail_of_a_job_that_is_not_running_is_refused(core: Core, state: str) -> None:
    make_state(core, "a", state)
    core.raises(rf"Fail\(\): Job not currently running: {state}", "job.fail", "a", "w", "g", "boom")


# --- job.retry ----------------------------------------------------------------


def test_retry_with_retries_left_puts_the_job_back_to_work(core: Core) -> None:
    run(core, "a", retries=2, priority=4)
    assert retry(core, "a", now=5) == 1
    fields = job_hash(core, "a")
    assert fields["state"] == "waiting"
    assert float(fields["remaining"]) == 1
    assert core.redis.zscore("ql:q:q-work", "a") == pytest.approx(work_score(4, 5))
    assert core.redis.zcard("ql:q:q-locks") == 0
    assert core.redis.zcard("ql:w:w:jobs") == 0


def test_retry_leaves_worker_and_expires_on_the_job(core: Core) -> None:
    run(core, "a")
    retry(core, "a", now=5)
    fields = job_hash(core, "a")
    assert fields["worker"] == "w"
    assert float(fields["expires"]) == 60


def test_retry_with_a_delay_schedules_the_job(core: Core) -> None:
    run(core, "a")
    assert retry(core, "a", 20, now=5) == 4
    assert job_hash(core, "a")["state"] == "scheduled"
    assert core.redis.zscore("ql:q:q-scheduled", "a") == 25
    assert core.redis.zcard("ql:q:q-work") == 0


def test_retry_uses_its_queue_argument_without_checking_it(core: Core) -> None:
    run(core, "a", "q")
    retry(core, "a", queue="other", now=5)
    assert core.redis.zscore("ql:q:other-work", "a") == pytest.approx(work_score(0, 5))
    assert core.redis.zcard("ql:q:q-locks") == 0
    assert core.redis.exists("ql:q:q-work") == 0
    assert job_hash(core, "a")["queue"] == "q"


def test_retry_clears_the_grace_marker(core: Core) -> None:
    core.call("config.set", "heartbeat", -10)
    run(core, "a")
    # A second pop sees the expired lock and sends the courtesy notice.
    assert pop(core, worker="other", now=1) == []
    assert job_hash(core, "a")["grace"] == "1"
    retry(core, "a", now=2)
    assert "grace" not in job_hash(core, "a")


def test_retry_with_group_and_message_records_the_failure(core: Core) -> None:
    run(core, "a")
    retry(core, "a", 0, "g", "flaky", now=5.9)
    assert failure(core, "a") == {"group": "g", "message": "flaky", "when": 5, "worker": "w"}
    assert job_hash(core, "a")["state"] == "waiting"
    assert core.redis.exists("ql:failures", "ql:f:g") == 0


def test_retry_with_only_a_group_records_no_failure(core: Core) -> None:
    run(core, "a")
    retry(core, "a", 0, "g", now=5)
    assert "failure" not in job_hash(core, "a")


def test_retry_releases_the_throttle_locks(core: Core) -> None:
    run(core, "a", throttles=["t"])
    retry(core, "a")
    assert core.redis.exists("ql:th:t-locks", "ql:th:ql:q:q-locks") == 0


def test_retry_counts_down_the_budget_until_the_job_fails(core: Core) -> None:
    run(core, "a", retries=2)
    replies = [retry(core, "a", now=1)]
    for now in (2, 3):
        assert [job["jid"] for job in pop(core, now=now)] == ["a"]
        replies.append(retry(core, "a", now=now))
    assert replies == [1, 0, -1]
    assert job_hash(core, "a")["state"] == "failed"
    assert float(job_hash(core, "a")["remaining"]) == -1


def test_retry_exhausting_the_budget_fails_the_job_with_the_default_group(core: Core) -> None:
    run(core, "a", retries=0)
    assert retry(core, "a", now=7.5) == -1
    fields = job_hash(core, "a")
    assert (fields["state"], fields["worker"], fields["expires"]) == ("failed", "", "")
    assert failure(core, "a") == {
        "group": "failed-retries-q",
        "message": EXHAUSTED_IN_Q,
        "when": 7.5,
        "worker": "",
    }
    assert last_history(core, "a") == {
        "when": 7,
        "what": "failed-retries",
        "group": "failed-retries-q",
    }
    assert core.redis.smembers("ql:failures") == {"failed-retries-q"}
    assert core.redis.lrange("ql:f:failed-retries-q", 0, -1) == ["a"]
    assert stats(core) == {"failures": 1, "failed": 1}
    for suffix in ("work", "locks", "scheduled"):
        assert core.redis.exists(f"ql:q:q-{suffix}") == 0


def test_retry_exhaustion_with_a_message_records_an_explicit_failure(core: Core) -> None:
    run(core, "a", retries=0)
    retry(core, "a", 0, "g", "gave up", now=7.5)
    assert failure(core, "a") == {"group": "g", "message": "gave up", "when": 7, "worker": "w"}
    assert core.redis.lrange("ql:f:g", 0, -1) == ["a"]
    assert last_history(core, "a") == {"when": 7, "what": "failed-retries", "group": "g"}


def test_retry_exhaustion_with_only_a_group_uses_the_default_message(core: Core) -> None:
    run(core, "a", retries=0)
    retry(core, "a", 0, "g", now=7.5)
    assert failure(core, "a") == {
        "group": "g",
        "message": EXHAUSTED_IN_Q,
        "when": 7.5,
        "worker": "",
    }


def test_retry_exhaustion_names_group_and_stats_after_the_queue_argument(core: Core) -> None:
    run(core, "a", "q", retries=0)
    retry(core, "a", queue="other", now=3)
    # The message still names the job's own queue.
    assert failure(core, "a") == {
        "group": "failed-retries-other",
        "message": EXHAUSTED_IN_Q,
        "when": 3,
        "worker": "",
    }
    assert stats(core, queue="other") == {"failures": 1, "failed": 1}
    assert core.redis.exists("ql:s:stats:0:q") == 0


def test_retry_exhaustion_ignores_the_delay(core: Core) -> None:
    run(core, "a", retries=0)
    retry(core, "a", 30)
    assert job_hash(core, "a")["state"] == "failed"
    assert core.redis.exists("ql:q:q-scheduled") == 0


def test_retry_publishes_nothing_even_when_it_fails_the_job(core: Core) -> None:
    run(core, "a", retries=1)
    core.call("job.track", "a")
    with core.events() as ev:
        retry(core, "a", now=1)
        pop(core, now=2)
        retry(core, "a", now=3)
    assert job_hash(core, "a")["state"] == "failed"
    # The pop in between only reports the hand-out of a tracked job.
    assert ev.messages == [("ql:popped", "a")]


def test_a_retried_job_is_no_longer_running(core: Core) -> None:
    run(core, "a")
    retry(core, "a")
    core.raises(r"not currently running: waiting", "job.complete", "a", "w", "q", "{}")
    core.raises(r"not currently running: waiting", "job.fail", "a", "w", "g", "boom")


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        ((), r"Job\(\): no jid provided"),
        (("a",), r'Retry\(\): Arg "queue_name" missing'),
        (("a", "q"), r'Retry\(\): Arg "worker" missing'),
        (("a", "q", "w", "soon"), r'Retry\(\): Arg "delay" not a number: soon'),
        (("ghost", "q", "w", "soon"), r'Retry\(\): Arg "delay" not a number: soon'),
        (("ghost", "q", "w"), r"Retry\(\): Job does not exist"),
        (("a", "q", "intruder"), r"Retry\(\): Job has been given to another worker: w"),
    ],
)
def test_retry_refuses_malformed_or_foreign_requests(
    core: Core, args: tuple[str, ...], pattern: str
) -> None:
    run(core, "a")
    core.raises(pattern, "job.retry", *args)


@pytest.mark.parametrize("state", NOT_RUNNING)
def test_retry_of_a_job_that_is_not_running_is_refused(core: Core, state: str) -> None:
    make_state(core, "a", state)
    core.raises(rf"Retry\(\): Job is not currently running: {state}", "job.retry", "a", "q", "w")


# --- retry accounting (4.4) ----------------------------------------------------


def test_reclaiming_an_expired_lock_spends_one_retry(core: Core) -> None:
    core.call("config.set", "grace-period", 0)
    core.call("config.set", "heartbeat", -10)
    run(core, "a", worker="first", retries=2)
    [job] = pop(core, worker="second", now=1)
    assert (job["jid"], job["worker"], job["remaining"]) == ("a", "second", 1)


def test_reclaiming_a_lock_with_no_retries_left_fails_the_job(core: Core) -> None:
    core.call("config.set", "grace-period", 0)
    core.call("config.set", "heartbeat", -10)
    run(core, "a", worker="first", retries=0)
    core.call("job.track", "a")
    with core.events() as ev:
        assert pop(core, worker="second", now=1.5) == []
    lost = {"jid": "a", "event": "lock_lost", "worker": "first"}
    assert ev.parsed() == [
        ("ql:stalled", "a"),
        ("ql:w:first", lost),
        ("ql:log", lost),
        ("ql:failed", "a"),
        (
            "ql:log",
            {
                "message": EXHAUSTED_IN_Q,
                "jid": "a",
                "group": "failed-retries-q",
                "event": "failed",
                "worker": "first",
            },
        ),
    ]
    fields = job_hash(core, "a")
    assert (fields["state"], fields["worker"], fields["expires"]) == ("failed", "", "")
    assert float(fields["remaining"]) == -1
    assert failure(core, "a") == {
        "group": "failed-retries-q",
        "message": EXHAUSTED_IN_Q,
        "when": 1.5,
        "worker": "",
    }
    assert last_history(core, "a") == {"when": 1, "what": "failed", "group": "failed-retries-q"}
    assert core.redis.lrange("ql:f:failed-retries-q", 0, -1) == ["a"]
    assert stats(core) == {"retries": 1, "failures": 1, "failed": 1}
    assert core.redis.exists("ql:q:q-locks", "ql:q:q-work", "ql:w:first:jobs") == 0


def test_put_resets_the_remaining_retries(core: Core) -> None:
    run(core, "a", retries=2)
    retry(core, "a")
    put(core, "a", now=1)
    assert float(job_hash(core, "a")["remaining"]) == 2


# --- failure counters (4.13) ----------------------------------------------------


def test_reputting_a_failed_job_uncounts_it_in_the_new_queue_on_the_failure_day(
    core: Core,
) -> None:
    failed(core, "a", now=10)
    put(core, "a", "elsewhere", now=3 * 86_400)
    assert stats(core, 0, "elsewhere") == {"failed": -1}
    assert stats(core, 0, "q") == {"failures": 1, "failed": 1}
    assert core.redis.exists("ql:s:stats:259200:elsewhere") == 0


def test_failures_and_failed_count_every_failure_of_the_day(core: Core) -> None:
    failed(core, "a", now=1)
    failed(core, "b", "other-group", now=2)
    assert stats(core) == {"failures": 2, "failed": 2}


# --- failureGroups.counts ----------------------------------------------------------


def test_failure_group_counts_are_an_empty_object_without_failures(core: Core) -> None:
    assert core.call("failureGroups.counts") == "{}"


def test_failure_group_counts_map_each_group_to_its_size(core: Core) -> None:
    failed(core, "a", "one")
    failed(core, "b", "one")
    failed(core, "c", "two")
    assert core.json("failureGroups.counts") == {"one": 2, "two": 1}


def test_failure_group_counts_ignore_start_and_limit(core: Core) -> None:
    failed(core, "a", "one")
    failed(core, "b", "two")
    assert core.json("failureGroups.counts", 5, 1) == {"one": 1, "two": 1}


def test_a_group_disappears_once_its_jobs_are_put_back(core: Core) -> None:
    failed(core, "a", "one")
    put(core, "a", now=1)
    assert core.call("failureGroups.counts") == "{}"
    assert core.redis.exists("ql:failures", "ql:f:one") == 0


def test_failure_group_counts_with_a_non_numeric_start_is_refused(core: Core) -> None:
    core.raises(r'Failed\(\): Arg "start" is not a number: x', "failureGroups.counts", "x")


def test_failure_group_counts_with_a_non_numeric_limit_is_refused(core: Core) -> None:
    core.raises(r'Failed\(\): Arg "limit" is not a number: y', "failureGroups.counts", 0, "y")


# --- jobs.failedByGroup ----------------------------------------------------------


def test_failed_by_group_lists_the_newest_failure_first(core: Core) -> None:
    for now, jid in enumerate(["a", "b", "c"], start=1):
        failed(core, jid, now=now)
    assert core.json("jobs.failedByGroup", "g") == {"total": 3, "jobs": ["c", "b", "a"]}


def test_failed_by_group_pages_with_start_and_limit(core: Core) -> None:
    for now, jid in enumerate(["a", "b", "c"], start=1):
        failed(core, jid, now=now)
    assert core.json("jobs.failedByGroup", "g", 1, 1) == {"total": 3, "jobs": ["b"]}
    assert core.json("jobs.failedByGroup", "g", 0, 0) == {"total": 3, "jobs": ["c", "b", "a"]}
    assert core.json("jobs.failedByGroup", "g", 1, 0) == {"total": 3, "jobs": {}}


def test_failed_by_group_of_an_unknown_group_is_empty(core: Core) -> None:
    assert core.json("jobs.failedByGroup", "nothing") == {"total": 0, "jobs": {}}


def test_failed_by_group_defaults_to_the_first_25(core: Core) -> None:
    for now in range(30):
        failed(core, f"j{now:02}", now=now)
    listing = core.json("jobs.failedByGroup", "g")
    assert listing == {"total": 30, "jobs": [f"j{n:02}" for n in reversed(range(5, 30))]}


def test_failed_by_group_without_a_group_gives_the_group_counts(core: Core) -> None:
    failed(core, "a", "one")
    failed(core, "b", "two")
    assert core.json("jobs.failedByGroup") == {"one": 1, "two": 1}


def test_failed_by_group_with_a_non_numeric_start_is_refused(core: Core) -> None:
    core.raises(r'Failed\(\): Arg "start" is not a number: x', "jobs.failedByGroup", "g", "x")


def test_failed_by_group_with_a_non_numeric_limit_is_refused(core: Core) -> None:
    core.raises(r'Failed\(\): Arg "limit" is not a number: y', "jobs.failedByGroup", "g", 0, "y")


# --- queue.unfail ----------------------------------------------------------------


def test_unfail_moves_the_oldest_failures_into_the_given_queue(core: Core) -> None:
    for now, jid in enumerate(["a", "b", "c"], start=1):
        failed(core, jid, now=now, priority=now)
    assert core.call("queue.unfail", "fresh", "g", 2, now=50) == 2
    assert core.redis.lrange("ql:f:g", 0, -1) == ["c"]
    assert core.redis.zscore("ql:q:fresh-work", "a") == pytest.approx(work_score(1, 50))
    assert core.redis.zscore("ql:q:fresh-work", "b") == pytest.approx(work_score(2, 50))
    assert core.redis.zcard("ql:q:fresh-work") == 2
    for jid in ("a", "b"):
        fields = job_hash(core, jid)
        assert (fields["state"], fields["worker"], fields["queue"]) == ("waiting", "", "fresh")
        assert float(fields["expires"]) == 0
        assert last_history(core, jid) == {"when": 50, "what": "put", "queue": "fresh"}


def test_unfail_resets_the_remaining_retries(core: Core) -> None:
    run(core, "a", retries=2)
    retry(core, "a", now=1)
    pop(core, now=2)
    fail(core, "a", now=2)
    assert float(job_hash(core, "a")["remaining"]) == 1
    core.call("queue.unfail", "q", "g", now=3)
    assert float(job_hash(core, "a")["remaining"]) == 2


def test_unfail_leaves_failure_throttles_counters_and_queue_registry_alone(core: Core) -> None:
    failed(core, "a", now=1)
    core.call("queue.unfail", "fresh", "g", now=2)
    assert failure(core, "a")["group"] == "g"
    assert json.loads(job_hash(core, "a")["throttles"]) == ["ql:q:q"]
    assert stats(core) == {"failures": 1, "failed": 1}
    assert core.redis.zscore("ql:queues", "fresh") is None


def test_unfail_drops_an_emptied_group(core: Core) -> None:
    failed(core, "a", "one")
    failed(core, "b", "two")
    assert core.call("queue.unfail", "q", "one", 10) == 1
    assert core.redis.exists("ql:f:one") == 0
    assert core.redis.smembers("ql:failures") == {"two"}


def test_unfail_moves_25_jobs_by_default(core: Core) -> None:
    for now in range(30):
        failed(core, f"j{now:02}", now=now)
    assert core.call("queue.unfail", "q", "g", now=40) == 25
    assert core.redis.lrange("ql:f:g", 0, -1) == [f"j{n:02}" for n in reversed(range(25, 30))]
    assert core.redis.zcard("ql:q:q-work") == 25


def test_unfail_of_an_empty_group_moves_nothing(core: Core) -> None:
    assert core.call("queue.unfail", "q", "nothing") == 0
    assert core.redis.dbsize() == 0


def test_unfail_publishes_nothing(core: Core) -> None:
    failed(core, "a")
    core.call("job.track", "a")
    with core.events() as ev:
        core.call("queue.unfail", "q", "g", now=1)
    assert ev.messages == []


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        ((), r'queue\.unfail\(\): Arg "queue" missing'),
        (("q",), r'Unfail\(\): Arg "group" missing'),
        (("q", "g", "many"), r'Unfail\(\): Arg "count" not a number: many'),
        (("q", "g", 0), r'Unfail\(\): Arg "count" must be greater than zero'),
        (("q", "g", -3), r'Unfail\(\): Arg "count" must be greater than zero'),
    ],
)
def test_unfail_refuses_malformed_requests(
    core: Core, args: tuple[object, ...], pattern: str
) -> None:
    failed(core, "a")
    core.raises(pattern, "queue.unfail", *args)
