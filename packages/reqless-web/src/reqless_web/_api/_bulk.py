"""Retry or cancel a whole failure group, on the server, in chunks, with no cap.

Each round reads one chunk of the group's list, fetches its jobs with one
``job.getMulti`` and acts on them with one pipelined round trip. Jobs acted on
leave the list, so the next chunk starts where the jobs that could not be
acted on end (a job whose dependents still wait on it cannot be canceled alone;
a jid whose job is gone cannot be requeued). Failures that arrive meanwhile are
pushed at the head of the list and are left for the next click.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

import reqless
import reqless.aio
from reqless import commands
from reqless_web._api._common import check_name, endpoint, path_param
from reqless_web._api._core import jobs_of, requeue_call, run_each
from reqless_web._settings import Role
from reqless_web._state import dashboard

__all__ = ["CHUNK", "act_on_group"]

CHUNK = 500
RESULT = {
    "type": "object",
    "properties": {
        "count": {"type": "integer", "description": "jobs retried or canceled"},
        "skipped": {"type": "array", "items": {"type": "string"}},
    },
}


async def act_on_group(client: reqless.aio.Client, group: str, action: str) -> dict[str, Any]:
    """Retry (``action="retry"``) or cancel every job of ``group``; the jobs left are explained."""
    done = 0
    skipped: dict[str, str] = {}
    offset = 0
    while True:
        page = await client.jobs.failed(group, offset, CHUNK)
        if not page.jids:
            break
        jobs = {job.jid: job for job in await jobs_of(client, page.jids)}
        chosen: list[reqless.aio.Job] = []
        for jid in page.jids:
            job = jobs.get(jid)
            if job is None:
                skipped[jid] = "the job no longer exists"
            elif action == "cancel" and job.dependents:
                skipped[jid] = f"jobs {', '.join(job.dependents)} depend on it"
            elif action == "retry" and not job.queue_name:
                skipped[jid] = "the job names no queue to go back to"
            else:
                chosen.append(job)
        results = await run_each(client, [_call(client, job, action) for job in chosen])
        acted = 0
        for job, result in zip(chosen, results, strict=True):
            if isinstance(result, reqless.ReqlessError):
                skipped[job.jid] = result.detail
            else:
                acted += 1
        done += acted
        # The jobs acted on left the list; the others now lead it from `offset`.
        offset += len(page.jids) - acted
    return {"group": group, "count": done, "skipped": skipped}


def _call(client: reqless.aio.Client, job: reqless.aio.Job, action: str) -> commands.Call[Any]:
    if action == "cancel":
        # job.cancel checks every jid it is given before changing anything, so
        # one job with dependents would void a whole chunk: one call per job.
        return commands.cancel(job.jid)
    return requeue_call(client.worker_name, job, job.queue_name)


@endpoint(
    "POST",
    "/failures/{group:path}/retry",
    role=Role.operator,
    summary="Put every job of the failure group back into its queue",
    returns=RESULT,
)
async def retry_group(request: Request) -> Any:
    group = check_name("group", path_param(request, "group"))
    return await act_on_group(dashboard(request).client, group, "retry")


@endpoint(
    "POST",
    "/failures/{group:path}/cancel",
    role=Role.operator,
    summary="Cancel every job of the failure group",
    returns=RESULT,
)
async def cancel_group(request: Request) -> Any:
    group = check_name("group", path_param(request, "group"))
    return await act_on_group(dashboard(request).client, group, "cancel")
