"""The dashboard's HTML pages, rendered on the server with autoescaping Jinja2.

Each page reads what it shows in as few round trips as it can (a page of jobs is
one ``job.getMulti``) and hands the templates the same JSON shapes the API
answers, so the rows drawn here and the rows ``app.js`` redraws from the API on
live updates are built from identical data. Every action on a page is a
``fetch`` to the API (which checks the role and the CSRF token); the templates
only hide what the user's role cannot do.
"""

from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.templating import Jinja2Templates

import reqless
import reqless.aio
from reqless_web._api._common import counts_json, job_json, recurring_json, stats_json
from reqless_web._api._core import jobs_of, peek, recurring_of, server_info
from reqless_web._api._lists import all_recurring, known_throttles
from reqless_web._settings import Role
from reqless_web._state import csrf_token_of, dashboard, role_of, root_path_of, user_of

__all__ = ["PER_PAGE", "QUEUE_STATES", "page_routes"]

PER_PAGE = 25
#: The tabs of a queue page, in the order a job usually moves through them.
QUEUE_STATES = ("waiting", "scheduled", "depends", "throttled", "running", "stalled", "recurring")
#: The queue counts the overview shows, as columns.
COUNT_FIELDS = ("waiting", "running", "stalled", "scheduled", "depends", "throttled", "recurring")
NAV = (
    ("/", "Overview"),
    ("/failures", "Failures"),
    ("/workers", "Workers"),
    ("/tracked", "Tracked"),
    ("/tags", "Tags"),
    ("/throttles", "Throttles"),
    ("/recurring", "Recurring"),
    ("/patterns", "Patterns"),
    ("/config", "Config"),
)
REDIS_FIELDS = (
    ("version", "server version"),
    ("used_memory_human", "memory used"),
    ("connected_clients", "connected clients"),
)

Page = Callable[[Request], Awaitable[Response]]


# --------------------------------------------------------------------------- templates


def _segment(value: object) -> str:
    """One URL path segment: a queue named ``a/b`` must not become two segments."""
    return quote(str(value), safe="")


def _when(value: object) -> str:
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if not seconds:
        return ""
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _seconds(value: object) -> str:
    """A duration for people: ``0.25 s``, ``42 s``, ``3.5 min``, ``2.1 h``."""
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _pretty_json(text: object) -> str:
    """Job data (JSON text) indented; text that is not JSON is shown as it is."""
    try:
        return json.dumps(json.loads(str(text)), indent=2, ensure_ascii=False, sort_keys=True)
    except (ValueError, RecursionError):
        return str(text)


def _pretty(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


TRACEBACK_HEADER = "Traceback (most recent call last):"


def _failure_line(text: object) -> str:
    """The line that says what went wrong: a Python traceback's last line (the
    exception), else the message's first line."""
    lines = [line.strip() for line in str(text or "").strip().splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[-1] if lines[0].startswith(TRACEBACK_HEADER) else lines[0]
    return line[:300]


def _history_details(entry: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return sorted((k, v) for k, v in entry.items() if k not in ("when", "what"))


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        seg=_segment,
        when=_when,
        seconds=_seconds,
        pretty_json=_pretty_json,
        pretty=_pretty,
        failure_line=_failure_line,
        history_details=_history_details,
    )
    return env


TEMPLATES = Jinja2Templates(env=_environment())


def _render(
    request: Request, template: str, context: Mapping[str, Any], status: int = 200
) -> Response:
    role = role_of(request)
    root = root_path_of(request)
    section = "/" + request.url.path.removeprefix(root).strip("/").split("/", 1)[0]
    base = {
        "root": root,
        "role": role.name,
        "user": user_of(request),
        "csrf_token": csrf_token_of(request),
        "can_operate": role >= Role.operator,
        "can_admin": role >= Role.admin,
        "nav": NAV,
        "section": section,
    }
    response = TEMPLATES.TemplateResponse(
        request, template, {**base, **context}, status_code=status
    )
    # Pages show live state: never serve one from a cache.
    response.headers["cache-control"] = "no-store"
    return response


def _problem(request: Request, status: int, heading: str, message: str) -> Response:
    return _render(request, "problem.html", {"heading": heading, "message": message}, status)


def _not_found(request: Request, message: str) -> Response:
    return _problem(request, 404, "Not found", message)


def _client(request: Request) -> reqless.aio.Client:
    return dashboard(request).client


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    # isdigit() alone passes "²", which int() refuses.
    return int(raw) if raw.isascii() and raw.isdigit() and int(raw) > 0 else 1


def _window(request: Request) -> tuple[int, int]:
    """(page number, offset) of the ``page`` query parameter."""
    page = _page_number(request)
    return page, (page - 1) * PER_PAGE


def _jobs(jobs: Iterable[reqless.aio.Job]) -> list[dict[str, Any]]:
    return [job_json(job) for job in jobs]


# --------------------------------------------------------------------------- pages


async def overview(request: Request) -> Response:
    client = _client(request)
    counts, failures, workers, tracked, info, application = await asyncio.gather(
        client.queues.counts(),
        client.jobs.failed(),
        client.workers.counts(),
        client.jobs.tracked(),
        server_info(client),
        client.config.get("application", "reqless"),
    )
    queues = [counts_json(c) for c in counts]
    return _render(
        request,
        "overview.html",
        {
            "application": application,
            "overview": {
                "queues": queues,
                "workers": [
                    {"name": w.name, "jobs": w.jobs, "stalled": w.stalled} for w in workers
                ],
                "tracked": {"jobs": len(tracked.jobs), "expired": len(tracked.expired)},
                "redis": info,
            },
            "count_fields": COUNT_FIELDS,
            "totals": {f: sum(q[f] for q in queues) for f in COUNT_FIELDS},
            "failures": _by_count(failures),
            "failed_total": sum(failures.values()),
            "redis_fields": REDIS_FIELDS,
        },
    )


def _by_count(groups: Mapping[str, int]) -> list[tuple[str, int]]:
    return sorted(groups.items(), key=lambda item: (-item[1], item[0]))


async def queue_page(request: Request) -> Response:
    client = _client(request)
    name: str = request.path_params["queue"]
    state = request.query_params.get("state", "waiting")
    if state not in QUEUE_STATES:
        state = "waiting"
    page, offset = _window(request)
    queue = client.queues[name]
    counts, throttle, stats, known = await asyncio.gather(
        queue.counts(), queue.throttle.info(), queue.stats(), client.queues.names()
    )
    if name not in known and not any(getattr(counts, field) for field in COUNT_FIELDS):
        return _not_found(
            request,
            f"The queue {name!r} has never been seen: no job has been put in it"
            " (or it was forgotten). Check the name against the overview.",
        )
    jobs: list[dict[str, Any]]
    if state == "waiting":
        jobs = _jobs(await peek(client, name, offset, PER_PAGE))
    else:
        jids = await getattr(queue.jobs, state)(offset, PER_PAGE)
        if state == "recurring":
            jobs = [recurring_json(job) for job in await recurring_of(client, jids)]
        else:
            jobs = _jobs(await jobs_of(client, jids))
    counts_data = counts_json(counts)
    return _render(
        request,
        "queue.html",
        {
            "queue": name,
            "counts": counts_data,
            "throttle": {"maximum": throttle.maximum, "ttl": throttle.ttl},
            "stats": stats_json(stats),
            "states": QUEUE_STATES,
            "state": state,
            "jobs": jobs,
            "total": counts_data[state],
            "page": page,
            "offset": offset,
            "per_page": PER_PAGE,
        },
    )


async def job_page(request: Request) -> Response:
    jid: str = request.path_params["jid"]
    found = await _client(request).jobs[jid]
    if isinstance(found, reqless.aio.RecurringJob):
        return RedirectResponse(
            f"{root_path_of(request)}/recurring/{_segment(jid)}", status_code=303
        )
    if found is None:
        return _not_found(
            request,
            f"There is no job {jid!r}: it never existed, or it was "
            "canceled, or it completed and has expired.",
        )
    return _render(request, "job.html", {"job": job_json(found)})


async def recurring_page(request: Request) -> Response:
    jid: str = request.path_params["jid"]
    if not jid:
        return RedirectResponse(f"{root_path_of(request)}/recurring", status_code=303)
    found = await recurring_of(_client(request), [jid])
    if not found:
        return _not_found(request, f"There is no recurring job {jid!r}.")
    return _render(request, "recurring.html", {"job": recurring_json(found[0])})


async def failures_page(request: Request) -> Response:
    groups = await _client(request).jobs.failed()
    return _render(
        request,
        "failures.html",
        {"groups": _by_count(groups), "total": sum(groups.values())},
    )


async def failure_group_page(request: Request) -> Response:
    client = _client(request)
    group: str = request.path_params["group"]
    page, offset = _window(request)
    found = await client.jobs.failed(group, offset, PER_PAGE)
    return _render(
        request,
        "failure_group.html",
        {
            "group": group,
            "jobs": _jobs(await jobs_of(client, found.jids)),
            "total": found.total,
            "page": page,
            "offset": offset,
            "per_page": PER_PAGE,
        },
    )


async def workers_page(request: Request) -> Response:
    workers = await _client(request).workers.counts()
    rows = [{"name": w.name, "jobs": w.jobs, "stalled": w.stalled} for w in workers]
    return _render(request, "workers.html", {"overview": {"workers": rows}})


async def worker_page(request: Request) -> Response:
    client = _client(request)
    worker: str = request.path_params["worker"]
    held = await client.workers[worker]
    # One getMulti for both lists; the job objects are then sorted back by jid.
    jobs = {job.jid: job_json(job) for job in await jobs_of(client, [*held.jobs, *held.stalled])}
    return _render(
        request,
        "worker.html",
        {
            "worker": worker,
            "jobs": [jobs[jid] for jid in held.jobs if jid in jobs],
            "stalled": [jobs[jid] for jid in held.stalled if jid in jobs],
        },
    )


async def tracked_page(request: Request) -> Response:
    page, offset = _window(request)
    found = await _client(request).jobs.tracked()
    jobs, expired = found.jobs, found.expired
    return _render(
        request,
        "tracked.html",
        {
            "jobs": _jobs(jobs[offset : offset + PER_PAGE]),
            "expired": expired,
            "total": len(jobs),
            "page": page,
            "offset": offset,
            "per_page": PER_PAGE,
        },
    )


async def tags_page(request: Request) -> Response:
    client = _client(request)
    tag = request.query_params.get("tag", "").strip()
    page, offset = _window(request)
    top = await client.tags.top(0, 50)
    jobs: list[dict[str, Any]] = []
    total = 0
    if tag:
        found = await client.jobs.tagged(tag, offset, PER_PAGE)
        jobs, total = _jobs(await jobs_of(client, found.jids)), found.total
    return _render(
        request,
        "tags.html",
        {
            "tag": tag,
            "top": top,
            "jobs": jobs,
            "total": total,
            "page": page,
            "offset": offset,
            "per_page": PER_PAGE,
        },
    )


async def recurring_list_page(request: Request) -> Response:
    page, offset = _window(request)
    total, jobs = await all_recurring(_client(request), offset, PER_PAGE)
    return _render(
        request,
        "recurring_list.html",
        {
            "jobs": [recurring_json(job) for job in jobs],
            "total": total,
            "page": page,
            "offset": offset,
            "per_page": PER_PAGE,
        },
    )


async def throttles_page(request: Request) -> Response:
    wanted = request.query_params.get("name", "").strip()
    if wanted:
        target = f"{root_path_of(request)}/throttles/{_segment(wanted)}"
        return RedirectResponse(target, status_code=303)
    return _render(
        request, "throttles.html", {"throttles": await known_throttles(_client(request))}
    )


async def throttle_page(request: Request) -> Response:
    tid: str = request.path_params["tid"]
    if not tid:
        return RedirectResponse(f"{root_path_of(request)}/throttles", status_code=303)
    throttle = _client(request).throttles[tid]
    info, locks, pending = await asyncio.gather(
        throttle.info(), throttle.locks(), throttle.pending()
    )
    return _render(
        request,
        "throttle.html",
        {
            "throttle": {
                "id": info.id,
                "maximum": info.maximum,
                "ttl": info.ttl,
                "locks": locks,
                "pending": pending,
            }
        },
    )


async def patterns_page(request: Request) -> Response:
    patterns = _client(request).queue_patterns
    identifiers, priorities = await asyncio.gather(patterns.identifiers(), patterns.priorities())
    return _render(
        request,
        "patterns.html",
        {
            "identifiers": identifiers,
            "priorities": [{"pattern": p.pattern, "fairly": p.fairly} for p in priorities],
        },
    )


async def config_page(request: Request) -> Response:
    options = await _client(request).config.all()
    return _render(request, "config.html", {"config": sorted(options.items())})


def _guarded(page: Page) -> Page:
    """A page whose server cannot be reached, or whose input the core refuses, says so
    instead of answering a bare 500."""

    async def render(request: Request) -> Response:
        try:
            return await page(request)
        except reqless.ServerUnavailableError as exc:
            message = f"The reqless server cannot be reached: {exc}"
            return _problem(request, 503, "Server unavailable", message)
        except reqless.ReqlessError as exc:
            # A name the core refuses (a control character, say) is the request's fault.
            return _problem(request, 400, "Bad request", str(exc))

    render.__name__ = page.__name__
    return render


def page_routes() -> list[BaseRoute]:
    # `:path` converters: queue, worker, group, tag and throttle names may contain "/".
    pages: list[tuple[str, Page]] = [
        ("/", overview),
        ("/queues/{queue:path}", queue_page),
        ("/jobs/{jid:path}", job_page),
        ("/recurring", recurring_list_page),
        ("/recurring/{jid:path}", recurring_page),
        ("/failures", failures_page),
        ("/failures/{group:path}", failure_group_page),
        ("/workers", workers_page),
        ("/workers/{worker:path}", worker_page),
        ("/tracked", tracked_page),
        ("/tags", tags_page),
        ("/throttles", throttles_page),
        ("/throttles/{tid:path}", throttle_page),
        ("/patterns", patterns_page),
        ("/config", config_page),
    ]
    return [
        Route(path, _guarded(page), methods=["GET"], name=f"page:{page.__name__}")
        for path, page in pages
    ]
