"""Helpers for testing plugins and workers: record which hooks fired, with what.

``HookRecorder`` is a plugin that implements every hook, records each call and
otherwise does nothing: it wraps the decision hooks and ``reqless_perform``
without changing their outcome. In-process::

    recorder = HookRecorder()
    manager.register(recorder, "recorder")
    ...
    assert recorder.names() == ["reqless_job_popped", ...]

Across processes (a worker's children), give it ``log_path``: every call is
also appended to that file as one JSON line, and ``read_hook_log`` reads them
back (jobs, workers, paths and exceptions are reduced to JSON-friendly
summaries). A test can publish such a recorder through a ``*.dist-info``
entry point so the worker's children load it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reqless_plugins._markers import hookimpl
from reqless_plugins._worker import WorkerInfo

if TYPE_CHECKING:
    from reqless import Job

__all__ = ["HookCall", "HookRecorder", "read_hook_log"]


@dataclass(frozen=True)
class HookCall:
    """One hook call: its name and the arguments it was given, by name."""

    name: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    #: The process that made the call (matters when reading a shared log).
    pid: int = field(default_factory=os.getpid)


class HookRecorder:
    """A plugin that records every hook call, in order.

    Decision hooks and ``reqless_perform`` are recorded by wrappers, which
    run whichever plugin answers; notifications by ``tryfirst``
    implementations, so the recorder logs a call before the plugins react.
    """

    def __init__(self, log_path: Path | None = None) -> None:
        self.calls: list[HookCall] = []
        self.log_path = log_path

    def names(self) -> list[str]:
        """The hook names, in call order."""
        return [call.name for call in self.calls]

    def calls_of(self, name: str) -> list[HookCall]:
        """The calls of one hook, in order."""
        return [call for call in self.calls if call.name == name]

    def clear(self) -> None:
        self.calls.clear()

    def _record(self, name: str, **kwargs: Any) -> None:
        call = HookCall(name, kwargs)
        self.calls.append(call)
        if self.log_path is not None:
            line = json.dumps(
                {"name": name, "pid": call.pid, "kwargs": _summarize(kwargs)}, default=repr
            )
            # One write per line in append mode: lines from several children
            # interleave whole on Linux.
            with self.log_path.open("a", encoding="utf-8") as out:
                out.write(line + "\n")

    # -- logging ---------------------------------------------------------

    @hookimpl(tryfirst=True)
    def reqless_configure_logging(
        self, config: dict[str, Any], verbose: bool, log_file: str | None
    ) -> None:
        self._record("reqless_configure_logging", config=config, verbose=verbose, log_file=log_file)

    @hookimpl(tryfirst=True)
    def reqless_log_context(self, job: Job) -> None:
        self._record("reqless_log_context", job=job)

    # -- worker lifecycle ------------------------------------------------

    @hookimpl(tryfirst=True)
    def reqless_worker_started(self, worker: WorkerInfo) -> None:
        self._record("reqless_worker_started", worker=worker)

    @hookimpl(tryfirst=True)
    def reqless_worker_stopping(self, worker: WorkerInfo, reason: str) -> None:
        self._record("reqless_worker_stopping", worker=worker, reason=reason)

    # -- policies: wrappers, so whichever plugin answers, the call is seen --

    @hookimpl(wrapper=True)
    def reqless_allow_job_class(self, job: Job, klass_name: str) -> Generator[None, Any, Any]:
        self._record("reqless_allow_job_class", job=job, klass_name=klass_name)
        return (yield)

    @hookimpl(wrapper=True)
    def reqless_sandbox_path(self, worker: WorkerInfo) -> Generator[None, Any, Any]:
        self._record("reqless_sandbox_path", worker=worker)
        return (yield)

    @hookimpl(wrapper=True)
    def reqless_sandbox_prepare(
        self, worker: WorkerInfo, path: Path, job: Job
    ) -> Generator[None, Any, Any]:
        self._record("reqless_sandbox_prepare", worker=worker, path=path, job=job)
        return (yield)

    @hookimpl(wrapper=True)
    def reqless_sandbox_clean(
        self, worker: WorkerInfo, path: Path, job: Job
    ) -> Generator[None, Any, Any]:
        self._record("reqless_sandbox_clean", worker=worker, path=path, job=job)
        return (yield)

    # -- job lifecycle ---------------------------------------------------

    @hookimpl(tryfirst=True)
    def reqless_job_popped(self, worker: WorkerInfo, job: Job) -> None:
        self._record("reqless_job_popped", worker=worker, job=job)

    @hookimpl(tryfirst=True)
    def reqless_before_perform(self, worker: WorkerInfo, job: Job) -> None:
        self._record("reqless_before_perform", worker=worker, job=job)

    @hookimpl(wrapper=True)
    def reqless_perform(self, worker: WorkerInfo, job: Job) -> Generator[None, Any, Any]:
        self._record("reqless_perform", worker=worker, job=job)
        return (yield)

    @hookimpl(tryfirst=True)
    def reqless_after_perform(
        self, worker: WorkerInfo, job: Job, error: BaseException | None
    ) -> None:
        self._record("reqless_after_perform", worker=worker, job=job, error=error)

    @hookimpl(tryfirst=True)
    def reqless_job_completed(self, worker: WorkerInfo, job: Job) -> None:
        self._record("reqless_job_completed", worker=worker, job=job)

    @hookimpl(tryfirst=True)
    def reqless_job_failed(self, worker: WorkerInfo, job: Job, group: str, message: str) -> None:
        self._record("reqless_job_failed", worker=worker, job=job, group=group, message=message)

    @hookimpl(tryfirst=True)
    def reqless_job_retried(self, worker: WorkerInfo, job: Job) -> None:
        self._record("reqless_job_retried", worker=worker, job=job)

    @hookimpl(tryfirst=True)
    def reqless_job_lock_lost(self, worker: WorkerInfo, job: Job) -> None:
        self._record("reqless_job_lock_lost", worker=worker, job=job)


def read_hook_log(path: Path) -> list[HookCall]:
    """The calls a ``HookRecorder(log_path=path)`` wrote, in file order (summarised arguments)."""
    if not path.exists():
        return []
    calls = []
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        calls.append(HookCall(entry["name"], entry["kwargs"], entry["pid"]))
    return calls


def _summarize(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _summary(key, value) for key, value in kwargs.items()}


def _summary(key: str, value: Any) -> Any:
    if isinstance(value, WorkerInfo):
        return {**dataclasses.asdict(value), "workdir": str(value.workdir)}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, BaseException):
        return {"type": type(value).__name__, "message": str(value)}
    if key == "job":
        return {
            "jid": getattr(value, "jid", None),
            "queue": getattr(value, "queue_name", None),
            "klass": getattr(value, "klass_name", None),
        }
    return value
