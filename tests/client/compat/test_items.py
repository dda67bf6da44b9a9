"""reqless-py's API beside ours, item by item (sync client; ``test_items_aio`` for asyncio)."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from typing import Any

import pytest
import redis

import reqless
import reqless.abstract
import reqless.exceptions
import reqless.job
import reqless.logger
import reqless.models
import reqless.queue_patterns
from reqless._script import format_now
from tests.client.compat import processors
from tests.client.compat.processors import SEEN, Point, Size
from tests.client.conftest import Clock
from tests.conftest import Server

JOB = "tests.client.compat.processors.ByTypeArgument"


def _job(client: reqless.Client, jid: str) -> reqless.Job:
    job = client.jobs[jid]
    assert isinstance(job, reqless.Job)
    return job


# --------------------------------------------------------------------------- 1. results


def test_counts_read_as_the_core_s_json(client: reqless.Client) -> None:
    queue = client.queues["q"]
    queue.put(JOB, {})
    queue.put(JOB, {}, delay=10)
    counts = queue.counts
    assert counts["waiting"] == 1 and counts["scheduled"] == 1 and counts.waiting == 1
    assert dict(counts) == {
        "name": "q", "waiting": 1, "stalled": 0, "running": 0, "throttled": 0,
        "scheduled": 1, "depends": 0, "recurring": 0, "paused": False,
    }  # fmt: skip
    assert client.queues.counts == [dict(counts)]
    assert client.queues.counts[0]["name"] == "q"
    assert counts == queue.counts and hash(counts) == hash(queue.counts)
    with pytest.raises(KeyError):
        counts["nope"]


def test_stats_and_their_timings_read_as_mappings(client: reqless.Client, clock: Clock) -> None:
    queue = client.queues["q"]
    queue.put(JOB, {})
    clock.advance(1)
    assert queue.pop() is not None
    stats = queue.stats()
    assert stats["wait"]["count"] == 1 and stats["wait"] == dataclasses.asdict(stats.wait)
    assert stats["run"]["histogram"] == stats.run.histogram
    assert dict(stats)["retries"] == 0


def test_failure_tracked_workers_and_history(client: reqless.Client) -> None:
    queue = client.queues["q"]
    jid = queue.put(JOB, {})
    assert client.jobs.tracked() == {"jobs": [], "expired": {}}
    client.track(jid)
    tracked = client.jobs.tracked()
    assert [job.jid for job in tracked["jobs"]] == [jid] and tracked["expired"] == {}
    job = queue.pop()
    assert job is not None
    assert client.workers.counts[0] == {"name": "worker-a", "jobs": 1, "stalled": 0}
    assert client.workers["worker-a"] == {"jobs": [jid], "stalled": {}} or client.workers[
        "worker-a"
    ] == {"jobs": [jid], "stalled": []}
    assert client.workers["worker-a"]["jobs"] == [jid]
    job.fail("boom", "it broke")
    failure = _job(client, jid).failure
    assert failure is not None
    assert failure["group"] == "boom" and failure["message"] == "it broke"
    assert set(failure) == {"group", "message", "when", "worker"}
    history = _job(client, jid).history
    assert [entry["what"] for entry in history] == ["put", "popped", "failed"]
    assert history[0]["queue"] == "q"


def test_pages_iterate_their_jids_and_read_as_dicts(client: reqless.Client) -> None:
    queue = client.queues["q"]
    jids = [queue.put(JOB, {}, tags=["t"]) for _ in range(3)]
    page = client.jobs.tagged("t", limit=2)
    assert len(page) == 2 and set(page) < set(jids) and page.jids[0] in page
    assert page["total"] == 3 and page["jobs"] == list(page) == page.jids
    assert page == {"total": 3, "jobs": page.jids}
    for job in queue.pop(3):
        job.fail("boom", "no")
    failed = client.jobs.failed("boom")
    assert failed["total"] == 3 and sorted(failed) == sorted(jids)
    assert all(isinstance(job, reqless.Job) for job in failed["jobs"])
    assert [job.jid for job in failed["jobs"]] == list(failed)
    assert failed == reqless.JidPage(3, failed.jids)
    assert client.jobs.failed("nobody") == {"total": 0, "jobs": []}


# --------------------------------------------------------------------------- 2. events


def _wait_subscribed(admin: redis.Redis, channel: str) -> None:
    deadline = time.monotonic() + 5
    while not dict(admin.pubsub_numsub(channel)).get(channel, 0):
        assert time.monotonic() < deadline, f"nobody subscribed to {channel}"
        time.sleep(0.01)


def test_on_gives_the_payload_and_on_event_the_event(
    client: reqless.Client, other: reqless.Client
) -> None:
    jid = other.queues["q"].put(JOB, {})
    other.track(jid)
    jids: list[str] = []
    events: list[reqless.Event] = []
    logs: list[str] = []
    client.events.on("popped", jids.append)
    client.events.on_event("popped", events.append)
    client.events.on("log", logs.append)
    with client.events.thread() as listening:
        assert listening is client.events
        assert other.queues["q"].pop() is not None
        other.queues["q"].put(JOB, {})
        deadline = time.monotonic() + 5
        while not (jids and events and logs) and time.monotonic() < deadline:
            time.sleep(0.01)
    assert jids == [jid]
    assert [(event.name, event.jid) for event in events] == [("popped", jid)]
    assert json.loads(logs[0])["event"] == "put"


def test_thread_is_a_started_daemon_that_stops_on_exit(
    client: reqless.Client, other: reqless.Client, admin: redis.Redis
) -> None:
    got: list[str] = []
    client.events.on("put", got.append)
    listener = client.events.thread()
    assert isinstance(listener, threading.Thread) and listener.daemon and listener.is_alive()
    assert dict(admin.pubsub_numsub("ql:put"))["ql:put"] == 1
    jid = other.queues["q"].put(JOB, {})
    other.track(jid)
    other.queues["q"].put(JOB, {}, jid=jid)
    with listener:
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            time.sleep(0.01)
    assert not listener.is_alive()
    assert got == [jid]
    _wait_unsubscribed = dict(admin.pubsub_numsub("ql:put"))["ql:put"]
    assert _wait_unsubscribed == 0


def test_off_removes_and_returns_the_callback(client: reqless.Client) -> None:
    def callback(jid: str) -> None:
        pass

    client.events.on("put", callback)
    assert client.events.off("put") is callback
    assert client.events.off("put") is None
    client.events.on_event("put", print)
    client.events.on("put", callback)
    assert client.events.off("put", callback) is callback
    assert client.events.off("put") is print


def test_unknown_event_names_raise_not_implemented(client: reqless.Client) -> None:
    with pytest.raises(NotImplementedError, match="finished"):
        client.events.on("finished", print)
    with pytest.raises(reqless.UnknownEventError):
        client.events.on_event("finished", print)
    assert issubclass(reqless.UnknownEventError, reqless.ReqlessError)
    assert issubclass(reqless.UnknownEventError, reqless.InvalidArgumentError)


# --------------------------------------------------------------------------- 3. names


def test_modules_of_the_original() -> None:
    assert reqless.job.Job is reqless.Job and reqless.job.RecurringJob is reqless.RecurringJob
    assert reqless.exceptions.LostLockError is reqless.LostLockError
    assert reqless.exceptions.ReqlessError is reqless.ReqlessError
    assert reqless.queue_patterns.QueuePatterns is reqless.QueuePatterns
    assert reqless.logger.logger.name == "reqless"
    pattern = reqless.models.QueuePriorityPattern(["a-*"], should_distribute_fairly=True)
    assert pattern == reqless.PriorityPattern(["a-*"], fairly=True)
    assert (pattern.patterns, pattern.should_distribute_fairly) == (["a-*"], True)
    assert reqless.abstract.AbstractJobProcessor is reqless.AbstractJobProcessor


def test_abstract_classes_cover_ours(client: reqless.Client) -> None:
    jid = client.queues["q"].put(JOB, {})
    assert isinstance(_job(client, jid), reqless.abstract.AbstractJob)
    assert isinstance(client, reqless.abstract.AbstractClient)
    assert isinstance(client.queues["q"], reqless.abstract.AbstractQueue)
    assert isinstance(client.throttles["t"], reqless.abstract.AbstractThrottle)
    assert not isinstance(client.queues["q"], reqless.abstract.AbstractJob)


def test_client_names(server: Server, driver_name: str) -> None:
    with reqless.Client(server.url, driver=driver_name, hostname="box-1") as client:
        assert client.worker_name == "box-1"
        assert client.database.ping() is True
        module = type(client.database).__module__
        assert module.split(".")[0] == driver_name
        jid = client.queues["q"].put(JOB, {})
        assert client.track(jid) is True and _job(client, jid).tracked
        assert client.untrack(jid) is True and not _job(client, jid).tracked
        job = client.queues["q"].pop()
        assert job is not None
        job.fail("boom", "x")
        assert client.unfail("boom", "again") == 1
        assert _job(client, jid).queue_name == "again"


def test_job_and_recurring_names(client: reqless.Client, clock: Clock) -> None:
    jid = client.queues["q"].put(JOB, {}, retries=3)
    job = client.queues["q"].pop()
    assert job is not None
    assert job.retry() == 2
    again = _job(client, jid)
    assert (again.original_retries, again.retries_left) == (3, 2)
    assert repr(again) == f"<reqless.job.Job {jid}>"
    rjid = client.queues["q"].recur(JOB, {}, 60, offset=30)
    recurring = client.jobs[rjid]
    assert isinstance(recurring, reqless.RecurringJob)
    assert recurring.next == clock.now + 30
    recurring.cancel()
    assert recurring.next is None


def test_queue_heartbeat_and_requeue(client: reqless.Client, clock: Clock) -> None:
    queue = client.queues["q"]
    assert queue.heartbeat == 60
    client.config["heartbeat"] = 30
    assert queue.heartbeat == 30
    queue.heartbeat = 10
    assert queue.heartbeat == 10 and client.config["q-heartbeat"] == 10
    assert client.queues["other"].heartbeat == 30
    jid = queue.put(JOB, {})
    job = queue.pop()
    assert job is not None and job.expires_at == clock.now + 10
    assert client.queues["next"].requeue(JOB, {"n": 2}, jid=jid, throttles=["t"]) == jid
    moved = _job(client, jid)
    assert (moved.queue_name, moved.state, moved.payload) == ("next", "waiting", {"n": 2})
    assert "t" in moved.throttles
    with pytest.raises(reqless.JobNotFoundError):
        queue.requeue(JOB, {}, jid="missing")


def test_throttle_reads_as_properties_and_methods(client: reqless.Client) -> None:
    throttle = client.throttles["t"]
    throttle.set_maximum(3, 100)
    # Typed as the properties they are; called as reqless-py's methods all the same.
    assert throttle.maximum == 3 and throttle.maximum() == 3  # type: ignore[operator]
    assert 0 < throttle.ttl() <= 100 and throttle.ttl == throttle.ttl()  # type: ignore[operator]
    throttle.set_maximum(None)
    assert throttle.maximum() == 0  # type: ignore[operator]
    throttle.set_maximum(2, None)
    assert throttle.maximum == 2


def test_queue_patterns_by_the_original_names(client: reqless.Client) -> None:
    patterns = client.queue_patterns
    patterns.set_queue_identifier_patterns({"batch": ["batch-*"]})
    assert patterns.get_queue_identifier_patterns()["batch"] == ["batch-*"]
    patterns.set_queue_priority_patterns([reqless.models.QueuePriorityPattern(["urgent"], True)])
    got = patterns.get_queue_priority_patterns()
    assert (got[0].patterns, got[0].should_distribute_fairly) == (["urgent"], True)


def test_retry_decorator_retries_on_the_named_errors(client: reqless.Client) -> None:
    process = processors.Flaky.process
    assert process.__name__ == "process" and process.__doc__ == "Talks to a flaky service."
    klass = "tests.client.compat.processors.Flaky"
    flaky = client.queues["q"].put(klass, {"flaky": True}, retries=2)
    broken = client.queues["q"].put(klass, {})
    for job in client.queues["q"].pop(2):
        job.process()
    retried = _job(client, flaky)
    assert (retried.state, retried.retries_left) == ("waiting", 1)
    failed = _job(client, broken)
    assert failed.state == "failed" and failed.failure is not None
    assert failed.failure["group"] == "q-KeyError"


# --------------------------------------------------------------------------- 4. config


def test_config_values_are_decoded(client: reqless.Client) -> None:
    assert client.config["heartbeat"] == 60 and client.config.get("heartbeat") == 60
    assert client.config.get("nope") is None
    client.config["ratio"] = 0.5
    client.config["name"] = "text"
    assert client.config["ratio"] == 0.5 and client.config["name"] == "text"
    assert dict(client.config)["grace-period"] == 10
    assert "ratio" in client.config and len(client.config) == len(client.config.all)


# --------------------------------------------------------------------------- 5. processors


@pytest.mark.parametrize(
    ("klass", "queue", "data", "seen"),
    [
        ("ByTypeArgument", "q", {"width": 2, "height": 3}, ("process", Size(2, 3))),
        ("ByAnnotation", "q", {"width": 2, "height": 3}, ("process", Size(2, 3))),
        ("ByAnnotation", "resize", {"width": 1, "height": 1}, ("resize", Size(1, 1))),
        ("Explicit", "q", '"4,5"', ("Explicit", Point(4, 5))),
        ("Explicit", "plain", '"6,7"', ("plain", Point(6, 7))),
        ("Model", "q", {"name": "n"}, ("process", "n")),
    ],
)
def test_processing_methods_get_the_data_decoded(
    client: reqless.Client, klass: str, queue: str, data: Any, seen: tuple[str, Any]
) -> None:
    SEEN.clear()
    jid = client.queues[queue].put(f"tests.client.compat.processors.{klass}", data)
    job = client.queues[queue].pop()
    assert job is not None
    job.process()
    assert [(seen[0], jid, seen[1])] == SEEN
    assert _job(client, jid).state == "complete"


def test_data_objects_are_accepted_as_data(client: reqless.Client) -> None:
    SEEN.clear()
    queue = client.queues["q"]
    jid = queue.put(JOB, Size(8, 9))
    assert _job(client, jid).payload == {"width": 8, "height": 9}
    other = queue.put("tests.client.compat.processors.Explicit", Point(1, 2))
    assert _job(client, other).data == '"1,2"'
    model = queue.put("tests.client.compat.processors.Model", processors.Validated("m"))
    assert _job(client, model).payload == {"name": "m"}
    for job in queue.pop(3):
        job.process()
    seen = [entry[2] for entry in SEEN]
    assert len(seen) == 3 and Size(8, 9) in seen and Point(1, 2) in seen and "m" in seen


def test_the_worker_s_call_of_the_method_decodes_too(client: reqless.Client) -> None:
    SEEN.clear()
    jid = client.queues["q"].put(JOB, {"width": 5, "height": 6})
    job = client.queues["q"].pop()
    assert job is not None
    # What a worker does: the class's method for the queue (or process), called with the job.
    target = getattr(job.klass, job.queue_name, None) or getattr(job.klass, "process")  # noqa: B009
    target(job)
    assert [("process", jid, Size(5, 6))] == SEEN
    # Called with the data, the method takes it as given.
    jid = client.queues["q"].put(JOB, {"width": 5, "height": 6})
    job = client.queues["q"].pop()
    assert job is not None
    processors.ByTypeArgument.process(job, Size(0, 0))
    assert SEEN[-1] == ("process", jid, Size(0, 0))


def test_bad_data_fails_the_job_naming_the_error(client: reqless.Client) -> None:
    jid = client.queues["q"].put(JOB, {"width": 1})
    job = client.queues["q"].pop()
    assert job is not None
    job.process()
    failed = _job(client, jid)
    assert failed.state == "failed" and failed.failure is not None
    assert failed.failure["group"] == "q-TypeError" and "height" in failed.failure["message"]
    model = client.queues["q"].put("tests.client.compat.processors.Model", {"name": 1})
    job = client.queues["q"].pop()
    assert job is not None
    job.process()
    assert _job(client, model).failure == {
        "group": "q-ValueError", "message": _job(client, model).failure.message,  # type: ignore[union-attr]
        "when": _job(client, model).failure.when, "worker": "worker-a",  # type: ignore[union-attr]
    }  # fmt: skip


def test_a_processor_without_a_data_class_says_how_to_name_one() -> None:
    class Nameless(reqless.AbstractJobProcessor[Any]):
        @staticmethod
        def process(job: Any) -> None:
            pass

    with pytest.raises(reqless.InvalidArgumentError, match="names no data class"):
        Nameless.data_class()


def test_pydantic_models_are_job_data(client: reqless.Client) -> None:
    SEEN.clear()
    jid = client.queues["q"].put(
        "tests.client.compat.processors.PydanticProcessor",
        processors.PydanticSize(width=1, height=2),
    )
    job = client.queues["q"].pop()
    assert job is not None
    job.process()
    assert SEEN[0][2].width == 1 and _job(client, jid).state == "complete"


# --------------------------------------------------------------------------- 7. queues


def test_queue_specs_resolve_as_the_original(client: reqless.Client) -> None:
    for name in ("batch-1", "urgent", "batch-2", "web"):
        client.queues[name].put(JOB, {})
    client.queue_patterns.set_identifiers({"batch": ["batch-*"]})
    resolve = client.queue_patterns.resolve
    assert resolve("*", "!@batch") == ["urgent", "web"]
    assert resolve("urgent", "batch-*") == ["urgent", "batch-1", "batch-2"]
    assert resolve("batch-*", "urgent") == ["batch-1", "batch-2", "urgent"]
    assert resolve("fresh", "batch-*") == ["fresh", "batch-1", "batch-2"]
    assert resolve("fresh", "!fresh", "web") == ["web"]


def test_the_worker_s_queue_selector_uses_that_resolution(client: reqless.Client) -> None:
    from reqless_worker._child import QueueSelector

    for name in ("batch-1", "urgent", "batch-2"):
        client.queues[name].put(JOB, {})
    client.queue_patterns.set_identifiers({"batch": ["batch-*"]})
    assert QueueSelector(client, ("urgent", "batch-*", "fresh")).names() == [
        "urgent", "batch-1", "batch-2", "fresh",
    ]  # fmt: skip
    assert QueueSelector(client, ("*", "!@batch")).names() == ["urgent"]


# --------------------------------------------------------------------------- 8. now


@pytest.mark.parametrize(
    ("now", "sent"),
    [(1700000000.0, "1700000000.000"), (1700000000.123, "1700000000.123"),
     (1700000000.9996, "1700000000.999"), (1700000000.0009, "1700000000.000"),
     (1700000000, "1700000000.000"), (0.5, "0.500")],
)  # fmt: skip
def test_now_is_rounded_down(now: float, sent: str) -> None:
    assert format_now(now) == sent


def test_a_lock_never_outlasts_the_heartbeat(client: reqless.Client, clock: Clock) -> None:
    clock.now = 1700000000.9996
    jid = client.queues["q"].put(JOB, {}, priority=1)  # the general path
    job = client.queues["q"].pop()
    assert job is not None
    assert job.expires_at == 1700000060.999 and 0 < job.ttl <= 60
    assert _job(client, jid).history[0]["when"] == 1700000000


def test_the_plain_put_path_rounds_down_too(server: Server, driver_name: str) -> None:
    with reqless.Client(server.url, driver=driver_name) as client:
        writer = client._put_writer("q")
        if writer is None:
            pytest.skip("this driver takes no packed puts")
        writer._nanoseconds = lambda: 1_700_000_000_999_600_000
        jid = client.queues["q"].put(JOB, {})
        assert _job(client, jid).history[0]["when"] == 1700000000
