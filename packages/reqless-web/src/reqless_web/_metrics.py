"""``/metrics`` (Prometheus text format), ``/healthz`` and ``/readyz``.

Every metric comes from one pipelined round trip: the counts of every queue,
the failure groups, the workers, and today's statistics of every queue. Wait
and run times are summaries (``_sum`` / ``_count``) of today's samples, so
they restart at midnight UTC the way Prometheus expects a counter to reset.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

import reqless
from reqless import commands
from reqless_web._state import dashboard

__all__ = ["metric_routes", "render_metrics"]

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
READY_TIMEOUT_SECONDS = 2.0
STATES = ("waiting", "running", "stalled", "scheduled", "depends", "throttled", "recurring")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_label(v)}"' for k, v in labels.items()) + "}"


class _Exposition:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(
        self,
        name: str,
        kind: str,
        help: str,
        samples: Iterable[tuple[Mapping[str, str], float]],
        suffix: str = "",
    ) -> None:
        self.lines += [f"# HELP {name} {help}", f"# TYPE {name} {kind}"]
        self.samples(name + suffix, samples)

    def samples(self, name: str, samples: Iterable[tuple[Mapping[str, str], float]]) -> None:
        self.lines += [f"{name}{_labels(labels)} {value:g}" for labels, value in samples]

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


async def render_metrics(client: reqless.aio.Client) -> str:
    counts, failures, workers = await client.execute(
        commands.all_queue_counts(), commands.failure_counts(), commands.worker_counts()
    )
    now = client.clock()
    stats: list[reqless.QueueStats] = await client.execute(
        *[commands.stats(c.name, now) for c in counts]
    )
    out = _Exposition()
    out.family(
        "reqless_queue_jobs",
        "gauge",
        "Jobs in a queue by state.",
        (({"queue": c.name, "state": s}, getattr(c, s)) for c in counts for s in STATES),
    )
    out.family(
        "reqless_queue_paused",
        "gauge",
        "1 if the queue is paused.",
        (({"queue": c.name}, int(c.paused)) for c in counts),
    )
    out.family(
        "reqless_failed_jobs",
        "gauge",
        "Failed jobs by failure group.",
        (({"group": g}, n) for g, n in sorted(failures.items())),
    )
    out.family("reqless_workers", "gauge", "Known workers.", [({}, len(workers))])
    out.family(
        "reqless_worker_jobs",
        "gauge",
        "Jobs a worker holds, live (`jobs`) or with an expired lock (`stalled`).",
        (
            ({"worker": w.name, "kind": kind}, getattr(w, kind))
            for w in workers
            for kind in ("jobs", "stalled")
        ),
    )
    for kind, what in (("wait", "waiting before a worker took them"), ("run", "running")):
        name = f"reqless_queue_{kind}_seconds"
        timings = [(c.name, getattr(s, kind)) for c, s in zip(counts, stats, strict=True)]
        out.family(
            name,
            "summary",
            f"Seconds today's jobs spent {what}.",
            (({"queue": q}, t.mean * t.count) for q, t in timings),
            suffix="_sum",
        )
        out.samples(name + "_count", (({"queue": q}, t.count) for q, t in timings))
        out.family(
            f"{name}_std",
            "gauge",
            f"Standard deviation of today's {kind} times.",
            (({"queue": q}, t.std) for q, t in timings),
        )
    for field, what in (
        ("failures", "Jobs failed today."),
        ("retries", "Lock-lost retries today."),
    ):
        out.family(
            f"reqless_queue_{field}_today",
            "gauge",
            what,
            (({"queue": c.name}, getattr(s, field)) for c, s in zip(counts, stats, strict=True)),
        )
    return out.text()


async def metrics(request: Request) -> Response:
    try:
        text = await render_metrics(dashboard(request).client)
    except reqless.ReqlessError as exc:
        return JSONResponse({"error": f"the reqless server is unavailable: {exc.detail}"}, 503)
    return PlainTextResponse(text, media_type=CONTENT_TYPE)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    client = dashboard(request).client
    try:
        # A core call, not a PING: it also proves the core script is usable.
        await asyncio.wait_for(client.config.get("application"), READY_TIMEOUT_SECONDS)
    except (reqless.ReqlessError, TimeoutError) as exc:
        logger.info("not ready: %r", exc)
        return JSONResponse({"error": f"the reqless server is unreachable: {exc!r}"}, 503)
    return JSONResponse({"status": "ready"})


def metric_routes() -> list[Route]:
    return [
        Route("/metrics", metrics, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
