"""Job classes the worker tests enqueue; importable, as a worker process needs them to be.

Workers run in other processes, so a job reports what it saw by appending one
JSON line to the file named by its data's ``"log"`` key.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any


def record(job: Any, event: str, **extra: Any) -> None:
    """Append what this job saw to its log file (one JSON line, whole even across processes)."""
    payload = job.payload
    line = {
        "event": event,
        "jid": job.jid,
        "queue": job.queue_name,
        "worker": job.worker_name,
        "pid": os.getpid(),
        "time": time.time(),
        **extra,
    }
    with Path(payload["log"]).open("a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


def read_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def events(log: Path, name: str) -> list[dict[str, Any]]:
    """The lines of a job log that record ``name``."""
    return [line for line in read_log(log) if line["event"] == name]


class Noop:
    @staticmethod
    def process(job: Any) -> None:
        pass


class Record:
    """Records that it ran, and returns without completing (the worker completes it)."""

    @staticmethod
    def process(job: Any) -> None:
        record(job, "ran")


class PerQueue:
    """``alpha`` for jobs in queue ``alpha``; ``process`` anywhere else."""

    @staticmethod
    def alpha(job: Any) -> None:
        record(job, "alpha")

    @staticmethod
    def process(job: Any) -> None:
        record(job, "process")


class Failing:
    @staticmethod
    def process(job: Any) -> None:
        record(job, "ran")
        raise ValueError("the job's own bug")


class Swallower:
    """Catches every Exception: control-flow signals must still get through."""

    @staticmethod
    def process(job: Any) -> None:
        record(job, "started")
        deadline = time.monotonic() + job.payload.get("seconds", 30)
        while time.monotonic() < deadline:
            try:
                time.sleep(0.05)
            except Exception:
                record(job, "swallowed")
        record(job, "finished")


class Sleepy:
    """Records when it starts and when it finishes, sleeping ``seconds`` in between."""

    @staticmethod
    def process(job: Any) -> None:
        record(job, "started")
        time.sleep(job.payload.get("seconds", 1))
        record(job, "finished")


class SelfCompleting:
    @staticmethod
    def process(job: Any) -> None:
        job.complete()
        record(job, "completed-itself")


class Mover:
    """Moves its job on to the queue named in its data."""

    @staticmethod
    def process(job: Any) -> None:
        job.requeue(job.payload["to"])
        record(job, "moved")


class SelfRetrying:
    @staticmethod
    def process(job: Any) -> None:
        record(job, "ran")
        job.retry(delay=60)


class SandboxUser:
    """Reports its sandbox, whether it started empty, and leaves a file behind."""

    @staticmethod
    def process(job: Any) -> None:
        sandbox = Path(job.sandbox)
        record(
            job,
            "sandbox",
            path=str(sandbox),
            existed=sandbox.is_dir(),
            contents=sorted(p.name for p in sandbox.iterdir()),
            cwd=os.getcwd(),
        )
        (sandbox / "leftover.txt").write_text("a job's scratch file")
        time.sleep(job.payload.get("seconds", 0))


class NoMethod:
    """Has neither a method named after the queue nor ``process``."""


class AsyncJob:
    """An ``async def`` method: a synchronous strategy runs it to the end."""

    @staticmethod
    async def process(job: Any) -> None:
        record(job, "async-ran")


class AsAsked:
    """Runs ``seconds``, recording its start and its end, then finishes as ``finish`` says:
    ``"next"`` moves it on to queue ``second`` (where it just returns), ``"complete"``
    completes it itself, anything else returns (the worker completes it)."""

    @staticmethod
    def process(job: Any) -> None:
        record(job, "started")
        time.sleep(job.payload.get("seconds", 0))
        record(job, "finished")
        finish = job.payload.get("finish")
        if job.queue_name != "first":
            return
        if finish == "next":
            job.complete("second")
        elif finish == "complete":
            job.complete()


class WaitsThenMoves:
    """Waits until the file ``go`` exists, then moves its job on to queue ``second``
    (the test stops the server in between); in ``second`` it returns."""

    @staticmethod
    def process(job: Any) -> None:
        record(job, "started")
        if job.queue_name == "first":
            go = Path(job.payload["go"])
            while not go.exists():
                time.sleep(0.01)
            job.complete("second")
        record(job, "finished")


class MeetsAnOutage:
    """Its own call to the server (not on its job) meets an outage."""

    @staticmethod
    def process(job: Any) -> None:
        import reqless

        record(job, "ran")
        raise reqless.ServerUnavailableError("redis://127.0.0.1:1/0: connection refused")


class MovesThenLingers:
    """In ``first``, moves its job on to ``second`` and goes on running a while; in
    ``second`` it returns. A slot of the same child may pop it again meanwhile."""

    @staticmethod
    def process(job: Any) -> None:
        if job.queue_name == "first":
            job.complete("second")
            time.sleep(0.2)
            record(job, "lingered")
        else:
            record(job, "ran-second")
