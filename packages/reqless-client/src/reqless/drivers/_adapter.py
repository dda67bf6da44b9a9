"""Driver classes over a redis-py-shaped library, shared by the two shipped drivers.

redis-py and valkey-py are one code base under two names: same client, pipeline
and pub/sub API, parallel exception trees. The classes here speak that API
through ``execute_command``; each driver module hands them its library's
client, the root of its exception tree and the function that translates those
exceptions, so translation still happens at that driver's one border.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from reqless._errors import (
    AuthenticationError,
    InvalidArgumentError,
    PermissionDeniedError,
    ReqlessError,
    ScriptNotLoadedError,
    ServerUnavailableError,
    translate_server_error,
)
from reqless._settings import ClientSettings
from reqless.drivers import Arg, BlockingConnection
from reqless.drivers._acl import script_acl_error
from reqless.drivers._autopipeline import AutoPipeline
from reqless.drivers._blocking import LibraryBlockingConnection
from reqless.drivers._border import ErrorTranslator, Translate
from reqless.drivers._internals import probe
from reqless.drivers._lane import DirectLane
from reqless.drivers._pubsub import AsyncPubSubAdapter, SyncPubSub
from reqless.drivers._resp import CommandHead, pack_cached, pack_chunks, pack_command
from reqless.drivers._sentinel import (
    aclose_sentinels,
    close_sentinels,
    failover_translate,
    sentinel_client,
)

# Commands per write when a batch is streamed: enough that a write's cost is
# shared, few enough that the server starts on the first while the rest are packed.
STREAM_CHUNK = 25


def redacted(url: str) -> str:
    """``url`` with its password replaced, for error messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def translator(lib: ModuleType) -> Translate:
    """The translation of the exceptions of ``lib`` (redis-py's or valkey-py's ``exceptions``
    module: the same tree under two names) into ours."""

    def translate(exc: Exception, where: str) -> ReqlessError:
        text = str(exc)
        if isinstance(exc, lib.AuthenticationError):
            return AuthenticationError(f"{where}: authentication failed: {text}")
        if isinstance(exc, lib.ConnectionError | lib.TimeoutError):
            return ServerUnavailableError(f"{where}: {text}")
        if isinstance(exc, lib.NoScriptError):
            return ScriptNotLoadedError(text)
        if isinstance(exc, lib.NoPermissionError):
            return PermissionDeniedError(text)
        if isinstance(exc, lib.ResponseError):
            return script_acl_error(text) or translate_server_error(text)
        if isinstance(exc, lib.DataError):
            return InvalidArgumentError(text)
        return ReqlessError(text)

    return translate


def library_driver_args(
    lib: ModuleType,
    root: type[Exception],
    translate: Translate,
    factory: Any,
    sentinel_class: Any,
    settings: ClientSettings,
    *,
    url: str,
    checkout: Callable[[Any], Callable[[], Any]],
    connection_class: Any = None,
) -> dict[str, Any]:
    """What a driver over a pool of ``factory``'s clients (sync or asyncio) is made of.

    ``lib`` is the library's exceptions module, ``root`` the root of its tree and
    ``translate`` its :func:`translator`; ``url`` the URL as the library reads it;
    ``checkout(pool)`` takes a connection from the pool. A sentinel URL's pool comes
    from ``sentinel_class``, its connections of ``connection_class`` if given (see
    :mod:`reqless.drivers._sentinel`).
    """
    if settings.sentinel is not None:
        extra = {} if connection_class is None else {"connection_class": connection_class}
        client = sentinel_client(sentinel_class, factory, settings, **extra)
    else:
        client = factory.from_url(
            url,
            decode_responses=True,
            socket_timeout=settings.socket_timeout,
            socket_connect_timeout=settings.socket_connect_timeout,
        )
    pool = client.connection_pool
    return {
        "client": client,
        "errors": root,
        "translate": translate
        if settings.sentinel is None
        else failover_translate(translate, pool, lib.ReadOnlyError),
        "where": redacted(settings.url),
        "checkout": checkout(pool),
        "reply_error": lib.ResponseError,
        "lost": lib.ConnectionError,
    }


def library_pipeline(client: Any, commands: Sequence[Sequence[Arg]]) -> Any:
    """A non-transactional pipeline of ``client``'s library holding ``commands``."""
    pipe = client.pipeline(transaction=False)
    for command in commands:
        pipe.execute_command(*command)
    return pipe


def function_load_args(code: str, replace: bool) -> tuple[str, ...]:
    return ("FUNCTION", "LOAD", "REPLACE", code) if replace else ("FUNCTION", "LOAD", code)


class _QueueingPipeline(ErrorTranslator):
    """The queueing half of a non-transactional pipeline: commands run in order, each alone."""

    def __init__(self, errors: type[Exception], translate: Translate, where: str) -> None:
        super().__init__(errors, translate, where)
        self._commands: list[tuple[Arg, ...]] = []

    def execute_command(self, *args: Arg) -> None:
        self._commands.append(args)

    def fcall(self, function: str, *args: Arg) -> None:
        self._commands.append(("FCALL", function, 0, *args))

    def fcall_ro(self, function: str, *args: Arg) -> None:
        self._commands.append(("FCALL_RO", function, 0, *args))

    def evalsha(self, sha: str, *args: Arg) -> None:
        self._commands.append(("EVALSHA", sha, 0, *args))

    def script_load(self, script: str) -> None:
        self._commands.append(("SCRIPT", "LOAD", script))

    def function_load(self, code: str, replace: bool = False) -> None:
        self._commands.append(function_load_args(code, replace))

    def publish(self, channel: str, message: str) -> None:
        self._commands.append(("PUBLISH", channel, message))


class SyncPipeline(_QueueingPipeline):
    """Sent on the driver's direct lane: one packed write, then every reply read in turn."""

    def __init__(self, driver: SyncDriver) -> None:
        super().__init__(driver._errors, driver._translate, driver._where)
        self._driver = driver

    def execute(self) -> list[Any]:
        if not self._commands:
            return []
        packed = b"".join([pack_command(command) for command in self._commands])
        try:
            results = self._driver._lane.call_many(packed, len(self._commands))
        except self._errors:
            # A lost connection: the library's pipeline reconnects and retries as it always would.
            results = self._execute_on_library()
        return self._in_place(results)

    def _execute_on_library(self) -> list[Any]:
        pipe = library_pipeline(self._driver.client, self._commands)
        try:
            results: list[Any] = pipe.execute(raise_on_error=False)
        except self._errors as exc:
            raise self._translate(exc, self._where) from exc
        return results


class AsyncPipelineAdapter(_QueueingPipeline):
    """The asyncio pipeline: its commands join the driver's auto-pipeline as one batch."""

    def __init__(self, driver: AsyncDriverAdapter) -> None:
        super().__init__(driver._errors, driver._translate, driver._where)
        self._driver = driver

    async def execute(self) -> list[Any]:
        if not self._commands:
            return []
        packed = [pack_command(command) for command in self._commands]
        try:
            results = await self._driver._auto.call_many(packed)
        except self._errors:
            # A lost connection: the library's pipeline reconnects and retries as it always would.
            results = await self._execute_on_library()
        return self._in_place(results)

    async def _execute_on_library(self) -> list[Any]:
        pipe = library_pipeline(self._driver.client, self._commands)
        try:
            results: list[Any] = await pipe.execute(raise_on_error=False)
        except self._errors as exc:
            raise self._translate(exc, self._where) from exc
        return results


class _LibraryDriver(ErrorTranslator):
    """What the sync and asyncio drivers share: the library's client and the packed heads."""

    name = ""

    def __init__(
        self, client: Any, errors: type[Exception], translate: Translate, where: str,
        reply_error: type[Exception],
    ) -> None:  # fmt: skip
        super().__init__(errors, translate, where)
        self.client = client
        self._reply_error = reply_error
        probe(client.connection_pool)
        self._heads: dict[tuple[str, str], CommandHead] = {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._where}>"


class SyncDriver(_LibraryDriver):
    """A driver over a synchronous redis-py-shaped client (its connection pool).

    The core's commands (``fcall``, ``fcall_ro``, ``evalsha`` and pipelines)
    go through a :class:`DirectLane` on the library's connections;
    ``execute_command`` and the rest take the library's generic path, with its
    reply callbacks. ``checkout`` takes a connection from the library's pool
    (the libraries differ in its arguments); ``reply_error`` is the library's
    exception for an error reply and ``lost`` the one for a lost connection.
    """

    def __init__(
        self,
        client: Any,
        errors: type[Exception],
        translate: Translate,
        where: str,
        *,
        checkout: Callable[[], Any],
        reply_error: type[Exception],
        lost: type[Exception],
    ) -> None:
        super().__init__(client, errors, translate, where, reply_error)
        self._lane = DirectLane(checkout, client.connection_pool.release, reply_error, lost)

    def execute_command(self, *args: Arg) -> Any:
        try:
            return self.client.execute_command(*args)
        except self._errors as exc:
            raise self._translate(exc, self._where) from exc

    def _direct(self, name: str, target: str, args: tuple[Arg, ...]) -> Any:
        """``<name> <target> 0 args...`` on the direct lane, its three words packed once."""
        head = self._heads.get((name, target))
        if head is None:
            head = self._heads[name, target] = CommandHead(name, target, 0)
        try:
            reply = self._lane.first_reply(head.pack(args), 1)
        except self._errors:
            # A lost connection: the generic path reconnects and retries as it always would.
            return self.execute_command(name, target, 0, *args)
        if isinstance(reply, self._errors):
            raise self._translate(reply, self._where) from reply
        return reply

    def _direct_with_trailer(
        self, name: str, target: str, args: Sequence[Arg], trailer: Sequence[Arg]
    ) -> Any:
        """``<name> <target> 0 args...`` and ``trailer`` in one write; the first reply only."""
        head = self._heads.get((name, target))
        if head is None:
            head = self._heads[name, target] = CommandHead(name, target, 0)
        try:
            reply = self._lane.first_reply(head.pack(args) + pack_cached(trailer), 2)
        except self._errors:
            # A lost connection: the library's pipeline reconnects and retries as it always would.
            reply = self._on_library([(name, target, 0, *args), trailer])[0]
        if isinstance(reply, self._errors):
            raise self._translate(reply, self._where) from reply
        return reply

    def call_packed(self, packed: bytes, count: int) -> Any:
        """The first reply to ``count`` commands packed by the caller, written in one write.

        The others' replies are dropped. Nothing is retried: a lost connection
        raises :class:`reqless.ServerUnavailableError`, after which the caller
        may send the command again through the library (see :class:`PackedDriver`).
        """
        try:
            reply = self._lane.first_reply(packed, count)
        except self._errors as exc:
            raise self._translate(exc, self._where) from exc
        if isinstance(reply, self._errors):
            raise self._translate(reply, self._where) from reply
        return reply

    def fcall(self, function: str, *args: Arg) -> Any:
        return self._direct("FCALL", function, args)

    def fcall_ro(self, function: str, *args: Arg) -> Any:
        return self._direct("FCALL_RO", function, args)

    def evalsha(self, sha: str, *args: Arg) -> Any:
        return self._direct("EVALSHA", sha, args)

    def fcall_with_trailer(self, function: str, args: Sequence[Arg], trailer: Sequence[Arg]) -> Any:
        return self._direct_with_trailer("FCALL", function, args, trailer)

    def evalsha_with_trailer(self, sha: str, args: Sequence[Arg], trailer: Sequence[Arg]) -> Any:
        return self._direct_with_trailer("EVALSHA", sha, args, trailer)

    def stream(
        self,
        name: str,
        target: str,
        head: Sequence[Arg],
        items: Sequence[Sequence[Arg]],
        trailer: Sequence[Arg] | None = None,
    ) -> list[Any]:
        """``<name> <target> 0 *head *item`` for every item, written in chunks as packed."""
        if not items:
            return []
        words = (name, target, 0, *head)
        packed_trailer = b"" if trailer is None else pack_cached(trailer)
        chunks = pack_chunks(words, items, STREAM_CHUNK, packed_trailer)
        try:
            results = self._lane.stream(chunks, len(items) + (trailer is not None))
        except self._errors:
            # A lost connection: the library's pipeline reconnects and retries as it always would.
            commands = [(*words, *item) for item in items]
            results = self._on_library(commands if trailer is None else [*commands, trailer])
        return self._in_place(results[: len(items)])

    def _on_library(self, commands: Sequence[Sequence[Arg]]) -> list[Any]:
        """``commands`` through the library's own pipeline; error replies in place."""
        pipe = library_pipeline(self.client, commands)
        try:
            results: list[Any] = pipe.execute(raise_on_error=False)
        except self._errors as exc:
            raise self._translate(exc, self._where) from exc
        return results

    def blocking_connection(self) -> BlockingConnection:
        """A connection of its own, made as the pool makes its connections."""
        return LibraryBlockingConnection(
            self.client.connection_pool,
            self._errors,
            self._translate,
            self._where,
            reply_error=self._reply_error,
        )

    def script_load(self, script: str) -> str:
        return str(self.execute_command("SCRIPT", "LOAD", script))

    def function_load(self, code: str, replace: bool = False) -> str:
        return str(self.execute_command(*function_load_args(code, replace)))

    def publish(self, channel: str, message: str) -> int:
        return int(self.execute_command("PUBLISH", channel, message))

    def pipeline(self) -> SyncPipeline:
        return SyncPipeline(self)

    def pubsub(self) -> SyncPubSub:
        return SyncPubSub(self.client.pubsub(), self._errors, self._translate, self._where)

    def close(self) -> None:
        self._lane.close()
        self.client.close()
        close_sentinels(self.client)


class AsyncDriverAdapter(_LibraryDriver):
    """A driver over an asyncio redis-py-shaped client."""

    def __init__(
        self,
        client: Any,
        errors: type[Exception],
        translate: Translate,
        where: str,
        *,
        checkout: Callable[[], Awaitable[Any]],
        reply_error: type[Exception],
        lost: type[Exception],
    ) -> None:
        super().__init__(client, errors, translate, where, reply_error)
        self._auto = AutoPipeline(checkout, client.connection_pool.release, reply_error, lost)

    async def execute_command(self, *args: Arg) -> Any:
        try:
            return await self.client.execute_command(*args)
        except self._errors as exc:
            raise self._translate(exc, self._where) from exc

    async def _direct(self, name: str, target: str, args: tuple[Arg, ...]) -> Any:
        """``<name> <target> 0 args...`` auto-pipelined with concurrent calls."""
        head = self._heads.get((name, target))
        if head is None:
            head = self._heads[name, target] = CommandHead(name, target, 0)
        packed = head.pack(args)
        # A lost connection is retried once on the auto-pipeline's own (new) connection,
        # then on the generic path, which reconnects and retries as it always would.
        for _ in range(2):
            try:
                return await self._auto.call(packed)
            except self._reply_error as exc:
                raise self._translate(exc, self._where) from exc
            except self._errors:
                continue
        return await self.execute_command(name, target, 0, *args)

    async def _direct_with_trailer(
        self, name: str, target: str, args: Sequence[Arg], trailer: Sequence[Arg]
    ) -> Any:
        """``<name> <target> 0 args...`` and ``trailer`` in the same round trip; the first reply."""
        head = self._heads.get((name, target))
        if head is None:
            head = self._heads[name, target] = CommandHead(name, target, 0)
        packed, packed_trailer = head.pack(args), pack_cached(trailer)
        # Retried as by _direct(): once on the auto-pipeline, then on the library's pipeline.
        for _ in range(2):
            try:
                return await self._auto.call(packed, packed_trailer)
            except self._reply_error as exc:
                raise self._translate(exc, self._where) from exc
            except self._errors:
                continue
        reply = (await self._on_library([(name, target, 0, *args), trailer]))[0]
        if isinstance(reply, self._errors):
            raise self._translate(reply, self._where) from reply
        return reply

    async def fcall(self, function: str, *args: Arg) -> Any:
        return await self._direct("FCALL", function, args)

    async def fcall_ro(self, function: str, *args: Arg) -> Any:
        return await self._direct("FCALL_RO", function, args)

    async def evalsha(self, sha: str, *args: Arg) -> Any:
        return await self._direct("EVALSHA", sha, args)

    async def fcall_with_trailer(
        self, function: str, args: Sequence[Arg], trailer: Sequence[Arg]
    ) -> Any:
        return await self._direct_with_trailer("FCALL", function, args, trailer)

    async def evalsha_with_trailer(
        self, sha: str, args: Sequence[Arg], trailer: Sequence[Arg]
    ) -> Any:
        return await self._direct_with_trailer("EVALSHA", sha, args, trailer)

    async def stream(
        self,
        name: str,
        target: str,
        head: Sequence[Arg],
        items: Sequence[Sequence[Arg]],
        trailer: Sequence[Arg] | None = None,
    ) -> list[Any]:
        """``<name> <target> 0 *head *item`` for every item, written in chunks as packed.

        Behind calls in flight the commands join the auto-pipeline instead.
        """
        if not items:
            return []
        words = (name, target, 0, *head)
        packed_trailer = b"" if trailer is None else pack_cached(trailer)
        count = len(items) + (trailer is not None)
        # A lost connection is retried once on the auto-pipeline's own (new) connection,
        # then on the library's pipeline, which reconnects and retries as it always would.
        for _ in range(2):
            try:
                if self._auto.idle:
                    chunks = pack_chunks(words, items, STREAM_CHUNK, packed_trailer)
                    results = await self._auto.stream(chunks, count)
                else:
                    packed = list(pack_chunks(words, items, 1))
                    results = await self._auto.call_many(
                        [*packed, packed_trailer] if packed_trailer else packed
                    )
                return self._in_place(results[: len(items)])
            except self._errors:
                continue
        commands = [(*words, *item) for item in items]
        results = await self._on_library(commands if trailer is None else [*commands, trailer])
        return self._in_place(results[: len(items)])

    async def _on_library(self, commands: Sequence[Sequence[Arg]]) -> list[Any]:
        """``commands`` through the library's own pipeline; error replies in place."""
        pipe = library_pipeline(self.client, commands)
        try:
            results: list[Any] = await pipe.execute(raise_on_error=False)
        except self._errors as exc:
            raise self._translate(exc, self._where) from exc
        return results

    async def script_load(self, script: str) -> str:
        return str(await self.execute_command("SCRIPT", "LOAD", script))

    async def function_load(self, code: str, replace: bool = False) -> str:
        return str(await self.execute_command(*function_load_args(code, replace)))

    async def publish(self, channel: str, message: str) -> int:
        return int(await self.execute_command("PUBLISH", channel, message))

    def pipeline(self) -> AsyncPipelineAdapter:
        return AsyncPipelineAdapter(self)

    def pubsub(self) -> AsyncPubSubAdapter:
        return AsyncPubSubAdapter(self.client.pubsub(), self._errors, self._translate, self._where)

    async def aclose(self) -> None:
        await self._auto.aclose()
        await self.client.aclose()
        await aclose_sentinels(self.client)

    async def close(self) -> None:
        await self.aclose()
