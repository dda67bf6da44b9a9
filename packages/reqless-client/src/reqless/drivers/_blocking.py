"""A connection of its own for a command that blocks, made as a library pool makes its own.

``BZPOPMIN`` holds its connection until a key gets a member or the timeout
passes, so :class:`reqless.PopWaiter` cannot borrow a pooled connection for
it. :class:`LibraryBlockingConnection` builds one connection with the pool's
class and arguments (URL, TLS, credentials, database: everything the pool's
connections get) without counting it in the pool, and speaks through the
connection's public methods. Waiting is the caller's business: it selects
on :meth:`~LibraryBlockingConnection.fileno` (the socket, private to the
libraries, hence None when it cannot be had) or polls with
:meth:`~LibraryBlockingConnection.readable`; either way nothing sits in a
blocking read, so the pool's ``socket_timeout`` never cuts a long wait short.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reqless._errors import ReqlessError
from reqless.drivers import Arg
from reqless.drivers._border import Translate
from reqless.drivers._resp import pack_command

__all__ = ["LibraryBlockingConnection"]


class LibraryBlockingConnection:
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
        self._connection: Any = pool.connection_class(**pool.connection_kwargs)
        self._errors = errors
        self._translate = translate
        self._where = where
        self._reply_error = reply_error
        #: The server's id of this connection while it is open, else None.
        self.client_id: int | None = None

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
        sock = getattr(self._connection, "_sock", None)
        fileno = getattr(sock, "fileno", None)
        return None if fileno is None else int(fileno())

    def readable(self, timeout: float) -> bool:
        try:
            return bool(self._connection.can_read(timeout=timeout))
        except self._errors as exc:
            raise self._lose(exc) from exc

    def read(self, count: int) -> list[Any]:
        # The library's own reader, never a raw one: readable() may have buffered
        # a reply in the library's parser already. Rare calls, so its cost is no matter.
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

    def _lose(self, exc: Exception | None) -> ReqlessError:
        """Close after a failure; the error to raise (a lost connection, if it was one)."""
        self.close()
        if exc is None:
            return ReqlessError("the connection was closed")
        return self._translate(exc, self._where)

    def close(self) -> None:
        self.client_id = None
        self._connection.disconnect()
