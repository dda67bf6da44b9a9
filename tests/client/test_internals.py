"""The seams to private parts of the libraries and of json, and the paths taken without them.

``reqless.drivers._internals`` is the only code that touches redis-py's and
valkey-py's private attributes, and ``reqless._json`` the only code that
touches json's undocumented ones. Each is probed once; here each probe is
checked, and each fallback is made to run (by making the probe find nothing)
against a real server: the client must work the same way without them.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis

import reqless
import reqless.aio
from reqless import _json, _models, _protocol, commands
from reqless.drivers import _internals
from tests.conftest import Server

KLASS = "tests.client.api.jobs_for_tests.Plain"
NOTHING = _internals.Internals(socket=False, stream=False, error_parser=False)


class _NothingFound(dict[type, _internals.Internals]):
    """A probe cache that answers, for every class, that nothing private can be used."""

    def get(self, key: type, default: Any = None) -> _internals.Internals:
        return NOTHING


@pytest.fixture
def hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    """The libraries' private parts treated as missing, for every connection class."""
    monkeypatch.setattr(_internals, "_PROBED", _NothingFound())


@pytest.fixture
def client(server: Server, driver_name: str) -> Iterator[reqless.Client]:
    with reqless.Client(server.url, driver=driver_name, worker_name="w") as made:
        yield made


# --------------------------------------------------------------------------- the libraries


def test_each_library_is_probed_and_its_fast_path_found(client: reqless.Client) -> None:
    pool = client._driver.client.connection_pool  # type: ignore[attr-defined]
    found = _internals.probe(pool)
    assert found.socket and found.error_parser
    assert found.raw_replies  # hiredis is installed in the test environment


def test_a_probe_is_logged_once_per_connection_class(
    client: reqless.Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_internals, "_PROBED", {})
    pool = client._driver.client.connection_pool  # type: ignore[attr-defined]
    with caplog.at_level(logging.DEBUG, logger="reqless.drivers"):
        _internals.probe(pool)
        _internals.probe(pool)
    lines = [r.getMessage() for r in caplog.records if r.name == "reqless.drivers"]
    assert len(lines) == 1
    assert "hiredis" in lines[0] and pool.connection_class.__qualname__ in lines[0]


def test_without_the_private_parts_the_client_works_the_same(
    hidden: None, client: reqless.Client
) -> None:
    queue = client.queues["q"]
    jid = queue.put(KLASS, {"n": 1})
    job = queue.pop()
    assert job is not None and job.jid == jid
    many = queue.put_many([(KLASS, {"n": 2}), (KLASS, {"n": 3})])
    done, popped = client.execute(commands.complete(job), commands.pop("q", "w", 5))
    assert done == "complete"
    assert sorted(j.jid for j in popped) == sorted(many)
    with pytest.raises(reqless.LostLockError):
        client.execute(commands.complete(job))


def test_without_the_socket_a_pop_waiter_polls_the_library(
    hidden: None, client: reqless.Client, server: Server, driver_name: str, admin: redis.Redis
) -> None:
    with (
        reqless.Client(server.url, driver=driver_name, worker_name="putter") as putter,
        reqless.PopWaiter(client, "q") as waiter,
        ThreadPoolExecutor(max_workers=1) as threads,
    ):
        connection = client._driver.blocking_connection()  # type: ignore[attr-defined]
        connection.open()
        assert connection.fileno() is None
        connection.close()
        popped = threads.submit(waiter.pop, 1, 60.0)
        deadline = time.monotonic() + 20
        while not any(c["cmd"] == "bzpopmin" for c in admin.client_list()):
            assert time.monotonic() < deadline, "the waiter never blocked on the server"
            time.sleep(0.005)
        jid = putter.queues["q"].put(KLASS, {})
        [job] = popped.result(20)
    assert job.jid == jid and waiter.woken_by == "q"


def test_without_the_stream_the_asyncio_client_works_the_same(
    hidden: None, server: Server, driver_name: str
) -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        async with reqless.aio.Client(server.url, driver=driver_name, worker_name="w") as aio:
            queue = aio.queues["q"]
            jids = list(await asyncio.gather(*[queue.put(KLASS, {"n": n}) for n in range(5)]))
            popped = await queue.pop(5)
            return jids, [job.jid for job in popped]

    jids, popped = asyncio.run(scenario())
    assert sorted(popped) == sorted(jids)


def test_a_checkout_names_the_command_only_where_the_library_needs_it() -> None:
    async def older(command_name: str, *keys: Any, **options: Any) -> None: ...
    async def newer(command_name: str | None = None, *keys: Any, **options: Any) -> None: ...
    async def unnamed() -> None: ...

    assert _internals._needs_command_name(older)
    assert not _internals._needs_command_name(newer)
    assert not _internals._needs_command_name(unnamed)
    assert _internals.checkout_of(unnamed) is unnamed


def test_a_checkout_borrows_a_working_connection_without_a_warning(
    server: Server, driver_name: str
) -> None:
    # Warnings are errors here: a deprecated command name would fail the test.
    lib = importlib.import_module(driver_name)
    pool = lib.ConnectionPool.from_url(server.url, decode_responses=True)
    try:
        connection = _internals.checkout_of(pool.get_connection)()
        try:
            connection.send_command("PING")
            assert connection.read_response() == "PONG"
        finally:
            pool.release(connection)
    finally:
        pool.disconnect()


def test_an_asyncio_checkout_borrows_a_working_connection_without_a_warning(
    server: Server, driver_name: str
) -> None:
    lib = importlib.import_module(f"{driver_name}.asyncio")

    async def scenario() -> Any:
        pool = lib.ConnectionPool.from_url(server.url, decode_responses=True)
        try:
            connection = await _internals.checkout_of(pool.get_connection)()
            try:
                await connection.send_command("PING")
                return await connection.read_response()
            finally:
                await pool.release(connection)
        finally:
            await pool.disconnect()

    assert asyncio.run(scenario()) == "PONG"


# --------------------------------------------------------------------------- json


SAMPLES: list[Any] = [
    {},
    [],
    {"a": 1, "b": [1.5, None, True, False], "c": {"d": 'é\u2028\n"\\'}},
    [{"x": [[], {}]}, "text", 10**20],
]


def test_the_c_encoder_and_the_scanner_are_found_and_agree_with_json() -> None:
    assert _json.ENCODE_C is not None and _json.SCAN_ONCE is not None
    for value in SAMPLES:
        text = json.dumps(value, separators=(",", ":"))
        assert _protocol.encode_data(value) == text
        assert _models.loads(text) == value


def test_the_pure_python_json_path_gives_the_same_text_and_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast = [_protocol.encode_data(value) for value in SAMPLES]
    monkeypatch.setattr(_protocol, "_ENCODE_C", None)
    monkeypatch.setattr(_models, "_scan_once", None)
    assert [_protocol.encode_data(value) for value in SAMPLES] == fast
    assert [_models.loads(text) for text in fast] == SAMPLES
    with pytest.raises(reqless.InvalidArgumentError, match=r"NaN|nan|Out of range"):
        _protocol.encode_data({"x": float("nan")})


@pytest.mark.parametrize("pure_python", [False, True], ids=["c-encoder", "pure-python"])
def test_a_value_that_refers_to_itself_is_bad_data(
    pure_python: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if pure_python:
        monkeypatch.setattr(_protocol, "_ENCODE_C", None)
    looped: dict[str, Any] = {"name": "loop"}
    looped["self"] = looped
    listed: list[Any] = [1]
    listed.append(listed)
    for value in (looped, listed, {"outer": listed}):
        with pytest.raises(reqless.InvalidArgumentError, match="data is not JSON-serialisable"):
            _protocol.encode_data(value)


def test_a_json_module_without_a_usable_c_encoder_is_noticed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(json.encoder, "c_make_encoder")
    assert _json.c_encoder() is None
    monkeypatch.setattr(json.encoder, "c_make_encoder", lambda *args: None, raising=False)
    assert _json.c_encoder() is None
