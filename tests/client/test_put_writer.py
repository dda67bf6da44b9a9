"""The plain put's short path: ``queue.put(klass, data)`` packed with least work, same behaviour.

A put with every option left out is packed from parts made once per queue
and written straight to the socket (``reqless._queue.PutWriter``). These
tests show it stores what the general path stores, checks what it checks,
and recovers as it does: a missing core, an error reply, a dropped
connection, no hiredis, a driver that cannot send packed bytes, and a
client whose worker name or wake-up setting changes. The jids it uses come
from a per-process pool, which a forked child must never share.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterator

import pytest
import redis

import reqless
from reqless import _protocol as p
from reqless._wake import wake_key
from reqless.drivers import PackedDriver
from tests.client.api.jobs_for_tests import Plain
from tests.conftest import Server

KLASS = "tests.client.api.jobs_for_tests.Plain"
NOW = 1_700_000_000.25


@pytest.fixture
def client(
    server: Server, driver_name: str, form: str, admin: redis.Redis
) -> Iterator[reqless.Client]:
    with reqless.Client(
        server.url,
        driver=driver_name,
        form=form,  # type: ignore[arg-type]
        worker_name="wörker",
        clock=lambda: NOW,
    ) as c:
        yield c


def _job(client: reqless.Client, jid: str) -> reqless.Job:
    job = client.jobs[jid]
    assert isinstance(job, reqless.Job)
    return job


def _fcalls(admin: redis.Redis) -> int:
    stats = admin.info("commandstats")
    return sum(
        int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("fcall", "evalsha")
    )


def test_the_shipped_drivers_send_packed_commands(client: reqless.Client) -> None:
    assert isinstance(client._driver, PackedDriver)


@pytest.mark.parametrize(
    ("klass", "data", "stored"),
    [
        (Plain, {"n": 1, "text": "é ✓"}, {"n": 1, "text": "é ✓"}),
        (KLASS, None, {}),
        (KLASS, '{"text": "é ✓", "list": [1, 2]}', {"text": "é ✓", "list": [1, 2]}),
        (KLASS, [1, "two"], [1, "two"]),
    ],
)
def test_a_plain_put_stores_what_the_general_path_stores(
    client: reqless.Client, klass: p.KlassArg, data: p.DataArg, stored: object
) -> None:
    queue = client.queues["naïve queue"]
    jid = queue.put(klass, data)
    general = queue.put(klass, data, priority=0)  # an option: the general path
    for found in (_job(client, jid), _job(client, general)):
        assert found.klass_name == KLASS
        assert json.loads(found.data) == stored
        assert (found.queue_name, found.state, found.priority) == ("naïve queue", "waiting", 0)
        assert found.history[0]["when"] == int(NOW)
    assert len(jid) == 32 and int(jid, 16) >= 0
    if isinstance(data, str):
        assert _job(client, jid).data == data  # JSON text is stored verbatim


def test_with_the_default_clock_a_plain_put_sends_the_time(
    server: Server, driver_name: str, admin: redis.Redis
) -> None:
    with reqless.Client(server.url, driver=driver_name) as client:
        before = time.time()
        jid = client.queues["q"].put(KLASS, {})
        after = time.time()
        sent = float(admin.hget(f"ql:j:{jid}", "time") or 0)
        assert round(before, 3) <= sent <= round(after, 3)


@pytest.mark.parametrize(
    ("klass", "data", "named"),
    [
        ("not a path", {}, "'not a path'"),
        (3, {}, "3"),
        ([KLASS], {}, "['tests"),
        (KLASS, "not json", "'not json'"),
        (KLASS, {"nan": float("nan")}, "nan"),
        (KLASS, {"set": {1}}, "{1}"),
    ],
)
def test_bad_input_is_refused_by_name_and_nothing_is_sent(
    client: reqless.Client, admin: redis.Redis, klass: object, data: object, named: str
) -> None:
    queue = client.queues["q"]
    queue.put(KLASS, {})
    before = _fcalls(admin)
    with pytest.raises(reqless.InvalidArgumentError, match=re.escape(named)):
        queue.put(klass, data)  # type: ignore[arg-type]
    assert _fcalls(admin) == before
    assert queue.length() == 1


def test_a_plain_put_wakes_and_a_changed_setting_is_honoured(
    client: reqless.Client, admin: redis.Redis
) -> None:
    queue = client.queues["q"]
    queue.put(KLASS, {})
    assert admin.zrange(wake_key("q"), 0, -1) == ["w0"]
    admin.delete(wake_key("q"))
    client.wake_workers = False
    queue.put(KLASS, {})
    assert admin.exists(wake_key("q")) == 0
    client.wake_workers = True
    client.worker_name = "another"
    client.queues["q"].put(KLASS, {})
    assert admin.zrange(wake_key("q"), 0, -1) == ["w0"]
    assert queue.length() == 3


def test_a_plain_put_that_finds_the_core_gone_loads_it(
    client: reqless.Client, admin: redis.Redis
) -> None:
    queue = client.queues["q"]
    queue.put(KLASS, {})
    for _ in range(2):
        admin.script_flush()
        admin.function_flush()
        admin.delete(wake_key("q"))
        queue.put(KLASS, {})
        assert admin.zrange(wake_key("q"), 0, -1) == ["w0"]
    assert queue.length() == 3


def test_an_error_reply_is_raised_and_the_connection_stays_in_step(
    client: reqless.Client, admin: redis.Redis
) -> None:
    queue = client.queues["q"]
    queue.put(KLASS, {})
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", "1")
    try:
        with pytest.raises(reqless.ReqlessError, match=r"(?i)oom|memory"):
            queue.put(KLASS, {})
    finally:
        admin.config_set("maxmemory", "0")
    jid = queue.put(KLASS, {"after": True})
    assert _job(client, jid).payload == {"after": True}
    assert queue.length() == 2


def test_a_plain_put_after_the_server_dropped_the_connection_reconnects(
    client: reqless.Client, admin: redis.Redis
) -> None:
    queue = client.queues["q"]
    queue.put(KLASS, {})
    for _ in range(3):
        admin.delete(wake_key("q"))
        admin.execute_command("CLIENT", "KILL", "TYPE", "normal")
        jid = queue.put(KLASS, {"n": 1})
        assert _job(client, jid).payload == {"n": 1}
        assert admin.zrange(wake_key("q"), 0, -1) == ["w0"]
    assert queue.length() == 4


def test_without_hiredis_the_library_reads_the_replies(
    client: reqless.Client, admin: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("reqless.drivers._internals.hiredis", None)
    queue = client.queues["q"]
    jids = [queue.put(KLASS, {"n": n}) for n in range(3)]
    assert [_job(client, jid).payload for jid in jids] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert admin.zrange(wake_key("q"), 0, -1) == ["w0"]


def test_a_driver_that_cannot_send_packed_bytes_takes_the_general_path(
    client: reqless.Client, admin: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client._script, "packer", None)
    queue = client.queues["q"]
    jid = queue.put(KLASS, {"n": 1})
    assert _job(client, jid).payload == {"n": 1}
    assert admin.zrange(wake_key("q"), 0, -1) == ["w0"]
    assert client._put_writer("q") is None


# -- jids ------------------------------------------------------------------------------------


def test_jids_are_unique_across_threads_and_blocks() -> None:
    taken: list[list[str]] = [[] for _ in range(8)]

    def take(into: list[str]) -> None:
        into.extend(p.new_jid() for _ in range(3 * p.JID_BLOCK))

    threads = [threading.Thread(target=take, args=(into,)) for into in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    jids = [jid for into in taken for jid in into]
    assert len(set(jids)) == len(jids) == 8 * 3 * p.JID_BLOCK
    assert all(len(jid) == 32 and int(jid, 16) >= 0 for jid in jids)


def test_a_forked_child_never_hands_out_the_parents_jids() -> None:
    p.new_jid()  # the pool now holds jids the child inherits
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write, " ".join(p.new_jid() for _ in range(5)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        childs = pipe.read().split()
    os.waitpid(pid, 0)
    parents = [p.new_jid() for _ in range(5)]
    assert len(childs) == 5
    assert not set(childs) & set(parents)
