"""reqless-worker: pops reqless jobs, runs them and reports how they ended.

The public API is exported here and only here: the settings, the strategy
seam, the errors, the outcome of a job and :class:`Worker` (a worker run
from Python); the machinery the shipped strategies are built from (runner,
lease keeper, wake-up, child control) stays private. Names are loaded on
first use (PEP 562), so ``import reqless_worker`` stays standard-library only:
the CLI imports a strategy from this package before gevent has monkey-patched.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from reqless_worker.__about__ import __version__

if TYPE_CHECKING:
    from reqless_worker._errors import (
        JobCancelled,
        SandboxError,
        Shutdown,
        UnknownStrategyError,
        WorkerError,
        WorkerSettingsError,
    )
    from reqless_worker._runner import JobOutcome
    from reqless_worker._settings import WorkerSettings
    from reqless_worker._worker import ForkingWorker, GeventWorker, SerialWorker, Worker
    from reqless_worker.strategies import Strategy, available_strategies, load_strategy

__all__ = [
    "ForkingWorker",
    "GeventWorker",
    "JobCancelled",
    "JobOutcome",
    "SandboxError",
    "SerialWorker",
    "Shutdown",
    "Strategy",
    "UnknownStrategyError",
    "Worker",
    "WorkerError",
    "WorkerSettings",
    "WorkerSettingsError",
    "__version__",
    "available_strategies",
    "load_strategy",
]

_HOMES = {
    "ForkingWorker": "reqless_worker._worker",
    "GeventWorker": "reqless_worker._worker",
    "SerialWorker": "reqless_worker._worker",
    "Worker": "reqless_worker._worker",
    "JobCancelled": "reqless_worker._errors",
    "JobOutcome": "reqless_worker._runner",
    "SandboxError": "reqless_worker._errors",
    "Shutdown": "reqless_worker._errors",
    "Strategy": "reqless_worker.strategies",
    "UnknownStrategyError": "reqless_worker._errors",
    "WorkerError": "reqless_worker._errors",
    "WorkerSettings": "reqless_worker._settings",
    "WorkerSettingsError": "reqless_worker._errors",
    "available_strategies": "reqless_worker.strategies",
    "load_strategy": "reqless_worker.strategies",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'reqless_worker' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
