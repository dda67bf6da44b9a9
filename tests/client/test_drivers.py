"""The driver seam: drivers found by name, interchangeable, translating errors at the border."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import redis

from reqless import (
    AuthenticationError,
    ClientSettings,
    ReqlessError,
    ScriptNotLoadedError,
    ServerUnavailableError,
    UnknownDriverError,
)
from reqless.drivers import (
    ENTRY_POINT_GROUP,
    AsyncDriver,
    Driver,
    Message,
    available_drivers,
    connect,
    connect_async,
    load_driver,
)
from reqless.drivers.redis import AsyncRedisDriver, RedisDriver
from reqless.drivers.valkey import AsyncValkeyDriver, ValkeyDriver
from tests.conftest import Server

CLASSES = {"redis": (RedisDriver, AsyncRedisDriver), "valkey": (ValkeyDriver, AsyncValkeyDriver)}


def _run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        check=False,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_shipped_drivers_are_registered_as_entry_points() -> None:
    registered = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert registered == {"redis": "reqless.drivers.redis", "valkey": "reqless.drivers.valkey"}
    assert available_drivers() == ["redis", "valkey"]


def test_connect_uses_the_driver_named_in_the_settings(settings: ClientSettings) -> None:
    sync_class, async_class = CLASSES[settings.driver]
    driver = connect(settings)
    try:
        assert type(driver) is sync_class
        assert isinstance(driver, Driver)
        assert driver.name == settings.driver
    finally:
        driver.close()
    async_driver = connect_async(settings)
    assert type(async_driver) is async_class
    assert isinstance(async_driver, AsyncDriver)
    asyncio.run(async_driver.aclose())


def test_an_unknown_driver_is_an_error_listing_the_valid_ones() -> None:
    with pytest.raises(UnknownDriverError) as info:
        load_driver("memcached")
    assert info.value.valid == ["redis", "valkey"]
    assert "'memcached'" in str(info.value) and "redis, valkey" in str(info.value)
    assert isinstance(info.value, ReqlessError)


def test_a_driver_whose_library_is_missing_names_the_extra_to_install() -> None:
    result = _run_python(
        """
        import sys
        sys.modules["valkey"] = None  # as if valkey-py were not installed
        from reqless import DriverNotInstalledError
        from reqless.drivers import load_driver
        load_driver("redis")  # the other driver is unaffected
        try:
            load_driver("valkey")
        except DriverNotInstalledError as exc:
            print(exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'reqless-client[valkey]'" in result.stdout
    assert "valkey-py" in result.stdout


def test_loading_one_driver_does_not_import_the_other_library() -> None:
    result = _run_python(
        """
        import sys
        from reqless.drivers import load_driver
        load_driver("valkey")
        print("redis" in sys.modules, "valkey" in sys.modules)
        """
    )
    assert result.stdout.split() == ["False", "True"], result.stderr


def test_a_third_party_driver_is_found_through_its_entry_point(tmp_path: Path) -> None:
    # A minimal installed distribution: metadata with an entry point, and its module.
    dist = tmp_path / "reqless_echo_driver-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: reqless-echo-driver\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text("[reqless.drivers]\necho = echo_driver\n")
    (tmp_path / "echo_driver.py").write_text(
        textwrap.dedent(
            """
            from reqless.drivers.redis import RedisDriver

            class EchoDriver(RedisDriver):
                name = "echo"

            def connect(settings):
                return EchoDriver(settings)

            def connect_async(settings):
                raise NotImplementedError
            """
        )
    )
    result = _run_python(
        """
        from reqless import ClientSettings
        from reqless.drivers import available_drivers, connect
        print(available_drivers())
        driver = connect(ClientSettings.from_url("redis://localhost:1/0", "echo", environ={}))
        print(type(driver).__name__, driver.name)
        """,
        PYTHONPATH=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["['echo', 'redis', 'valkey']", "EchoDriver echo"]


def test_replies_are_decoded_to_python_values(driver: Driver, admin: redis.Redis) -> None:
    admin.rpush("list", "é", "b")
    assert driver.execute_command("LRANGE", "list", 0, -1) == ["é", "b"]
    assert driver.execute_command("LLEN", "list") == 2
    assert driver.execute_command("GET", "missing") is None


def test_a_db_in_the_url_selects_that_database(server: Server, driver_name: str) -> None:
    driver = connect(ClientSettings.from_url(f"redis://{server.host}:{server.port}/3", driver_name))
    try:
        driver.execute_command("SET", "where", "db3")
    finally:
        driver.close()
    assert server.client(db=3, decode_responses=True).get("where") == "db3"
    assert server.client(db=0).get("where") is None


def test_pipeline_returns_errors_in_place_and_runs_the_rest(
    driver: Driver, admin: redis.Redis
) -> None:
    pipe = driver.pipeline()
    pipe.execute_command("SET", "before", "1")
    pipe.evalsha("0" * 40, "no such script")
    pipe.execute_command("SET", "after", "2")
    results = pipe.execute()
    assert results[0] is True or results[0] == "OK"
    assert isinstance(results[1], ScriptNotLoadedError)
    assert admin.mget("before", "after") == ["1", "2"]


def test_publish_and_subscribe_carry_decoded_messages(driver: Driver) -> None:
    pubsub = driver.pubsub()
    try:
        pubsub.subscribe("ql:log")
        pubsub.psubscribe("ql:w:*")
        confirmations = [pubsub.get_message(timeout=2) for _ in range(2)]
        assert [m.kind for m in confirmations if m] == ["subscribe", "psubscribe"]
        assert driver.publish("ql:log", '{"event":"put"}') == 1
        assert driver.publish("ql:w:worker-1", "é") == 1
        assert pubsub.get_message(timeout=2) == Message("message", "ql:log", '{"event":"put"}')
        assert pubsub.get_message(timeout=2) == Message("pmessage", "ql:w:worker-1", "é", "ql:w:*")
        assert pubsub.get_message(timeout=0.05) is None
    finally:
        pubsub.close()


def test_the_async_driver_speaks_the_same_commands(settings: ClientSettings) -> None:
    async def scenario() -> list[object]:
        driver = connect_async(settings)
        try:
            pubsub = driver.pubsub()
            await pubsub.subscribe("ql:log")
            confirmed = await pubsub.get_message(timeout=2)
            await driver.execute_command("SET", "k", "v")
            pipe = driver.pipeline()
            pipe.execute_command("GET", "k")
            pipe.evalsha("0" * 40)
            results = await pipe.execute()
            delivered = await driver.publish("ql:log", "hello")
            message = await pubsub.get_message(timeout=2)
            await pubsub.aclose()
            return [confirmed and confirmed.kind, results[0], type(results[1]), delivered, message]
        finally:
            await driver.aclose()

    assert asyncio.run(scenario()) == [
        "subscribe",
        "v",
        ScriptNotLoadedError,
        1,
        Message("message", "ql:log", "hello"),
    ]


def test_an_unreachable_server_is_server_unavailable(driver_name: str) -> None:
    url = f"redis://nobody:hunter2@127.0.0.1:{_free_port()}/0"
    driver = connect(ClientSettings.from_url(url, driver_name, socket_connect_timeout=2))
    try:
        with pytest.raises(ServerUnavailableError) as info:
            driver.execute_command("PING")
    finally:
        driver.close()
    assert not isinstance(info.value, AuthenticationError)
    assert "hunter2" not in str(info.value)
    assert "127.0.0.1" in str(info.value)
    # The library's exception stays reachable for debugging.
    assert info.value.__cause__ is not None


def test_an_unreachable_server_is_server_unavailable_in_asyncio_too(driver_name: str) -> None:
    url = f"redis://127.0.0.1:{_free_port()}/0"

    async def scenario() -> None:
        driver = connect_async(ClientSettings.from_url(url, driver_name, socket_connect_timeout=2))
        try:
            await driver.execute_command("PING")
        finally:
            await driver.aclose()

    with pytest.raises(ServerUnavailableError):
        asyncio.run(scenario())
