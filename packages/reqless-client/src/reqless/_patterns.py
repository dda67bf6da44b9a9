"""Queue identifier and priority patterns: which queues a worker serves, and in what order.

An *identifier* names a list of queue-name globs (``{"default": ["*"]}``); a
glob's only wildcard is ``*``, every other character is literal (``.`` or
``+`` in a queue name match themselves), and a leading ``!`` excludes what it
matches. *Priority patterns* order the resolved queues: queues matching an
earlier pattern come first; ``["default"]`` stands for every queue no pattern
names; ``fairly`` shuffles the queues of that pattern.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from reqless import _ops as ops
from reqless import _protocol as p

if TYPE_CHECKING:
    from reqless._client import Client

__all__ = ["QueuePatterns", "match_queues", "order_queues", "resolve_queues"]


@lru_cache(maxsize=256)
def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$")


def match_queues(patterns: Iterable[str], names: Iterable[str]) -> list[str]:
    """The ``names`` matching a positive glob and no ``!``-negated one, in ``names`` order."""
    include: list[re.Pattern[str]] = []
    exclude: list[re.Pattern[str]] = []
    for pattern in patterns:
        if pattern.startswith("!"):
            exclude.append(_glob(pattern[1:]))
        else:
            include.append(_glob(pattern))
    return [
        name
        for name in names
        if any(g.match(name) for g in include) and not any(g.match(name) for g in exclude)
    ]


def resolve_queues(
    specs: Iterable[str], identifiers: Mapping[str, Sequence[str]], names: Iterable[str]
) -> list[str]:
    """Expand queue specs into queue names, in the order the specs are given.

    ``@name`` stands for an identifier's globs, anything else is a glob itself;
    a leading ``!`` excludes what follows (``!@name`` every queue the
    identifier selects). A plain name (no ``*``, no ``!``, no ``@``) is kept
    even if no job was put in it yet. Each spec adds its matches, in ``names``
    order, after those of the specs before it.
    """
    known = list(names)
    include: list[tuple[str, bool]] = []  # (glob, given as a plain name)
    exclude: list[str] = []
    for spec in specs:
        negated = spec.startswith("!")
        body = spec[1:] if negated else spec
        if body.startswith("@"):
            expanded = [(pattern, False) for pattern in identifiers.get(body[1:], [])]
        else:
            expanded = [(body, not negated and "*" not in body)]
        for pattern, plain in expanded:
            if pattern.startswith("!"):
                # A negation inside a negated identifier would exclude from the exclusion: none.
                if not negated:
                    exclude.append(pattern[1:])
            elif negated:
                exclude.append(pattern)
            else:
                include.append((pattern, plain))
    excluded = [_glob(pattern) for pattern in exclude]
    chosen: dict[str, None] = {}
    for pattern, plain in include:
        matches = [pattern] if plain else [n for n in known if _glob(pattern).match(n)]
        for name in matches:
            if name not in chosen and not any(g.match(name) for g in excluded):
                chosen[name] = None
    return list(chosen)


def order_queues(
    queues: Sequence[str],
    priorities: Sequence[p.PriorityPattern],
    shuffle: Callable[[list[str]], None] = random.shuffle,
) -> list[str]:
    """``queues`` reordered by the priority patterns (see the module docstring)."""
    remaining = list(queues)
    groups: list[list[str] | None] = []  # None marks where the default group goes
    fair: list[bool] = []
    for priority in priorities:
        if list(priority.pattern) == ["default"]:
            groups.append(None)
            fair.append(priority.fairly)
            continue
        matched = match_queues(priority.pattern, remaining)
        remaining = [name for name in remaining if name not in matched]
        groups.append(matched)
        fair.append(priority.fairly)
    if None not in groups:
        groups.append(None)
        fair.append(False)
    ordered: list[str] = []
    for group, fairly in zip(groups, fair, strict=True):
        members = list(remaining) if group is None else group
        if fairly:
            shuffle(members)
        ordered += members
    return ordered


class QueuePatterns:
    """``client.queue_patterns``: stored identifier and priority patterns (sync)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @property
    def identifiers(self) -> dict[str, list[str]]:
        return self._client._do(p.identifier_patterns())

    def set_identifiers(self, patterns: Mapping[str, Sequence[str]]) -> None:
        """Replace every identifier; ``default`` is ``["*"]`` unless given."""
        self._client._do(p.set_identifier_patterns(patterns))

    @property
    def priorities(self) -> list[p.PriorityPattern]:
        return self._client._do(p.priority_patterns())

    def set_priorities(self, patterns: Sequence[p.PriorityPattern]) -> None:
        self._client._do(p.set_priority_patterns(patterns))

    def resolve(self, *specs: str) -> list[str]:
        """The queues the specs select (default ``@default``), in priority order."""
        return self._client._do(ops.resolve(specs))

    def get_queue_identifier_patterns(self) -> dict[str, list[str]]:
        """:attr:`identifiers`, by reqless-py's name."""
        return self._client._do(p.identifier_patterns())

    def set_queue_identifier_patterns(self, patterns: Mapping[str, Sequence[str]]) -> None:
        """:meth:`set_identifiers`, by reqless-py's name."""
        self._client._do(p.set_identifier_patterns(patterns))

    def get_queue_priority_patterns(self) -> list[p.PriorityPattern]:
        """:attr:`priorities`, by reqless-py's name (each also reads as
        :class:`reqless.models.QueuePriorityPattern`'s fields)."""
        return self._client._do(p.priority_patterns())

    def set_queue_priority_patterns(self, patterns: Sequence[p.PriorityPattern]) -> None:
        """:meth:`set_priorities`, by reqless-py's name."""
        self._client._do(p.set_priority_patterns(patterns))
