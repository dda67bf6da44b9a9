"""The event stream, read over a real socket from the app under uvicorn.

Starlette's TestClient waits for a response to end, and an event stream never
does, so these tests serve the app for real on a free loopback port.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis
import uvicorn

import reqless
from reqless_web import create_app
from tests.conftest import Server
from tests.web.api.conftest import KLASS

READ_TIMEOUT = 10.0


@dataclass
class Event:
    name: str
    data: Any


class Stream:
    """The events of one open ``GET /api/v1/events``, parsed as they arrive."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines

    def next(self) -> Event:
        name, data = None, None
        for line in self._lines:
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data = json.loads(line[len("data: ") :])
            elif line == "" and name is not None:
                return Event(name, data)
        raise AssertionError("the stream ended")

    def until(self, predicate: Callable[[Event], bool]) -> Event:
        deadline = time.monotonic() + READ_TIMEOUT
        while time.monotonic() < deadline:
            event = self.next()
            if predicate(event):
                return event
        raise AssertionError("no matching event in time")


Serve = Callable[..., str]


@pytest.fixture
def serve(server: Server) -> Iterator[Serve]:
    """Start the app for ``server`` under uvicorn; returns its base URL."""
    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(**options: Any) -> str:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        app = create_app(server.url, **options)
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        instance = uvicorn.Server(config)
        thread = threading.Thread(target=instance.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not instance.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        running.append((instance, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for instance, thread in running:
        instance.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def open_stream(base: str, **headers: str) -> Iterator[Stream]:
    timeout = httpx.Timeout(READ_TIMEOUT)
    with httpx.stream("GET", f"{base}/api/v1/events", headers=headers, timeout=timeout) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        yield Stream(resp.iter_lines())


def subscribers(server: Server, channel: str) -> int:
    client: redis.Redis = server.client()
    counts = dict(client.pubsub_numsub(channel))
    return int(counts.get(channel.encode(), 0))


def test_the_stream_opens_with_a_counts_snapshot(serve: Serve, rq: reqless.Client) -> None:
    rq.queues["mail"].put(KLASS, {})
    with open_stream(serve(auth="none")) as stream:
        first = stream.next()
        assert first.name == "counts"
        assert first.data["queues"][0]["name"] == "mail"
        assert first.data["queues"][0]["waiting"] == 1
        assert first.data["failures"] == {}


def test_a_put_reaches_the_stream_as_it_happens(
    serve: Serve, rq: reqless.Client, server: Server
) -> None:
    with open_stream(serve(auth="none")) as stream:
        stream.next()
        deadline = time.monotonic() + READ_TIMEOUT
        while subscribers(server, "ql:log") == 0:
            assert time.monotonic() < deadline, "the hub never subscribed"
            time.sleep(0.02)
        jid = rq.queues["mail"].put(KLASS, {"<b>": "</script>"})
        event = stream.until(lambda e: e.name == "put")
        assert event.data["jid"] == jid
        assert event.data["queue"] == "mail"
        assert event.data["channel"] == "log"


def test_tracked_jobs_report_on_their_own_channels(
    serve: Serve, rq: reqless.Client, server: Server
) -> None:
    jid = rq.queues["mail"].put(KLASS, {})
    with open_stream(serve(auth="none")) as stream:
        stream.next()
        deadline = time.monotonic() + READ_TIMEOUT
        while subscribers(server, "ql:track") == 0:
            assert time.monotonic() < deadline, "the hub never subscribed"
            time.sleep(0.02)
        rq.jobs[jid].track()  # type: ignore[union-attr]
        event = stream.until(lambda e: e.name == "track")
        assert event.data == {"channel": "track", "jid": jid, "event": "track"}


def test_counts_snapshots_repeat_every_refresh_period(serve: Serve, rq: reqless.Client) -> None:
    with open_stream(serve(auth="none", refresh=0.2)) as stream:
        assert stream.next().data["queues"] == []
        rq.queues["mail"].put(KLASS, {})
        later = stream.until(lambda e: e.name == "counts" and bool(e.data["queues"]))
        assert later.data["queues"][0]["waiting"] == 1


def test_the_subscription_ends_with_the_last_listener(serve: Serve, server: Server) -> None:
    base = serve(auth="none")
    with open_stream(base) as stream:
        stream.next()
        deadline = time.monotonic() + READ_TIMEOUT
        while subscribers(server, "ql:log") == 0:
            assert time.monotonic() < deadline, "the hub never subscribed"
            time.sleep(0.02)
    deadline = time.monotonic() + READ_TIMEOUT
    while subscribers(server, "ql:log") != 0:
        assert time.monotonic() < deadline, "the hub kept its subscription"
        time.sleep(0.05)


def test_the_stream_needs_credentials_when_auth_is_on(serve: Serve) -> None:
    base = serve(auth="basic", users="vera:pw:viewer")
    assert httpx.get(f"{base}/api/v1/events", timeout=READ_TIMEOUT).status_code == 401
    with open_stream(base, authorization="Basic dmVyYTpwdw==") as stream:
        assert stream.next().name == "counts"


def test_a_user_may_hold_only_so_many_event_streams(serve: Serve) -> None:
    base = serve(auth="basic", users="vera:pw:viewer,otto:pw:viewer", max_event_streams=2)
    vera = {"authorization": "Basic dmVyYTpwdw=="}
    otto = {"authorization": "Basic b3R0bzpwdw=="}
    with open_stream(base, **vera) as first, open_stream(base, **vera) as second:
        first.next()
        second.next()
        third = httpx.get(f"{base}/api/v1/events", headers=vera, timeout=READ_TIMEOUT)
        assert third.status_code == 429
        assert "at most 2 event streams" in third.json()["error"]
        # Another user has streams of their own.
        with open_stream(base, **otto) as others:
            assert others.next().name == "counts"
    # Closed streams are given back.
    deadline = time.monotonic() + READ_TIMEOUT
    while True:
        again = httpx.stream("GET", f"{base}/api/v1/events", headers=vera, timeout=READ_TIMEOUT)
        with again as response:
            if response.status_code == 200:
                break
        assert time.monotonic() < deadline, "the closed streams were never given back"
        time.sleep(0.05)
