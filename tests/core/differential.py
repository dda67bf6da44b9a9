"""Comparing two cores step by step: events, canonical replies, key differences, resync."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any, cast

import redis

from tests.core.fuzz import Reply, parse_json

END_CHANNEL = "ql:fuzz-end"


class EventTap:
    """Everything a server publishes on ``ql:*``, collected call by call."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self.pubsub = client.pubsub()
        self.pubsub.psubscribe("ql:*")
        deadline = time.monotonic() + 5
        while True:
            message = self.pubsub.get_message(timeout=1)
            if message is not None and message["type"] == "psubscribe":
                break
            assert time.monotonic() < deadline, "psubscribe was not confirmed"
        self._marks = itertools.count()

    def take(self) -> list[tuple[str, Any]]:
        """What was published since the last call: (channel, payload, JSON parsed)."""
        mark = str(next(self._marks))
        self.redis.publish(END_CHANNEL, mark)
        taken: list[tuple[str, Any]] = []
        deadline = time.monotonic() + 10
        while True:
            message = self.pubsub.get_message(timeout=1)
            if message is None:
                assert time.monotonic() < deadline, "the end marker was not received"
                continue
            if message["type"] != "pmessage":
                continue
            if message["channel"] == END_CHANNEL:
                if message["data"] == mark:
                    return taken
                continue
            taken.append((message["channel"], parse_json(message["data"])))

    def close(self) -> None:
        self.pubsub.close()


def canonical(value: Any) -> Any:
    """A reply for comparison: JSON texts parsed; a job's ``dependents`` and
    ``dependencies`` sorted (spec 2.6: they are in set order, which is unordered)."""
    value = parse_json(value)
    if isinstance(value, list):
        return [canonical(item) for item in value]
    if isinstance(value, dict):
        out = {key: canonical(item) for key, item in value.items()}
        for key in ("dependents", "dependencies"):
            if isinstance(out.get(key), list):
                out[key] = sorted(out[key])
        return out
    return value


def reply_difference(ours: Reply, reference: Reply, to_spec: Callable[[Any], Any]) -> str | None:
    """How the replies differ, if they do; ``to_spec`` maps the reference's canonical
    reply to the spec's shape."""
    if (ours.error is None) != (reference.error is None):
        return f"reply: ours {ours}, the reference {reference}"
    if ours.error is not None:
        return None
    mine, theirs = canonical(ours.value), to_spec(canonical(reference.value))
    if mine != theirs:
        return f"reply: ours {mine!r}\n         the reference {theirs!r}"
    return None


def key_difference(
    ours: dict[str, tuple[str, Any]], reference: dict[str, tuple[str, Any]]
) -> str | None:
    """The first differing key, described with only the parts that differ."""
    for key in sorted(set(ours) | set(reference)):
        mine, theirs = ours.get(key), reference.get(key)
        if mine == theirs:
            continue
        if mine is None or theirs is None or mine[0] != theirs[0]:
            return f"key {key}: ours {mine!r}, the reference {theirs!r}"
        kind, a = mine
        b = theirs[1]
        if kind == "hash":
            fields = sorted(
                f for f in set(a) | set(b) if a.get(f, "<absent>") != b.get(f, "<absent>")
            )
            parts = [
                f"{f}: ours {a.get(f, '<absent>')!r}, the reference {b.get(f, '<absent>')!r}"
                for f in fields
            ]
            return f"key {key} (hash): " + "; ".join(parts)
        return f"key {key} ({kind}): ours {a!r}\n         the reference {b!r}"
    return None


def copy_database(source: redis.Redis, target: redis.Redis) -> None:
    """Make ``target`` hold exactly ``source``'s keys (same server product: DUMP/RESTORE)."""
    target.flushdb()
    keys = cast(list[bytes], source.keys("*"))
    if not keys:
        return
    with source.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.dump(key)
            pipe.pttl(key)
        dumped = pipe.execute()
    with target.pipeline(transaction=False) as pipe:
        for index, key in enumerate(keys):
            payload, ttl = dumped[2 * index], dumped[2 * index + 1]
            if payload is not None:
                pipe.restore(key, max(int(ttl), 0), payload, replace=True)
        pipe.execute()
