"""``client.events``: callbacks on the core's channels, stopped from anywhere."""

from __future__ import annotations

import threading

import pytest

import reqless
from tests.client.api.jobs_for_tests import Plain


class Recorder:
    """A callback that keeps what it got and stops the listener after ``stop_after`` events."""

    def __init__(self, events: reqless.Events, stop_after: int = 1) -> None:
        self.events = events
        self.stop_after = stop_after
        self.got: list[reqless.Event] = []

    def __call__(self, event: reqless.Event) -> None:
        self.got.append(event)
        if len(self.got) >= self.stop_after:
            self.events.stop()


def test_log_events_reach_the_callback(client: reqless.Client, other: reqless.Client) -> None:
    recorder = Recorder(client.events)
    client.events.on_event("log", recorder)
    with client.events as events:
        jid = other.queues["q"].put(Plain, {})
        events.listen(timeout=5)
    assert [(e.name, e.kind, e.jid) for e in recorder.got] == [("log", "put", jid)]
    assert recorder.got[0].payload == {"jid": jid, "event": "put", "queue": "q"}


def test_tracked_job_channels_carry_the_jid(client: reqless.Client, other: reqless.Client) -> None:
    jid = other.queues["q"].put(Plain, {})
    tracked = other.jobs[jid]
    assert isinstance(tracked, reqless.Job)
    tracked.track()
    recorder = Recorder(client.events, stop_after=2)
    client.events.on_event("popped", recorder)
    client.events.on_event("completed", recorder)
    with client.events as events:
        job = other.queues["q"].pop()
        assert job is not None
        job.complete()
        events.listen(timeout=5)
    assert [(e.name, e.kind, e.jid) for e in recorder.got] == [
        ("popped", "popped", jid),
        ("completed", "completed", jid),
    ]


def test_stop_from_another_thread_ends_listen(client: reqless.Client) -> None:
    client.events.on_event("log", lambda event: None)
    listener = threading.Thread(target=client.events.listen)
    listener.start()
    client.events.stop()
    listener.join(timeout=5)
    assert not listener.is_alive()


def test_off_then_on_again_still_delivers(client: reqless.Client, other: reqless.Client) -> None:
    first = Recorder(client.events)
    client.events.on_event("log", first)
    client.events.off("log")
    second = Recorder(client.events)
    client.events.on_event("log", second)
    with client.events as events:
        other.queues["q"].put(Plain, {})
        events.listen(timeout=5)
        assert first.got == [] and len(second.got) == 1
        events.off("log")
        third = Recorder(events)
        events.on_event("log", third)
        other.queues["q"].put(Plain, {})
        events.listen(timeout=5)
    assert len(third.got) == 1 and len(second.got) == 1


def test_moving_a_running_job_notifies_its_worker(
    client: reqless.Client, other: reqless.Client
) -> None:
    jid = client.queues["q"].put(Plain, {})
    job = client.queues["q"].pop()
    assert job is not None
    recorder = Recorder(client.events)
    client.events.on_event(f"w:{client.worker_name}", recorder)
    with client.events as events:
        theirs = other.jobs[jid]
        assert isinstance(theirs, reqless.Job)
        theirs.move("elsewhere")
        events.listen(timeout=5)
    assert [(e.kind, e.jid) for e in recorder.got] == [("lock_lost", jid)]
    assert recorder.got[0].payload["worker"] == "worker-a"
    with pytest.raises(reqless.LostLockError):
        job.complete()


def test_requeueing_a_running_job_notifies_its_worker(
    client: reqless.Client, other: reqless.Client
) -> None:
    jid = client.queues["q"].put(Plain, {})
    assert client.queues["q"].pop() is not None
    recorder = Recorder(client.events)
    client.events.on_event("w:worker-a", recorder)
    with client.events as events:
        other.queues["q"].put(Plain, {}, jid=jid)
        events.listen(timeout=5)
    assert [(e.kind, e.jid) for e in recorder.got] == [("lock_lost", jid)]


def test_a_failing_callback_does_not_stop_the_others(
    client: reqless.Client, other: reqless.Client, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: reqless.Event) -> None:
        raise RuntimeError("observer bug")

    recorder = Recorder(client.events)
    client.events.on_event("log", broken)
    client.events.on_event("log", recorder)
    with client.events as events:
        other.queues["q"].put(Plain, {})
        events.listen(timeout=5)
    assert len(recorder.got) == 1
    assert "observer bug" in caplog.text


def test_unknown_event_names_are_refused(client: reqless.Client) -> None:
    with pytest.raises(reqless.InvalidArgumentError, match="unknown event"):
        client.events.on("finished", lambda event: None)
