"""``GET /api/v1/events``: the core's pub/sub and a periodic counts snapshot, as server-sent events.

One :class:`EventHub` per app holds one subscription, however many browsers
listen: it starts with the first listener and stops after the last. Each
listener gets its own bounded queue; a listener too slow to keep up loses its
oldest events rather than holding up the others (the next counts snapshot
corrects whatever it missed).

Event names on the stream: for the ``log`` channel the core's event
(``put``, ``completed``, ``failed``, ``canceled``, ``lock_lost``, ``advanced``,
``config_set``, ``config_unset``); for the tracked-job channels their name
(``put``, ``popped``, ``stalled``, ``completed``, ``failed``, ``canceled``,
``track``, ``untrack``). ``data`` is JSON with ``channel`` (``log`` or the
tracked channel), ``jid`` and the core's payload. ``counts`` carries
``{"queues": [counts...], "failures": {group: n}, "time": now}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import StreamingResponse

import reqless
import reqless.aio
from reqless import commands
from reqless_web._state import Dashboard, dashboard

__all__ = ["EventHub", "events_endpoint", "sse"]

logger = logging.getLogger(__name__)

QUEUE_SIZE = 1000
KEEPALIVE_SECONDS = 15.0
RETRY_AFTER_ERROR_SECONDS = 2.0


def sse(name: str, data: Any) -> bytes:
    """One server-sent event; the JSON is on one line, so one ``data:`` field holds it."""
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class EventHub:
    def __init__(self, client: reqless.aio.Client, refresh: float) -> None:
        self.client = client
        self.refresh = refresh
        self._listeners: set[asyncio.Queue[bytes]] = set()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    @contextlib.asynccontextmanager
    async def listen(self) -> AsyncIterator[asyncio.Queue[bytes]]:
        queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_SIZE)
        self._listeners.add(queue)
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._relay_events(), name="reqless-web events"),
                asyncio.create_task(self._snapshots(), name="reqless-web counts"),
            ]
        try:
            yield queue
        finally:
            self._listeners.discard(queue)
            if not self._listeners:
                await self.aclose()

    async def aclose(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def publish(self, message: bytes) -> None:
        for queue in list(self._listeners):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(message)

    async def snapshot(self) -> dict[str, Any]:
        counts, failures = await self.client.execute(
            commands.all_queue_counts(), commands.failure_counts()
        )
        return {
            "queues": [asdict(c) for c in counts],
            "failures": failures,
            "time": self.client.clock(),
        }

    async def _relay_events(self) -> None:
        # A private subscription: the client's own `events` may be the host app's.
        while True:
            events = reqless.aio.Events(self.client)
            try:
                async with events:
                    async for event in events:
                        self.publish(sse(event.kind, _event_data(event)))
            except Exception:
                # Whatever broke the subscription, the stream must outlive it.
                logger.warning("event subscription lost; resubscribing", exc_info=True)
            await asyncio.sleep(RETRY_AFTER_ERROR_SECONDS)

    async def _snapshots(self) -> None:
        while True:
            await asyncio.sleep(self.refresh)
            self.publish(await self.snapshot_event())

    async def snapshot_event(self) -> bytes:
        try:
            return sse("counts", await self.snapshot())
        except reqless.ReqlessError as exc:
            return sse("unavailable", {"error": exc.detail})


def _event_data(event: reqless.Event) -> dict[str, Any]:
    return {**event.payload, "channel": event.name, "jid": event.jid, "event": event.kind}


def hub_of(state: Dashboard) -> EventHub:
    if state.hub is None:
        state.hub = EventHub(state.client, state.settings.refresh)
    return state.hub


async def events_endpoint(request: Request) -> StreamingResponse:
    hub = hub_of(dashboard(request))

    async def stream() -> AsyncIterator[bytes]:
        async with hub.listen() as queue:
            # Fresh counts at once: the periodic snapshot may be seconds away.
            yield b"retry: 3000\n\n" + await hub.snapshot_event()
            while True:
                try:
                    yield await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield b": keep-alive\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )
