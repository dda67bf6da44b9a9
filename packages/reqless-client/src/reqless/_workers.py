"""``client.workers``: who is popping, what each holds, and forgetting them (sync)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reqless import _ops as ops
from reqless import _protocol as p

if TYPE_CHECKING:
    from reqless._client import Client

__all__ = ["Workers"]


class Workers:
    def __init__(self, client: Client) -> None:
        self._client = client

    @property
    def counts(self) -> list[p.WorkerCounts]:
        """Every known worker, most recently active first, with its running and stalled counts."""
        return self._client._do(p.worker_counts())

    def __getitem__(self, worker: str) -> p.WorkerJobs:
        """The jids this worker holds a lock on (``jobs``) or whose lock expired (``stalled``)."""
        return self._client._do(p.worker_jobs(worker))

    def forget(self, *workers: str) -> None:
        """Drop workers from the registry (e.g. after they shut down)."""
        self._client._do(ops.forget_workers(workers))
