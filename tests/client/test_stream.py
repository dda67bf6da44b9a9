"""Streamed batches: one command per item, written in chunks while the rest are packed.

``CoreScript.call_each`` (what ``put_many`` uses) must answer exactly as
``call_many`` would: replies in order, errors in place, one ``now``, recovery
when the core vanished, and a lost connection retried on the library's path.
"""

from __future__ import annotations

import pytest
import redis

from reqless import CoreScript, InvalidArgumentError, JobNotFoundError
from reqless.drivers import Arg, Driver, StreamingDriver, _internals
from reqless.drivers._adapter import STREAM_CHUNK
from reqless.drivers._resp import pack_chunks, pack_command

MANY = 3 * STREAM_CHUNK + 7


def _puts(count: int, start: int = 0) -> list[list[Arg]]:
    return [["w", "q", f"jid-{n}", "tests.Job", "{}", 0] for n in range(start, start + count)]


@pytest.fixture
def core(driver: Driver, admin: redis.Redis) -> CoreScript:
    return CoreScript(driver, clock=lambda: 1000.0)


def test_the_shipped_drivers_can_stream(driver: Driver) -> None:
    assert isinstance(driver, StreamingDriver)


@pytest.mark.parametrize("size", [1, 2, 3, 100])
def test_chunks_hold_the_same_bytes_as_single_commands(size: int) -> None:
    head = ("FCALL", "reqless", 0, "queue.put", "1.000")
    items: list[tuple[object, ...]] = [
        ("w", "q", "jid", "a.B", '{"n":1}', 0),
        ("w", "q", "jid", "a.B", '{"text":"déjà"}', 2.5, "priority", -3),
        ("w", "q", b"\xff\x00", "a.B", "{}", 0),
    ]
    chunks = list(pack_chunks(head, items, size))
    assert len(chunks) == -(-len(items) // size)
    assert b"".join(chunks) == b"".join(pack_command((*head, *item)) for item in items)


def test_call_each_answers_in_order_with_one_now(core: CoreScript, admin: redis.Redis) -> None:
    assert core.call_each("queue.put", _puts(MANY)) == [f"jid-{n}" for n in range(MANY)]
    assert core.call("queue.length", "q") == MANY
    times = {admin.hget(f"ql:j:jid-{n}", "time") for n in range(MANY)}
    assert [float(time or "nan") for time in times] == [1000.0]


def test_call_each_returns_errors_in_place_and_runs_the_rest(
    core: CoreScript, admin: redis.Redis
) -> None:
    items = _puts(MANY)
    items[1] = ["w", "q", "bad", "tests.Job", "not json", 0]
    items[-1] = ["w", "q", "also-bad", "tests.Job", "{}", "soon"]
    results = core.call_each("queue.put", items)
    assert isinstance(results[1], InvalidArgumentError)
    assert isinstance(results[-1], InvalidArgumentError)
    assert results[0] == "jid-0" and results[-2] == f"jid-{MANY - 2}"
    assert admin.zcard("ql:q:q-work") == MANY - 2


def test_call_each_recovers_when_the_core_vanished(core: CoreScript, admin: redis.Redis) -> None:
    core.call_each("queue.put", _puts(1))
    admin.script_flush()
    admin.function_flush()
    assert core.call_each("queue.put", _puts(MANY, 1)) == [f"jid-{n}" for n in range(1, MANY + 1)]
    assert core.call("queue.length", "q") == MANY + 1


def test_call_each_after_the_server_dropped_the_connection_reconnects(
    core: CoreScript, admin: redis.Redis
) -> None:
    core.call_each("queue.put", _puts(1))
    admin.execute_command("CLIENT", "KILL", "TYPE", "normal")
    assert core.call_each("queue.put", _puts(MANY, 1))[-1] == f"jid-{MANY}"
    assert core.call("queue.length", "q") == MANY + 1


def test_a_chunk_that_cannot_be_packed_drops_the_connection_and_leaves_the_next_call_in_step(
    core: CoreScript,
) -> None:
    items = _puts(MANY)
    items[-1] = ["w", "q", "jid-x", "tests.Job", "{}", object()]  # type: ignore[list-item]
    with pytest.raises(InvalidArgumentError):
        core.call_each("queue.put", items)
    # The earlier chunks were written; their replies must not reach the next caller.
    assert core.call("job.get", "jid-0") is not None
    assert core.call_each("queue.put", _puts(2, 1000)) == ["jid-1000", "jid-1001"]


def test_replies_are_read_one_at_a_time_without_hiredis(
    core: CoreScript, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_internals, "hiredis", None)
    items = _puts(MANY)
    items[3] = ["w", "q", "bad", "tests.Job", "not json", 0]
    results = core.call_each("queue.put", items)
    assert isinstance(results[3], InvalidArgumentError)
    assert results[MANY - 1] == f"jid-{MANY - 1}"
    assert isinstance(
        core.call_many([("job.complete", ["nobody", "w", "q", "{}"])])[0], JobNotFoundError
    )


def test_an_empty_stream_sends_nothing(core: CoreScript, admin: redis.Redis) -> None:
    admin.config_resetstat()
    assert core.call_each("queue.put", []) == []
    assert "cmdstat_fcall" not in admin.info("commandstats")
