"""Job history: job.log, the entry each command writes, trimming and legacy migration
(spec 2.5, 3.15, 4.11)."""

from __future__ import annotations

import json
from typing import Any

from tests.core.conftest import Core


def put(core: Core, jid: str, queue: str = "q", now: float = 0, **options: Any) -> None:
    extra: list[Any] = []
    for name, value in options.items():
        extra += [name, value if isinstance(value, str | int | float) else json.dumps(value)]
    core.call("queue.put", "putter", queue, jid, "klass", "{}", 0, *extra, now=now)


def pop(core: Core, queue: str = "q", worker: str = "worker", now: float = 0) -> list[Any]:
    return list(core.json("queue.pop", queue, worker, 1, now=now))


def history(core: Core, jid: str) -> list[dict[str, Any]]:
    return list(core.json("job.get", jid)["history"])


def stored(core: Core, jid: str) -> list[Any]:
    return [json.loads(entry) for entry in core.redis.lrange(f"ql:j:{jid}-history", 0, -1)]


def whens(core: Core, jid: str) -> list[int]:
    return [entry["when"] for entry in history(core, jid)]


# --- job.log ------------------------------------------------------------------------------------


def test_log_appends_an_entry_with_the_data_keys_beside_when_and_what(core: Core) -> None:
    put(core, "jid", now=1)
    assert core.call("job.log", "jid", "converted", '{"pages":3,"to":"pdf"}', now=5.9) is None
    assert history(core, "jid")[-1] == {"when": 5, "what": "converted", "pages": 3, "to": "pdf"}
    assert stored(core, "jid")[-1] == [5, "converted", {"pages": 3, "to": "pdf"}]


def test_log_without_data_appends_a_bare_entry(core: Core) -> None:
    put(core, "jid", now=1)
    core.call("job.log", "jid", "checkpoint", now=2)
    assert history(core, "jid") == [
        {"when": 1, "what": "put", "queue": "q"},
        {"when": 2, "what": "checkpoint"},
    ]
    assert stored(core, "jid")[-1][:2] == [2, "checkpoint"]


def test_log_publishes_nothing(core: Core) -> None:
    put(core, "jid")
    with core.events() as ev:
        core.call("job.log", "jid", "note", '{"a":1}')
    assert ev.messages == []


def test_log_rejects_missing_arguments_invalid_data_and_a_missing_job(core: Core) -> None:
    put(core, "jid")
    core.raises(r"Log\(\): Argument 'jid' missing", "job.log")
    core.raises(r"Log\(\): Argument 'message' missing", "job.log", "jid")
    core.raises(r".", "job.log", "jid", "note", "{not json")
    core.raises(r"Log\(\): Job missing does not exist", "job.log", "missing", "note")


def test_log_entries_are_trimmed_like_any_other(core: Core) -> None:
    core.call("config.set", "max-job-history", 3)
    put(core, "jid", now=0)
    for t in range(1, 6):
        core.call("job.log", "jid", f"step{t}", now=t)
    assert [entry["what"] for entry in history(core, "jid")] == ["put", "step4", "step5"]


# --- 2.5 the entry each command writes ----------------------------------------------------------


def test_put_records_its_queue_with_the_floored_time(core: Core) -> None:
    put(core, "jid", queue="first", now=1.7)
    put(core, "jid", queue="second", now=2.2)
    assert history(core, "jid") == [
        {"when": 1, "what": "put", "queue": "first"},
        {"when": 2, "what": "put", "queue": "second"},
    ]
    assert stored(core, "jid") == [[1, "put", {"queue": "first"}], [2, "put", {"queue": "second"}]]


def test_pop_records_the_worker_and_complete_records_done(core: Core) -> None:
    put(core, "jid", now=0)
    pop(core, now=1)
    core.call("job.complete", "jid", "worker", "q", "{}", now=2)
    assert history(core, "jid") == [
        {"when": 0, "what": "put", "queue": "q"},
        {"when": 1, "what": "popped", "worker": "worker"},
        {"when": 2, "what": "done"},
    ]


def test_fail_records_the_worker_and_group(core: Core) -> None:
    put(core, "jid", now=0)
    pop(core, now=1)
    core.call("job.fail", "jid", "worker", "broken", "message", now=2)
    assert history(core, "jid")[-1] == {
        "when": 2,
        "what": "failed",
        "worker": "worker",
        "group": "broken",
    }


def test_complete_and_requeue_records_done_then_put_for_the_next_queue(core: Core) -> None:
    put(core, "jid", now=0)
    pop(core, now=1)
    core.call("job.completeAndRequeue", "jid", "worker", "q", "{}", "next", now=2)
    assert history(core, "jid")[-2:] == [
        {"when": 2, "what": "done"},
        {"when": 2, "what": "put", "queue": "next"},
    ]


def test_retry_exhaustion_records_failed_retries_with_the_group(core: Core) -> None:
    put(core, "jid", retries=0, now=0)
    pop(core, now=1)
    core.call("job.retry", "jid", "q", "worker", 0, now=2)
    assert history(core, "jid")[-1] == {
        "when": 2,
        "what": "failed-retries",
        "group": "failed-retries-q",
    }


def test_timeout_records_timed_out(core: Core) -> None:
    put(core, "jid", now=0)
    pop(core, now=1)
    core.call("job.timeout", "jid", now=2)
    assert history(core, "jid")[-1] == {"when": 2, "what": "timed-out"}


def test_lock_expiry_at_pop_records_timed_out_then_popped_after_the_grace(core: Core) -> None:
    put(core, "jid", now=0)
    pop(core, worker="first", now=0)
    pop(core, worker="second", now=100)
    pop(core, worker="second", now=120)
    assert history(core, "jid")[1:] == [
        {"when": 0, "what": "popped", "worker": "first"},
        {"when": 100, "what": "timed-out"},
        {"when": 120, "what": "popped", "worker": "second"},
    ]


def test_retries_exhausted_at_pop_records_failed_with_only_the_group(core: Core) -> None:
    core.call("config.set", "grace-period", 0)
    put(core, "jid", retries=0, now=0)
    pop(core, worker="first", now=0)
    pop(core, worker="second", now=100)
    assert history(core, "jid")[-2:] == [
        {"when": 100, "what": "timed-out"},
        {"when": 100, "what": "failed", "group": "failed-retries-q"},
    ]


def test_a_throttled_put_records_throttled_with_the_queue(core: Core) -> None:
    core.call("throttle.set", "gate", 1)
    put(core, "holder", throttles=["gate"], now=0)
    pop(core, now=1)
    put(core, "jid", throttles=["gate"], now=2)
    assert history(core, "jid") == [
        {"when": 2, "what": "put", "queue": "q"},
        {"when": 2, "what": "throttled", "queue": "q"},
    ]


def test_unfail_records_put_into_the_named_queue(core: Core) -> None:
    put(core, "jid", now=0)
    pop(core, now=1)
    core.call("job.fail", "jid", "worker", "group", "message", now=2)
    core.call("queue.unfail", "elsewhere", "group", now=3)
    assert history(core, "jid")[-1] == {"when": 3, "what": "put", "queue": "elsewhere"}


def test_a_spawned_recurring_job_records_put_at_its_nominal_spawn_time(core: Core) -> None:
    core.call("queue.recurAtInterval", "q", "tpl", "klass", "{}", 60, 0, now=0)
    core.call("queue.peek", "q", 0, 5, now=130)
    assert history(core, "tpl-2") == [{"when": 60, "what": "put", "queue": "q"}]


# --- 4.11 trimming ------------------------------------------------------------------------------


def test_max_history_5_keeps_the_first_entry_and_the_newest_four(core: Core) -> None:
    core.call("config.set", "max-job-history", 5)
    for t in range(100):
        put(core, "jid", now=t)
    assert whens(core, "jid") == [0, 96, 97, 98, 99]
    assert core.redis.llen("ql:j:jid-history") == 5


def test_default_max_history_100_keeps_the_first_entry_and_the_newest_99(core: Core) -> None:
    for t in range(150):
        put(core, "jid", now=t)
    assert whens(core, "jid") == [0, *range(51, 150)]


def test_history_grows_one_by_one_until_the_limit(core: Core) -> None:
    core.call("config.set", "max-job-history", 5)
    for t in range(4):
        put(core, "jid", now=t)
    assert whens(core, "jid") == [0, 1, 2, 3]
    put(core, "jid", now=4)
    put(core, "jid", now=5)
    assert whens(core, "jid") == [0, 2, 3, 4, 5]


def test_max_history_2_never_trims(core: Core) -> None:
    core.call("config.set", "max-job-history", 2)
    for t in range(10):
        put(core, "jid", now=t)
    assert whens(core, "jid") == list(range(10))


def test_max_history_1_drops_one_older_entry_per_append(core: Core) -> None:
    for t in range(5):
        put(core, "jid", now=t)
    core.call("config.set", "max-job-history", 1)
    put(core, "jid", now=5)
    assert whens(core, "jid") == [0, 2, 3, 4, 5]
    put(core, "jid", now=6)
    assert whens(core, "jid") == [0, 3, 4, 5, 6]


def test_max_history_1_from_the_start_keeps_the_first_and_the_newest(core: Core) -> None:
    core.call("config.set", "max-job-history", 1)
    for t in range(5):
        put(core, "jid", now=t)
    assert whens(core, "jid") == [0, 4]


def test_max_history_0_or_negative_disables_trimming(core: Core) -> None:
    core.call("config.set", "max-job-history", 0)
    for t in range(105):
        put(core, "jid", now=t)
    assert whens(core, "jid") == list(range(105))
    core.call("config.set", "max-job-history", -1)
    put(core, "jid", now=105)
    assert core.redis.llen("ql:j:jid-history") == 106


# --- 4.11 legacy history field ------------------------------------------------------------------

LEGACY = [
    {"queue": "old", "put": 10.5, "popped": 20.9, "worker": "w1", "failed": 30.2},
    {"queue": "new", "put": 40.7, "popped": 50.1, "worker": "w2", "done": 60.6},
]
MIGRATED = [
    {"when": 10, "what": "put", "queue": "old"},
    {"when": 20, "what": "popped", "worker": "w1"},
    {"when": 30, "what": "failed"},
    {"when": 40, "what": "put", "queue": "new"},
    {"when": 50, "what": "popped", "worker": "w2"},
    {"when": 60, "what": "done"},
]


def legacy_job(core: Core) -> None:
    """A job as an old client left it: a `history` field and no history list."""
    put(core, "jid", queue="new", now=40)
    core.redis.delete("ql:j:jid-history")
    core.redis.hset("ql:j:jid", "history", json.dumps(LEGACY))


def test_reading_a_job_migrates_the_legacy_history_field(core: Core) -> None:
    legacy_job(core)
    assert history(core, "jid") == MIGRATED
    assert not core.redis.hexists("ql:j:jid", "history")
    assert stored(core, "jid") == [
        [10, "put", {"queue": "old"}],
        [20, "popped", {"worker": "w1"}],
        [30, "failed"],
        [40, "put", {"queue": "new"}],
        [50, "popped", {"worker": "w2"}],
        [60, "done"],
    ]


def test_appending_migrates_the_legacy_history_field_first(core: Core) -> None:
    legacy_job(core)
    core.call("job.log", "jid", "later", now=70)
    assert not core.redis.hexists("ql:j:jid", "history")
    assert core.redis.llen("ql:j:jid-history") == 7
    assert history(core, "jid") == [*MIGRATED, {"when": 70, "what": "later"}]


def test_a_put_migrates_the_legacy_history_field_before_adding_its_entry(core: Core) -> None:
    legacy_job(core)
    put(core, "jid", queue="new", now=80)
    assert not core.redis.hexists("ql:j:jid", "history")
    assert history(core, "jid") == [*MIGRATED, {"when": 80, "what": "put", "queue": "new"}]
