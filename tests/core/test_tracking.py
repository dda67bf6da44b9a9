"""Tracking: job.track, job.untrack, jobs.tracked and the tracked-job channels (3.22, 3.23,
3.27, 4.16, 4.17)."""

from __future__ import annotations

import json
from typing import Any

from tests.core.conftest import Core


def put(core: Core, jid: str, queue: str = "q", now: float = 0, worker: str = "putter") -> None:
    core.call("queue.put", worker, queue, jid, "klass", "{}", 0, now=now)


def pop(core: Core, worker: str = "worker", now: float = 0, limit: int = 1) -> list[Any]:
    return list(core.json("queue.pop", "q", worker, limit, now=now))


def tracked_put(core: Core, jid: str, now: float = 0) -> None:
    put(core, jid, now=now)
    core.call("job.track", jid, now=now)


# --- job.track / job.untrack --------------------------------------------------------------------


def test_track_replies_json_1_when_newly_tracked_and_0_when_already(core: Core) -> None:
    put(core, "jid")
    assert core.call("job.track", "jid", now=1) == "1"
    assert core.call("job.track", "jid", now=2) == "0"


def test_track_scores_the_jid_by_the_latest_track_time(core: Core) -> None:
    put(core, "jid")
    core.call("job.track", "jid", now=1)
    assert core.redis.zscore("ql:tracked", "jid") == 1
    core.call("job.track", "jid", now=7)
    assert core.redis.zscore("ql:tracked", "jid") == 7


def test_track_publishes_the_jid_even_when_already_tracked(core: Core) -> None:
    put(core, "jid")
    with core.events() as ev:
        core.call("job.track", "jid")
        core.call("job.track", "jid")
    assert ev.messages == [("ql:track", "jid"), ("ql:track", "jid")]


def test_track_errors_on_missing_jid_or_job(core: Core) -> None:
    core.raises(r'Track\(\): Arg "jid" missing', "job.track")
    core.raises(r"Track\(\): Job does not exist", "job.track", "missing")


def test_untrack_replies_1_when_it_was_tracked_and_removes_it(core: Core) -> None:
    tracked_put(core, "jid")
    assert core.call("job.untrack", "jid") == "1"
    assert core.redis.zscore("ql:tracked", "jid") is None
    assert core.json("job.get", "jid")["tracked"] is False


def test_untrack_of_an_untracked_job_replies_0_and_still_publishes(core: Core) -> None:
    put(core, "jid")
    with core.events() as ev:
        assert core.call("job.untrack", "jid") == "0"
    assert ev.messages == [("ql:untrack", "jid")]


def test_untrack_has_the_same_errors_as_track(core: Core) -> None:
    core.raises(r'Arg "jid" missing', "job.untrack")
    core.raises(r"Job does not exist", "job.untrack", "missing")


# --- jobs.tracked -------------------------------------------------------------------------------


def test_tracked_with_nothing_tracked_sends_two_empty_objects(core: Core) -> None:
    raw = core.call("jobs.tracked")
    assert json.loads(raw) == {"jobs": {}, "expired": {}}


def test_tracked_lists_job_objects_by_ascending_track_time(core: Core) -> None:
    put(core, "a")
    put(core, "b")
    put(core, "c")
    core.call("job.track", "b", now=1)
    core.call("job.track", "c", now=2)
    core.call("job.track", "a", now=2)
    reply = core.json("jobs.tracked")
    assert [job["jid"] for job in reply["jobs"]] == ["b", "a", "c"]
    assert reply["jobs"][0] == core.json("job.get", "b")
    assert reply["jobs"][0]["tracked"] is True
    assert reply["expired"] == {}


def test_a_deleted_tracked_job_stays_tracked_and_is_listed_as_expired(core: Core) -> None:
    tracked_put(core, "gone")
    tracked_put(core, "here", now=1)
    core.call("job.cancel", "gone")
    assert core.redis.zscore("ql:tracked", "gone") == 0
    reply = core.json("jobs.tracked")
    assert reply["expired"] == ["gone"]
    assert [job["jid"] for job in reply["jobs"]] == ["here"]


# --- 4.16 notifications for tracked jobs --------------------------------------------------------


def test_put_of_a_tracked_job_publishes_its_jid_last(core: Core) -> None:
    tracked_put(core, "jid")
    with core.events() as ev:
        put(core, "jid", now=1)
    assert ev.parsed() == [
        ("ql:log", {"jid": "jid", "event": "put", "queue": "q"}),
        ("ql:put", "jid"),
    ]


def test_put_of_a_tracked_job_held_by_another_worker_publishes_lock_loss_before_put(
    core: Core,
) -> None:
    tracked_put(core, "jid")
    pop(core, worker="holder", now=1)
    with core.events() as ev:
        put(core, "jid", now=2, worker="other")
    lost = {"jid": "jid", "event": "lock_lost", "worker": "holder"}
    assert ev.parsed() == [
        ("ql:log", {"jid": "jid", "event": "put", "queue": "q"}),
        ("ql:w:holder", lost),
        ("ql:log", lost),
        ("ql:put", "jid"),
    ]


def test_popping_a_tracked_job_publishes_popped(core: Core) -> None:
    tracked_put(core, "jid")
    with core.events() as ev:
        pop(core, now=1)
    assert ev.messages == [("ql:popped", "jid")]


def test_completing_a_tracked_job_publishes_completed_before_the_log_event(core: Core) -> None:
    tracked_put(core, "jid")
    pop(core, now=1)
    with core.events() as ev:
        core.call("job.complete", "jid", "worker", "q", "{}", now=2)
    assert ev.parsed() == [
        ("ql:completed", "jid"),
        ("ql:log", {"jid": "jid", "event": "completed", "queue": "q"}),
    ]


def test_advancing_a_tracked_job_publishes_completed_then_advanced(core: Core) -> None:
    tracked_put(core, "jid")
    pop(core, now=1)
    with core.events() as ev:
        core.call("job.completeAndRequeue", "jid", "worker", "q", "{}", "next", now=2)
    assert ev.parsed() == [
        ("ql:completed", "jid"),
        ("ql:log", {"jid": "jid", "to": "next", "event": "advanced", "queue": "q"}),
    ]


def test_failing_a_tracked_job_publishes_failed_after_the_log_event(core: Core) -> None:
    tracked_put(core, "jid")
    pop(core, now=1)
    with core.events() as ev:
        core.call("job.fail", "jid", "worker", "group", "boom", now=2)
    assert ev.parsed() == [
        (
            "ql:log",
            {
                "message": "boom",
                "jid": "jid",
                "group": "group",
                "event": "failed",
                "worker": "worker",
            },
        ),
        ("ql:failed", "jid"),
    ]


def test_cancelling_a_tracked_job_publishes_canceled_after_the_log_event(core: Core) -> None:
    tracked_put(core, "jid")
    with core.events() as ev:
        core.call("job.cancel", "jid")
    assert ev.parsed() == [
        ("ql:log", {"jid": "jid", "queue": "q", "event": "canceled", "worker": ""}),
        ("ql:canceled", "jid"),
    ]


def test_a_lock_lost_notice_for_a_tracked_job_publishes_stalled_first(core: Core) -> None:
    tracked_put(core, "jid")
    pop(core, worker="first", now=0)
    with core.events() as ev:
        assert pop(core, worker="second", now=100) == []
    lost = {"jid": "jid", "event": "lock_lost", "worker": "first"}
    assert ev.parsed() == [("ql:stalled", "jid"), ("ql:w:first", lost), ("ql:log", lost)]


def test_retries_exhausted_at_pop_publish_failed_between_lock_loss_and_the_log_event(
    core: Core,
) -> None:
    core.call("config.set", "grace-period", 0)
    core.call("queue.put", "putter", "q", "jid", "klass", "{}", 0, "retries", 0)
    core.call("job.track", "jid")
    pop(core, worker="first", now=0)
    with core.events() as ev:
        assert pop(core, worker="second", now=100) == []
    lost = {"jid": "jid", "event": "lock_lost", "worker": "first"}
    assert ev.parsed() == [
        ("ql:stalled", "jid"),
        ("ql:w:first", lost),
        ("ql:log", lost),
        ("ql:failed", "jid"),
        (
            "ql:log",
            {
                "message": 'Job exhausted retries in queue "q"',
                "jid": "jid",
                "group": "failed-retries-q",
                "event": "failed",
                "worker": "first",
            },
        ),
    ]


def test_untracked_jobs_publish_no_jid_notifications(core: Core) -> None:
    put(core, "jid")
    with core.events(
        "ql:put", "ql:popped", "ql:completed", "ql:failed", "ql:canceled", "ql:stalled"
    ) as ev:
        put(core, "jid", now=1)
        pop(core, now=2)
        core.call("job.complete", "jid", "worker", "q", "{}", now=3)
        put(core, "other", now=4)
        pop(core, now=5)
        pop(core, worker="late", now=100)
        core.call("job.fail", "other", "worker", "g", "m", now=101)
        core.call("job.cancel", "other", now=102)
    assert ev.messages == []
