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
| concurrency | ``-c`` / ``-g`` | ``REQLESS_CONCURRENCY`` | 10 (gevent, trio, asyncio), else 1 |
| strategy | ``--strategy`` | ``REQLESS_STRATEGY`` | ``process`` |
| loop | ``--loop`` | ``REQLESS_LOOP`` | ``asyncio`` (or ``uvloop``, for ``--strategy asyncio``) |
| interval | ``-i`` | ``REQLESS_INTERVAL`` | 1.0 s |
| workdir | ``-d`` | ``REQLESS_WORKDIR`` | the current directory |
| paths | ``-p`` | ``REQLESS_PATHS`` (``os.pathsep``-separated) | none |
| cwd_path | ``--no-cwd-path`` | ``REQLESS_CWD_PATH`` (``0`` turns it off) | on |
| imports | ``-m`` | ``REQLESS_IMPORTS`` (comma-separated) | none |
| resume | ``-r`` | ``REQLESS_RESUME`` | off |
| verbose | ``-v`` | ``REQLESS_VERBOSE`` | off |
| log_file | ``-l`` | ``REQLESS_LOG_FILE`` | none |
| max_jobs | ``--max-jobs`` | ``REQLESS_MAX_JOBS`` | no limit |
| max_jobs_per_child | ``--max-jobs-per-child`` | ``REQLESS_MAX_JOBS_PER_CHILD`` | no limit |
| drain_timeout | ``--drain-timeout`` | ``REQLESS_DRAIN_TIMEOUT`` | 30 s |
| plugins | ``--plugin`` | ``REQLESS_PLUGINS`` (comma-separated) | every installed plugin |
| disabled_plugins | ``--no-plugin`` | ``REQLESS_DISABLED_PLUGINS`` (comma-separated) | none |
| reload | ``--reload`` / ``--no-reload`` | ``REQLESS_RELOAD`` | off |
| burst | ``--burst`` | ``REQLESS_BURST`` | off |

Switches read ``1``, ``true``, ``yes``, ``on`` and ``0``, ``false``, ``no``, ``off``.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = ["WorkerSettings"]


def _switch(text: str) -> bool:
    word = text.strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise ValueError("use 1 or 0 (true/false, yes/no, on/off)")


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _paths(text: str) -> tuple[str, ...]:
    return tuple(os.path.abspath(path) for path in text.split(os.pathsep) if path)


# Field -> (environment variable, parser of its text).
_ENVIRONMENT: dict[str, tuple[str, Any]] = {
    "queues": ("REQLESS_QUEUES", lambda text: tuple(q for q in text.split(",") if q)),
    "url": ("REQLESS_URL", str),
    "driver": ("REQLESS_DRIVER", str),
    "name": ("REQLESS_WORKER_NAME", str),
    "workers": ("REQLESS_WORKERS", int),
    "concurrency": ("REQLESS_CONCURRENCY", int),
    "strategy": ("REQLESS_STRATEGY", str),
    "loop": ("REQLESS_LOOP", str),
    "interval": ("REQLESS_INTERVAL", float),
    "workdir": ("REQLESS_WORKDIR", Path),
    "paths": ("REQLESS_PATHS", _paths),
    "cwd_path": ("REQLESS_CWD_PATH", _switch),
    "imports": ("REQLESS_IMPORTS", _names),
    "resume": ("REQLESS_RESUME", _switch),
    "verbose": ("REQLESS_VERBOSE", _switch),
    "log_file": ("REQLESS_LOG_FILE", str),
    "max_jobs": ("REQLESS_MAX_JOBS", int),
    "max_jobs_per_child": ("REQLESS_MAX_JOBS_PER_CHILD", int),
    "drain_timeout": ("REQLESS_DRAIN_TIMEOUT", float),
    "plugins": ("REQLESS_PLUGINS", _names),
    "disabled_plugins": ("REQLESS_DISABLED_PLUGINS", _names),
    "reload": ("REQLESS_RELOAD", _switch),
    "burst": ("REQLESS_BURST", _switch),
}


#: The event loops ``--strategy asyncio`` can run on.
LOOPS = ("asyncio", "uvloop")

#: ``--concurrency`` when neither the command line nor the environment gives it: the
#: concurrent strategies run jobs that mostly wait, one per slot, so one slot wastes them.
DEFAULT_CONCURRENCY = {"gevent": 10, "trio": 10, "asyncio": 10}


def default_concurrency(strategy: str) -> int:
    """The ``--concurrency`` a strategy runs with unless told (1 for the others)."""
    return DEFAULT_CONCURRENCY.get(strategy, 1)


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
    polling every ``interval``), for benchmarks. ``cwd_path`` asks the command
    line to put the directory it was started in on ``paths`` (as rq and Celery
    do), so job modules beside it are found. ``burst``: a child stops once it
    holds no job and a pop finds every queue empty, and the worker exits 0 when
    every child has (for tests and batch runs).
    """

    queues: tuple[str, ...] = ()
    #: None: the client's default (``REQLESS_URL`` was read already, so redis://localhost:6379).
    url: str | None = None
    driver: str | None = None
    name: str | None = None
    workers: int = field(default_factory=_cpu_count)
    concurrency: int = 1
    strategy: str = "process"
    loop: str = "asyncio"
    interval: float = 1.0
    paths: tuple[str, ...] = ()
    cwd_path: bool = True
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
    burst: bool = False

    def __post_init__(self) -> None:
        problems = []
        if self.workers < 1:
            problems.append(f"workers must be at least 1, not {self.workers}")
        if self.concurrency < 1:
            problems.append(f"concurrency must be at least 1, not {self.concurrency}")
        if self.loop not in LOOPS:
            problems.append(f"loop must be one of {', '.join(LOOPS)}, not {self.loop!r}")
        elif self.loop == "uvloop" and importlib.util.find_spec("uvloop") is None:
            problems.append("loop 'uvloop' needs uvloop, not installed: pip install uvloop")
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
        if "concurrency" not in values:
            values["concurrency"] = default_concurrency(values.get("strategy", "process"))
        return cls(**values)

    def with_changes(self, **changes: Any) -> WorkerSettings:
        return replace(self, **changes)
