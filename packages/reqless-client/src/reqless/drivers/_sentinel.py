"""Connecting through Sentinel with the libraries' own Sentinel support.

A ``redis+sentinel://`` (or ``valkey+sentinel://``) URL names the sentinels
and a service; :func:`sentinel_client` asks the library's ``Sentinel`` for a
client of that service's master. Its pool is the library's
``SentinelConnectionPool``: every connection it makes (the pool's, the direct
lane's, :class:`reqless.PopWaiter`'s blocking one, built with the pool's class
and arguments, and the pub/sub ones) asks the sentinels for the master's
address when it connects. After a failover the old master's connections are
gone (it died, or Sentinel killed its clients when it demoted it) and the
next connection reaches the new master. A connection still open to a demoted
master answers READONLY; the library's path drops it and reconnects.
"""

from __future__ import annotations

from typing import Any

from reqless._settings import ClientSettings

__all__ = ["aclose_sentinels", "close_sentinels", "sentinel_client"]


def sentinel_client(sentinel_class: Any, client_class: Any, settings: ClientSettings) -> Any:
    """A ``client_class`` on the master of the URL's service, through ``sentinel_class``."""
    parts = settings.sentinel
    assert parts is not None, "only for a sentinel URL"
    # A sentinel that hangs must not stall discovery: its questions are short.
    sentinel_timeout = settings.socket_timeout or settings.socket_connect_timeout or 10.0
    sentinel_kwargs: dict[str, Any] = {
        "socket_timeout": sentinel_timeout,
        "socket_connect_timeout": settings.socket_connect_timeout,
        "decode_responses": True,
    }
    if parts.sentinel_username is not None:
        sentinel_kwargs["username"] = parts.sentinel_username
    if parts.sentinel_password is not None:
        sentinel_kwargs["password"] = parts.sentinel_password
    manager = sentinel_class(list(parts.sentinels), sentinel_kwargs=sentinel_kwargs)
    return manager.master_for(
        parts.service,
        client_class,
        db=parts.db,
        username=parts.username,
        password=parts.password,
        decode_responses=True,
        socket_timeout=settings.socket_timeout,
        socket_connect_timeout=settings.socket_connect_timeout,
    )


def close_sentinels(client: Any) -> None:
    """Close the connections to the sentinels behind ``client``, if it has any."""
    manager = getattr(client.connection_pool, "sentinel_manager", None)
    for sentinel in getattr(manager, "sentinels", ()):
        sentinel.close()


async def aclose_sentinels(client: Any) -> None:
    """:func:`close_sentinels` for an asyncio client."""
    manager = getattr(client.connection_pool, "sentinel_manager", None)
    for sentinel in getattr(manager, "sentinels", ()):
        await sentinel.aclose()
