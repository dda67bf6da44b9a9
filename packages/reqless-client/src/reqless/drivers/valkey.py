"""The ``valkey`` driver: valkey-py (``pip install 'reqless-client[valkey]'``).

valkey-py's exceptions are translated here and nowhere else; the command
plumbing is shared with the redis driver (:mod:`reqless.drivers._adapter`).
"""

from __future__ import annotations

from typing import Any

import valkey
import valkey.asyncio
import valkey.asyncio.sentinel
import valkey.sentinel
from valkey import exceptions as lib

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
from reqless.drivers._sentinel import (
    aclose_sentinels,
    close_sentinels,
    failover_translate,
    sentinel_client,
)

__all__ = ["AsyncValkeyDriver", "ValkeyDriver", "connect", "connect_async", "translate"]


def translate(exc: Exception, where: str) -> ReqlessError:
    """Our error for one of valkey-py's exceptions."""
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


def _driver_args(factory: Any, sentinel_class: Any, settings: ClientSettings) -> dict[str, Any]:
    """What a driver over a pool of ``factory``'s clients (sync or asyncio) is made of.

    A sentinel URL's pool comes from ``sentinel_class`` (see :mod:`reqless.drivers._sentinel`).
    """
    if settings.sentinel is not None:
        client = sentinel_client(sentinel_class, factory, settings)
    else:
        client = factory.from_url(
            settings.library_url,  # valkey-py reads every non-sentinel scheme reqless accepts
            decode_responses=True,
            socket_timeout=settings.socket_timeout,
            socket_connect_timeout=settings.socket_connect_timeout,
        )
    pool = client.connection_pool
    return {
        "client": client,
        "errors": lib.ValkeyError,
        "translate": translate
        if settings.sentinel is None
        else failover_translate(translate, pool, lib.ReadOnlyError),
        "where": redacted(settings.url),
        "checkout": lambda: pool.get_connection("FCALL"),
        "reply_error": lib.ResponseError,
        "lost": lib.ConnectionError,
    }


class ValkeyDriver(SyncDriver):
    """A valkey-py connection pool."""

    name = "valkey"

    def __init__(self, settings: ClientSettings) -> None:
        super().__init__(**_driver_args(valkey.Valkey, valkey.sentinel.Sentinel, settings))

    def close(self) -> None:
        super().close()
        close_sentinels(self.client)


class AsyncValkeyDriver(AsyncDriverAdapter):
    """A valkey-py asyncio connection pool."""

    name = "valkey"

    def __init__(self, settings: ClientSettings) -> None:
        super().__init__(
            **_driver_args(valkey.asyncio.Valkey, valkey.asyncio.sentinel.Sentinel, settings)
        )

    async def aclose(self) -> None:
        await super().aclose()
        await aclose_sentinels(self.client)


def connect(settings: ClientSettings) -> Driver:
    # Typed as the protocol so the type checker proves the class satisfies it.
    return durable(ValkeyDriver(settings), settings, redacted(settings.url))


def connect_async(settings: ClientSettings) -> AsyncDriver:
    return durable_async(AsyncValkeyDriver(settings), settings, redacted(settings.url))
