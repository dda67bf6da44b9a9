"""``client.events``: callbacks on the core's pub/sub channels (protocol 4.17), sync.

Subscriptions follow ``on``/``off`` at any time, also from another thread: the
listening thread alone touches the subscription connection and catches up with
the wanted channels before each read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from reqless import _protocol as p

if TYPE_CHECKING:
    from reqless._client import Client
    from reqless.drivers import Message, PubSub

__all__ = ["EventCallback", "EventNames", "Events"]

logger = logging.getLogger(__name__)

EventCallback = Callable[[p.Event], Any]
# How often a blocked listen() looks at stop() and at changed subscriptions.
POLL_SECONDS = 0.05
CONFIRM_SECONDS = 5.0


class EventNames:
    """The event names followed and their callbacks: what both clients' ``Events`` share.

    Callbacks may be registered from any thread. The channels followed are
    those of the registered names, or, with none registered, every channel
    but the ``w:<worker>`` ones.
    """

    def __init__(self) -> None:
        self._callbacks: dict[str, list[EventCallback]] = {}
        self._lock = threading.Lock()

    def on(self, name: str, callback: EventCallback) -> None:
        """Call ``callback(event)`` for each event of ``name``; an unknown name raises."""
        p.event_channel(name)
        with self._lock:
            self._callbacks.setdefault(name, []).append(callback)

    def off(self, name: str, callback: EventCallback | None = None) -> None:
        """Remove one callback of ``name``, or all of them."""
        with self._lock:
            callbacks = self._callbacks.get(name, [])
            if callback is None:
                callbacks.clear()
            elif callback in callbacks:
                callbacks.remove(callback)
            if not callbacks:
                self._callbacks.pop(name, None)

    def _wanted(self) -> set[str]:
        with self._lock:
            names = list(self._callbacks) or p.EVENT_NAMES
        return {p.event_channel(name) for name in names}

    def _callbacks_of(self, event: p.Event) -> list[EventCallback]:
        with self._lock:
            return list(self._callbacks.get(event.name, ()))


class Events(EventNames):
    """``on(name, callback)``, then ``listen()`` (blocking) until ``stop()``.

    Names are ``log`` (every JSON event), the tracked-job channels ``put``,
    ``popped``, ``stalled``, ``completed``, ``failed``, ``canceled``, ``track``,
    ``untrack``, and ``w:<worker>`` for one worker's ``lock_lost`` / ``canceled``
    notices. Used as a context manager, the channels are subscribed on entry, so
    nothing published after the ``with`` line is missed.
    """

    def __init__(self, client: Client) -> None:
        super().__init__()
        self._client = client
        self._stopping = threading.Event()
        self._pubsub: PubSub | None = None
        self._subscribed: set[str] = set()
        self._backlog: deque[Message] = deque()
        self._held = False

    def stop(self) -> None:
        """Make ``listen()`` return; safe to call from any thread or a callback."""
        self._stopping.set()

    def listen(self, timeout: float | None = None) -> None:
        """Run callbacks as events arrive, until ``stop()`` (or ``timeout`` seconds)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pubsub = self._open()
        try:
            while not self._stopping.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    break
                self._follow(pubsub)
                message = (
                    self._backlog.popleft()
                    if self._backlog
                    else pubsub.get_message(timeout=POLL_SECONDS)
                )
                if message is not None and message.kind in ("message", "pmessage"):
                    self._dispatch(p.parse_event(message.channel, message.data))
        finally:
            self._stopping.clear()
            if not self._held:
                self._close()

    def __enter__(self) -> Events:
        self._held = True
        self._follow(self._open())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._held = False
        self._close()

    def _open(self) -> PubSub:
        if self._pubsub is None:
            self._pubsub = self._client._driver.pubsub()
            self._subscribed = set()
        return self._pubsub

    def _close(self) -> None:
        if self._pubsub is not None:
            pubsub, self._pubsub = self._pubsub, None
            self._subscribed = set()
            self._backlog.clear()
            pubsub.close()

    def _follow(self, pubsub: PubSub) -> None:
        """Subscribe to new channels and leave dropped ones, waiting for the server to confirm."""
        wanted = self._wanted()
        add, drop = wanted - self._subscribed, self._subscribed - wanted
        if drop:
            pubsub.unsubscribe(*sorted(drop))
            self._subscribed -= drop
        if add:
            pubsub.subscribe(*sorted(add))
            self._subscribed |= add
            self._confirm(pubsub, add)

    def _confirm(self, pubsub: PubSub, channels: set[str]) -> None:
        pending = set(channels)
        deadline = time.monotonic() + CONFIRM_SECONDS
        while pending and time.monotonic() < deadline:
            message = pubsub.get_message(timeout=POLL_SECONDS)
            if message is None:
                continue
            if message.kind == "subscribe":
                pending.discard(message.channel)
            else:
                self._backlog.append(message)

    def _dispatch(self, event: p.Event) -> None:
        for callback in self._callbacks_of(event):
            try:
                callback(event)
            except Exception:
                # One failing observer must not stop the others or the listener.
                logger.exception("event callback %r failed on %s", callback, event)
