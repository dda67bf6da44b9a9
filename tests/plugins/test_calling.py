"""Calling hooks: observers are isolated, decisions and perform propagate."""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import TYPE_CHECKING

import pytest

from reqless_plugins import (
    HookUsageError,
    PluginError,
    PluginManager,
    WorkerInfo,
    hookimpl,
)

if TYPE_CHECKING:
    from reqless import Job


class Broken:
    @hookimpl
    def reqless_job_completed(self, job: Job) -> None:
        raise RuntimeError("metrics backend down")


class Counting:
    def __init__(self) -> None:
        self.completed: list[str] = []

    @hookimpl
    def reqless_job_completed(self, job: Job) -> None:
        self.completed.append(job.jid)


class Runner:
    """Stands in for the worker's own implementation: runs the job, returns its result."""

    def __init__(self, result: object = "ran", error: Exception | None = None) -> None:
        self.result = result
        self.error = error
        self.runs = 0

    @hookimpl(trylast=True)
    def reqless_perform(self, job: Job) -> object:
        self.runs += 1
        if self.error is not None:
            raise self.error
        return self.result


def test_a_failing_notification_plugin_is_logged_by_name_and_the_next_still_runs(
    worker: WorkerInfo, job: Job, caplog: pytest.LogCaptureFixture
) -> None:
    manager = PluginManager()
    counting = Counting()
    # Registered last, so pluggy calls the broken plugin first.
    manager.register(counting, "counting")
    manager.register(Broken(), "broken")

    manager.notify("reqless_job_completed", worker=worker, job=job)

    assert counting.completed == ["jid-1"]
    [record] = [r for r in caplog.records if r.name == "reqless_plugins"]
    assert record.levelno == logging.ERROR
    assert "'broken'" in record.getMessage()
    assert "reqless_job_completed" in record.getMessage()
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "metrics backend down"


def test_control_flow_exceptions_from_a_notification_are_not_swallowed(
    worker: WorkerInfo, job: Job
) -> None:
    class Interrupting:
        @hookimpl
        def reqless_job_popped(self) -> None:
            raise KeyboardInterrupt

    manager = PluginManager()
    manager.register(Interrupting(), "interrupting")

    with pytest.raises(KeyboardInterrupt):
        manager.notify("reqless_job_popped", worker=worker, job=job)


def test_a_decision_hook_error_propagates(job: Job) -> None:
    class Policy:
        @hookimpl
        def reqless_allow_job_class(self, klass_name: str) -> bool:
            raise LookupError(f"no policy for {klass_name}")

    manager = PluginManager.load()
    manager.register(Policy(), "policy")

    with pytest.raises(LookupError, match=r"no policy for myapp\.jobs\.Mail"):
        manager.decide("reqless_allow_job_class", job=job, klass_name="myapp.jobs.Mail")


def test_a_decision_is_the_first_answer_and_none_means_nobody_decided(job: Job) -> None:
    class Refuses:
        @hookimpl
        def reqless_allow_job_class(self, klass_name: str) -> bool | None:
            return False if klass_name.startswith("untrusted.") else None

    manager = PluginManager.load()
    assert manager.decide("reqless_allow_job_class", job=job, klass_name="untrusted.X") is None

    manager.register(Refuses(), "refuses")
    assert manager.decide("reqless_allow_job_class", job=job, klass_name="untrusted.X") is False
    assert manager.decide("reqless_allow_job_class", job=job, klass_name="myapp.Mail") is None


def test_hooks_must_be_called_the_way_their_kind_requires(worker: WorkerInfo, job: Job) -> None:
    manager = PluginManager.load()

    with pytest.raises(HookUsageError, match="decision: call decide"):
        manager.notify("reqless_sandbox_path", worker=worker)
    with pytest.raises(HookUsageError, match="notification: call notify"):
        manager.decide("reqless_job_popped", worker=worker, job=job)
    with pytest.raises(HookUsageError, match="did you mean 'reqless_job_popped'"):
        manager.notify("reqless_job_poped", worker=worker, job=job)
    with pytest.raises(HookUsageError, match="takes job, worker; called with job"):
        manager.notify("reqless_job_popped", job=job)


def test_perform_returns_what_the_worker_implementation_returns(
    worker: WorkerInfo, job: Job
) -> None:
    manager = PluginManager.load()
    runner = Runner(result={"sent": 3})
    manager.register(runner, "worker")

    assert manager.perform(worker, job) == {"sent": 3}
    assert runner.runs == 1


def test_a_job_returning_none_is_performed_once(worker: WorkerInfo, job: Job) -> None:
    manager = PluginManager()
    first, second = Runner(result=None), Runner(result=None)
    manager.register(first, "first")
    manager.register(second, "second")

    assert manager.perform(worker, job) is None
    # firstresult goes on after None: two plain implementations would both
    # run the job, which is why the worker's own is the only plain one.
    assert (first.runs, second.runs) == (1, 1)


def test_a_wrapper_around_perform_sees_the_result_and_may_replace_it(
    worker: WorkerInfo, job: Job
) -> None:
    events: list[str] = []

    class Timing:
        @hookimpl(wrapper=True)
        def reqless_perform(self, job: Job) -> Generator[None, object, object]:
            events.append(f"before {job.jid}")
            result = yield
            events.append(f"after {result!r}")
            return {"wrapped": result}

    manager = PluginManager.load()
    manager.register(Runner(), "worker")
    manager.register(Timing(), "timing")

    assert manager.perform(worker, job) == {"wrapped": "ran"}
    assert events == ["before jid-1", "after 'ran'"]


def test_a_wrapper_sees_the_job_error_and_the_error_propagates(
    worker: WorkerInfo, job: Job
) -> None:
    seen: list[BaseException] = []

    class Tracing:
        @hookimpl(wrapper=True)
        def reqless_perform(self) -> Generator[None, object, object]:
            try:
                return (yield)
            except Exception as exc:
                seen.append(exc)
                raise

    manager = PluginManager()
    manager.register(Runner(error=ValueError("bad address")), "worker")
    manager.register(Tracing(), "tracing")

    with pytest.raises(ValueError, match="bad address"):
        manager.perform(worker, job)
    assert [str(exc) for exc in seen] == ["bad address"]


def test_a_wrapper_may_retry_the_job(worker: WorkerInfo, job: Job) -> None:
    class RetryOnce:
        @hookimpl(wrapper=True)
        def reqless_perform(self) -> Generator[None, object, object]:
            try:
                return (yield)
            except ConnectionResetError:
                return "gave up politely"

    manager = PluginManager()
    runner = Runner(error=ConnectionResetError())
    manager.register(runner, "worker")
    manager.register(RetryOnce(), "retry")

    assert manager.perform(worker, job) == "gave up politely"
    assert runner.runs == 1


def test_perform_without_the_worker_implementation_is_an_error(
    worker: WorkerInfo, job: Job
) -> None:
    class Timing:
        @hookimpl(wrapper=True)
        def reqless_perform(self) -> Generator[None, object, object]:
            return (yield)

    manager = PluginManager.load()
    manager.register(Timing(), "timing")

    with pytest.raises(PluginError, match="nothing implements reqless_perform"):
        manager.perform(worker, job)


def test_log_context_merges_every_plugin_and_a_third_party_value_wins(job: Job) -> None:
    class Tenant:
        @hookimpl
        def reqless_log_context(self, job: Job) -> dict[str, object]:
            return {"tenant": "acme", "worker": "pod-7"}

    manager = PluginManager.load()
    manager.register(Tenant(), "tenant")

    assert manager.log_context(job) == {
        "jid": "jid-1",
        "queue": "mail",
        "klass": "myapp.jobs.Mail",
        "worker": "pod-7",
        "tenant": "acme",
    }


def test_log_context_skips_a_failing_or_malformed_plugin(
    job: Job, caplog: pytest.LogCaptureFixture
) -> None:
    class Failing:
        @hookimpl
        def reqless_log_context(self) -> dict[str, object]:
            raise KeyError("tenant")

    class Malformed:
        @hookimpl
        def reqless_log_context(self) -> object:
            return ["tenant", "acme"]

    manager = PluginManager.load(enabled=["logging"])
    manager.register(Failing(), "failing")
    manager.register(Malformed(), "malformed")

    assert manager.log_context(job)["jid"] == "jid-1"
    messages = [r.getMessage() for r in caplog.records if r.name == "reqless_plugins"]
    assert any("'failing'" in message for message in messages)
    assert any("'malformed'" in message and "not a dict" in message for message in messages)
