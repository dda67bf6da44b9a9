"""Auto-pipelining for asyncio: concurrent core calls share round trips.

Many tasks awaiting ``queue.put`` on one client would each pay a full round
trip, one after another on the pool's connections. :class:`AutoPipeline`
instead keeps one connection (borrowed from the library's pool) and a queue
of packed commands: a command issued while a round trip is in flight waits
for it to end and then goes out with every other command queued meanwhile,
as one write followed by one read of all their replies. Each caller gets its
own reply, or its own error: an error reply fails only the command that got
it.

A lone caller makes its round trip itself, as without auto-pipelining; only
commands queued behind a round trip in flight go through the flusher task.
A lost connection fails every command of the round trip it broke (the caller
retries, then falls back to the library's generic path, which reconnects and
retries as it always would) and the next round trip reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from reqless._errors import ServerUnavailableError
from reqless.drivers._internals import checkout_of
from reqless.drivers._replies import aread_replies

__all__ = ["AutoPipeline"]


class AutoPipeline:
    """One borrowed connection that flushes queued commands a round trip at a time.

    ``checkout`` borrows a connection from the library's pool and ``release``
    gives it back; ``reply_error`` is the library's exception for an error
    reply (the stream stays in step after it), ``lost`` the one for a lost
    connection. Bound to the event loop of its
    first call; a call from another loop starts afresh on a new connection.
    """

    def __init__(
        self,
        checkout: Callable[[], Awaitable[Any]],
        release: Callable[[Any], Awaitable[None]],
        reply_error: type[Exception],
        lost: type[Exception],
    ) -> None:
        # A library's own get_connection may need a command name (see checkout_of).
        self._checkout = checkout_of(checkout)
        self._release = release
        self._reply_error = reply_error
        self._lost = lost
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connection: Any = None
        # Set when a round trip broke off: the connection's stream may be out of step.
        self._stale = False
        self._queued: list[tuple[bytes, asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None
        # True while a caller makes its own round trip (see call()).
        self._leading = False
        #: Round trips made so far: with concurrent callers, fewer than their calls.
        self.round_trips = 0

    async def call(self, packed: bytes, trailer: bytes | None = None) -> Any:
        """Send one packed command with the next round trip; its reply (error replies raised).

        ``trailer``, another packed command, goes right behind it in the same
        write; its reply is read and dropped, an error reply too.
        """
        future = self._enqueue(packed)
        if trailer is not None:
            self._enqueue(trailer).add_done_callback(_drop_outcome)
        if self._flusher is None and not self._leading and self._queued[0][1] is future:
            # Nothing in flight: this caller makes the round trip itself, which
            # spares a lone caller the hop through a flusher task. Calls made
            # meanwhile queue up and are flushed by a task once it is done.
            batch, self._queued = self._queued, []
            self._leading = True
            try:
                await self._round_trip(batch)
            finally:
                self._leading = False
                if self._queued:
                    self._start_flushing()
        else:
            self._start_flushing()  # a no-op while a round trip is in flight
        return await future

    async def call_many(self, packed: list[bytes]) -> list[Any]:
        """Several packed commands in the same round trip, in order; error replies in place.

        A lost connection is raised, as by a pipeline.
        """
        futures = [self._enqueue(command) for command in packed]
        self._start_flushing()
        results: list[Any] = []
        for future in futures:
            try:
                results.append(await future)
            except self._reply_error as exc:
                results.append(exc)
        return results

    @property
    def idle(self) -> bool:
        """Whether a call now would make its own round trip (nothing in flight or queued)."""
        if self._loop is not asyncio.get_running_loop():
            return True
        return self._flusher is None and not self._leading and not self._queued

    async def stream(self, chunks: Iterable[bytes], count: int) -> list[Any]:
        """Write each chunk as soon as it is made, then read ``count`` replies; only when idle.

        ``chunks`` is usually a generator that packs as it goes, so the server
        runs one chunk while the next is packed. Error replies are returned in
        place; a lost connection is raised. Calls made meanwhile queue up and
        are flushed once the replies are read.
        """
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._rebind(loop)
        if not self.idle:
            raise RuntimeError("AutoPipeline.stream() needs an idle pipeline")
        self._leading = True
        self.round_trips += 1
        try:
            connection = await self._ready_connection()
            try:
                for chunk in chunks:
                    await connection.send_packed_command(chunk, False)
                return await aread_replies(connection, count, self._reply_error, self._lost)
            except BaseException:
                # Written commands' replies may still arrive: the next round trip reconnects.
                self._stale = True
                raise
        finally:
            self._leading = False
            if self._queued:
                self._start_flushing()

    def _enqueue(self, packed: bytes) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._rebind(loop)
        future: asyncio.Future[Any] = loop.create_future()
        self._queued.append((packed, future))
        return future

    def _start_flushing(self) -> None:
        if self._flusher is None and not self._leading:
            assert self._loop is not None
            self._flusher = self._loop.create_task(self._flush())

    def _rebind(self, loop: asyncio.AbstractEventLoop) -> None:
        # Connections and tasks belong to one loop; an old loop's are abandoned
        # (that loop has ended or runs elsewhere, so they cannot be awaited here).
        self._loop = loop
        self._connection = None
        self._stale = False
        self._queued = []
        self._flusher = None
        self._leading = False

    async def _flush(self) -> None:
        try:
            while self._queued:
                batch, self._queued = self._queued, []
                await self._round_trip(batch)
        finally:
            self._flusher = None

    async def _round_trip(self, batch: list[tuple[bytes, asyncio.Future[Any]]]) -> None:
        read = 0
        self.round_trips += 1
        try:
            connection = await self._ready_connection()
            await connection.send_packed_command(b"".join([packed for packed, _ in batch]), False)
            reply_error = self._reply_error
            for _, future in batch:
                try:
                    reply = await connection.read_response()
                except reply_error as exc:
                    if not future.done():
                        future.set_exception(exc)
                else:
                    if not future.done():
                        future.set_result(reply)
                read += 1
        except BaseException as exc:
            # The rest of the replies are lost (a broken connection) or unread (cancelled).
            self._stale = True
            error = exc if isinstance(exc, Exception) else ServerUnavailableError(_CANCELLED)
            for _, future in batch[read:]:
                if not future.done():
                    future.set_exception(error)
            if not isinstance(exc, Exception):
                raise

    async def _ready_connection(self) -> Any:
        if self._connection is None:
            self._connection = await self._checkout()
        elif self._stale:
            # Unread replies may still arrive on it: start over on a new socket.
            await self._connection.disconnect()
        self._stale = False
        return self._connection

    async def aclose(self) -> None:
        """Give the connection back to the library's pool (which the driver then closes)."""
        flusher, connection = self._flusher, self._connection
        self._connection = None
        if flusher is not None and not flusher.done():
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
        if connection is not None and self._loop is asyncio.get_running_loop():
            if self._stale:
                await connection.disconnect()
            await self._release(connection)


_CANCELLED = "the round trip was cancelled before this command's reply was read"


def _drop_outcome(future: asyncio.Future[Any]) -> None:
    """Mark an unanswered command's error as retrieved, so asyncio does not log it."""
    if not future.cancelled():
        future.exception()
