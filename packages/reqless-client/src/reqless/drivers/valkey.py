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

__all__ = ["AsyncValkeyDriver", "ValkeyDriver", "connect", "connect_async", "translate"]

#: Our error for one of valkey-py's exceptions.
translate = translator(lib)


def _driver_args(factory: Any, sentinel_class: Any, settings: ClientSettings) -> dict[str, Any]:
    return library_driver_args(
        lib, lib.ValkeyError, translate, factory, sentinel_class, settings,
        # valkey-py reads every non-sentinel scheme reqless accepts.
        url=settings.library_url, checkout=lambda pool: lambda: pool.get_connection("FCALL"),
    )  # fmt: skip


class ValkeyDriver(SyncDriver):
    """A valkey-py connection pool."""

    name = "valkey"

    def __init__(self, settings: ClientSettings) -> None:
        super().__init__(**_driver_args(valkey.Valkey, valkey.sentinel.Sentinel, settings))


class AsyncValkeyDriver(AsyncDriverAdapter):
    """A valkey-py asyncio connection pool."""

    name = "valkey"

    def __init__(self, settings: ClientSettings) -> None:
        super().__init__(
            **_driver_args(valkey.asyncio.Valkey, valkey.asyncio.sentinel.Sentinel, settings)
        )


def connect(settings: ClientSettings) -> Driver:
    # Typed as the protocol so the type checker proves the class satisfies it.
    return durable(ValkeyDriver(settings), settings, redacted(settings.url))


def connect_async(settings: ClientSettings) -> AsyncDriver:
    return durable_async(AsyncValkeyDriver(settings), settings, redacted(settings.url))
