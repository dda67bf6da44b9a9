"""``put_many``'s arguments: every item checked and built before anything is sent.

Pure, like :mod:`reqless._protocol`, so the sync client and the asyncio twin
share it. The common item, a ``(klass, data)`` pair, takes a short path that
builds put's six arguments directly; every other item goes through
:func:`reqless._protocol.put_args`, so the checks are the same for all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeAlias

from reqless import _protocol as p

__all__ = ["PutManyItem", "put_many_args", "put_many_jids"]

#: One item of ``put_many``: a JobSpec, a mapping of ``put``'s keywords, or ``(klass, data)``.
PutManyItem: TypeAlias = p.JobSpec | Mapping[str, Any] | Sequence[Any]

PUT = "queue.put"


def put_many_args(worker: str, queue: str, items: Iterable[PutManyItem]) -> list[tuple[p.Arg, ...]]:
    """``queue.put``'s arguments for each item, in order; raises on the first invalid item."""
    items = items if isinstance(items, list | tuple) else list(items)
    p.check_str("queue", queue)
    # One read of the random source for every jid a pair needs, not one per job.
    jids = os.urandom(16 * len(items)).hex()
    # A batch nearly always holds one class or a few: each is checked once.
    names: dict[p.KlassArg, str] = {}
    out: list[tuple[p.Arg, ...]] = []
    append = out.append
    start = 0
    for item in items:
        if type(item) is tuple and len(item) == 2:
            klass, data = item
            name = names.get(klass) if isinstance(klass, str | type) else None
            if name is None:
                name = names[klass] = p.klass_name(klass)
            append((worker, queue, jids[start : start + 32], name, p.encode_data(data), 0))
        else:
            append(p.put_args(worker, queue, *p.item_fields(item)))
        start += 32
    return out


def put_many_jids(results: list[Any]) -> list[str]:
    """The jids of a streamed ``put_many``; the first error (in item order) is raised."""
    for result in results:
        if isinstance(result, Exception):
            raise result
    return [str(jid) for jid in results]
