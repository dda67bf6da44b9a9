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
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

from reqless import _protocol as p
from reqless._steps import Steps, drive

if TYPE_CHECKING:
    from reqless._client import Client
    from reqless.drivers import Message, PubSub

__all__ = ["EventCallback", "EventNames", "EventThread", "Events", "PayloadCallback"]

logger = logging.getLogger(__name__)

#: A callback of :meth:`EventNames.on`: gets the channel's payload (a jid, or JSON text).
PayloadCallback = Callable[[str], Any]
#: A callback of :meth:`EventNames.on_event`: gets the parsed :class:`reqless.Event`.
EventCallback = Callable[[p.Event], Any]
# How often a blocked listen() looks at stop() and at changed subscriptions.
POLL_SECONDS = 0.05
CONFIRM_SECONDS = 5.0


class EventNames:
    """The event names followed and their callbacks: what both clients' ``Events`` share.

    Two registrations: :meth:`on` calls back with the channel's payload as
    reqless-py did (the jid on the tracked-job channels, the JSON text on
    ``log``); :meth:`on_event` with a parsed :class:`reqless.Event`. Callbacks
    may be registered from any thread. The channels followed are those of the
    registered names, or, with none registered, every channel but the
    ``w:<worker>`` ones.
    """

    def __init__(self) -> None:
        # name -> [(callback, whether it takes Event objects)], in registration order
        self._callbacks: dict[str, list[tuple[Callable[[Any], Any], bool]]] = {}
        self._lock = threading.Lock()
        # The channels the subscription connection follows, and the messages that came
        # in while a subscription was being confirmed, delivered before any newer one.
        self._subscribed: set[str] = set()
        self._backlog: deque[Message] = deque()

    def on(self, name: str, callback: PayloadCallback) -> None:
        """Call ``callback(payload)`` for each event of ``name``: the jid, as reqless-py did.

        The tracked-job channels (``put``, ``popped``, ``completed``, ...) carry a
        jid; ``log`` and ``w:<worker>`` carry JSON text. An unknown name raises
        :class:`reqless.UnknownEventError` (also a ``NotImplementedError``).
        """
        self._add(name, callback, False)

    def on_event(self, name: str, callback: EventCallback) -> None:
        """Call ``callback(event)`` with a parsed :class:`reqless.Event` for each ``name`` event."""
        self._add(name, callback, True)

    def _add(self, name: str, callback: Callable[[Any], Any], parsed: bool) -> None:
        p.event_channel(name)
        with self._lock:
            self._callbacks.setdefault(name, []).append((callback, parsed))

    def off(
        self, name: str, callback: Callable[[Any], Any] | None = None
    ) -> Callable[[Any], Any] | None:
        """Remove one callback of ``name`` (of either kind), or all of them.

        Returns the callback removed (the latest one when all were), else None.
        """
        with self._lock:
            callbacks = self._callbacks.get(name, [])
            removed = [entry for entry in callbacks if callback is None or entry[0] == callback]
            if callback is not None:
                removed = removed[-1:]
            for entry in removed:
                callbacks.remove(entry)
            if not callbacks:
                self._callbacks.pop(name, None)
        return removed[-1][0] if removed else None

    def _wanted(self) -> set[str]:
        with self._lock:
            names = list(self._callbacks) or p.EVENT_NAMES
        return {p.event_channel(name) for name in names}

    def _callbacks_of(self, name: str) -> list[tuple[Callable[[Any], Any], bool]]:
        with self._lock:
            return list(self._callbacks.get(name, ()))

    def _changes(self) -> tuple[set[str], set[str]]:
        """The channels to subscribe to and those to leave, to follow the registered names."""
        wanted = self._wanted()
        return wanted - self._subscribed, self._subscribed - wanted

    def _confirming(self, message: Message | None, pending: set[str]) -> None:
        """While subscribing to ``pending``: a confirmation ticks its channel off, a message
        waits in the backlog."""
        if message is None:
            return
        if message.kind == "subscribe":
            pending.discard(message.channel)
        else:
            self._backlog.append(message)

    def _forget_subscriptions(self) -> None:
        self._subscribed = set()
        self._backlog.clear()

    # The listening loop once for both clients, as sans-IO steps (see reqless._steps)
    # whose methods are the subscription connection's.

    def _receiving(self, stopped: Callable[[], bool], deadline: float | None) -> Steps[Any]:
        """The next message's ``(channel, data)``; None once ``stopped()`` or past
        ``deadline`` (a :func:`time.monotonic` time), each looked at between polls."""
        while not stopped() and (deadline is None or time.monotonic() < deadline):
            yield from self._following()
            message = (
                self._backlog.popleft() if self._backlog else (yield ("get_message", POLL_SECONDS))
            )
            if message is not None and message.kind in ("message", "pmessage"):
                return message.channel, message.data
        return None

    def _following(self) -> Steps[None]:
        """Subscribe to new channels and leave dropped ones, waiting for the server to confirm."""
        add, drop = self._changes()
        if drop:
            yield ("unsubscribe", *sorted(drop))
            self._subscribed -= drop
        if add:
            yield ("subscribe", *sorted(add))
            self._subscribed |= add
            pending = set(add)
            deadline = time.monotonic() + CONFIRM_SECONDS
            while pending and time.monotonic() < deadline:
                self._confirming((yield ("get_message", POLL_SECONDS)), pending)

    def _calling(self, channel: str, data: str) -> Iterator[Any]:
        """Call each callback of ``channel``'s event, yielding what it returned.

        A callback that raises is logged and the next one called: one failing
        observer must not stop the others or the listener.
        """
        event: p.Event | None = None
        for callback, parsed in self._callbacks_of(event_name(channel)):
            try:
                if parsed:
                    event = event or p.parse_event(channel, data)
                    yield callback(event)
                else:
                    yield callback(data)
            except Exception:
                logger.exception("event callback %r failed on %s %r", callback, channel, data)


def event_name(channel: str) -> str:
    """The event name of a channel: the channel without its ``ql:`` prefix."""
    return channel[3:] if channel.startswith("ql:") else channel


class Events(EventNames):
    """``on(name, callback)``, then ``listen()`` (blocking) until ``stop()``, or ``thread()``.

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
        self._held = False

    def stop(self) -> None:
        """Make ``listen()`` return; safe to call from any thread or a callback."""
        self._stopping.set()

    def unlisten(self) -> None:
        """:meth:`stop`, by reqless-py's name."""
        self.stop()

    def thread(self) -> EventThread:
        """``listen()`` in a started daemon thread, subscribed before this returns.

        ``with client.events.thread():`` stops and joins it on exit (the
        ``with`` gives the events object, as reqless-py's did); without a
        ``with``, call :meth:`stop` and ``join()`` the thread.
        """
        self._held = True
        self._follow(self._open())
        listener = EventThread(self)
        listener.start()
        return listener

    def listen(self, timeout: float | None = None) -> None:
        """Run callbacks as events arrive, until ``stop()`` (or ``timeout`` seconds)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pubsub = self._open()
        try:
            while True:
                message = drive(self._receiving(self._stopping.is_set, deadline), pubsub)
                if message is None:
                    break
                for _ in self._calling(*message):
                    pass
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
            self._forget_subscriptions()
        return self._pubsub

    def _close(self) -> None:
        if self._pubsub is not None:
            pubsub, self._pubsub = self._pubsub, None
            self._forget_subscriptions()
            pubsub.close()

    def _follow(self, pubsub: PubSub) -> None:
        drive(self._following(), pubsub)


class EventThread(threading.Thread):
    """A daemon thread running :meth:`Events.listen`; as a context manager, stopped on exit."""

    def __init__(self, events: Events) -> None:
        super().__init__(target=self._listen, name="reqless-events", daemon=True)
        self.events = events

    def _listen(self) -> None:
        try:
            self.events.listen()
        finally:
            self.events._held = False
            self.events._close()

    def stop(self, timeout: float | None = None) -> None:
        """End ``listen()`` and wait for the thread."""
        self.events.stop()
        self.join(timeout)

    def __enter__(self) -> Events:
        return self.events

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
