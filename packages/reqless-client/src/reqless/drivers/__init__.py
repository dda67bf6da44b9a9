"""The seam between reqless and a Redis/Valkey client library.

reqless needs very little from a library: call the core (``FCALL`` /
``EVALSHA``), load it (``FUNCTION LOAD`` / ``SCRIPT LOAD``), pipeline those
calls, publish and subscribe. :class:`Driver` and :class:`AsyncDriver` say
exactly that; everything else in reqless is written against them. A driver
may add optional capabilities, each checked once with ``isinstance``:
:class:`StreamingDriver` (long batches overlap with the server),
:class:`TrailingDriver` (a put carries its wake-up ``ZADD`` in the same
write), :class:`PackedDriver` (a hot call sends bytes its caller packed) and
:class:`BlockingDriver` (connections of their own for
:class:`reqless.PopWaiter`).

Drivers are found by name in the entry-point group ``reqless.drivers``. An
entry point names an object (a module or an instance) with two callables,
``connect(settings) -> Driver`` and ``connect_async(settings) -> AsyncDriver``
(:class:`DriverFactory`). reqless ships ``redis`` (redis-py) and ``valkey``
(valkey-py); a third party adds one by declaring another entry point.

Every exception a driver raises is a :class:`reqless.ReqlessError`: it
translates its library's exceptions in one place, keeping the original as
``__cause__``. Replies come back decoded: bulk strings as ``str`` (UTF-8),
integers as ``int``, arrays as ``list``, nil as ``None``.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

from reqless._errors import DriverNotInstalledError, UnknownDriverError
from reqless._settings import ClientSettings

__all__ = [
    "ENTRY_POINT_GROUP",
    "Arg",
    "AsyncDriver",
    "AsyncPipeline",
    "AsyncPubSub",
    "AsyncStreamingDriver",
    "AsyncTrailingDriver",
    "BlockingConnection",
    "BlockingDriver",
    "Driver",
    "DriverFactory",
    "Message",
    "PackedDriver",
    "Pipeline",
    "PubSub",
    "StreamingDriver",
    "TrailingDriver",
    "available_drivers",
    "connect",
    "connect_async",
    "load_driver",
]

ENTRY_POINT_GROUP = "reqless.drivers"

# An argument of a command, as the libraries encode it.
Arg = str | int | float | bytes

# The drivers this package ships: name -> (object path, library module, library's name).
# Used to name the extra when the library is missing, and as a fallback when the
# package's entry points are not registered (running from a source tree).
_BUILTIN: dict[str, tuple[str, str, str]] = {
    "redis": ("reqless.drivers.redis", "redis", "redis-py"),
    "valkey": ("reqless.drivers.valkey", "valkey", "valkey-py"),
}


@dataclass(frozen=True)
class Message:
    """One pub/sub message, or a subscription confirmation.

    ``kind`` is the server's word: ``message`` and ``pmessage`` carry
    published ``data``; ``subscribe``, ``psubscribe``, ``unsubscribe`` and
    ``punsubscribe`` confirm a change, with the subscription count as ``data``.
    ``pattern`` is the matching pattern of a ``pmessage``, else ``None``.
    """

    kind: str
    channel: str
    data: str
    pattern: str | None = None


class _QueueingPipeline(Protocol):
    """The queueing half of both pipelines: each method queues one command."""

    def fcall(self, function: str, *args: Arg) -> None: ...
    def fcall_ro(self, function: str, *args: Arg) -> None: ...
    def evalsha(self, sha: str, *args: Arg) -> None: ...
    def script_load(self, script: str) -> None: ...
    def function_load(self, code: str, replace: bool = False) -> None: ...
    def publish(self, channel: str, message: str) -> None: ...
    def execute_command(self, *args: Arg) -> None: ...


class Pipeline(_QueueingPipeline, Protocol):
    """Commands queued by the methods and sent in one round trip by :meth:`execute`.

    The core is called with no declared keys: ``fcall(function, *args)`` is
    ``FCALL function 0 args...`` and ``evalsha(sha, *args)`` is
    ``EVALSHA sha 0 args...``.
    """

    def execute(self) -> list[Any]:
        """Replies in the order queued; a failed command's error is returned in its place.

        Errors in place are :class:`reqless.ReqlessError` instances, not
        raised. A lost connection is raised (nothing can be said about which
        commands ran).
        """
        ...


class AsyncPipeline(_QueueingPipeline, Protocol):
    """:class:`Pipeline` whose :meth:`execute` is a coroutine; queueing stays synchronous."""

    async def execute(self) -> list[Any]: ...


class PubSub(Protocol):
    """A subscription connection. Not thread-safe: one thread reads it."""

    def subscribe(self, *channels: str) -> None: ...
    def psubscribe(self, *patterns: str) -> None: ...
    def unsubscribe(self, *channels: str) -> None:
        """Leave ``channels``; with none, leave every channel."""
        ...

    def punsubscribe(self, *patterns: str) -> None:
        """Leave ``patterns``; with none, leave every pattern."""
        ...

    def get_message(self, timeout: float | None = 0.0) -> Message | None:
        """The next message, waiting up to ``timeout`` seconds (``None``: forever).

        Returns ``None`` when nothing arrived in time, and at once (after the
        timeout) when nothing is subscribed.
        """
        ...

    def close(self) -> None: ...


class AsyncPubSub(Protocol):
    """:class:`PubSub` with coroutine methods."""

    async def subscribe(self, *channels: str) -> None: ...
    async def psubscribe(self, *patterns: str) -> None: ...
    async def unsubscribe(self, *channels: str) -> None: ...
    async def punsubscribe(self, *patterns: str) -> None: ...
    async def get_message(self, timeout: float | None = 0.0) -> Message | None: ...
    async def aclose(self) -> None: ...
    async def close(self) -> None:
        """Same as :meth:`aclose`."""
        ...


@runtime_checkable
class Driver(Protocol):
    """A connection pool to one server, speaking the few commands reqless needs."""

    name: str

    def fcall(self, function: str, *args: Arg) -> Any:
        """``FCALL function 0 args...``: reqless declares no keys."""
        ...

    def fcall_ro(self, function: str, *args: Arg) -> Any:
        """``FCALL_RO function 0 args...``."""
        ...

    def evalsha(self, sha: str, *args: Arg) -> Any:
        """``EVALSHA sha 0 args...``."""
        ...

    def script_load(self, script: str) -> str:
        """``SCRIPT LOAD``; returns the script's SHA1."""
        ...

    def function_load(self, code: str, replace: bool = False) -> str:
        """``FUNCTION LOAD [REPLACE]``; returns the library's name."""
        ...

    def publish(self, channel: str, message: str) -> int:
        """``PUBLISH``; returns how many subscribers received it."""
        ...

    def execute_command(self, *args: Arg) -> Any:
        """Any other command, for the rare need the methods above do not cover."""
        ...

    def pipeline(self) -> Pipeline: ...
    def pubsub(self) -> PubSub: ...
    def close(self) -> None:
        """Close every connection of the pool."""
        ...


@runtime_checkable
class StreamingDriver(Protocol):
    """What a :class:`Driver` may add so a long batch of one command overlaps with the server.

    Optional: reqless uses a pipeline where a driver lacks it.
    """

    def stream(
        self,
        name: str,
        target: str,
        head: Sequence[Arg],
        items: Sequence[Sequence[Arg]],
        trailer: Sequence[Arg] | None = None,
    ) -> list[Any]:
        """``<name> <target> 0 *head *item`` for every item, replies in order.

        Written in chunks as they are packed, so the server runs the first
        commands while later ones are still being packed. Error replies are
        returned in place, as by :meth:`Pipeline.execute`. ``trailer``, if
        given, is one more command written with the last chunk; its reply is
        read and dropped (an error reply too).
        """
        ...


@runtime_checkable
class AsyncStreamingDriver(Protocol):
    """:class:`StreamingDriver` for asyncio: what an :class:`AsyncDriver` may add."""

    async def stream(
        self,
        name: str,
        target: str,
        head: Sequence[Arg],
        items: Sequence[Sequence[Arg]],
        trailer: Sequence[Arg] | None = None,
    ) -> list[Any]: ...


@runtime_checkable
class TrailingDriver(Protocol):
    """What a :class:`Driver` may add so a core call carries one more command, unanswered.

    The two commands go out in one write and cost one round trip; the first
    one's reply is returned exactly as :meth:`Driver.fcall` (or
    :meth:`Driver.evalsha`) would return or raise it, and the second one's
    reply is read and dropped, an error reply included. Optional: reqless
    uses a pipeline where a driver lacks it.
    """

    def fcall_with_trailer(self, function: str, args: Sequence[Arg], trailer: Sequence[Arg]) -> Any:
        """``FCALL function 0 args...`` followed by the command ``trailer``."""
        ...

    def evalsha_with_trailer(self, sha: str, args: Sequence[Arg], trailer: Sequence[Arg]) -> Any:
        """``EVALSHA sha 0 args...`` followed by the command ``trailer``."""
        ...


@runtime_checkable
class PackedDriver(Protocol):
    """What a :class:`Driver` may add so its hottest calls skip argument packing.

    A caller that sends nearly the same command again and again (a put to
    one queue, with its wake-up) keeps the parts that never change as RESP
    bytes and packs only the rest. Optional: reqless packs arguments itself
    where a driver lacks it.
    """

    def call_packed(self, packed: bytes, count: int) -> Any:
        """Write ``packed``, ``count`` whole RESP commands, at once; the first one's reply.

        The reply is returned, or its error raised, as :meth:`Driver.fcall`
        would; the other commands' replies are read and dropped (error replies
        too). Nothing is retried: a lost connection raises
        :class:`reqless.ServerUnavailableError` (the commands may or may not
        have run), and a caller that wants the library's reconnect-and-retry
        sends them again through :meth:`Driver.fcall` or a pipeline.
        """
        ...


@runtime_checkable
class AsyncTrailingDriver(Protocol):
    """:class:`TrailingDriver` for asyncio: what an :class:`AsyncDriver` may add."""

    async def fcall_with_trailer(
        self, function: str, args: Sequence[Arg], trailer: Sequence[Arg]
    ) -> Any: ...
    async def evalsha_with_trailer(
        self, sha: str, args: Sequence[Arg], trailer: Sequence[Arg]
    ) -> Any: ...


class BlockingConnection(Protocol):
    """A connection of its own, outside the pool, for commands that block on the server.

    Not thread-safe: one thread uses it. Replies come back decoded as everywhere; error
    replies are :class:`reqless.ReqlessError` instances in their place, not
    raised. A lost connection is raised as
    :class:`reqless.ServerUnavailableError` after the connection is closed;
    the next :meth:`open` connects again.
    """

    def open(self) -> int:
        """Connect unless connected; the server's ``CLIENT ID`` of this connection.

        0 when the server refuses to tell (an ACL): the connection is open,
        but a wait on it can only be ended by closing it.
        """
        ...

    def send(self, *commands: Sequence[Arg]) -> None:
        """Write ``commands`` in one write (after :meth:`open`)."""
        ...

    def fileno(self) -> int | None:
        """The socket's descriptor, to wait on with ``select``; None when it cannot be had."""
        ...

    def readable(self, timeout: float) -> bool:
        """Whether a reply can be read, waiting up to ``timeout`` seconds for one."""
        ...

    def read(self, count: int) -> list[Any]:
        """The next ``count`` replies, in order (call it once a reply is readable)."""
        ...

    def close(self) -> None:
        """Close the socket; the server forgets anything it was blocked on."""
        ...


@runtime_checkable
class BlockingDriver(Protocol):
    """What a :class:`Driver` may add for :class:`reqless.PopWaiter`: connections of their own."""

    def blocking_connection(self) -> BlockingConnection:
        """A new, not yet connected, :class:`BlockingConnection` to the driver's server."""
        ...


@runtime_checkable
class AsyncDriver(Protocol):
    """:class:`Driver` for asyncio: the same commands as coroutines."""

    name: str

    async def fcall(self, function: str, *args: Arg) -> Any: ...
    async def fcall_ro(self, function: str, *args: Arg) -> Any: ...
    async def evalsha(self, sha: str, *args: Arg) -> Any: ...
    async def script_load(self, script: str) -> str: ...
    async def function_load(self, code: str, replace: bool = False) -> str: ...
    async def publish(self, channel: str, message: str) -> int: ...
    async def execute_command(self, *args: Arg) -> Any: ...
    def pipeline(self) -> AsyncPipeline: ...
    def pubsub(self) -> AsyncPubSub: ...
    async def aclose(self) -> None: ...
    async def close(self) -> None:
        """Same as :meth:`aclose`."""
        ...


class DriverFactory(Protocol):
    """What an entry point of ``reqless.drivers`` names."""

    def connect(self, settings: ClientSettings) -> Driver: ...
    def connect_async(self, settings: ClientSettings) -> AsyncDriver: ...


def available_drivers() -> list[str]:
    """Names of the registered drivers (installed or not: their libraries load on use)."""
    names = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(names | _BUILTIN.keys())


def load_driver(name: str) -> DriverFactory:
    """The driver registered as ``name``; only that driver's library is imported.

    Raises :class:`reqless.UnknownDriverError` (listing the valid names) for a
    name nobody registered, and :class:`reqless.DriverNotInstalledError`
    (naming the extra) when the driver's library is missing.
    """
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found and name not in _BUILTIN:
        raise UnknownDriverError(name, available_drivers())
    try:
        if found:
            factory: DriverFactory = found[0].load()
        else:
            factory = importlib.import_module(_BUILTIN[name][0])
    except ModuleNotFoundError as exc:
        raise _not_installed(name, exc) from exc
    return factory


def _not_installed(name: str, exc: ModuleNotFoundError) -> DriverNotInstalledError:
    if name in _BUILTIN:
        _, module, library = _BUILTIN[name]
        return DriverNotInstalledError(
            f"the {name!r} driver needs {library} (module {module!r}), which is not "
            f"installed: pip install 'reqless-client[{name}]'"
        )
    return DriverNotInstalledError(
        f"the {name!r} driver cannot be imported ({exc}); install the package that provides it"
    )


def _resolve(settings: ClientSettings) -> ClientSettings:
    """Settings pointing at a real server: an ``embedded:PATH`` URL starts (or finds) it."""
    path = settings.embedded_path
    if path is None:
        return settings
    from reqless._embedded import start_embedded

    return replace(settings, url=start_embedded(path))


def _load_for(settings: ClientSettings) -> DriverFactory:
    """:func:`load_driver`, whose missing-library error names the extra the URL needs."""
    try:
        return load_driver(settings.driver)
    except DriverNotInstalledError as exc:
        if settings.embedded_path is None:
            raise
        raise DriverNotInstalledError(
            f"the {settings.driver!r} driver is not installed; an {settings.url!r} URL needs "
            "the embedded server and its driver: pip install 'reqless-client[embedded]'"
        ) from exc


def connect(settings: ClientSettings) -> Driver:
    """A synchronous driver for ``settings``, its library loaded by name."""
    return _load_for(settings).connect(_resolve(settings))


def connect_async(settings: ClientSettings) -> AsyncDriver:
    """An asyncio driver for ``settings``, its library loaded by name."""
    return _load_for(settings).connect_async(_resolve(settings))
