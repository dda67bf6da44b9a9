"""Queue statistics: queue.stats, the histogram buckets, Welford mean/std, day buckets and the
failure counters (spec 2.9, 3.37, 4.13)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytest

from tests.core.conftest import Core

DAY = 86400
# A day boundary well away from 0 so samples can reach back several days.
T = 10 * DAY


def put(core: Core, jid: str, queue: str = "q", now: float = 0, *, retries: int = 5) -> None:
    core.call("queue.put", "putter", queue, jid, "klass", "{}", 0, "retries", retries, now=now)


def pop(
    core: Core, queue: str = "q", worker: str = "worker", now: float = 0, limit: int = 1
) -> list[Any]:
    return list(core.json("queue.pop", queue, worker, limit, now=now))


def stats(core: Core, queue: str = "q", date: float = 0) -> dict[str, Any]:
    return dict(core.json("queue.stats", queue, date))


def wait_samples(core: Core, samples: Sequence[float], at: float = T) -> None:
    """Record one wait sample per value: each job is put `v` seconds before a pop at `at`."""
    for i, v in enumerate(samples):
        put(core, f"j{i:03}", now=at - v)
    assert len(pop(core, now=at, limit=len(samples))) == len(samples)


def empty_timing() -> dict[str, Any]:
    return {"count": 0, "mean": 0, "std": 0, "histogram": [0] * 148}


# --- queue.stats --------------------------------------------------------------------------------


def test_stats_of_a_quiet_queue_are_zero_with_148_bucket_histograms(core: Core) -> None:
    assert stats(core) == {
        "retries": 0,
        "failed": 0,
        "failures": 0,
        "wait": empty_timing(),
        "run": empty_timing(),
    }


def test_stats_rejects_a_missing_or_non_numeric_date(core: Core) -> None:
    core.raises(r'Stats\(\): Arg "date" missing or not a number: nil', "queue.stats", "q")
    core.raises(
        r'Stats\(\): Arg "date" missing or not a number: today', "queue.stats", "q", "today"
    )


def test_stats_without_a_queue_is_refused(core: Core) -> None:
    core.raises(r"Queue\(\): no queue name provided", "queue.stats")


def test_sampling_and_reading_stats_publish_nothing(core: Core) -> None:
    put(core, "jid")
    with core.events() as ev:
        pop(core, now=5)
        stats(core)
    assert ev.messages == []


# --- histogram ----------------------------------------------------------------------------------


def test_wait_samples_fill_the_seconds_minutes_hours_and_days_buckets(core: Core) -> None:
    samples = [0, 59, 60, 119, 3599, 3600, DAY - 1, DAY, 6 * DAY + 5, 7 * DAY]
    wait_samples(core, samples)
    fields = core.redis.hgetall(f"ql:s:wait:{T}:q")
    buckets = {k: int(v) for k, v in fields.items() if k not in ("total", "mean", "vk")}
    assert buckets == {
        "s0": 1,
        "s59": 1,
        "m1": 2,
        "m59": 1,
        "h1": 1,
        "h23": 1,
        "d1": 1,
        "d6": 1,
        "d7": 1,
    }
    wait = stats(core, date=T)["wait"]
    assert wait["count"] == 10
    histogram = wait["histogram"]
    assert len(histogram) == 148
    # Seven days and more are stored under d7, d8, ... but not reported.
    expected = [0] * 148
    for index in (0, 59, 118, 119, 141, 142, 147):
        expected[index] = 1
    expected[60] = 2
    assert histogram == expected


def test_fractional_samples_are_bucketed_by_their_floor(core: Core) -> None:
    wait_samples(core, [59.5, 119.75])
    fields = core.redis.hgetall(f"ql:s:wait:{T}:q")
    assert fields["s59"] == "1"
    assert fields["m1"] == "1"


def test_negative_samples_are_stored_but_not_reported(core: Core) -> None:
    wait_samples(core, [-5])
    assert core.redis.hget(f"ql:s:wait:{T}:q", "s-5") == "1"
    wait = stats(core, date=T)["wait"]
    assert wait["count"] == 1
    assert wait["mean"] == -5
    assert wait["histogram"] == [0] * 148


# --- Welford mean and standard deviation --------------------------------------------------------


def test_twenty_samples_0_to_19_give_mean_9_5_and_std_5_916(core: Core) -> None:
    wait_samples(core, list(range(20)))
    wait = stats(core, date=T)["wait"]
    assert wait["count"] == 20
    assert wait["mean"] == 9.5
    assert wait["std"] == pytest.approx(5.916079783099, abs=1e-9)
    assert wait["histogram"][:20] == [1] * 20
    fields = core.redis.hgetall(f"ql:s:wait:{T}:q")
    assert int(fields["total"]) == 20
    assert float(fields["mean"]) == 9.5
    assert float(fields["vk"]) == pytest.approx(665)


def test_a_single_sample_has_std_0(core: Core) -> None:
    wait_samples(core, [42])
    wait = stats(core, date=T)["wait"]
    assert (wait["count"], wait["mean"], wait["std"]) == (1, 42, 0)
    fields = core.redis.hgetall(f"ql:s:wait:{T}:q")
    assert {k: float(v) for k, v in fields.items()} == {"total": 1, "mean": 42, "vk": 0, "s42": 1}


def test_two_samples_give_the_sample_standard_deviation(core: Core) -> None:
    wait_samples(core, [10, 30])
    wait = stats(core, date=T)["wait"]
    assert wait["mean"] == 20
    assert wait["std"] == pytest.approx(math.sqrt(200))


def test_run_time_is_sampled_from_pop_to_complete(core: Core) -> None:
    put(core, "jid", now=0)
    pop(core, now=3)
    core.call("job.complete", "jid", "worker", "q", "{}", now=10)
    run = stats(core)["run"]
    assert (run["count"], run["mean"], run["std"]) == (1, 7, 0)
    assert run["histogram"][7] == 1
    wait = stats(core)["wait"]
    assert (wait["count"], wait["mean"]) == (1, 3)
    assert wait["histogram"][3] == 1


def test_complete_and_requeue_samples_run_time_in_the_finished_queue(core: Core) -> None:
    put(core, "jid", now=0)
    pop(core, now=0)
    core.call("job.completeAndRequeue", "jid", "worker", "q", "{}", "next", now=90)
    assert stats(core)["run"]["histogram"][60] == 1
    assert stats(core, "next")["run"]["count"] == 0


def test_a_second_pop_samples_the_wait_since_the_previous_pop(core: Core) -> None:
    core.call("config.set", "grace-period", 0)
    put(core, "jid", now=0)
    pop(core, worker="first", now=5)
    pop(core, worker="second", now=100)
    wait = stats(core)["wait"]
    assert wait["count"] == 2
    # 5 s from put to the first pop, then 95 s (the m1 bucket) until the reclaiming pop.
    assert wait["histogram"][5] == 1
    assert wait["histogram"][60] == 1


# --- day buckets --------------------------------------------------------------------------------


def test_samples_land_in_the_utc_day_of_the_event(core: Core) -> None:
    put(core, "jid", now=DAY + 50)
    pop(core, now=DAY + 150)
    assert core.redis.exists(f"ql:s:wait:{DAY}:q")
    assert stats(core, date=DAY + 80000)["wait"]["count"] == 1
    assert stats(core, date=DAY)["wait"]["count"] == 1
    assert stats(core, date=DAY - 1)["wait"]["count"] == 0
    assert stats(core, date=2 * DAY)["wait"]["count"] == 0


def test_negative_times_use_the_floored_day(core: Core) -> None:
    put(core, "jid", now=-50)
    pop(core, now=-1)
    assert core.redis.hget(f"ql:s:wait:{-DAY}:q", "s49") == "1"
    assert stats(core, date=-1)["wait"]["count"] == 1
    assert stats(core, date=-DAY)["wait"]["count"] == 1
    assert stats(core, date=0)["wait"]["count"] == 0


# --- failures / failed / retries counters -------------------------------------------------------


def test_fail_counts_a_failure_and_a_failed_job(core: Core) -> None:
    put(core, "jid")
    pop(core, now=1)
    core.call("job.fail", "jid", "worker", "group", "message", now=DAY + 5)
    assert core.redis.hgetall(f"ql:s:stats:{DAY}:q") == {"failures": "1", "failed": "1"}
    counters = stats(core, date=DAY)
    assert (counters["failures"], counters["failed"], counters["retries"]) == (1, 1, 0)


def test_reputting_a_failed_job_decrements_failed_in_the_failure_day_of_the_new_queue(
    core: Core,
) -> None:
    put(core, "jid")
    pop(core, now=1)
    core.call("job.fail", "jid", "worker", "group", "message", now=10)
    put(core, "jid", queue="other", now=2 * DAY)
    assert core.redis.hget("ql:s:stats:0:other", "failed") == "-1"
    assert stats(core, "other")["failed"] == -1
    assert stats(core)["failed"] == 1
    assert stats(core)["failures"] == 1


def test_reputting_a_failed_job_into_its_queue_brings_failed_back_to_0(core: Core) -> None:
    put(core, "jid")
    pop(core, now=1)
    core.call("job.fail", "jid", "worker", "group", "message", now=10)
    put(core, "jid", now=20)
    assert (stats(core)["failed"], stats(core)["failures"]) == (0, 1)


def test_cancelling_a_failed_job_decrements_failed_in_its_failure_day(core: Core) -> None:
    put(core, "jid")
    pop(core, now=1)
    core.call("job.fail", "jid", "worker", "group", "message", now=10)
    core.call("job.cancel", "jid", now=3 * DAY)
    assert core.redis.hget("ql:s:stats:0:q", "failed") == "0"
    assert (stats(core)["failed"], stats(core)["failures"]) == (0, 1)


def test_each_lock_lost_notice_counts_a_retry(core: Core) -> None:
    put(core, "a")
    put(core, "b")
    pop(core, worker="first", now=0, limit=2)
    pop(core, worker="second", now=100, limit=2)
    assert stats(core)["retries"] == 2
    assert core.redis.hget("ql:s:stats:0:q", "retries") == "2"


def test_reclaiming_after_the_grace_period_counts_no_further_retry(core: Core) -> None:
    put(core, "jid")
    pop(core, worker="first", now=0)
    pop(core, worker="second", now=100)
    assert [job["jid"] for job in pop(core, worker="second", now=200)] == ["jid"]
    assert stats(core)["retries"] == 1


def test_retries_exhausted_at_pop_count_a_retry_a_failure_and_a_failed_job(core: Core) -> None:
    core.call("config.set", "grace-period", 0)
    put(core, "jid", retries=0)
    pop(core, worker="first", now=0)
    pop(core, worker="second", now=100)
    counters = stats(core)
    assert (counters["retries"], counters["failures"], counters["failed"]) == (1, 1, 1)


def test_retry_exhaustion_counts_in_the_queue_given_to_retry(core: Core) -> None:
    put(core, "jid", retries=0)
    pop(core, now=0)
    core.call("job.retry", "jid", "elsewhere", "worker", 0, now=5)
    assert core.redis.hgetall("ql:s:stats:0:elsewhere") == {"failures": "1", "failed": "1"}
    assert not core.redis.exists("ql:s:stats:0:q")


def test_a_retry_with_retries_left_counts_nothing(core: Core) -> None:
    put(core, "jid", retries=2)
    pop(core, now=0)
    core.call("job.retry", "jid", "q", "worker", 0, now=5)
    assert not core.redis.exists("ql:s:stats:0:q")
    counters = stats(core)
    assert (counters["retries"], counters["failures"], counters["failed"]) == (0, 0, 0)
