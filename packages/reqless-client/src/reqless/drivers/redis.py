"""The ``redis`` driver: redis-py (``pip install 'reqless-client[redis]'``).

redis-py's exceptions are translated here and nowhere else; the command
plumbing is shared with the valkey driver (:mod:`reqless.drivers._adapter`).
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.sentinel
from redis import exceptions as lib

from reqless._settings import ClientSettings
from reqless.drivers import AsyncDriver, Driver
from reqless.drivers._adapter import (
    AsyncDriverAdapter,
    SyncDriver,
    library_driver_args,
    redacted,
    translator,
)
from reqless.drivers._durable import durable, durable_async
from reqless.drivers._internals import socket_of

__all__ = ["AsyncRedisDriver", "RedisDriver", "connect", "connect_async", "translate"]

# redis-py does not know the valkey schemes; they mean the same to it.
_SCHEMES = {"valkey://": "redis://", "valkeys://": "rediss://"}

#: Our error for one of redis-py's exceptions.
translate = translator(lib)


def _url(settings: ClientSettings) -> str:
    url = settings.library_url
    for ours, theirs in _SCHEMES.items():
        if url.lower().startswith(ours):
            return theirs + url[len(ours) :]
    return url


class _SentinelConnection(redis.sentinel.SentinelManagedConnection):
    """redis-py's Sentinel connection, reconnecting through the sentinels when it writes.

    redis-py reconnects a closed connection in ``send_packed_command`` to the
    address it had, bypassing the Sentinel lookup of ``connect()``; the direct
    lane writes that way, so after a failover it would go back to the old master.
    """

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        # connect() returns at once when connected, so a hidden socket costs nothing.
        if socket_of(self) is None:
            self.connect()  # type: ignore[no-untyped-call]
        super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]


class _AsyncSentinelConnection(redis.asyncio.sentinel.SentinelManagedConnection):
    """:class:`_SentinelConnection` for asyncio."""

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if not self.is_connected:
            await self.connect()  # type: ignore[no-untyped-call]
        await super().send_packed_command(command, check_health)


def _driver_args(
    factory: Any, sentinel_class: Any, connection_class: Any, settings: ClientSettings
) -> dict[str, Any]:
    return library_driver_args(
        lib, lib.RedisError, translate, factory, sentinel_class, settings,
        url=_url(settings), checkout=lambda pool: pool.get_connection,
        connection_class=connection_class,
    )  # fmt: skip


class RedisDriver(SyncDriver):
    """A redis-py connection pool."""

    name = "redis"

    def __init__(self, settings: ClientSettings) -> None:
        super().__init__(
            **_driver_args(redis.Redis, redis.sentinel.Sentinel, _SentinelConnection, settings)
        )


class AsyncRedisDriver(AsyncDriverAdapter):
    """A redis-py asyncio connection pool."""

    name = "redis"

    def __init__(self, settings: ClientSettings) -> None:
        super().__init__(
            **_driver_args(
                redis.asyncio.Redis,
                redis.asyncio.sentinel.Sentinel,
                _AsyncSentinelConnection,
                settings,
            )
        )


def connect(settings: ClientSettings) -> Driver:
    # Typed as the protocol so the type checker proves the class satisfies it.
    return durable(RedisDriver(settings), settings, redacted(settings.url))


def connect_async(settings: ClientSettings) -> AsyncDriver:
    return durable_async(AsyncRedisDriver(settings), settings, redacted(settings.url))
