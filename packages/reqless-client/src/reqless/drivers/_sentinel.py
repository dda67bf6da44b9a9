"""Connecting through Sentinel with the libraries' own Sentinel support.

A ``redis+sentinel://`` (or ``valkey+sentinel://``) URL names the sentinels
and a service; :func:`sentinel_client` asks the library's ``Sentinel`` for a
client of that service's master. Its pool is the library's
``SentinelConnectionPool``: every connection it makes (the pool's, the direct
lane's, :class:`reqless.PopWaiter`'s blocking one, built with the pool's class
and arguments, and the pub/sub ones) asks the sentinels for the master's
address when it connects. After a failover the old master's connections are
gone when it died, and the next connection reaches the new master.

A coordinated failover (``SENTINEL FAILOVER``, or a master that comes back)
is different: the old master stays up, a master, for some seconds after the
promotion, and once Sentinel demotes it the connections still open to it
answer READONLY (or, for a blocked ``BZPOPMIN``, "UNBLOCKED ... instance state
changed"). The libraries drop such a connection in their own read path, but
reqless's direct lane reads replies itself, so :func:`failover_translate`
does it here: the error becomes :class:`reqless.ServerUnavailableError` (the
command did not run: a replica refuses it before running it) and every
connection of the pool is dropped, so each reconnects through the sentinels.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from reqless._errors import ReqlessError, ServerUnavailableError
from reqless._settings import ClientSettings
from reqless.drivers._border import Translate

__all__ = ["aclose_sentinels", "close_sentinels", "failover_translate", "sentinel_client"]

# What a master that turned into a replica answers a client blocked on it, and a WAIT.
_DEMOTED = ("instance state changed", "WAIT cannot be used with replica instances")
# Pool disconnections in flight (asyncio), kept so they are not collected half way.
_DROPPING: set[asyncio.Task[Any]] = set()


def sentinel_client(
    sentinel_class: Any, client_class: Any, settings: ClientSettings, **extra: Any
) -> Any:
    """A ``client_class`` on the master of the URL's service, through ``sentinel_class``.

    ``extra`` goes to the pool (a ``connection_class``, say).
    """
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
        **extra,
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


def failover_translate(translate: Translate, pool: Any, read_only: type[Exception]) -> Translate:
    """``translate``, except that a demoted master's refusal drops ``pool``'s connections.

    ``read_only`` is the library's exception for a READONLY reply.
    """
    asynchronous = inspect.iscoroutinefunction(pool.disconnect)

    def translate_here(exc: Exception, where: str) -> ReqlessError:
        if not (isinstance(exc, read_only) or any(words in str(exc) for words in _DEMOTED)):
            return translate(exc, where)
        if asynchronous:
            try:
                task = asyncio.get_running_loop().create_task(pool.disconnect())
            except RuntimeError:
                pass  # no loop running: the connection errors of the next calls do it
            else:
                _DROPPING.add(task)
                task.add_done_callback(_DROPPING.discard)
        else:
            pool.disconnect()
        return ServerUnavailableError(
            f"{where}: the master was demoted by a failover (the command did not run); "
            f"the next call connects to the new master: {exc}"
        )

    return translate_here
