"""A connection of its own for a command that blocks, made as a library pool makes its own.

``BZPOPMIN`` holds its connection until a key gets a member or the timeout
passes, so :class:`reqless.PopWaiter` cannot borrow a pooled connection for
it. :class:`LibraryBlockingConnection` builds one connection with the pool's
class and arguments (URL, TLS, credentials, database: everything the pool's
connections get) without counting it in the pool, and speaks through the
connection's public methods, except that replies are read off its socket with
a hiredis reader of our own where the library has one (see :meth:`read`; the
private parts are reached through :mod:`reqless.drivers._internals`).
Waiting is the caller's business: it selects on
:meth:`~LibraryBlockingConnection.fileno` (the socket, private to the
libraries, hence None when it cannot be had) or polls with
:meth:`~LibraryBlockingConnection.readable`; either way nothing sits in a
blocking read, so the pool's ``socket_timeout`` never cuts a long wait short.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reqless._errors import ReqlessError, ServerUnavailableError
from reqless.drivers import Arg
from reqless.drivers._border import ErrorTranslator, Translate
from reqless.drivers._internals import new_connection, socket_of
from reqless.drivers._replies import RECV_SIZE, raw_reader, take_replies
from reqless.drivers._resp import pack_command

__all__ = ["LibraryBlockingConnection"]


class LibraryBlockingConnection(ErrorTranslator):
    """One connection outside ``pool``, for :class:`reqless.drivers.BlockingConnection`.

    ``errors`` is the root of the library's exceptions and ``translate``
    turns one into ours; ``reply_error`` is its exception for an error reply.
    """

    def __init__(
        self,
        pool: Any,
        errors: type[Exception],
        translate: Translate,
        where: str,
        *,
        reply_error: type[Exception],
    ) -> None:
        super().__init__(errors, translate, where)
        self._connection: Any = new_connection(pool)
        self._reply_error = reply_error
        #: The server's id of this connection while it is open, else None.
        self.client_id: int | None = None
        # Whether readable() may have left bytes in the library's parser: then
        # only the library's reader may read next.
        self._buffered = False
        # Kept from one read to the next: fresh memory is slow to touch on a cold CPU.
        self._reader: Any = None
        self._buffer = bytearray(RECV_SIZE)

    def __repr__(self) -> str:
        return f"<LibraryBlockingConnection {self._where} id={self.client_id}>"

    def open(self) -> int:
        if self.client_id is not None:
            return self.client_id
        try:
            self._connection.connect()  # the library's handshake: AUTH, SELECT, ...
            self._connection.send_command("CLIENT", "ID", check_health=False)
            try:
                client_id = int(self._connection.read_response())
            except self._reply_error:
                client_id = 0  # refused (an ACL): open, with an id nobody can use
        except self._errors as exc:
            self._connection.disconnect()
            raise self._translate(exc, self._where) from exc
        self.client_id = client_id
        return client_id

    def send(self, *commands: Sequence[Arg]) -> None:
        packed = b"".join([pack_command(command) for command in commands])
        try:
            self._connection.send_packed_command([packed], False)
        except self._errors as exc:
            raise self._lose(exc) from exc
        except BaseException:
            # Part of a command may be written: the stream cannot be trusted any more.
            self._lose(None)
            raise

    def fileno(self) -> int | None:
        sock = socket_of(self._connection)
        fileno = getattr(sock, "fileno", None)
        return None if fileno is None else int(fileno())

    def readable(self, timeout: float) -> bool:
        self._buffered = True
        try:
            return bool(self._connection.can_read(timeout=timeout))
        except self._errors as exc:
            raise self._lose(exc) from exc

    def read(self, count: int) -> list[Any]:
        replies = self._read(count)
        for reply in replies:
            # A reply that says the server is no longer the one to talk to (a master
            # demoted by a failover): as for a lost connection, close, raise, and let
            # the next open() connect afresh.
            if isinstance(reply, ServerUnavailableError):
                self.close()
                raise reply
        return replies

    def _read(self, count: int) -> list[Any]:
        sock = socket_of(self._connection)
        if self._buffered or sock is None:
            self._buffered = False
            return self._read_through_library(count)
        if self._reader is None:
            self._reader = raw_reader(self._connection)
            if self._reader is None:
                return self._read_through_library(count)
        # An idle worker's pick-up: the wait's reply and the pop's, read straight off
        # the socket into a buffer kept from one read to the next: cheaper than the
        # library's read on cold code (docs/performance.md, "The waiter's read").
        try:
            replies = take_replies(sock, self._reader, self._buffer, count, OSError)
        except OSError as exc:
            raise self._lose(None, ServerUnavailableError(f"{self._where}: {exc}")) from exc
        except BaseException:
            self._lose(None)
            raise
        return self._in_place(replies)

    def _read_through_library(self, count: int) -> list[Any]:
        replies: list[Any] = []
        try:
            for _ in range(count):
                try:
                    replies.append(self._connection.read_response())
                except self._reply_error as exc:
                    replies.append(self._translate(exc, self._where))
        except self._errors as exc:
            raise self._lose(exc) from exc
        except BaseException:
            # Interrupted half way through a reply: the rest would reach the next reader.
            self._lose(None)
            raise
        return replies

    def _lose(self, exc: Exception | None, error: ReqlessError | None = None) -> ReqlessError:
        """Close after a failure; the error to raise (a lost connection, if it was one)."""
        self.close()
        if error is not None:
            return error
        if exc is None:
            return ReqlessError("the connection was closed")
        return self._translate(exc, self._where)

    def close(self) -> None:
        self.client_id = None
        self._reader = None  # it may hold part of a reply
        self._connection.disconnect()
