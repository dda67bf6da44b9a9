"""Pub/sub wrappers over a redis-py-shaped library's subscription objects, sync and asyncio."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reqless.drivers import Message
from reqless.drivers._border import ErrorTranslator, Translate

__all__ = ["AsyncPubSubAdapter", "SyncPubSub", "to_message"]


def to_message(raw: Mapping[str, Any] | None) -> Message | None:
    """Our :class:`Message` for the library's message dict."""
    if raw is None:
        return None
    pattern = raw.get("pattern")
    return Message(
        kind=str(raw["type"]),
        channel=str(raw["channel"]),
        data=str(raw["data"]),
        pattern=None if pattern is None else str(pattern),
    )


class SyncPubSub(ErrorTranslator):
    def __init__(
        self, pubsub: Any, errors: type[Exception], translate: Translate, where: str
    ) -> None:
        super().__init__(errors, translate, where)
        self._pubsub = pubsub

    def _run(self, method: str, *args: str) -> Any:
        try:
            return getattr(self._pubsub, method)(*args)
        except self._errors as exc:
            raise self._translate(exc, self._where) from exc

    def subscribe(self, *channels: str) -> None:
        self._run("subscribe", *channels)

    def psubscribe(self, *patterns: str) -> None:
        self._run("psubscribe", *patterns)

    def unsubscribe(self, *channels: str) -> None:
        self._run("unsubscribe", *channels)

    def punsubscribe(self, *patterns: str) -> None:
        self._run("punsubscribe", *patterns)

    def get_message(self, timeout: float | None = 0.0) -> Message | None:
        try:
            raw = self._pubsub.get_message(ignore_subscribe_messages=False, timeout=timeout)
        except self._errors as exc:
            raise self._translate(exc, self._where) from exc
        return to_message(raw)

    def close(self) -> None:
        self._pubsub.close()


class AsyncPubSubAdapter(ErrorTranslator):
    def __init__(
        self, pubsub: Any, errors: type[Exception], translate: Translate, where: str
    ) -> None:
        super().__init__(errors, translate, where)
        self._pubsub = pubsub

    async def _run(self, method: str, *args: str) -> Any:
        try:
            return await getattr(self._pubsub, method)(*args)
        except self._errors as exc:
            raise self._translate(exc, self._where) from exc

    async def subscribe(self, *channels: str) -> None:
        await self._run("subscribe", *channels)

    async def psubscribe(self, *patterns: str) -> None:
        await self._run("psubscribe", *patterns)

    async def unsubscribe(self, *channels: str) -> None:
        await self._run("unsubscribe", *channels)

    async def punsubscribe(self, *patterns: str) -> None:
        await self._run("punsubscribe", *patterns)

    async def get_message(self, timeout: float | None = 0.0) -> Message | None:
        try:
            raw = await self._pubsub.get_message(ignore_subscribe_messages=False, timeout=timeout)
        except self._errors as exc:
            raise self._translate(exc, self._where) from exc
        return to_message(raw)

    async def aclose(self) -> None:
        await self._pubsub.aclose()

    async def close(self) -> None:
        await self.aclose()
