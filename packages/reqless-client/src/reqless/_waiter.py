"""Waiting for work on the server: :class:`PopWaiter`.

An idle worker that polls starts a new job up to a poll interval late; one
subscribed to the core's events pays a thread hand-off and a pop round trip
after hearing the put. A :class:`PopWaiter` instead keeps ``BZPOPMIN`` on the
wake keys of its queues (see :mod:`reqless._wake`) in flight on a connection
of its own, with the core's ``queue.pop`` pipelined behind it in the same
write: a put through this client unblocks the ``BZPOPMIN`` inside the
server, which runs the pop at once, so the job is in hand with no round trip
after the put.

The pipelined pop runs long after it was written, so it cannot carry its
``now``: it goes through the function library's ``reqless_server_clock``
entry point, which takes ``now`` from the server's ``TIME``. With a ``now``
from when the wait began, a job handed out after a wait of *t* seconds
would get a lease *t* seconds short (already expired once *t* exceeds the
heartbeat), a ``popped`` time before its ``put`` and wait and run samples
off by *t*. So where that entry point is missing (the core's eval form) or
the client has a clock of its own (tests), the pop is written after the
wake-up instead, with the client's clock: one more round trip, on the same
connection.

Waiting polls the connection's socket and a pipe of the waiter's own
together, so :meth:`PopWaiter.interrupt` (one byte written to that pipe)
ends a wait from any thread or signal handler; the server's side of the wait
is then ended with ``CLIENT UNBLOCK`` from the client's ordinary connections.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import select
import time
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from reqless import _protocol as p
from reqless._errors import (
    InvalidArgumentError,
    ReplicationTimeoutError,
    ReqlessError,
    ScriptNotLoadedError,
    ServerUnavailableError,
)
from reqless._job import Job
from reqless._steps import Steps, drive
from reqless._wake import queue_of, wake_key
from reqless.drivers import Arg, BlockingConnection, BlockingDriver

if TYPE_CHECKING:
    from reqless._client import Client

__all__ = ["PopWaiter"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# How long the server may take to answer once its own timeout has passed, when
# the client's settings give no socket timeout to go by.
_DEFAULT_GRACE = 10.0
# The wait between two looks when the socket cannot be selected on.
_SLICE = 0.05
# The wait for a reply after CLIENT UNBLOCK found nothing blocked (the BZPOPMIN
# may still be on its way to the server) before unblocking again.
_UNBLOCK_RETRY = 0.005


class PopWaiter:
    """Pops jobs from ``queue`` as ``client.worker_name``, waiting on the server for them.

    ``pop(count, timeout)`` waits until a put through a reqless client (with
    ``wake_workers``, the default) into ``queue`` or one of the ``wake_on``
    queues, until ``timeout`` seconds pass, or until :meth:`interrupt`, and
    returns up to ``count`` jobs popped from ``queue`` then. When the put
    that woke it was into one of the ``wake_on`` queues, that queue is
    popped too (for what ``queue`` did not fill), and :attr:`woken_by` names
    the queue whose put woke the last pop (None after a timeout or an
    interrupt). A timeout's pop is the poll that finds jobs put by clients
    that wake nobody. An interrupted pop returns at once, with the jobs the
    pop already pipelined on the server took (usually none) or, where the
    pop is written after the wake-up, with none.

    The jobs are :class:`Job` objects exactly as ``Queue.pop(count)`` makes
    them (or of ``job_class``, a subclass made the same way), running and
    held by ``client.worker_name``; the list may be empty (another worker was
    faster, the put was of a job not ready yet).

    The waiter has a connection of its own, opened by the first ``pop`` and
    opened again after a lost connection (raised as
    :class:`ServerUnavailableError`, as is a wait that a master's demotion to
    replica ended). With ``?wait_replicas``, a pop too few replicas
    acknowledged raises :class:`reqless.ReplicationTimeoutError` whose
    ``replies`` are the jobs it popped (running, held by this worker all the
    same). Use it from one thread at a time
    (:meth:`interrupt` excepted) and :meth:`close` it, or use it as a
    context manager. After ``fork`` the connection belongs to the parent: a
    waiter used in the child drops it and opens its own, but a worker should
    make its waiters in the child. Needs a driver with blocking connections
    (both shipped drivers have them) and Redis or Valkey 6 or later.
    :class:`reqless.aio.PopWaiter` is its asyncio twin.
    """

    # Set by _open_pipe(): the self-pipe, the owning process, the polled socket.
    _read_fd: int
    _write_fd: int
    _pid: int
    _socket_fd: int
    _poller: Any

    def __init__(
        self,
        client: Client,
        queue: str,
        wake_on: Iterable[str] = (),
        *,
        job_class: type[Job] = Job,
    ) -> None:
        driver = self._blocking_driver(client)
        self._client = client
        self._job_class = job_class
        self._driver: BlockingDriver = driver
        self.queue = p.check_str("queue name", queue)
        self.wake_on = tuple(p.check_str("queue name", name) for name in wake_on)
        # One key per queue, in order: BZPOPMIN takes from the first that has a member.
        self._keys = tuple(dict.fromkeys(wake_key(name) for name in (queue, *self.wake_on)))
        timeout = client.settings.socket_timeout
        self._grace = max(1.0, _DEFAULT_GRACE if timeout is None else timeout)
        #: The queue whose put woke the last pop; None after a timeout or an interrupt.
        self.woken_by: str | None = None
        self._warned = False
        self._interrupted = False
        # A ReplicationTimeoutError met during the pop in progress, raised at its end.
        self._lagging: ReplicationTimeoutError | None = None
        self._connection: BlockingConnection | None = None
        self._client_id = 0
        self._open_pipe()

    def _blocking_driver(self, client: Client) -> BlockingDriver:
        """The driver whose connections the waits use (the asyncio twin brings its own)."""
        driver = client._driver
        if not isinstance(driver, BlockingDriver):
            raise InvalidArgumentError(
                f"the {driver.name!r} driver has no blocking connections for a PopWaiter"
            )
        return driver

    def __repr__(self) -> str:
        return f"<PopWaiter {self.queue!r} wake_on={list(self.wake_on)!r}>"

    def pop(self, count: int, timeout: float) -> list[Job]:
        """Up to ``count`` jobs, waiting at most about ``timeout`` seconds (> 0) for a put."""
        p.check_int("count", count, minimum=0)
        if not (isinstance(timeout, int | float) and timeout > 0 and math.isfinite(timeout)):
            raise InvalidArgumentError(f"timeout must be a number of seconds > 0, not {timeout!r}")
        if self._pid != os.getpid() or self._read_fd < 0:
            self._after_fork_or_close()
        self.woken_by = None
        if self._take_interrupt() or count == 0:
            return []
        connection = self._open()
        try:
            return self._drive(self._waiting(count, float(timeout)))
        except BaseException:
            # A reply may still be on its way: the next pop starts on a new connection.
            connection.close()
            raise

    def interrupt(self) -> None:
        """End the pop in progress, or else the next one, promptly.

        Safe from any thread and from a signal handler: it sets a flag and
        writes one byte to a pipe, nothing else.
        """
        self._interrupted = True
        # OSError: the pipe is full (a byte already waits) or the waiter is closed.
        with contextlib.suppress(OSError):
            os.write(self._write_fd, b"!")

    def close(self) -> None:
        """Close the connection and the pipe (from the popping thread, not during a pop)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
        read_fd, write_fd = self._read_fd, self._write_fd
        self._read_fd = self._write_fd = -1
        for fd in (read_fd, write_fd):
            if fd >= 0:
                os.close(fd)

    def __enter__(self) -> PopWaiter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- waiting --------------------------------------------------------------------------

    def _drive(self, steps: Steps[T]) -> T:
        """Run the sans-IO ``steps`` (see :meth:`_waiting`) with this class's blocking I/O."""
        return drive(steps, self)

    def _waiting(self, count: int, timeout: float) -> Steps[list[Job]]:
        """One wait and its pop, sans-IO: each step yields ``(method name, *arguments)`` of
        the twin that drives it (this class, or :class:`reqless.aio.PopWaiter`, whose
        methods of those names are coroutines) and gets the result back.

        A pop too few replicas acknowledged (``?wait_replicas``) still handed its
        jobs out on the master: the wait goes on as if acknowledged, then raises
        :class:`reqless.ReplicationTimeoutError` with the jobs as its ``replies``."""
        self._lagging = None
        jobs = yield from self._waiting_and_popping(count, timeout)
        lagging = self._take_lagging()
        if lagging is not None:
            lagging.replies = list(jobs)
            raise lagging
        return jobs

    def _take_lagging(self) -> ReplicationTimeoutError | None:
        lagging, self._lagging = self._lagging, None
        return lagging

    def _replies(self, count: int) -> Steps[list[Any]]:
        """The next ``count`` replies; those of a :class:`ReplicationTimeoutError` kept
        for :meth:`_waiting` to raise at the end."""
        try:
            return (yield ("_read", count))  # type: ignore[no-any-return]
        except ReplicationTimeoutError as error:
            self._lagging = error
            return error.replies

    def _waiting_and_popping(self, count: int, timeout: float) -> Steps[list[Job]]:
        call = p.pop(self.queue, self._client.worker_name, count)
        ahead = self._pipelined(call)
        block = ("BZPOPMIN", *self._keys, f"{max(timeout, 0.001):.3f}")
        yield ("_send", block) if ahead is None else ("_send", block, ahead)
        limit = timeout + self._grace
        interrupted = not (yield ("_until_readable", limit))
        if interrupted and not (yield ("_unblock", limit)):
            return []  # our connection was closed: the server dropped the wait and the pop
        replies = yield from self._replies(1 if ahead is None else 2)
        wake = replies[0]
        jobs = [] if ahead is None else (yield from self._jobs(call, replies[1]))
        if isinstance(wake, ServerUnavailableError) and not jobs:
            # A demoted master (READONLY, or UNBLOCKED as it became a replica): an
            # outage, raised at once for the caller to reconnect, not a reason to poll.
            raise wake
        if isinstance(wake, ReqlessError):
            # A key of that name and another type (or an ACL) refuses the wait:
            # sleep out the timeout instead, then poll.
            self._warn_once(wake)
            if jobs or interrupted or (yield ("_sleep", timeout)):
                return jobs
            return (yield from self._pop_now(self.queue, count))
        woken_by = self.woken_by = None if wake is None else queue_of(str(wake[0]))
        if interrupted:
            if woken_by is not None and (ahead is None or woken_by != self.queue):
                # A put's wake-up came with the interrupt: hand it on to another waiter.
                yield ("_send", ("ZADD", wake[0], 0, wake[1]))
                yield ("_read", 1)
            return jobs
        if ahead is None and woken_by in (None, self.queue):
            jobs = yield from self._pop_now(self.queue, count)
        if woken_by not in (None, self.queue) and len(jobs) < count:
            jobs += yield from self._pop_now(str(woken_by), count - len(jobs))
        return jobs

    def _send(self, *commands: Sequence[Arg]) -> None:
        self._current().send(*commands)

    def _read(self, count: int) -> list[Any]:
        return self._current().read(count)

    def _run(self, call: p.Call[Any]) -> Any:
        return self._client._run(call)

    def _until_readable(self, limit: float) -> bool:
        """True once a reply can be read, False on an interrupt; raises after ``limit`` s."""
        connection = self._current()
        deadline = time.monotonic() + limit
        poller = self._poller_for(connection)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                connection.close()
                raise ServerUnavailableError(f"the server did not end a wait within {limit:.1f} s")
            if poller is None:
                if self._take_interrupt():
                    return False
                if connection.readable(min(left, _SLICE)):
                    return True
                continue
            events = dict(poller.poll(math.ceil(left * 1000)))
            if self._socket_fd in events:
                return True
            if self._read_fd in events:
                # Read the byte first, then the flag: interrupt() sets the flag first.
                self._drain()
                if self._take_interrupt():
                    return False

    def _unblock(self, limit: float) -> bool:
        """End the server's wait from another connection; False if ours had to be closed."""
        connection = self._current()
        deadline = time.monotonic() + limit
        while self._client_id > 0 and time.monotonic() < deadline:
            try:
                if self._client._driver.execute_command("CLIENT", "UNBLOCK", self._client_id):
                    return True
            except ReqlessError:
                break  # CLIENT UNBLOCK refused (an ACL, a proxy): closing ends the wait too
            # Nothing was blocked: the reply is on its way, or the BZPOPMIN is still
            # on its way to the server.
            if self._readable(connection, _UNBLOCK_RETRY):
                return True
        connection.close()
        return False

    def _readable(self, connection: BlockingConnection, timeout: float) -> bool:
        fd = connection.fileno()
        if fd is None or not hasattr(select, "poll"):
            return connection.readable(timeout)
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(math.ceil(timeout * 1000)))

    def _sleep(self, timeout: float) -> bool:
        """Wait ``timeout`` seconds for nothing but an interrupt; True if interrupted."""
        deadline = time.monotonic() + timeout
        while not self._take_interrupt():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if hasattr(select, "poll"):
                pipe = select.poll()
                pipe.register(self._read_fd, select.POLLIN)
                if pipe.poll(math.ceil(left * 1000)):
                    self._drain()  # then the flag, at the top of the loop
            else:
                time.sleep(min(left, _SLICE))
        return True

    def _warn_once(self, error: ReqlessError) -> None:
        if not self._warned:
            self._warned = True
            logger.warning(
                "cannot wait on %s (%s); polling every wait instead", list(self._keys), error
            )

    # -- popping --------------------------------------------------------------------------

    def _pipelined(self, call: p.Call[Any]) -> tuple[Arg, ...] | None:
        """The pop to write behind the wait, or None when it must wait for the wake-up.

        Only a pop stamped by the server's clock may be written before it runs;
        a client with a clock of its own keeps its clock for every command.
        """
        if self._client.clock is not time.time:
            return None
        return self._client._script.server_clock_command(call.command, *call.args)

    def _now_command(self, call: p.Call[Any]) -> tuple[Arg, ...]:
        """``call`` as written to run at once on our connection."""
        script = self._client._script
        return self._pipelined(call) or script.command(call.command, *call.args)

    def _pop_now(self, queue: str, count: int) -> Steps[list[Job]]:
        """Pop on our connection, now: after the wake-up, or from the queue that woke us."""
        call = p.pop(queue, self._client.worker_name, count)
        yield ("_send", self._now_command(call))
        (reply,) = yield from self._replies(1)
        return (yield from self._jobs(call, reply))

    def _jobs(self, call: p.Call[list[p.JobState]], reply: Any) -> Steps[list[Job]]:
        client = self._client
        if isinstance(reply, ScriptNotLoadedError):
            # The core is gone from the server: the ordinary path loads it and pops again.
            states = yield ("_run", call)
        elif isinstance(reply, ReqlessError):
            raise reply
        else:
            states = call.parse(reply)
        job_class = self._job_class
        return [job_class(client, state) for state in states]

    # -- the connection and the pipe ------------------------------------------------------

    def _current(self) -> BlockingConnection:
        connection = self._connection
        if connection is None:
            raise ServerUnavailableError("the waiting pop's connection is closed")
        return connection

    def _open(self) -> BlockingConnection:
        if self._connection is None:
            self._connection = self._driver.blocking_connection()
        self._client_id = self._connection.open()
        return self._connection

    def _poller_for(self, connection: BlockingConnection) -> Any:
        """A poll object on the socket and the pipe, or None when the socket is hidden."""
        fd = connection.fileno()
        if fd is None or self._poller is None:
            return None
        if fd != self._socket_fd:
            if self._socket_fd >= 0:
                self._poller.unregister(self._socket_fd)
            self._poller.register(fd, select.POLLIN)
            self._socket_fd = fd
        return self._poller

    def _open_pipe(self) -> None:
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)
        self._pid = os.getpid()
        self._socket_fd = -1
        self._poller = select.poll() if hasattr(select, "poll") else None
        if self._poller is not None:
            self._poller.register(self._read_fd, select.POLLIN)

    def _take_interrupt(self) -> bool:
        """Whether an interrupt is pending; consumes it (the flag, then the pipe's bytes)."""
        if not self._interrupted:
            return False
        self._interrupted = False
        self._drain()
        return True

    def _drain(self) -> None:
        # interrupt() sets the flag before it writes, so a byte may outlive the
        # interrupt it stood for: bytes only wake the poll, the flag decides.
        try:
            while os.read(self._read_fd, 64):
                pass
        except OSError:
            pass  # empty (BlockingIOError) or closed

    def _after_fork_or_close(self) -> None:
        # After a fork the connection and the pipe are the parent's: close our
        # copies (closing a descriptor here leaves the parent's open) and start afresh.
        if self._pid != os.getpid():
            self._interrupted = False
        self.close()
        self._open_pipe()
