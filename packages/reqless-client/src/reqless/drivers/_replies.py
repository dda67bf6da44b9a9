"""Reading many replies from a library connection, with hiredis in one go where possible.

A pipeline of ``n`` commands is answered by ``n`` replies. The libraries read
them one ``read_response()`` at a time, and each of those checks the
connection, the parser's buffer and the timeout again. When hiredis is
installed, :func:`read_replies` instead feeds whatever the socket holds to one
``hiredis.Reader`` and takes every complete reply it finds, which is cheaper
per reply on either library (docs/performance.md, "Reading replies with
hiredis").

That reads the connection's socket and builds error replies with its parser's
``parse_error`` (so they are the library's own exception classes, exactly as
its hiredis parser makes them). Both are private to the libraries and reached
through :mod:`reqless.drivers._internals` only, so anything missing (another
version, no hiredis, replies not decoded) means the library's own
``read_response()`` is used instead.
Only used after writes of our own on a connection whose earlier replies were
all read, so nothing of ours sits in the library parser's buffer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from reqless.drivers._internals import raw_reader, socket_of, stream_of

__all__ = ["RECV_SIZE", "aread_replies", "raw_reader", "read_replies", "take_replies"]

#: The most one receive takes: a core call's replies nearly always fit in one.
RECV_SIZE = 65536


def read_replies(
    connection: Any, count: int, reply_error: type[Exception], lost: type[Exception]
) -> list[Any]:
    """``count`` replies, in order; an error reply is the library's exception in its place.

    Anything else that goes wrong (a closed or timed-out socket) disconnects
    ``connection`` and raises ``lost``, the library's connection error.
    """
    sock = socket_of(connection)
    reader = None if sock is None else raw_reader(connection)
    if reader is None:
        return _one_at_a_time(connection, count, reply_error)
    try:
        results = take_replies(sock, reader, bytearray(RECV_SIZE), count, lost)
    except BaseException as exc:
        # The stream is out of step (or gone): nobody may read this socket again.
        connection.disconnect()
        if isinstance(exc, lost) or not isinstance(exc, Exception):
            raise
        raise lost(f"reading replies failed: {exc!r}") from exc
    return results


def take_replies(
    sock: Any, reader: Any, buffer: bytearray, count: int, closed: Callable[[str], Exception]
) -> list[Any]:
    """``count`` replies read off ``sock`` into ``buffer`` and parsed by ``reader`` (a
    hiredis reader), in order; error replies are in their place, as ``reader`` makes them.

    A caller that reads often keeps ``reader`` and ``buffer`` from one read to the
    next: on code that has not run for a while, fresh memory is slow to touch. The
    server closing the connection raises ``closed(message)``; socket errors propagate.
    """
    replies: list[Any] = []
    while len(replies) < count:
        reply = reader.gets()
        if reply is False:
            size = sock.recv_into(buffer)
            if not size:
                raise closed("the server closed the connection")
            reader.feed(buffer, 0, size)
        else:
            replies.append(reply)
    return replies


async def aread_replies(
    connection: Any, count: int, reply_error: type[Exception], lost: type[Exception]
) -> list[Any]:
    """:func:`read_replies` on an asyncio connection (its stream).

    Within the connection's ``socket_timeout`` for the whole batch. On
    failure the connection is left as it is: the caller knows it is stale.
    """
    stream: Any = stream_of(connection)
    reader = None if stream is None else raw_reader(connection)
    if reader is None:
        read = connection.read_response
        results: list[Any] = []
        for _ in range(count):
            try:
                results.append(await read())
            except reply_error as exc:
                results.append(exc)
        return results
    results = []
    append = results.append
    gets = reader.gets
    try:
        async with asyncio.timeout(getattr(connection, "socket_timeout", None)):
            while len(results) < count:
                reply = gets()
                if reply is False:
                    data = await stream.read(RECV_SIZE)
                    if not data:
                        raise lost("the server closed the connection")
                    reader.feed(data)
                else:
                    append(reply)
    except Exception as exc:
        if isinstance(exc, lost):
            raise
        raise lost(f"reading replies failed: {exc!r}") from exc
    return results


def _one_at_a_time(connection: Any, count: int, reply_error: type[Exception]) -> list[Any]:
    read = connection.read_response
    results: list[Any] = []
    for _ in range(count):
        try:
            results.append(read())
        except reply_error as exc:
            results.append(exc)
    return results
