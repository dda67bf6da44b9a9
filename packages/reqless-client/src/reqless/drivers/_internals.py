"""The one seam to redis-py's and valkey-py's private parts, probed once per connection class.

The fast paths read replies off a library connection's socket with a hiredis
reader of our own, and a blocking connection is made as the library's pool
makes its connections. That needs what the libraries keep private:

* ``connection._sock``: a connected sync connection's socket;
* ``connection._reader``: a connected asyncio connection's ``StreamReader``;
* ``connection._parser.parse_error``: how the library turns an error reply
  into its own exception (so a reply error read by us is the library's);
* ``pool.connection_class(**pool.connection_kwargs)``: a connection built with
  everything the pool's connections get (URL, TLS, credentials, database).

One public method changed its signature between releases and is bridged here
too: a pool's ``get_connection`` needs a command name before
redis-py 5.3 (and in valkey-py) and warns when given one from redis-py 5.3 on
(:func:`checkout_of`).

valkey-py is a fork of redis-py, and both have the same private parts, so this
one module serves both libraries. Nothing else in reqless touches them. Each
connection class is probed once, when a driver connects (:func:`probe`, which
builds one connection without connecting it) or when a connection of a class
not seen yet is first used; the result is logged at debug level. Whatever the
probe does not find turns its fast path off: replies are then read with the
library's own ``read_response()``, and a blocking connection has no file
descriptor (:meth:`reqless.PopWaiter` then polls the library's ``can_read``).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from operator import attrgetter
from typing import Any, TypeVar

hiredis: Any
try:
    import hiredis
except ImportError:  # pragma: no cover - the [hiredis] extra is optional
    hiredis = None

__all__ = [
    "Internals",
    "checkout_of",
    "connected_socket",
    "internals_of",
    "new_connection",
    "probe",
    "raw_reader",
    "socket_of",
    "stream_of",
]

logger = logging.getLogger("reqless.drivers")

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Internals:
    """Which private parts of one connection class reqless may use."""

    #: ``_sock`` holds the socket of a connected sync connection.
    socket: bool
    #: ``_reader`` holds the stream of a connected asyncio connection.
    stream: bool
    #: ``_parser.parse_error`` makes the library's exception for an error reply.
    error_parser: bool

    @property
    def raw_replies(self) -> bool:
        """Whether replies may be read off the socket with a hiredis reader of ours."""
        return hiredis is not None and self.error_parser and (self.socket or self.stream)


# By connection class; a class is probed once per process.
_PROBED: dict[type, Internals] = {}


def new_connection(pool: Any) -> Any:
    """A connection (not connected) made as ``pool`` makes its own, outside its count."""
    return pool.connection_class(**pool.connection_kwargs)


def checkout_of(get_connection: Callable[..., _T]) -> Callable[[], _T]:
    """A pool's ``get_connection`` (or a function of no argument) as one of no argument.

    Before redis-py 5.3 (and in valkey-py) it needs a command name, which only
    a cluster pool uses; from redis-py 5.3 on, giving one is deprecated. So the
    name is given only where the signature has no default for it. Sync and
    asyncio pools alike.
    """
    if not _needs_command_name(get_connection):
        return get_connection
    logger.debug("%r: borrowed with a command name (an older library)", get_connection)
    return partial(get_connection, "FCALL")


def _needs_command_name(method: Any) -> bool:
    name = inspect.signature(method).parameters.get("command_name")
    return name is not None and name.default is inspect.Parameter.empty


def probe(pool: Any) -> Internals:
    """What ``pool``'s connections offer, probed on a connection that is never connected."""
    found = _PROBED.get(pool.connection_class)
    if found is None:
        found = internals_of(new_connection(pool))
    return found


def internals_of(connection: Any) -> Internals:
    """What ``connection``'s class offers (probed on ``connection`` the first time)."""
    kind = type(connection)
    found = _PROBED.get(kind)
    if found is None:
        parser = getattr(connection, "_parser", None)
        found = _PROBED[kind] = Internals(
            socket=hasattr(connection, "_sock"),
            stream=hasattr(connection, "_reader"),
            error_parser=callable(getattr(parser, "parse_error", None)),
        )
        logger.debug(
            "%s.%s: %s",
            kind.__module__,
            kind.__qualname__,
            "replies read off the socket with hiredis"
            if found.raw_replies
            else "replies read by the library (its private parts or hiredis are missing)",
        )
    return found


def socket_of(connection: Any) -> Any:
    """A sync connection's socket, or None (not connected, or its class hides it)."""
    return getattr(connection, "_sock", None) if internals_of(connection).socket else None


def stream_of(connection: Any) -> Any:
    """An asyncio connection's stream reader, or None (not connected, or hidden)."""
    return getattr(connection, "_reader", None) if internals_of(connection).stream else None


#: A sync connection's socket, for a caller that already has a :func:`raw_reader` for it
#: (so the probe found ``_sock``): the hot path's one attribute read, no checks.
connected_socket: Any = attrgetter("_sock")


def raw_reader(connection: Any) -> Any:
    """A hiredis reader decoding as ``connection`` does, or None if it cannot be used."""
    if not internals_of(connection).raw_replies:
        return None
    encoder: Any = getattr(connection, "encoder", None)
    if not getattr(encoder, "decode_responses", False):
        return None
    return hiredis.Reader(
        replyError=connection._parser.parse_error,
        encoding=encoder.encoding,
        errors=encoder.encoding_errors,
    )
