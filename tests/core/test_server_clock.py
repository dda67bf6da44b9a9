"""``FCALL reqless_server_clock``: any core command, with ``now`` from the server's clock.

A command pipelined behind a blocking one (a pop waiting for work) runs long
after it was written, so its writer cannot know ``now``; the library's second
entry point fills it in from ``TIME``, to the millisecond, as clients send it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis

from tests.conftest import Server
from tests.core.conftest import _load_build_module


@pytest.fixture
def library(server: Server) -> Iterator[redis.Redis]:
    connection = server.client(decode_responses=True)
    connection.function_load(_load_build_module().function_library(), replace=True)
    yield connection
    connection.close()


def server_now(connection: redis.Redis) -> float:
    seconds, micros = connection.time()
    return float(seconds) + micros / 1_000_000


def test_a_command_runs_at_the_servers_time(library: redis.Redis) -> None:
    before = server_now(library)
    library.fcall("reqless_server_clock", 0, "queue.put", "me", "q", "jid-1", "K", "{}", 0)
    after = server_now(library)
    job = json.loads(library.fcall("reqless", 0, "job.get", 0, "jid-1"))
    put = job["history"][0]
    assert put["what"] == "put"
    # History keeps whole seconds.
    assert int(before) <= put["when"] <= after


def test_a_pop_sent_before_its_put_is_stamped_after_it(library: redis.Redis) -> None:
    # As when the pop waited behind a blocking command: written first, run later.
    library.fcall("reqless", 0, "queue.put", server_now(library), "me", "q", "jid-1", "K", "{}", 0)
    popped = json.loads(library.fcall("reqless_server_clock", 0, "queue.pop", "q", "worker", 1))
    assert [job["jid"] for job in popped] == ["jid-1"]
    history = json.loads(library.fcall("reqless", 0, "job.get", 0, "jid-1"))["history"]
    assert [entry["what"] for entry in history] == ["put", "popped"]
    assert history[1]["when"] >= history[0]["when"]


def test_its_errors_are_the_cores(library: redis.Redis) -> None:
    with pytest.raises(redis.exceptions.ResponseError, match="Unknown command"):
        library.fcall("reqless_server_clock", 0, "no.such.command")
