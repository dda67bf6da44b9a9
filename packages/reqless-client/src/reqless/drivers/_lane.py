"""The direct lane: hot commands sent on a library connection, not through its command path.

redis-py and valkey-py spend most of a call's client time around the socket,
not on it: a pool checkout that polls the socket, a lock, retry and
observability wrappers, a release that takes the lock again. For the core's
calls (``FCALL`` / ``EVALSHA``, alone or pipelined) none of that is needed, so
:class:`DirectLane` keeps connections it took from the library's pool once;
commands are packed by :mod:`reqless.drivers._resp`. With hiredis installed,
a core call (:meth:`DirectLane.first_reply`) writes and reads the connection's
socket itself and parses the replies with a hiredis reader kept with the
connection; otherwise, and for pipelines, the connection's
``send_packed_command`` and :func:`reqless.drivers._replies.read_replies`.

A connection error is not handled here: the caller falls back to the
library's generic path, which applies the library's own reconnect-and-retry
policy, so the lane changes the cost of a call and nothing else.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from reqless.drivers._internals import checkout_of, connected_socket, raw_reader, socket_of
from reqless.drivers._replies import RECV_SIZE, read_replies, take_replies


class DirectLane:
    """Connections borrowed from a library pool and reused for direct calls.

    Thread-safe without a lock: ``list.pop`` and ``list.append`` are atomic,
    and each connection is used by one caller at a time. The lane grows to the
    number of callers that were ever concurrent, like the pool itself. After a
    fork the inherited connections are dropped unused (their sockets belong to
    the parent); the library's pool resets itself the same way.
    """

    def __init__(
        self,
        checkout: Callable[[], Any],
        release: Callable[[Any], None],
        reply_error: type[Exception],
        lost: type[Exception],
    ) -> None:
        # A library's own get_connection may need a command name (see checkout_of).
        self._checkout = checkout_of(checkout)
        self._release = release
        # The library's exception for an error reply: the stream is still in step after it.
        self._reply_error = reply_error
        # The library's exception for a lost connection (its callers know to retry).
        self._lost = lost
        self._idle: list[Any] = []
        # Connections for first_reply(), each with the hiredis reader that parses its
        # replies and the buffer they are received into.
        self._raw: list[tuple[Any, Any, bytearray]] = []
        _LANES.add(self)

    def take(self) -> Any:
        """An idle connection, or a new one from the library's pool."""
        try:
            return self._idle.pop()
        except IndexError:
            return self._checkout()

    def _after_fork(self) -> None:
        self._idle = []
        self._raw = []

    def give(self, connection: Any) -> None:
        """Return ``connection``; the library disconnected it already if its stream is unusable."""
        self._idle.append(connection)

    def call_many(self, packed: bytes, count: int) -> list[Any]:
        """``count`` packed commands in one write, then each reply in turn.

        An error reply is the library's exception returned in its command's
        place; anything else (a lost connection) is raised.
        """
        connection = self.take()
        try:
            connection.send_packed_command([packed], False)
            return read_replies(connection, count, self._reply_error, self._lost)
        finally:
            self.give(connection)

    def first_reply(self, packed: bytes, count: int) -> Any:
        """``count`` packed commands in one write; the first one's reply, the others dropped.

        An error reply to the first is the library's exception, returned; one
        to the others is dropped like any of their replies. A lost connection
        is raised as the library's error, nothing retried.

        The shortest path of the lane, for every core call (alone, or with a
        put's wake-up behind it): with hiredis, the connection's socket is
        written and read directly and the replies parsed by a reader kept with
        the connection, so a call makes no Python call into the library.
        Without it (or on a connection the library has yet to connect),
        :meth:`call_many`.
        """
        try:
            connection, reader, buffer = self._raw.pop()
        except IndexError:
            connection, reader, buffer = self._raw_connection()
        sock = connected_socket(connection) if reader is not None else None
        if sock is None:
            return self._first_of_many(connection, packed, count)
        try:
            sock.sendall(packed)
            first = take_replies(sock, reader, buffer, count, self._lost)[0]
        except BaseException as exc:
            # The stream is out of step (or gone): the connection goes back to the
            # library closed, which connects it afresh when it is next used.
            connection.disconnect()
            self._release(connection)
            if isinstance(exc, self._lost) or not isinstance(exc, Exception):
                raise
            raise self._lost(f"writing or reading failed: {exc!r}") from exc
        self._raw.append((connection, reader, buffer))
        return first

    def _raw_connection(self) -> tuple[Any, Any, bytearray]:
        """A connection for :meth:`first_reply`, its reader (None if it needs the
        library's) and its receive buffer."""
        connection = self.take()
        reader = None if socket_of(connection) is None else raw_reader(connection)
        return connection, reader, bytearray(RECV_SIZE)

    def _first_of_many(self, connection: Any, packed: bytes, count: int) -> Any:
        """:meth:`first_reply` through the library's methods, on the lane's common connections."""
        self.give(connection)
        return self.call_many(packed, count)[0]

    def stream(self, chunks: Iterable[bytes], count: int) -> list[Any]:
        """Write each chunk as soon as it is made, then read the ``count`` replies.

        ``chunks`` is usually a generator that packs as it goes, so the server
        runs one chunk while the next is packed. Error replies are returned in
        place, as by :meth:`call_many`. If making a chunk fails after others
        were written, the connection is dropped (their replies would reach the
        next caller) and the error raised: commands already written still run,
        so callers validate every argument before streaming.
        """
        connection = self.take()
        try:
            send = connection.send_packed_command
            try:
                for chunk in chunks:
                    send([chunk], False)
            except BaseException:
                connection.disconnect()
                raise
            return read_replies(connection, count, self._reply_error, self._lost)
        finally:
            self.give(connection)

    def close(self) -> None:
        """Hand every idle connection back to the library's pool."""
        idle, self._idle = self._idle, []
        raw, self._raw = self._raw, []
        for connection in [*idle, *(connection for connection, _, _ in raw)]:
            self._release(connection)


# Every live lane, so a forked child drops what it inherited before it runs.
_LANES: weakref.WeakSet[DirectLane] = weakref.WeakSet()


def _drop_inherited_connections() -> None:
    for lane in list(_LANES):
        lane._after_fork()


os.register_at_fork(after_in_child=_drop_inherited_connections)
