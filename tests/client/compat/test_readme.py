# mypy: disable-error-code="no-untyped-def, attr-defined, union-attr"
# ruff: noqa: ANN001, ANN202, B007, B018 - the README's code, as its users write it
"""Every code example of reqless-py's README, run unchanged against this client.

Each test runs one example as its users wrote it (between the ``# --- README``
markers), with only the setup around it (a ``client``/``queue`` on the test
server, the README's literal jids put first), then checks what it did on the
server. The worker-running examples are not here (the in-process worker is
tested with the worker). Two examples need more than setup, said where they
are: the put loop's ``"{"}`` is a typo for ``"{}"`` (it is not Python), and
``recur(..., ...)`` leaves the class and data to the reader.
"""

from __future__ import annotations

import json
import threading
import time
from types import ModuleType

import pytest
import redis

import reqless
from tests.client.conftest import Clock
from tests.conftest import Server

EXAMPLE_JID = "83da4d32a0a811e1933012313b062cf1"
TRACK_JID = "b1882e009a3d11e192d0b174d751779d"


@pytest.fixture
def gnomes_module(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``import gnomes``; the README also spells it ``reqless.gnomes``."""
    import gnomes  # type: ignore[import-not-found]

    monkeypatch.setattr(reqless, "gnomes", gnomes, raising=False)
    module: ModuleType = gnomes
    return module


def _pop_and_process(client: reqless.Client, queue: str) -> reqless.Job:
    job = client.queues[queue].pop()
    assert job is not None, f"nothing to pop in {queue!r}"
    job.process()
    return job


def test_pipeline_of_methods_per_queue(client: reqless.Client, gnomes_module: ModuleType) -> None:
    # --- README: "import gnomes" ... "queue.put(gnomes.GnomesJob, ...)"
    queue = client.queues["underpants"]
    import gnomes

    for i in range(3):
        queue.put(gnomes.GnomesJob, "{}")  # README: "{"} (a typo)
    # --- end
    assert client.queues["underpants"].counts["waiting"] == 3
    jid = _pop_and_process(client, "underpants").jid
    _pop_and_process(client, "unknown")
    _pop_and_process(client, "profit")
    done = client.jobs[jid]
    assert isinstance(done, reqless.Job) and done.state == "complete"
    assert done.history[-1]["what"] == "done"
    assert [entry["queue"] for entry in done.history if entry["what"] == "put"] == [
        "underpants", "unknown", "profit",
    ]  # fmt: skip


def test_put_by_class_path(client: reqless.Client) -> None:
    queue = client.queues["underpants"]
    # --- README
    for i in range(1000):
        queue.put("gnomes.GnomesJob", {})
    # --- end
    assert client.queues.counts[0]["waiting"] == 1000
    assert _pop_and_process(client, "underpants").klass_name == "gnomes.GnomesJob"
    assert client.queues["unknown"].counts["waiting"] == 1


@pytest.mark.parametrize(
    ("queue_name", "next_queue", "state"),
    [("underpants", "underpants", "waiting"), ("unknown", "profit", "waiting"),
     ("profit", None, "complete"), ("elsewhere", None, "failed")],
)  # fmt: skip
def test_single_process_method(
    client: reqless.Client, queue_name: str, next_queue: str | None, state: str
) -> None:
    jid = client.queues[queue_name].put("gnomes.AltGnomesJob", {})
    _pop_and_process(client, queue_name)
    job = client.jobs[jid]
    assert isinstance(job, reqless.Job)
    assert job.state == state
    if next_queue is not None:
        assert job.queue_name == next_queue
    if state == "failed":
        assert job.failure is not None
        assert job.failure["group"] == "unknown-stage"
        assert job.failure["message"] == "What what?"


def test_job_data_is_json_text(client: reqless.Client) -> None:
    jid = client.queues["underpants"].put("gnomes.DataGnomesJob", {"count": 1})
    _pop_and_process(client, "underpants")
    job = client.jobs[jid]
    assert isinstance(job, reqless.Job) and job.queue_name == "unknown"
    # The README's method stores json.dumps(job.data): the old text, as a JSON string.
    assert json.loads(job.data) == '{"count":1}'


def test_connecting(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQLESS_URL", server.url)
    # --- README
    # Connecting to localhost on 6379
    client = reqless.Client()
    # Connecting to a remote machine
    client = reqless.Client("redis://foo.bar.com:1234")
    # --- end
    assert client.settings.url.startswith("redis://foo.bar.com:1234")
    with reqless.Client() as near:
        assert near.queues["q"].put("gnomes.GnomesJob", {})
        assert near.settings.url == server.url


def test_priority(client: reqless.Client, gnomes_module: ModuleType) -> None:
    queue = client.queues["underpants"]
    queue.put("gnomes.GnomesJob", {}, jid=EXAMPLE_JID)
    # --- README
    queue.put(reqless.gnomes.GnomesJob, '{"address": "123 Brief St."}', priority = 10)  # fmt: skip
    # --- end
    first = queue.peek()
    assert first is not None and first.priority == 10
    assert first.data == '{"address": "123 Brief St."}'
    # --- README
    job = client.jobs["83da4d32a0a811e1933012313b062cf1"]
    job.priority = 25
    # --- end
    fresh = client.jobs[EXAMPLE_JID]
    assert fresh is not None and fresh.priority == 25
    popped = queue.pop()
    assert popped is not None and popped.jid == EXAMPLE_JID


def test_scheduled_work(client: reqless.Client, clock: Clock, gnomes_module: ModuleType) -> None:
    queue = client.queues["underpants"]
    # --- README
    queue.put(reqless.gnomes.GnomesJob, {}, delay=3600)
    queue.put(reqless.gnomes.GnomesJob, {}, delay=3600, priority=100)
    # --- end
    assert queue.counts["scheduled"] == 2
    assert queue.pop() is None
    clock.advance(3600)
    # The core makes only as many scheduled jobs ready as a pop asks for: ask for both.
    assert [job.priority for job in queue.pop(2)] == [100, 0]


def test_recurring_jobs(client: reqless.Client, clock: Clock) -> None:
    from gnomes import myJob

    # --- README
    client.queues["maintenance"].recur(
        myJob, '{"tasks": ["sweep", "mop", "scrub"]}', interval=60 * 60 * 24
    )
    # --- end
    spawned = client.queues["maintenance"].pop()
    assert spawned is not None
    assert json.loads(spawned.data) == {"tasks": ["sweep", "mop", "scrub"]}
    assert client.queues["maintenance"].pop() is None
    # README: recur(..., interval=86400, offset=3600), the class and data left to the reader.
    jid = client.queues["maintenance"].recur(myJob, "{}", interval=86400, offset=3600)
    template = client.jobs[jid]
    assert isinstance(template, reqless.RecurringJob)
    assert template.next == clock.now + 3600


def test_recurring_job_attributes(client: reqless.Client) -> None:
    client.queues["maintenance"].recur("gnomes.myJob", {}, 3600, jid=EXAMPLE_JID, tags=["hello"])
    # --- README
    job = client.jobs["83da4d32a0a811e1933012313b062cf1"]
    job.priority = 20
    job.tag("foo", "bar")
    job.untag("hello")
    job.interval = 7200
    # --- end
    fresh = client.jobs[EXAMPLE_JID]
    assert isinstance(fresh, reqless.RecurringJob)
    assert (fresh.priority, fresh.tags, fresh.interval) == (20, ["foo", "bar"], 7200)


def test_recurring_backlog(client: reqless.Client, clock: Clock) -> None:
    queue = client.queues["maintenance"]
    # --- README (the class left to the reader)
    # Recur every minute
    queue.recur("gnomes.myJob", '{"lots": "of jobs"}', 60)
    # Wait 5 minutes
    clock.advance(5 * 60 - 1)
    # --- end: the first job spawns at once, then one a minute, so just under 5 minutes
    assert len(queue.pop(10)) == 5


def test_configuration(client: reqless.Client) -> None:
    # --- README
    client.config["jobs-history"] = 7 * 86400
    client.config["jobs-history-count"] = 500
    # --- end
    assert client.config["jobs-history"] == 604800
    assert client.config["jobs-history-count"] == 500


def test_tracking(client: reqless.Client, other: reqless.Client) -> None:
    other.queues["q"].put("gnomes.GnomesJob", {}, jid=TRACK_JID)
    # --- README
    client.jobs["b1882e009a3d11e192d0b174d751779d"].track()
    # --- end
    tracked = client.jobs.tracked()
    assert [job.jid for job in tracked["jobs"]] == [TRACK_JID]
    assert tracked["expired"] == {}


def test_tagging(client: reqless.Client, gnomes_module: ModuleType) -> None:
    queue = client.queues["q"]
    # --- README
    queue.put(reqless.gnomes.GnomesJob, '{"tags": "aplenty"}', tags=["12345", "foo", "bar"])
    jids = client.jobs.tagged("foo")
    # --- end
    assert len(jids) == 1 and jids["total"] == 1
    [jid] = jids
    assert jids["jobs"] == [jid]
    queue.put("gnomes.GnomesJob", {}, jid=TRACK_JID, tags=["foo"])
    # --- README
    job = client.jobs["b1882e009a3d11e192d0b174d751779d"]
    job.tag("howdy", "hello")
    job.untag("foo", "bar")
    # --- end
    fresh = client.jobs[TRACK_JID]
    assert fresh is not None and fresh.tags == ["howdy", "hello"]
    assert list(client.jobs.tagged("foo")) == [jid]


def test_dependencies(client: reqless.Client) -> None:
    from gnomes import myJob

    # --- README
    eggs_jid = client.queues["buy_eggs"].put(myJob, '{"count": 12}')
    pan_jid = client.queues["buy_pan" ].put(myJob, '{"coating": "non-stick"}')  # fmt: skip
    client.queues["omelete"].put(
        myJob, '{"toppings": ["onions", "ham"]}', depends=[eggs_jid, pan_jid]
    )
    # --- end
    assert client.queues["omelete"].counts["depends"] == 1
    assert client.queues["omelete"].pop() is None
    _pop_and_process(client, "buy_eggs")
    _pop_and_process(client, "buy_pan")
    omelete = client.queues["omelete"].pop()
    assert omelete is not None and sorted(omelete.dependencies) == []


def _wait_subscribed(admin: redis.Redis, channel: str) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if dict(admin.pubsub_numsub(channel)).get(channel, 0):
            return
        time.sleep(0.01)
    raise AssertionError(f"nobody subscribed to {channel}")


def test_notifications(
    client: reqless.Client,
    other: reqless.Client,
    admin: redis.Redis,
    capsys: pytest.CaptureFixture[str],
) -> None:
    jid = other.queues["q"].put("gnomes.GnomesJob", {})
    other.track(jid)

    def users_code() -> None:
        # --- README
        def callback(evt, jid):
            print("%s => %s" % (jid, evt))  # noqa: UP031 - the README's code

        from functools import partial

        for evt in [
            "canceled",
            "completed",
            "failed",
            "popped",
            "put",
            "stalled",
            "track",
            "untrack",
        ]:
            client.events.on(evt, partial(callback, evt))
        client.events.listen()
        # --- end

    listener = threading.Thread(target=users_code)
    listener.start()
    printed = ""
    try:
        _wait_subscribed(admin, "ql:untrack")
        job = other.queues["q"].pop()
        assert job is not None
        job.complete()
        other.untrack(jid)
        deadline = time.monotonic() + 5
        while "untrack" not in printed and time.monotonic() < deadline:
            time.sleep(0.01)
            printed += capsys.readouterr().out
    finally:
        client.events.stop()
        listener.join(5)
    assert not listener.is_alive()
    assert printed.splitlines() == [
        f"{jid} => popped", f"{jid} => completed", f"{jid} => untrack",
    ]  # fmt: skip


def test_retries(client: reqless.Client, gnomes_module: ModuleType) -> None:
    queue = client.queues["q"]
    # --- README
    queue.put(reqless.gnomes.GnomesJob, "{}", retries=10)
    # --- end
    job = queue.peek()
    assert job is not None and job.retries == 10 and job.original_retries == 10


def test_popping(client: reqless.Client) -> None:
    queue = client.queues["q"]
    queue.put_many([("gnomes.GnomesJob", {})] * 25)
    # --- README
    # Get a single job
    job = queue.pop()
    # Get 20 jobs
    jobs = queue.pop(20)
    # --- end
    assert isinstance(job, reqless.Job) and len(jobs) == 20
    assert queue.counts["running"] == 21 and queue.counts["waiting"] == 4


def test_leases(client: reqless.Client, clock: Clock) -> None:
    queue = client.queues["q"]
    for _ in range(3):
        queue.put("gnomes.GnomesJob", {})
    job = queue.pop()
    assert job is not None
    # --- README
    # When I have to heartbeat / complete it by (seconds since epoch)
    job.expires_at
    # How long until it expires
    job.ttl
    # --- end
    assert job.expires_at == clock.now + 60 and job.ttl == 60
    clock.advance(30)
    # --- README
    # I call stay-offsies!
    job.heartbeat()
    # I'm done!
    job.complete()
    # --- end
    assert job.expires_at == clock.now + 60
    job = queue.pop()
    assert job is not None
    # --- README
    # I'm done with this step, but need to go into another queue
    job.complete("anotherQueue")
    # --- end
    assert client.queues["anotherQueue"].counts["waiting"] == 1
    assert client.queues["q"].counts["waiting"] == 1


def test_stats(client: reqless.Client, clock: Clock) -> None:
    queue = client.queues["q"]
    queue.put("gnomes.GnomesJob", {})
    clock.advance(2)
    job = queue.pop()
    assert job is not None
    clock.advance(3)
    job.complete()
    stats = queue.stats()
    assert stats["wait"]["count"] == 1 and stats["wait"]["mean"] == 2
    assert stats["run"]["count"] == 1 and stats["run"]["mean"] == 3
    assert stats["failed"] == 0 and stats["retries"] == 0
    assert set(stats) == {"retries", "failed", "failures", "wait", "run"}
