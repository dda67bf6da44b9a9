"""Opt-in durability: each core call that may change state waits for replicas (``WAIT``).

A master acknowledges a write before its replicas have it, so a failover can
lose what a client was told is done. With ``?wait_replicas=N`` (and
``?wait_timeout_ms=T``) in the URL, or the same :class:`reqless.ClientSettings`
fields, the driver is wrapped in :class:`DurableDriver`: each core call
(``FCALL`` / ``EVALSHA``) goes out with ``WAIT N T`` pipelined behind it, in
the same write and round trip, and a call that fewer than ``N`` replicas
acknowledged within ``T`` ms raises :class:`reqless.ReplicationTimeoutError`: the change
is on the master, but a failover may lose it. ``WAIT`` covers every earlier
write of its connection, so one ``WAIT`` closes a pipeline of calls.

Calls known to change nothing (``FCALL_RO``, and the core's pure reads) skip
the ``WAIT``. The wrapper offers only the :class:`reqless.drivers.Driver`
protocol and blocking connections: without the optional fast paths
(streaming, trailing, packed), reqless sends everything through pipelines,
where the ``WAIT`` rides along.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from reqless._errors import (
    InvalidArgumentError,
    ReplicationTimeoutError,
    ReqlessError,
    ServerUnavailableError,
)
from reqless._settings import ClientSettings
from reqless.drivers import (
    Arg,
    AsyncDriver,
    AsyncPipeline,
    AsyncPubSub,
    BlockingConnection,
    BlockingDriver,
    Driver,
    Pipeline,
    PubSub,
)

__all__ = [
    "DurableAsyncDriver",
    "DurableDriver",
    "durable",
    "durable_async",
]

# The wrapped driver: a sync or an asyncio one.
D = TypeVar("D", bound="Driver | AsyncDriver")


# Core commands that only read: a lost one costs nothing, so they do not wait.
_READS = frozenset(
    {
        "config.get",
        "config.getAll",
        "failureGroups.counts",
        "job.get",
        "job.getMulti",
        "jobs.completed",
        "jobs.failedByGroup",
        "jobs.tagged",
        "jobs.tracked",
        "queue.jobsByState",
        "queue.length",
        "queue.stats",
        "queueIdentifierPatterns.getAll",
        "queuePriorityPatterns.getAll",
        "queues.names",
        "recurringJob.get",
        "tags.top",
        "throttle.get",
        "throttle.locks",
        "throttle.pending",
        "worker.jobs",
    }
)
_CORE_CALLS = frozenset({"FCALL", "EVALSHA"})


def _changes(args: Sequence[Arg]) -> bool:
    """Whether a core call with these arguments (after the target) may change state."""
    # args: numkeys, then the core's command name (or none, for the version function).
    return len(args) > 1 and args[1] not in _READS


def _command_changes(command: Sequence[Arg]) -> bool:
    """Whether a whole command (``FCALL name 0 ...``) is a core call that may change state."""
    return str(command[0]).upper() in _CORE_CALLS and _changes(command[2:])


class _Wait:
    """The ``WAIT`` command and the check of its reply, shared by every wrapper."""

    def __init__(self, replicas: int, timeout_ms: int, where: str) -> None:
        self.replicas = replicas
        self.timeout_ms = timeout_ms
        self.command: tuple[Arg, ...] = ("WAIT", replicas, timeout_ms)
        self._where = where

    def check(self, reply: Any, replies: list[Any]) -> None:
        """Raise unless ``reply`` (WAIT's) says enough replicas have ``replies``' changes."""
        if isinstance(reply, ReqlessError):
            raise reply  # WAIT refused: an ACL without it, or a replica
        acknowledged = int(reply)
        if acknowledged < self.replicas:
            raise ReplicationTimeoutError(
                f"{self._where}: {acknowledged} of the {self.replicas} replica(s) asked for "
                f"acknowledged the change within {self.timeout_ms} ms (wait_replicas, "
                "wait_timeout_ms); it is on the master but a failover may lose it",
                acknowledged=acknowledged,
                wanted=self.replicas,
                replies=replies,
            )

    def first(self, replies: list[Any]) -> Any:
        """The core call's reply out of ``[reply, WAIT's reply]``: its error raised first."""
        reply, acknowledged = replies
        if isinstance(reply, ReqlessError):
            raise reply  # the core refused: nothing changed, so nothing to wait for
        self.check(acknowledged, [reply])
        return reply


class _DurablePipelineBase:
    def __init__(self, inner: Pipeline | AsyncPipeline, wait: _Wait) -> None:
        self._inner = inner
        self._wait = wait
        self._writes = False

    def fcall(self, function: str, *args: Arg) -> None:
        self._writes = self._writes or _changes((0, *args))
        self._inner.fcall(function, *args)

    def fcall_ro(self, function: str, *args: Arg) -> None:
        self._inner.fcall_ro(function, *args)

    def evalsha(self, sha: str, *args: Arg) -> None:
        self._writes = self._writes or _changes((0, *args))
        self._inner.evalsha(sha, *args)

    def script_load(self, script: str) -> None:
        self._inner.script_load(script)

    def function_load(self, code: str, replace: bool = False) -> None:
        self._inner.function_load(code, replace)

    def publish(self, channel: str, message: str) -> None:
        self._inner.publish(channel, message)

    def execute_command(self, *args: Arg) -> None:
        self._writes = self._writes or (bool(args) and _command_changes(args))
        self._inner.execute_command(*args)

    def _close(self) -> bool:
        """Queue the ``WAIT`` if a call may have changed state; whether it was queued."""
        if not self._writes:
            return False
        self._inner.execute_command(*self._wait.command)
        return True

    def _checked(self, results: list[Any], waited: bool) -> list[Any]:
        if waited:
            acknowledged = results.pop()
            if isinstance(acknowledged, ReqlessError):
                # WAIT refused because the server is a replica now: the calls' own
                # errors say so better (a demoted master's READONLY is an outage).
                for result in results:
                    if isinstance(result, ServerUnavailableError):
                        raise result
            self._wait.check(acknowledged, results)
        return results


class DurablePipeline(_DurablePipelineBase):
    """A :class:`reqless.drivers.Pipeline` whose batch ends with ``WAIT``."""

    _inner: Pipeline

    def execute(self) -> list[Any]:
        waited = self._close()
        return self._checked(self._inner.execute(), waited)


class DurableAsyncPipeline(_DurablePipelineBase):
    """A :class:`reqless.drivers.AsyncPipeline` whose batch ends with ``WAIT``."""

    _inner: AsyncPipeline

    async def execute(self) -> list[Any]:
        waited = self._close()
        return self._checked(await self._inner.execute(), waited)


class DurableBlockingConnection:
    """A blocking connection that writes ``WAIT`` behind each core call that may change state.

    :class:`reqless.PopWaiter` writes its pop behind the ``BZPOPMIN``; the
    ``WAIT`` follows the pop, and :meth:`read` hides its reply.
    """

    def __init__(self, inner: BlockingConnection, wait: _Wait) -> None:
        self._inner = inner
        self._wait = wait
        # For each reply still to be read: whether a WAIT's reply follows it.
        self._pending: list[bool] = []

    def open(self) -> int:
        return self._inner.open()

    def send(self, *commands: Sequence[Arg]) -> None:
        out: list[Sequence[Arg]] = []
        flags: list[bool] = []
        for command in commands:
            out.append(command)
            changes = _command_changes(command)
            if changes:
                out.append(self._wait.command)
            flags.append(changes)
        self._pending += flags
        self._inner.send(*out)

    def fileno(self) -> int | None:
        return self._inner.fileno()

    def readable(self, timeout: float) -> bool:
        return self._inner.readable(timeout)

    def read(self, count: int) -> list[Any]:
        flags, self._pending = self._pending[:count], self._pending[count:]
        flags += [False] * (count - len(flags))
        try:
            raw = iter(self._inner.read(count + sum(flags)))
        except BaseException:
            self._pending = []
            raise
        replies: list[Any] = []
        acknowledgements = []
        for waited in flags:
            reply = next(raw)
            if waited:
                acknowledgement = next(raw)
                if not isinstance(reply, ReqlessError):
                    acknowledgements.append(acknowledgement)
            replies.append(reply)
        for acknowledgement in acknowledgements:
            self._wait.check(acknowledgement, replies)
        return replies

    def close(self) -> None:
        self._pending = []
        self._inner.close()


class _Durable(Generic[D]):
    """What both durable drivers share: the driver they wrap and the wait behind changes."""

    def __init__(self, inner: D, replicas: int, timeout_ms: int, where: str) -> None:
        self.inner = inner
        self.name = inner.name
        self._wait = _Wait(replicas, timeout_ms, where)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.inner!r} wait_replicas={self._wait.replicas}>"


class DurableDriver(_Durable[Driver]):
    """A :class:`reqless.drivers.Driver` whose state changes wait for replicas (see module)."""

    def _core(self, method: str, target: str, args: tuple[Arg, ...]) -> Any:
        if not _changes((0, *args)):
            return getattr(self.inner, method)(target, *args)
        pipe = self.inner.pipeline()
        getattr(pipe, method)(target, *args)
        pipe.execute_command(*self._wait.command)
        return self._wait.first(pipe.execute())

    def fcall(self, function: str, *args: Arg) -> Any:
        return self._core("fcall", function, args)

    def fcall_ro(self, function: str, *args: Arg) -> Any:
        return self.inner.fcall_ro(function, *args)

    def evalsha(self, sha: str, *args: Arg) -> Any:
        return self._core("evalsha", sha, args)

    def script_load(self, script: str) -> str:
        return self.inner.script_load(script)

    def function_load(self, code: str, replace: bool = False) -> str:
        return self.inner.function_load(code, replace)

    def publish(self, channel: str, message: str) -> int:
        return self.inner.publish(channel, message)

    def execute_command(self, *args: Arg) -> Any:
        return self.inner.execute_command(*args)

    def pipeline(self) -> DurablePipeline:
        return DurablePipeline(self.inner.pipeline(), self._wait)

    def pubsub(self) -> PubSub:
        return self.inner.pubsub()

    def blocking_connection(self) -> BlockingConnection:
        if not isinstance(self.inner, BlockingDriver):
            raise InvalidArgumentError(f"the {self.name!r} driver has no blocking connections")
        return DurableBlockingConnection(self.inner.blocking_connection(), self._wait)

    def close(self) -> None:
        self.inner.close()


class DurableAsyncDriver(_Durable[AsyncDriver]):
    """:class:`DurableDriver` for asyncio."""

    async def _core(self, method: str, target: str, args: tuple[Arg, ...]) -> Any:
        if not _changes((0, *args)):
            return await getattr(self.inner, method)(target, *args)
        pipe = self.inner.pipeline()
        getattr(pipe, method)(target, *args)
        pipe.execute_command(*self._wait.command)
        return self._wait.first(await pipe.execute())

    async def fcall(self, function: str, *args: Arg) -> Any:
        return await self._core("fcall", function, args)

    async def fcall_ro(self, function: str, *args: Arg) -> Any:
        return await self.inner.fcall_ro(function, *args)

    async def evalsha(self, sha: str, *args: Arg) -> Any:
        return await self._core("evalsha", sha, args)

    async def script_load(self, script: str) -> str:
        return await self.inner.script_load(script)

    async def function_load(self, code: str, replace: bool = False) -> str:
        return await self.inner.function_load(code, replace)

    async def publish(self, channel: str, message: str) -> int:
        return await self.inner.publish(channel, message)

    async def execute_command(self, *args: Arg) -> Any:
        return await self.inner.execute_command(*args)

    def pipeline(self) -> DurableAsyncPipeline:
        return DurableAsyncPipeline(self.inner.pipeline(), self._wait)

    def pubsub(self) -> AsyncPubSub:
        return self.inner.pubsub()

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def close(self) -> None:
        await self.aclose()


def durable(driver: Driver, settings: ClientSettings, where: str) -> Driver:
    """``driver``, wrapped in :class:`DurableDriver` when ``settings`` ask for replicas."""
    if not settings.wait_replicas:
        return driver
    return DurableDriver(driver, settings.wait_replicas, settings.wait_timeout_ms or 1, where)


def durable_async(driver: AsyncDriver, settings: ClientSettings, where: str) -> AsyncDriver:
    """``driver``, wrapped in :class:`DurableAsyncDriver` when ``settings`` ask for replicas."""
    if not settings.wait_replicas:
        return driver
    return DurableAsyncDriver(driver, settings.wait_replicas, settings.wait_timeout_ms or 1, where)
