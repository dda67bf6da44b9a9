"""The throttle and recurring-job listings, which the core has no single command for.

The core keeps no index of throttles, so they are found where they show: a
queue's own throttle (``ql:q:<queue>``) when it has a maximum, and every named
throttle that a running or throttled job holds or waits for. A throttle that is
set but idle has no trace but its own key; the pages offer to look one up by name.

Recurring jobs are listed queue by queue (the counts say which queues have any).
Only the public client API is used here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request

import reqless
import reqless.aio
from reqless_web._api._common import Param, endpoint, paging, recurring_json
from reqless_web._state import dashboard

__all__ = ["QUEUE_THROTTLE_PREFIX", "all_recurring", "known_throttles"]

QUEUE_THROTTLE_PREFIX = "ql:q:"
#: Jobs looked at per queue and state when finding named throttles.
SCAN_JOBS = 200


async def _throttle_row(client: reqless.aio.Client, tid: str) -> dict[str, Any]:
    throttle = client.throttles[tid]
    info, locks, pending = await asyncio.gather(
        throttle.info(), throttle.locks(), throttle.pending()
    )
    queue = tid[len(QUEUE_THROTTLE_PREFIX) :] if tid.startswith(QUEUE_THROTTLE_PREFIX) else None
    return {
        "id": tid,
        "queue": queue,
        "maximum": info.maximum,
        "ttl": info.ttl,
        "locks": len(locks),
        "pending": len(pending),
    }


async def _throttles_of_jobs(
    client: reqless.aio.Client, counts: Iterable[reqless.QueueCounts]
) -> set[str]:
    lists = []
    for c in counts:
        jobs = client.queues[c.name].jobs
        if c.running:
            lists.append(jobs.running(0, SCAN_JOBS))
        if c.throttled:
            lists.append(jobs.throttled(0, SCAN_JOBS))
    jids = {jid for found in await asyncio.gather(*lists) for jid in found}
    if not jids:
        return set()
    return {tid for job in await client.jobs.get(*sorted(jids)) for tid in job.throttles}


async def known_throttles(client: reqless.aio.Client) -> list[dict[str, Any]]:
    """Every throttle found (see the module), queue throttles first, then by name."""
    counts = await client.queues.counts()
    named = await _throttles_of_jobs(client, counts)
    queue_ids = {QUEUE_THROTTLE_PREFIX + c.name for c in counts}
    ids = sorted(queue_ids | named, key=lambda tid: (tid not in queue_ids, tid))
    rows = await asyncio.gather(*(_throttle_row(client, tid) for tid in ids))
    # Every running job holds its queue's throttle; without a maximum that is no limit
    # at all, and a row per queue would bury the throttles that do limit something.
    return [row for row in rows if row["id"] not in queue_ids or row["maximum"] or row["pending"]]


async def all_recurring(
    client: reqless.aio.Client, offset: int, limit: int
) -> tuple[int, list[reqless.aio.RecurringJob]]:
    """(how many recurring jobs there are, one page of them) over every queue."""
    counts = [c for c in await client.queues.counts() if c.recurring]
    total = sum(c.recurring for c in counts)
    wanted = offset + limit
    jid_lists = await asyncio.gather(
        *(client.queues[c.name].jobs.recurring(0, min(c.recurring, wanted)) for c in counts)
    )
    jids = [jid for found in jid_lists for jid in found][offset:wanted]
    found = await asyncio.gather(*(client.jobs[jid] for jid in jids))
    return total, [job for job in found if isinstance(job, reqless.aio.RecurringJob)]


@endpoint(
    "GET",
    "/throttles",
    summary="Throttles found: queue throttles with a maximum, and named throttles that"
    " running or throttled jobs hold or wait for",
    returns={"type": "array", "items": {"type": "object"}},
)
async def throttles(request: Request) -> Any:
    return await known_throttles(dashboard(request).client)


@endpoint(
    "GET",
    "/recurring-jobs",
    summary="One page of every queue's recurring jobs",
    query=(
        Param("offset", description="first item, from 0"),
        Param("limit", description="1..500"),
    ),
)
async def recurring_jobs(request: Request) -> Any:
    offset, limit = paging(request)
    total, jobs = await all_recurring(dashboard(request).client, offset, limit)
    return {
        "total": total,
        "offset": offset,
        "limit": limit,
        "jobs": [recurring_json(job) for job in jobs],
    }
