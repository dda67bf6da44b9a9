"""Waiting for work on the server from an asyncio loop: :class:`PopWaiter`.

The asyncio twin of :class:`reqless.PopWaiter`: the same ``BZPOPMIN`` on the
wake keys with the pop pipelined behind it (through ``reqless_server_clock``),
the same hand-offs and fallbacks, from the same sans-IO steps
(:meth:`reqless.PopWaiter._waiting`). Only the waiting differs: the loop
watches the connection's socket and the waiter's pipe (``add_reader``), so a
wait never holds the loop, and :meth:`PopWaiter.interrupt` still ends one from
any thread or signal handler.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any

import reqless
from reqless import _protocol as p
from reqless._errors import (
    InvalidArgumentError,
    ReqlessError,
    ServerUnavailableError,
)
from reqless._script import SERVER_CLOCK_FUNCTION
from reqless._steps import Steps, drive_async
from reqless._waiter import _SLICE, _UNBLOCK_RETRY, T
from reqless._waiter import PopWaiter as _SyncWaiter
from reqless.aio._client import Client
from reqless.aio._job import Job as AsyncJob
from reqless.drivers import Arg, BlockingConnection, BlockingDriver, Driver, connect

__all__ = ["PopWaiter"]


class _Steps(_SyncWaiter):
    """The synchronous waiter's state and steps, its blocking connections from ``driver``."""

    def __init__(
        self,
        client: Any,
        driver: BlockingDriver,
        queue: str,
        wake_on: Iterable[str],
        job_class: type[Any],
    ) -> None:
        self._given_driver = driver
        super().__init__(client, queue, wake_on, job_class=job_class)

    def _blocking_driver(self, client: Any) -> BlockingDriver:
        return self._given_driver

    # The asyncio client's script has no synchronous command builders: the words
    # are built here from the form, which PopWaiter.pop settles before any step.

    def _pipelined(self, call: p.Call[Any]) -> tuple[Arg, ...] | None:
        if self._client.clock is not time.time or self._client._script.mode != "function":
            return None
        return ("FCALL", SERVER_CLOCK_FUNCTION, 0, call.command, *call.args)

    def _now_command(self, call: p.Call[Any]) -> tuple[Arg, ...]:
        script = self._client._script
        mode = script.mode
        if mode is None:
            raise RuntimeError("the core's form is settled before the waiter's steps run")
        return self._pipelined(call) or script._words(mode, call.command, call.args)


class PopWaiter:
    """Pops jobs from ``queue`` as ``client.worker_name``, waiting on the server for them,
    without holding the event loop.

    Behaves as :class:`reqless.PopWaiter` (read it for what wakes a pop, what
    it returns and :attr:`woken_by`), with ``await waiter.pop(count, timeout)``.
    ``client`` is a :class:`reqless.aio.Client` (the jobs are
    :class:`reqless.aio.Job`) or a :class:`reqless.Client` (the jobs are
    :class:`reqless.Job`, for code that runs them synchronously, such as a
    worker's threads); ``job_class`` is a subclass of that class. The waiter
    opens a connection of its own, outside the client's pool; use it from one
    task at a time (:meth:`interrupt` is safe from any thread or signal
    handler) and close it with ``await waiter.aclose()`` or ``async with``. A
    pop whose task is cancelled closes that connection (the next pop opens
    another): the server's side of the wait ends with it.
    """

    def __init__(
        self,
        client: Client | reqless.Client,
        queue: str,
        wake_on: Iterable[str] = (),
        *,
        job_class: type[Any] | None = None,
    ) -> None:
        self._client = client
        self._own_driver: Driver | None = None
        if isinstance(client, Client):
            self._own_driver = connect(client.settings)
            driver: Any = self._own_driver
            default: type[Any] = AsyncJob
        elif isinstance(client, reqless.Client):
            driver, default = client._driver, reqless.Job
        else:
            raise InvalidArgumentError(
                f"a PopWaiter needs a reqless.aio.Client or a reqless.Client, not {client!r}"
            )
        if not isinstance(driver, BlockingDriver):
            self._close_own_driver()
            raise InvalidArgumentError(
                f"the {client.settings.driver!r} driver has no blocking connections for a PopWaiter"
            )
        if job_class is not None and not (
            isinstance(job_class, type) and issubclass(job_class, default)
        ):
            self._close_own_driver()
            raise InvalidArgumentError(
                f"job_class must be a subclass of {default.__module__}.{default.__name__} "
                f"for this client, not {job_class!r}"
            )
        self._steps = _Steps(client, driver, queue, wake_on, job_class or default)
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"<aio.PopWaiter {self.queue!r} wake_on={list(self.wake_on)!r}>"

    @property
    def queue(self) -> str:
        """The queue popped."""
        return self._steps.queue

    @property
    def wake_on(self) -> tuple[str, ...]:
        """The other queues whose puts wake a pop."""
        return self._steps.wake_on

    @property
    def woken_by(self) -> str | None:
        """The queue whose put woke the last pop; None after a timeout or an interrupt."""
        return self._steps.woken_by

    async def pop(self, count: int, timeout: float) -> list[Any]:
        """Up to ``count`` jobs, waiting at most about ``timeout`` seconds (> 0) for a put."""
        p.check_int("count", count, minimum=0)
        if not (isinstance(timeout, int | float) and timeout > 0 and math.isfinite(timeout)):
            raise InvalidArgumentError(f"timeout must be a number of seconds > 0, not {timeout!r}")
        steps = self._steps
        if steps._pid != os.getpid() or steps._read_fd < 0:
            steps._after_fork_or_close()
        steps.woken_by = None
        if steps._take_interrupt() or count == 0:
            return []
        self._loop = asyncio.get_running_loop()
        await self._choose_form()
        connection = await self._open()
        try:
            return await self._drive(steps._waiting(count, float(timeout)))
        except BaseException:
            # A reply may still be on its way (or the task was cancelled mid-wait):
            # the next pop starts on a new connection.
            connection.close()
            raise

    def interrupt(self) -> None:
        """End the pop in progress, or else the next one, promptly (any thread, any
        signal handler: it sets a flag and writes one byte to a pipe)."""
        self._steps.interrupt()

    async def aclose(self) -> None:
        """Close the connection and the pipe (not during a pop)."""
        self._steps.close()
        self._close_own_driver()

    async def __aenter__(self) -> PopWaiter:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- driving the steps ----------------------------------------------------------------

    async def _drive(self, steps: Steps[T]) -> T:
        """Run the shared sans-IO steps with this class's coroutines."""
        return await drive_async(steps, self)

    async def _send(self, *commands: Sequence[Arg]) -> None:
        self._steps._send(*commands)

    async def _read(self, count: int) -> list[Any]:
        connection = self._steps._current()
        await self._readable(connection, self._steps._grace)
        return connection.read(count)

    async def _run(self, call: p.Call[Any]) -> Any:
        client = self._client
        if isinstance(client, Client):
            return await client._run(call)
        return await asyncio.to_thread(client._run, call)

    async def _until_readable(self, limit: float) -> bool:
        """True once a reply can be read, False on an interrupt; raises after ``limit`` s."""
        steps = self._steps
        connection = steps._current()
        deadline = time.monotonic() + limit
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                connection.close()
                raise ServerUnavailableError(f"the server did not end a wait within {limit:.1f} s")
            if steps._take_interrupt():
                return False
            fd = connection.fileno()
            if fd is None:
                if connection.readable(0):
                    return True
                await self._pipe_or_timeout(min(left, _SLICE))
                continue
            if await self._fds_ready([steps._read_fd, fd], left) == fd:
                return True
            steps._drain()  # the byte first, then the flag (at the top of the loop)

    async def _unblock(self, limit: float) -> bool:
        """End the server's wait from another connection; False if ours had to be closed."""
        steps = self._steps
        connection = steps._current()
        deadline = time.monotonic() + limit
        while steps._client_id > 0 and time.monotonic() < deadline:
            try:
                if await self._command("CLIENT", "UNBLOCK", steps._client_id):
                    return True
            except ReqlessError:
                break  # CLIENT UNBLOCK refused (an ACL, a proxy): closing ends the wait too
            # Nothing was blocked: the reply is on its way, or the BZPOPMIN is still
            # on its way to the server.
            if await self._readable(connection, _UNBLOCK_RETRY, raise_late=False):
                return True
        connection.close()
        return False

    async def _sleep(self, timeout: float) -> bool:
        """Wait ``timeout`` seconds for nothing but an interrupt; True if interrupted."""
        steps = self._steps
        deadline = time.monotonic() + timeout
        while not steps._take_interrupt():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            await self._pipe_or_timeout(left)
        return True

    # -- waiting on descriptors -----------------------------------------------------------

    async def _fds_ready(self, fds: list[int], timeout: float) -> int | None:
        """Which of ``fds`` became readable first; None after ``timeout``."""
        loop = self._loop or asyncio.get_running_loop()
        ready: asyncio.Future[int] = loop.create_future()

        def mark(fd: int) -> None:
            if not ready.done():
                ready.set_result(fd)

        for fd in fds:
            loop.add_reader(fd, mark, fd)
        try:
            return await asyncio.wait_for(ready, timeout)
        except TimeoutError:
            return None
        finally:
            for fd in fds:
                loop.remove_reader(fd)

    async def _pipe_or_timeout(self, timeout: float) -> None:
        if await self._fds_ready([self._steps._read_fd], timeout) is not None:
            self._steps._drain()

    async def _readable(
        self, connection: BlockingConnection, timeout: float, *, raise_late: bool = True
    ) -> bool:
        """Wait up to ``timeout`` for a reply on ``connection`` (interrupts are not looked at:
        the reply is already owed)."""
        fd = connection.fileno()
        deadline = time.monotonic() + timeout
        while True:
            if fd is None and connection.readable(0):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                if raise_late:
                    connection.close()
                    raise ServerUnavailableError(f"no reply from the server within {timeout:.1f} s")
                return False
            if fd is None:
                await asyncio.sleep(min(left, _SLICE))
            elif await self._fds_ready([fd], left) is not None:
                return True

    # -- the connection and the core ------------------------------------------------------

    async def _open(self) -> BlockingConnection:
        steps = self._steps
        if steps._connection is None:
            steps._connection = steps._driver.blocking_connection()
        connection = steps._connection
        # Connecting is one short round trip (plus a handshake); done in a thread when
        # the connection is new, so a slow server does not hold the loop.
        if connection.fileno() is None:
            steps._client_id = await asyncio.to_thread(connection.open)
        else:
            steps._client_id = connection.open()
        return connection

    async def _choose_form(self) -> None:
        """Settle the core's form before the steps build commands (they do not wait)."""
        script = self._client._script
        if script.mode is not None:
            return
        if isinstance(self._client, Client):
            await self._client._script._start()
        else:
            await asyncio.to_thread(self._client._script._start)

    async def _command(self, *args: Arg) -> Any:
        client = self._client
        if isinstance(client, Client):
            return await client._driver.execute_command(*args)
        return await asyncio.to_thread(client._driver.execute_command, *args)

    def _close_own_driver(self) -> None:
        driver, self._own_driver = self._own_driver, None
        if driver is not None:
            driver.close()
