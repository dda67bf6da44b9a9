"""``client.events`` for asyncio: callbacks with ``listen()``, or ``async for event in events``."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from types import TracebackType
from typing import TYPE_CHECKING

from reqless import _protocol as p
from reqless._events import EventNames
from reqless._steps import drive_async

if TYPE_CHECKING:
    from reqless.aio._client import Client
    from reqless.drivers import AsyncPubSub

__all__ = ["Events"]

logger = logging.getLogger(__name__)


class Events(EventNames):
    """:class:`reqless.Events` for asyncio: ``on(name, callback)`` then ``await listen()``.

    ``on`` callbacks get the channel's payload, ``on_event`` ones a
    :class:`reqless.Event`; either may be a coroutine function. ``async with client.events as
    events: async for event in events: ...`` subscribes on entry (to the
    registered names' channels, or with none registered to every channel
    but ``w:<worker>``); iteration ends after ``stop()``.
    """

    def __init__(self, client: Client) -> None:
        super().__init__()
        self._client = client
        self._stopping = asyncio.Event()
        self._pubsub: AsyncPubSub | None = None

    def stop(self) -> None:
        """End ``listen()`` and iteration (call it from the loop's thread)."""
        self._stopping.set()

    def unlisten(self) -> None:
        """:meth:`stop`, by reqless-py's name."""
        self.stop()

    async def listen(self, timeout: float | None = None) -> None:
        """Run callbacks (coroutine functions are awaited) until ``stop()`` or ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                message = await self._next_message(deadline)
                if message is None:
                    break
                for result in self._calling(*message):
                    if inspect.isawaitable(result):
                        try:
                            await result
                        except Exception:
                            logger.exception("event callback %r failed on %s %r", result, *message)
        finally:
            self._stopping.clear()

    def __aiter__(self) -> Events:
        return self

    async def __anext__(self) -> p.Event:
        event = await self._next()
        if event is None:
            self._stopping.clear()
            raise StopAsyncIteration
        return event

    async def __aenter__(self) -> Events:
        await self._follow(await self._open())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._pubsub is not None:
            pubsub, self._pubsub = self._pubsub, None
            self._forget_subscriptions()
            await pubsub.aclose()

    async def _next(self) -> p.Event | None:
        """The next event, or None once stop() was called."""
        message = await self._next_message()
        return None if message is None else p.parse_event(*message)

    async def _next_message(self, deadline: float | None = None) -> tuple[str, str] | None:
        """The next message's channel and data, or None once stop() was called (or
        ``deadline``, a :func:`time.monotonic` time, passed)."""
        pubsub = await self._open()
        message: tuple[str, str] | None = await drive_async(
            self._receiving(self._stopping.is_set, deadline), pubsub
        )
        return message

    async def _open(self) -> AsyncPubSub:
        if self._pubsub is None:
            self._pubsub = self._client._driver.pubsub()
            self._forget_subscriptions()
        return self._pubsub

    async def _follow(self, pubsub: AsyncPubSub) -> None:
        await drive_async(self._following(), pubsub)
