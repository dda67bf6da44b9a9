"""How a worker runs, as data: :class:`WorkerSettings`.

Precedence for every field: the command line, then the environment, then the
default. Standard library only: the CLI builds settings before the strategy
has bootstrapped (gevent patches the standard library there).

| Field | Flag | Variable | Default |
|---|---|---|---|
| queues | ``-q`` | ``REQLESS_QUEUES`` (comma-separated) | none (required) |
| url | ``--url`` / ``--host --port`` | ``REQLESS_URL`` | the client's: ``redis://localhost:6379`` |
| driver | ``--driver`` | ``REQLESS_DRIVER`` | chosen by the URL |
| name | ``-n`` | ``REQLESS_WORKER_NAME`` | ``<hostname>-<parent pid>`` |
| workers | ``-w`` | ``REQLESS_WORKERS`` | CPU count |
| concurrency | ``-c`` / ``-g`` | ``REQLESS_CONCURRENCY`` | 1 |
| strategy | ``--strategy`` | ``REQLESS_STRATEGY`` | ``process`` |
| interval | ``-i`` | ``REQLESS_INTERVAL`` | 1.0 s |
| workdir | ``-d`` | ``REQLESS_WORKDIR`` | the current directory |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = ["WorkerSettings"]

# Field -> (environment variable, parser of its text).
_ENVIRONMENT: dict[str, tuple[str, Any]] = {
    "queues": ("REQLESS_QUEUES", lambda text: tuple(q for q in text.split(",") if q)),
    "url": ("REQLESS_URL", str),
    "driver": ("REQLESS_DRIVER", str),
    "name": ("REQLESS_WORKER_NAME", str),
    "workers": ("REQLESS_WORKERS", int),
    "concurrency": ("REQLESS_CONCURRENCY", int),
    "strategy": ("REQLESS_STRATEGY", str),
    "interval": ("REQLESS_INTERVAL", float),
    "workdir": ("REQLESS_WORKDIR", Path),
}


def _cpu_count() -> int:
    return os.cpu_count() or 1


@dataclass(frozen=True)
class WorkerSettings:
    """Everything a worker needs to know before it connects.

    ``max_jobs`` counts jobs across every child of one worker (then it exits 0);
    ``max_jobs_per_child`` recycles a child after that many jobs. ``plugins``
    ``None`` enables every installed plugin; ``disabled_plugins`` are skipped.
    ``drain_timeout`` bounds how long SIGTERM waits for running jobs before
    giving them back. ``wakeup`` False disables the pub/sub wake-up (pure
    polling every ``interval``), for benchmarks.
    """

    queues: tuple[str, ...] = ()
    #: None: the client's default (``REQLESS_URL`` was read already, so redis://localhost:6379).
    url: str | None = None
    driver: str | None = None
    name: str | None = None
    workers: int = field(default_factory=_cpu_count)
    concurrency: int = 1
    strategy: str = "process"
    interval: float = 1.0
    paths: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()
    workdir: Path = field(default_factory=Path.cwd)
    resume: bool = False
    verbose: bool = False
    log_file: str | None = None
    max_jobs: int | None = None
    max_jobs_per_child: int | None = None
    plugins: tuple[str, ...] | None = None
    disabled_plugins: tuple[str, ...] = ()
    reload: bool = False
    wakeup: bool = True
    drain_timeout: float = 30.0

    def __post_init__(self) -> None:
        problems = []
        if self.workers < 1:
            problems.append(f"workers must be at least 1, not {self.workers}")
        if self.concurrency < 1:
            problems.append(f"concurrency must be at least 1, not {self.concurrency}")
        if not self.interval > 0:
            problems.append(f"interval must be a positive number of seconds, not {self.interval}")
        for name in ("max_jobs", "max_jobs_per_child"):
            value = getattr(self, name)
            if value is not None and value < 1:
                problems.append(f"{name} must be at least 1, not {value}")
        if self.drain_timeout < 0:
            problems.append(f"drain_timeout must not be negative, not {self.drain_timeout}")
        if problems:
            # Imported here: this module stays stdlib-only until a setting is wrong.
            from reqless_worker._errors import WorkerSettingsError

            raise WorkerSettingsError("; ".join(problems))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **given: Any) -> WorkerSettings:
        """Settings from ``given`` (what the command line said, ``None`` meaning unsaid),
        then ``REQLESS_*`` variables, then the defaults."""
        env = os.environ if environ is None else environ
        values = {key: value for key, value in given.items() if value is not None}
        for name, (variable, parse) in _ENVIRONMENT.items():
            text = env.get(variable)
            if name in values or not text:
                continue
            try:
                values[name] = parse(text)
            except ValueError as exc:
                from reqless_worker._errors import WorkerSettingsError

                raise WorkerSettingsError(f"{variable}={text!r}: {exc}") from exc
        return cls(**values)

    def with_changes(self, **changes: Any) -> WorkerSettings:
        return replace(self, **changes)
