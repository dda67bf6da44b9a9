"""Finishing work: job.complete, job.completeAndRequeue, retention, jobs.completed.

Spec sections 3.9, 3.10, 3.24 and 4.12 (with the run-time samples of 4.13).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.core.conftest import Core
from tests.core.lifecycle import BAD_JSON, pop, put, run


def complete(
    core: Core, jid: str, *, worker: str = "w", queue: str = "q", data: str = "{}", now: float = 0
) -> object:
    return core.call("job.complete", jid, worker, queue, data, now=now)


def advance(
    core: Core,
    jid: str,
    next_queue: str,
    *options: object,
    worker: str = "w",
    queue: str = "q",
    data: str = "{}",
    now: float = 0,
) -> object:
    return core.call(
        "job.completeAndRequeue", jid, worker, queue, data, next_queue, *options, now=now
    )


def work_score(priority: float, t: float) -> float:
    return priority - t / 10_000_000_000


def job_hash(core: Core, jid: str) -> dict[str, str]:
    return {str(k): str(v) for k, v in core.redis.hgetall(f"ql:j:{jid}").items()}


def history(core: Core, jid: str) -> list[dict[str, Any]]:
    return list(core.json("job.get", jid)["history"])


def job_keys_exist(core: Core, jid: str) -> int:
    return int(core.redis.exists(f"ql:j:{jid}", f"ql:j:{jid}-history", f"ql:j:{jid}-dependencies"))


# --- job.complete: effects ------------------------------------------------


def test_complete_returns_complete_and_resets_the_job_fields(core: Core) -> None:
    run(core, "a", retries=3)
    assert complete(core, "a", now=5) == "complete"
    fields = job_hash(core, "a")
    assert fields["state"] == "complete"
    assert fields["worker"] == ""
    assert fields["queue"] == ""
    assert json.loads(fields["failure"]) == {}
    assert float(fields["expires"]) == 0
    assert float(fields["remaining"]) == 3
    assert fields["time"] == f"{5:.20f}"


def test_complete_stores_the_data_verbatim(core: Core) -> None:
    run(core, "a", data='{"before": 1}')
    complete(core, "a", data='{"after": [ ], "path": "a/b"}')
    assert job_hash(core, "a")["data"] == '{"after": [ ], "path": "a/b"}'


def test_complete_appends_a_done_entry_with_floored_time(core: Core) -> None:
    run(core, "a")
    complete(core, "a", now=7.9)
    assert json.loads(str(core.redis.lindex("ql:j:a-history", -1))) == [7, "done"]
    assert history(core, "a")[-1] == {"when": 7, "what": "done"}


def test_complete_takes_the_job_from_its_queue_and_worker_into_completed(core: Core) -> None:
    run(core, "a")
    complete(core, "a", now=7)
    assert core.redis.zcard("ql:q:q-locks") == 0
    assert core.redis.zcard("ql:w:w:jobs") == 0
    assert core.redis.zscore("ql:completed", "a") == 7
    job = core.json("job.get", "a")
    assert (job["state"], job["queue"], job["worker"], job["expires"]) == ("complete", "", "", 0)
    assert job["failure"] == {}


def test_complete_clears_a_failure_left_over_from_an_earlier_attempt(core: Core) -> None:
    run(core, "a")
    core.call("job.fail", "a", "w", "group", "boom", now=1)
    # A re-put keeps the old failure; only completion wipes it.
    run(core, "a", now=2)
    assert json.loads(job_hash(core, "a")["failure"])["group"] == "group"
    complete(core, "a", now=3)
    assert json.loads(job_hash(core, "a")["failure"]) == {}


def test_complete_resets_remaining_to_the_retry_budget(core: Core) -> None:
    run(core, "a", retries=2)
    assert core.call("job.retry", "a", "q", "w", now=1) == 1
    assert [job["jid"] for job in pop(core, now=2)] == ["a"]
    complete(core, "a", now=3)
    assert float(job_hash(core, "a")["remaining"]) == 2


def test_complete_releases_the_throttle_locks_the_job_held(core: Core) -> None:
    run(core, "a", throttles=["t"])
    assert core.redis.zrange("ql:th:t-locks", 0, -1) == ["a"]
    assert core.redis.zrange("ql:th:ql:q:q-locks", 0, -1) == ["a"]
    complete(core, "a")
    assert core.redis.exists("ql:th:t-locks", "ql:th:ql:q:q-locks") == 0


def test_complete_records_a_run_time_sample_since_the_pop(core: Core) -> None:
    put(core, "a", now=0)
    pop(core, now=10)
    complete(core, "a", now=13.5)
    sample = core.redis.hgetall("ql:s:run:0:q")
    assert float(sample["total"]) == 1
    assert float(sample["mean"]) == 3.5
    assert float(sample["vk"]) == 0
    assert int(sample["s3"]) == 1


def test_run_time_samples_accumulate_a_running_mean_and_variance(core: Core) -> None:
    run(core, "a", now=0)
    complete(core, "a", now=2)
    run(core, "b", now=10)
    complete(core, "b", now=14)
    sample = core.redis.hgetall("ql:s:run:0:q")
    assert float(sample["total"]) == 2
    assert float(sample["mean"]) == 3
    assert float(sample["vk"]) == 2
    assert (int(sample["s2"]), int(sample["s4"])) == (1, 1)
    run_stats = core.json("queue.stats", "q", 0)["run"]
    assert (run_stats["count"], run_stats["mean"]) == (2, 3)
    assert run_stats["histogram"][2] == run_stats["histogram"][4] == 1


def test_run_time_sample_goes_to_the_day_of_the_completion(core: Core) -> None:
    run(core, "a", now=86_350)
    complete(core, "a", now=86_440)
    # 90 seconds lands in the one-minute bucket of the day the job completed.
    assert core.redis.exists("ql:s:run:0:q") == 0
    sample = core.redis.hgetall("ql:s:run:86400:q")
    assert float(sample["mean"]) == 90
    assert int(sample["m1"]) == 1


def test_complete_does_not_record_a_wait_sample(core: Core) -> None:
    run(core, "a", now=0)
    before = core.redis.hgetall("ql:s:wait:0:q")
    complete(core, "a", now=30)
    assert core.redis.hgetall("ql:s:wait:0:q") == before


def test_complete_publishes_completed_on_the_log(core: Core) -> None:
    run(core, "a")
    with core.events() as ev:
        complete(core, "a")
    assert ev.parsed() == [("ql:log", {"jid": "a", "event": "completed", "queue": "q"})]


def test_complete_of_a_tracked_job_notifies_completed_before_the_log(core: Core) -> None:
    run(core, "a")
    core.call("job.track", "a")
    with core.events() as ev:
        complete(core, "a")
    assert ev.parsed() == [
        ("ql:completed", "a"),
        ("ql:log", {"jid": "a", "event": "completed", "queue": "q"}),
    ]


# --- job.complete: errors -------------------------------------------------


def test_complete_without_a_jid_is_refused(core: Core) -> None:
    core.raises(r"Job\(\): no jid provided", "job.complete")


def test_complete_without_a_worker_is_refused(core: Core) -> None:
    run(core, "a")
    core.raises(r'Complete\(\): Arg "worker" missing', "job.complete", "a")


def test_complete_without_a_queue_is_refused(core: Core) -> None:
    run(core, "a")
    core.raises(r'Complete\(\): Arg "queue_name" missing', "job.complete", "a", "w")


def test_complete_without_data_is_refused(core: Core) -> None:
    run(core, "a")
    core.raises(r'Arg "data" missing|' + BAD_JSON, "job.complete", "a", "w", "q")


def test_complete_with_invalid_json_data_is_refused(core: Core) -> None:
    run(core, "a")
    core.raises(BAD_JSON, "job.complete", "a", "w", "q", "{not json")


def test_complete_with_json_false_data_is_refused(core: Core) -> None:
    run(core, "a")
    core.raises(
        r'Complete\(\): Arg "data" missing or not JSON: false',
        "job.complete",
        "a",
        "w",
        "q",
        "false",
    )


def test_complete_checks_arguments_before_looking_up_the_job(core: Core) -> None:
    core.raises(r'Complete\(\): Arg "worker" missing', "job.complete", "ghost")
    core.raises(BAD_JSON, "job.complete", "ghost", "w", "q", "[")


def test_complete_of_a_missing_job_is_refused(core: Core) -> None:
    core.raises(r"Complete\(\): Job does not exist", "job.complete", "ghost", "w", "q", "{}")


@pytest.mark.parametrize("state", ["waiting", "scheduled", "depends", "failed", "complete"])
def test_complete_of_a_job_that_is_not_running_is_refused(core: Core, state: str) -> None:
    if state == "waiting":
        put(core, "a")
    elif state == "scheduled":
        put(core, "a", delay=10)
    elif state == "depends":
        put(core, "dep")
        put(core, "a", depends=["dep"])
    elif state == "failed":
        run(core, "a")
        core.call("job.fail", "a", "w", "group", "boom")
    else:
        run(core, "a")
        complete(core, "a")
    assert job_hash(core, "a")["state"] == state
    core.raises(
        rf"Complete\(\): Job is not currently running: {state}", "job.complete", "a", "w", "q", "{}"
    )


def test_complete_by_another_worker_is_refused(core: Core) -> None:
    run(core, "a", worker="owner")
    core.raises(
        r"Complete\(\): Job has been handed out to another worker: owner",
        "job.complete",
        "a",
        "intruder",
        "q",
        "{}",
    )


def test_complete_in_another_queue_is_refused(core: Core) -> None:
    run(core, "a", "q")
    core.raises(
        r"Complete\(\): Job running in another queue: q",
        "job.complete",
        "a",
        "w",
        "elsewhere",
        "{}",
    )


def test_complete_checks_the_worker_before_the_queue(core: Core) -> None:
    run(core, "a", worker="owner")
    core.raises(r"another worker: owner", "job.complete", "a", "intruder", "elsewhere", "{}")


# --- job.completeAndRequeue ------------------------------------------------


def test_complete_and_requeue_moves_the_job_waiting_into_the_next_queue(core: Core) -> None:
    run(core, "a", retries=3, priority=2)
    core.call("job.retry", "a", "q", "w", now=1)
    pop(core, now=2)
    assert advance(core, "a", "next", data='{"step": 2}', now=5) == "waiting"
    fields = job_hash(core, "a")
    assert fields["state"] == "waiting"
    assert fields["queue"] == "next"
    assert fields["worker"] == ""
    assert float(fields["expires"]) == 0
    assert float(fields["remaining"]) == 3
    assert json.loads(fields["failure"]) == {}
    assert fields["data"] == '{"step": 2}'
    assert core.redis.zscore("ql:q:next-work", "a") == pytest.approx(work_score(2, 5))
    assert core.redis.zcard("ql:q:q-locks") == 0
    assert core.redis.zcard("ql:w:w:jobs") == 0


def test_complete_and_requeue_writes_done_then_put_to_history(core: Core) -> None:
    run(core, "a")
    advance(core, "a", "next", now=5)
    assert history(core, "a")[-2:] == [
        {"when": 5, "what": "done"},
        {"when": 5, "what": "put", "queue": "next"},
    ]


def test_complete_and_requeue_is_not_a_completion(core: Core) -> None:
    core.call("config.set", "jobs-history-count", 0)
    run(core, "a")
    put(core, "child", depends=["a"])
    advance(core, "a", "next")
    # Not kept as completed, not expired, and its dependents stay blocked.
    assert core.redis.zcard("ql:completed") == 0
    assert job_hash(core, "a")["state"] == "waiting"
    assert core.redis.smembers("ql:j:a-dependents") == {"child"}
    assert job_hash(core, "child")["state"] == "depends"


def test_complete_and_requeue_records_the_run_sample_in_the_previous_queue(core: Core) -> None:
    run(core, "a", now=10)
    advance(core, "a", "next", now=14)
    sample = core.redis.hgetall("ql:s:run:0:q")
    assert (float(sample["total"]), float(sample["mean"])) == (1, 4)
    assert core.redis.exists("ql:s:run:0:next") == 0
    assert job_hash(core, "a")["time"] == f"{14:.20f}"


def test_complete_and_requeue_releases_locks_but_keeps_the_old_throttle_list(
    core: Core,
) -> None:
    run(core, "a", throttles=["t"])
    advance(core, "a", "next")
    assert core.redis.exists("ql:th:t-locks", "ql:th:ql:q:q-locks") == 0
    assert json.loads(job_hash(core, "a")["throttles"]) == ["t", "ql:q:q"]


def test_complete_and_requeue_registers_an_unknown_next_queue(core: Core) -> None:
    put(core, "old", "known", now=1)
    run(core, "a", now=2)
    advance(core, "a", "fresh", now=3)
    run(core, "b", now=4)
    advance(core, "b", "known", now=5)
    assert core.redis.zscore("ql:queues", "fresh") == 3
    assert core.redis.zscore("ql:queues", "known") == 1


def test_complete_and_requeue_with_a_delay_schedules_but_says_waiting(core: Core) -> None:
    run(core, "a")
    assert advance(core, "a", "next", "delay", 30, now=5) == "scheduled"
    assert core.redis.zscore("ql:q:next-scheduled", "a") == 35
    assert core.redis.zcard("ql:q:next-work") == 0
    assert job_hash(core, "a")["state"] == "waiting"


def test_complete_and_requeue_with_unmet_depends_waits_for_them(core: Core) -> None:
    put(core, "dep", "other")
    run(core, "a")
    assert advance(core, "a", "next", "depends", '["dep"]', now=5) == "depends"
    assert job_hash(core, "a")["state"] == "depends"
    assert core.redis.zscore("ql:q:next-depends", "a") == 5
    assert core.redis.zcard("ql:q:next-work") == 0
    assert core.redis.smembers("ql:j:a-dependencies") == {"dep"}
    assert core.redis.smembers("ql:j:dep-dependents") == {"a"}
    assert "scheduled" not in job_hash(core, "a")


def test_complete_and_requeue_with_depends_and_delay_remembers_the_delay(core: Core) -> None:
    put(core, "dep", "other")
    run(core, "a")
    assert advance(core, "a", "next", "delay", 30, "depends", '["dep"]', now=5) == "depends"
    assert float(job_hash(core, "a")["scheduled"]) == 35
    assert core.redis.zcard("ql:q:next-scheduled") == 0
    assert core.redis.zscore("ql:q:next-depends", "a") == 5


def test_complete_and_requeue_ignores_satisfied_dependencies_and_drops_the_delay(
    core: Core,
) -> None:
    run(core, "done")
    complete(core, "done")
    run(core, "a")
    reply = advance(core, "a", "next", "delay", 30, "depends", '["done", "ghost"]', now=5)
    # A non-empty list skips the scheduled branch even when no edge is added.
    assert reply == "waiting"
    assert core.redis.zscore("ql:q:next-work", "a") == pytest.approx(work_score(0, 5))
    assert core.redis.zcard("ql:q:next-scheduled") == 0
    assert core.redis.exists("ql:j:a-dependencies", "ql:j:done-dependents") == 0


def test_complete_and_requeue_publishes_advanced(core: Core) -> None:
    run(core, "a")
    with core.events() as ev:
        advance(core, "a", "next")
    assert ev.parsed() == [
        ("ql:log", {"jid": "a", "to": "next", "event": "advanced", "queue": "q"}),
    ]


def test_complete_and_requeue_of_a_tracked_job_notifies_completed_first(core: Core) -> None:
    run(core, "a")
    core.call("job.track", "a")
    with core.events() as ev:
        advance(core, "a", "next")
    assert ev.parsed() == [
        ("ql:completed", "a"),
        ("ql:log", {"jid": "a", "to": "next", "event": "advanced", "queue": "q"}),
    ]


def test_complete_and_requeue_without_a_next_queue_completes(core: Core) -> None:
    run(core, "a")
    assert core.call("job.completeAndRequeue", "a", "w", "q", "{}", now=4) == "complete"
    assert job_hash(core, "a")["state"] == "complete"
    assert core.redis.zscore("ql:completed", "a") == 4


def test_complete_and_requeue_does_not_check_for_an_odd_option_count(core: Core) -> None:
    run(core, "a")
    assert advance(core, "a", "next", "delay") == "waiting"
    assert core.redis.zcard("ql:q:next-work") == 1


def test_complete_and_requeue_with_a_non_numeric_delay_is_refused(core: Core) -> None:
    run(core, "a")
    core.raises(
        r"assertion failed!", "job.completeAndRequeue", "a", "w", "q", "{}", "next", "delay", "soon"
    )


def test_complete_and_requeue_checks_the_delay_before_looking_up_the_job(core: Core) -> None:
    core.raises(
        r"assertion failed!",
        "job.completeAndRequeue",
        "ghost",
        "w",
        "q",
        "{}",
        "next",
        "delay",
        "soon",
    )


def test_complete_and_requeue_with_invalid_depends_is_refused(core: Core) -> None:
    run(core, "a")
    core.raises(BAD_JSON, "job.completeAndRequeue", "a", "w", "q", "{}", "next", "depends", "[dep")


def test_complete_and_requeue_with_json_false_depends_is_refused(core: Core) -> None:
    run(core, "a")
    core.raises(
        r'Complete\(\): Arg "depends" not JSON: false',
        "job.completeAndRequeue",
        "a",
        "w",
        "q",
        "{}",
        "next",
        "depends",
        "false",
    )


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        ((), r"Job\(\): no jid provided"),
        (("a",), r'Complete\(\): Arg "worker" missing'),
        (("a", "w"), r'Complete\(\): Arg "queue_name" missing'),
        (("a", "w", "q", "false", "next"), r'Complete\(\): Arg "data" missing or not JSON'),
        (("ghost", "w", "q", "{}", "next"), r"Complete\(\): Job does not exist"),
        (("a", "intruder", "q", "{}", "next"), r"another worker: w"),
        (("a", "w", "elsewhere", "{}", "next"), r"another queue: q"),
    ],
)
def test_complete_and_requeue_shares_the_complete_errors(
    core: Core, args: tuple[str, ...], pattern: str
) -> None:
    run(core, "a")
    core.raises(pattern, "job.completeAndRequeue", *args)


def test_complete_and_requeue_of_a_waiting_job_is_refused(core: Core) -> None:
    put(core, "a")
    core.raises(
        r"Complete\(\): Job is not currently running: waiting",
        "job.completeAndRequeue",
        "a",
        "w",
        "q",
        "{}",
        "next",
    )


# --- completed-job retention (4.12) ----------------------------------------


def finish(core: Core, jid: str, now: float, **options: Any) -> None:
    run(core, jid, now=now, **options)
    assert complete(core, jid, now=now) == "complete"


def test_completed_jobs_past_jobs_history_are_deleted_on_the_next_complete(
    core: Core,
) -> None:
    core.call("config.set", "jobs-history", 100)
    finish(core, "old", 100)
    finish(core, "recent", 101)
    finish(core, "trigger", 200)
    # The age window is inclusive: completed at exactly now - jobs-history goes.
    assert core.redis.zrange("ql:completed", 0, -1) == ["recent", "trigger"]
    assert job_keys_exist(core, "old") == 0
    assert job_hash(core, "recent")["state"] == "complete"


def test_default_jobs_history_keeps_completed_jobs_for_a_week(core: Core) -> None:
    finish(core, "a", 0)
    finish(core, "b", 604_799)
    assert job_hash(core, "a")["state"] == "complete"
    finish(core, "c", 604_800)
    assert job_keys_exist(core, "a") == 0
    assert core.redis.zrange("ql:completed", 0, -1) == ["b", "c"]


def test_jobs_completed_at_negative_times_never_expire_by_age(core: Core) -> None:
    core.call("config.set", "jobs-history", 10)
    finish(core, "past", -50)
    finish(core, "now", 1000)
    assert core.redis.zscore("ql:completed", "past") == -50
    assert job_hash(core, "past")["state"] == "complete"


def test_jobs_history_count_keeps_only_the_newest_completed_jobs(core: Core) -> None:
    core.call("config.set", "jobs-history-count", 2)
    for now, jid in enumerate(["a", "b", "c"], start=1):
        finish(core, jid, now)
    assert core.redis.zrange("ql:completed", 0, -1) == ["b", "c"]
    assert job_keys_exist(core, "a") == 0
    assert job_hash(core, "b")["state"] == "complete"


def test_jobs_history_count_zero_deletes_the_job_just_completed(core: Core) -> None:
    core.call("config.set", "jobs-history-count", 0)
    run(core, "a")
    assert complete(core, "a") == "complete"
    assert core.redis.exists("ql:completed") == 0
    assert job_keys_exist(core, "a") == 0
    assert core.call("job.get", "a") is None


def test_negative_jobs_history_deletes_the_job_just_completed(core: Core) -> None:
    core.call("config.set", "jobs-history", -1)
    run(core, "a", now=10)
    assert complete(core, "a", now=10) == "complete"
    assert core.redis.exists("ql:completed") == 0
    assert job_keys_exist(core, "a") == 0


def test_expiring_a_completed_job_removes_its_tags(core: Core) -> None:
    put(core, "keeper", "other", tags=["shared"])
    core.call("config.set", "jobs-history-count", 0)
    finish(core, "a", 1, tags=["shared", "own"])
    assert core.redis.zrange("ql:t:shared", 0, -1) == ["keeper"]
    assert core.redis.zscore("ql:tags", "shared") == 1
    assert core.redis.exists("ql:t:own") == 0
    assert core.redis.zscore("ql:tags", "own") is None


def test_complete_and_requeue_does_not_apply_retention(core: Core) -> None:
    finish(core, "old", 0)
    core.call("config.set", "jobs-history", 10)
    run(core, "a", now=100)
    advance(core, "a", "next", now=100)
    assert job_hash(core, "old")["state"] == "complete"
    finish(core, "b", 100)
    assert job_keys_exist(core, "old") == 0


def test_reputting_a_completed_job_takes_it_out_of_completed(core: Core) -> None:
    finish(core, "a", 1)
    put(core, "a", now=2)
    assert core.redis.zscore("ql:completed", "a") is None
    assert job_hash(core, "a")["state"] == "waiting"


# --- jobs.completed ---------------------------------------------------------


def test_jobs_completed_lists_the_most_recent_first(core: Core) -> None:
    for now, jid in enumerate(["a", "b", "c"], start=1):
        finish(core, jid, now)
    assert core.json("jobs.completed") == ["c", "b", "a"]


def test_jobs_completed_at_the_same_time_list_in_reverse_jid_order(core: Core) -> None:
    for jid in ["b", "c", "a"]:
        finish(core, jid, 5)
    assert core.json("jobs.completed") == ["c", "b", "a"]


def test_jobs_completed_is_a_literal_empty_list_when_none(core: Core) -> None:
    assert core.call("jobs.completed") == "[]"


def test_jobs_completed_pages_with_offset_and_limit(core: Core) -> None:
    for now, jid in enumerate(["a", "b", "c", "d"], start=1):
        finish(core, jid, now)
    assert core.json("jobs.completed", 1, 2) == ["c", "b"]
    assert core.json("jobs.completed", 3, 10) == ["a"]
    assert core.call("jobs.completed", 4, 10) == "[]"


def test_jobs_completed_limit_zero_from_offset_zero_lists_everything(core: Core) -> None:
    for now in range(30):
        finish(core, f"j{now:02}", now)
    assert core.json("jobs.completed", 0, 0) == [f"j{n:02}" for n in reversed(range(30))]
    assert core.call("jobs.completed", 1, 0) == "[]"


def test_jobs_completed_defaults_to_the_first_25(core: Core) -> None:
    for now in range(30):
        finish(core, f"j{now:02}", now)
    assert core.json("jobs.completed") == [f"j{n:02}" for n in reversed(range(5, 30))]


def test_jobs_completed_with_a_non_numeric_offset_is_refused(core: Core) -> None:
    core.raises(r'Jobs\(\): Arg "offset" not a number: first', "jobs.completed", "first")


def test_jobs_completed_with_a_non_numeric_limit_is_refused(core: Core) -> None:
    core.raises(r'Jobs\(\): Arg "limit" not a number: many', "jobs.completed", 0, "many")
