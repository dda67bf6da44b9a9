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

from reqless._errors import (
    AuthenticationError,
    InvalidArgumentError,
    PermissionDeniedError,
    ReqlessError,
    ScriptNotLoadedError,
    ServerUnavailableError,
    translate_server_error,
)
from reqless._settings import ClientSettings
from reqless.drivers import AsyncDriver, Driver
from reqless.drivers._acl import script_acl_error
from reqless.drivers._adapter import AsyncDriverAdapter, SyncDriver, redacted
from reqless.drivers._durable import durable, durable_async
from reqless.drivers._internals import socket_of
from reqless.drivers._sentinel import (
    aclose_sentinels,
    close_sentinels,
    failover_translate,
    sentinel_client,
)

__all__ = ["AsyncRedisDriver", "RedisDriver", "connect", "connect_async", "translate"]

# redis-py does not know the valkey schemes; they mean the same to it.
_SCHEMES = {"valkey://": "redis://", "valkeys://": "rediss://"}


def translate(exc: Exception, where: str) -> ReqlessError:
    """Our error for one of redis-py's exceptions."""
    text = str(exc)
    if isinstance(exc, lib.AuthenticationError):
        return AuthenticationError(f"{where}: authentication failed: {text}")
    if isinstance(exc, lib.ConnectionError | lib.TimeoutError):
        return ServerUnavailableError(f"{where}: {text}")
    if isinstance(exc, lib.NoScriptError):
        return ScriptNotLoadedError(text)
    if isinstance(exc, lib.NoPermissionError):
        return PermissionDeniedError(text)
    if isinstance(exc, lib.ResponseError):
        return script_acl_error(text) or translate_server_error(text)
    if isinstance(exc, lib.DataError):
        return InvalidArgumentError(text)
    return ReqlessError(text)


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


def _driver_args(factory: Any, sentinel_class: Any, settings: ClientSettings) -> dict[str, Any]:
    """What a driver over a pool of ``factory``'s clients (sync or asyncio) is made of.

    A sentinel URL's pool comes from ``sentinel_class`` (see :mod:`reqless.drivers._sentinel`).
    """
    if settings.sentinel is not None:
        asynchronous = sentinel_class is redis.asyncio.sentinel.Sentinel
        connection_class = _AsyncSentinelConnection if asynchronous else _SentinelConnection
        client = sentinel_client(
            sentinel_class, factory, settings, connection_class=connection_class
        )
    else:
        client = factory.from_url(
            _url(settings),
            decode_responses=True,
            socket_timeout=settings.socket_timeout,
            socket_connect_timeout=settings.socket_connect_timeout,
        )
    pool = client.connection_pool
    return {
        "client": client,
        "errors": lib.RedisError,
        "translate": translate
        if settings.sentinel is None
        else failover_translate(translate, pool, lib.ReadOnlyError),
        "where": redacted(settings.url),
        "checkout": pool.get_connection,
        "reply_error": lib.ResponseError,
        "lost": lib.ConnectionError,
    }


class RedisDriver(SyncDriver):
    """A redis-py connection pool."""

    name = "redis"

    def __init__(self, settings: ClientSettings) -> None:
        super().__init__(**_driver_args(redis.Redis, redis.sentinel.Sentinel, settings))

    def close(self) -> None:
        super().close()
        close_sentinels(self.client)


class AsyncRedisDriver(AsyncDriverAdapter):
    """A redis-py asyncio connection pool."""

    name = "redis"

    def __init__(self, settings: ClientSettings) -> None:
        super().__init__(
            **_driver_args(redis.asyncio.Redis, redis.asyncio.sentinel.Sentinel, settings)
        )

    async def aclose(self) -> None:
        await super().aclose()
        await aclose_sentinels(self.client)


def connect(settings: ClientSettings) -> Driver:
    # Typed as the protocol so the type checker proves the class satisfies it.
    return durable(RedisDriver(settings), settings, redacted(settings.url))


def connect_async(settings: ClientSettings) -> AsyncDriver:
    return durable_async(AsyncRedisDriver(settings), settings, redacted(settings.url))
