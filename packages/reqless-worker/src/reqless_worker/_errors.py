"""What the worker raises.

Errors descend from :class:`reqless.ReqlessError` through :class:`WorkerError`.
Control flow is not an error: :class:`Shutdown` and :class:`JobCancelled`
derive from ``BaseException``, so a job's ``except Exception:`` cannot swallow
the worker stopping it.
"""

from __future__ import annotations

from reqless import ReqlessError

__all__ = [
    "JobCancelled",
    "SandboxError",
    "Shutdown",
    "UnknownStrategyError",
    "WorkerError",
    "WorkerSettingsError",
]


class WorkerError(ReqlessError):
    """Root of the worker's own errors."""


class WorkerSettingsError(WorkerError, ValueError):
    """A setting (flag or ``REQLESS_*`` variable) has a value the worker cannot use."""


class UnknownStrategyError(WorkerError, LookupError):
    """No strategy is registered under the requested name; ``valid`` lists those that are."""

    def __init__(self, name: str, valid: list[str]) -> None:
        self.name = name
        self.valid = sorted(valid)
        super().__init__(
            f"unknown strategy {name!r}; valid strategies: {', '.join(self.valid) or 'none'}"
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (UnknownStrategyError, (self.name, self.valid))


class SandboxError(WorkerError):
    """A job's sandbox could not be prepared; raised where the job first reads
    ``job.sandbox``, so (unless the job handles it) it fails with ``<queue>-SandboxError``."""


class Shutdown(BaseException):
    """The worker stops now (SIGINT/SIGQUIT): the running job is interrupted and given back."""


class JobCancelled(BaseException):
    """The running job is no longer ours (lock lost, cancelled, moved): stop executing it."""
