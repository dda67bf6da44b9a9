"""HookRecorder: every hook call, in order, with its arguments; and the hook order of a job."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from reqless_plugins import PluginManager, WorkerInfo, bind_log_context, hookimpl
from reqless_plugins.testing import HookRecorder, read_hook_log

if TYPE_CHECKING:
    from reqless import Job


class Runner:
    @hookimpl(trylast=True)
    def reqless_perform(self, job: Job) -> object:
        if job.queue_name == "broken":
            raise ValueError("bad address")
        return "ran"


def run_one_job(manager: PluginManager, worker: WorkerInfo, job: Job) -> None:
    """The per-job order the hookspecs document, as the worker follows it."""
    manager.notify("reqless_job_popped", worker=worker, job=job)
    if manager.decide("reqless_allow_job_class", job=job, klass_name=job.klass_name) is False:
        return
    path = manager.decide("reqless_sandbox_path", worker=worker)
    manager.decide("reqless_sandbox_prepare", worker=worker, path=path, job=job)
    with bind_log_context(manager.log_context(job)):
        manager.notify("reqless_before_perform", worker=worker, job=job)
        error: Exception | None = None
        try:
            manager.perform(worker, job)
        except Exception as exc:
            error = exc
        manager.notify("reqless_after_perform", worker=worker, job=job, error=error)
    if error is None:
        manager.notify("reqless_job_completed", worker=worker, job=job)
    else:
        group = f"{job.queue_name}-{type(error).__name__}"
        manager.notify("reqless_job_failed", worker=worker, job=job, group=group, message="tb")
    manager.decide("reqless_sandbox_clean", worker=worker, path=path, job=job)


@pytest.fixture
def recorded() -> tuple[PluginManager, HookRecorder]:
    manager = PluginManager.load()
    manager.register(Runner(), "worker")
    recorder = HookRecorder()
    manager.register(recorder, "recorder")
    return manager, recorder


def test_hooks_fire_in_order_with_the_right_arguments(
    recorded: tuple[PluginManager, HookRecorder], worker: WorkerInfo, job: Job
) -> None:
    manager, recorder = recorded

    manager.notify("reqless_worker_started", worker=worker)
    run_one_job(manager, worker, job)
    manager.notify("reqless_worker_stopping", worker=worker, reason="max-jobs")

    assert recorder.names() == [
        "reqless_worker_started",
        "reqless_job_popped",
        "reqless_allow_job_class",
        "reqless_sandbox_path",
        "reqless_sandbox_prepare",
        "reqless_log_context",
        "reqless_before_perform",
        "reqless_perform",
        "reqless_after_perform",
        "reqless_job_completed",
        "reqless_sandbox_clean",
        "reqless_worker_stopping",
    ]
    sandbox = worker.workdir / "reqless-py-workers" / "sandbox-3"
    assert recorder.calls_of("reqless_allow_job_class")[0].kwargs == {
        "job": job,
        "klass_name": "myapp.jobs.Mail",
    }
    assert recorder.calls_of("reqless_sandbox_prepare")[0].kwargs == {
        "worker": worker,
        "path": sandbox,
        "job": job,
    }
    assert recorder.calls_of("reqless_after_perform")[0].kwargs["error"] is None
    assert recorder.calls_of("reqless_worker_stopping")[0].kwargs == {
        "worker": worker,
        "reason": "max-jobs",
    }
    # The recorder decided nothing: the built-in sandbox did its work.
    assert not sandbox.exists()
    assert sandbox.parent.is_dir()


def test_a_failing_job_is_recorded_with_its_error_and_group(
    recorded: tuple[PluginManager, HookRecorder], worker: WorkerInfo, job: Job
) -> None:
    manager, recorder = recorded
    job.queue_name = "broken"  # type: ignore[misc]

    run_one_job(manager, worker, job)

    error = recorder.calls_of("reqless_after_perform")[0].kwargs["error"]
    assert isinstance(error, ValueError)
    [failed] = recorder.calls_of("reqless_job_failed")
    assert failed.kwargs["group"] == "broken-ValueError"
    assert "reqless_job_completed" not in recorder.names()


def test_the_recorder_does_not_change_what_perform_returns(
    recorded: tuple[PluginManager, HookRecorder], worker: WorkerInfo, job: Job
) -> None:
    manager, recorder = recorded

    class Doubling:
        @hookimpl(wrapper=True)
        def reqless_perform(self) -> Generator[None, object, object]:
            result = yield
            return f"{result} twice"

    manager.register(Doubling(), "doubling")

    assert manager.perform(worker, job) == "ran twice"
    assert recorder.names() == ["reqless_perform"]


def test_the_recorder_sees_decisions_answered_by_an_earlier_plugin(
    recorded: tuple[PluginManager, HookRecorder], worker: WorkerInfo
) -> None:
    manager, recorder = recorded

    class Elsewhere:
        @hookimpl(tryfirst=True)
        def reqless_sandbox_path(self) -> Path:
            return Path("/elsewhere")

    manager.register(Elsewhere(), "elsewhere")

    assert manager.decide("reqless_sandbox_path", worker=worker) == Path("/elsewhere")
    assert recorder.names() == ["reqless_sandbox_path"]


def test_recorders_in_several_processes_share_one_log_file(
    tmp_path: Path, worker: WorkerInfo, job: Job
) -> None:
    log = tmp_path / "hooks.jsonl"
    manager = PluginManager()
    manager.register(HookRecorder(log_path=log), "recorder")
    child = textwrap.dedent(
        f"""
        from pathlib import Path
        from reqless_plugins import PluginManager, WorkerInfo
        from reqless_plugins.testing import HookRecorder

        manager = PluginManager()
        manager.register(HookRecorder(log_path=Path({str(log)!r})), "recorder")
        worker = WorkerInfo("w", "process", Path("/work"), 1, 0)
        manager.notify("reqless_worker_stopping", worker=worker, reason="TERM")
        """
    )

    manager.notify("reqless_job_popped", worker=worker, job=job)
    subprocess.run([sys.executable, "-c", child], check=True, timeout=60)
    manager.notify("reqless_after_perform", worker=worker, job=job, error=KeyError("x"))

    calls = read_hook_log(log)
    assert [call.name for call in calls] == [
        "reqless_job_popped",
        "reqless_worker_stopping",
        "reqless_after_perform",
    ]
    assert calls[0].kwargs["job"] == {"jid": "jid-1", "queue": "mail", "klass": "myapp.jobs.Mail"}
    assert calls[0].kwargs["worker"]["workdir"] == str(worker.workdir)
    assert calls[1].kwargs == {
        "worker": {"name": "w", "strategy": "process", "workdir": "/work", "pid": 1, "slot": 0},
        "reason": "TERM",
    }
    assert calls[2].kwargs["error"] == {"type": "KeyError", "message": "'x'"}
    assert calls[0].pid != calls[1].pid
