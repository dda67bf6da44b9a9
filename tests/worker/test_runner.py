"""The runner in this process, on a real server: the lazy sandbox and how outcomes are sent.

The end-to-end tests run workers as processes; these call a ``JobRunner``
directly, so that what is (and is not) done for one job can be looked at.
"""

from __future__ import annotations

import gc
import os
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import reqless
from reqless import commands
from reqless_plugins import PluginManager, WorkerInfo, hookimpl
from reqless_plugins.testing import HookRecorder
from reqless_worker import JobOutcome, WorkerSettings
from reqless_worker._child import ChildSession
from reqless_worker._control import ChildControl, JobBudget
from reqless_worker._runner import JobRunner, WorkerJob
from tests.conftest import Server
from tests.worker.jobs_for_tests import read_log

JOBS = "tests.worker.jobs_for_tests"


def make_runner(client: reqless.Client, workdir: Path, *plugins: tuple[str, object]) -> JobRunner:
    manager = PluginManager.load(["sandbox"])
    for name, plugin in plugins:
        manager.register(plugin, name)
    info = WorkerInfo(client.worker_name, "process", workdir, 1, 0)
    settings = WorkerSettings(queues=("q",), workers=1, workdir=workdir)
    return JobRunner(client, settings, manager, info)


def pop(client: reqless.Client) -> WorkerJob:
    [[job]] = client.execute(commands.pop("q", client.worker_name, 1), job_class=WorkerJob)
    assert isinstance(job, WorkerJob)
    return job


def test_a_job_that_never_reads_its_sandbox_gets_no_directory(
    client: reqless.Client, tmp_path: Path
) -> None:
    recorder = HookRecorder()
    runner = make_runner(client, tmp_path / "work", ("recorder", recorder))
    jid = client.queues["q"].put(f"{JOBS}.Noop", {})

    assert runner.run(pop(client)) is JobOutcome.COMPLETED

    names = recorder.names()
    assert "reqless_job_completed" in names
    assert not [name for name in names if name.startswith("reqless_sandbox")]
    assert not (tmp_path / "work").exists()
    job = client.jobs[jid]
    assert isinstance(job, reqless.Job) and job.state == "complete"


def test_a_job_reading_its_sandbox_finds_it_empty_and_it_is_removed_after(
    client: reqless.Client, tmp_path: Path
) -> None:
    recorder, log = HookRecorder(), tmp_path / "jobs.log"
    runner = make_runner(client, tmp_path / "work", ("recorder", recorder))
    sandbox = tmp_path / "work" / "reqless-py-workers" / "sandbox-0"
    (sandbox / "left-by-a-killed-job").mkdir(parents=True)
    client.queues["q"].put(f"{JOBS}.SandboxUser", {"log": str(log)})

    assert runner.run(pop(client)) is JobOutcome.COMPLETED

    [seen] = read_log(log)
    assert (seen["path"], seen["existed"], seen["contents"]) == (str(sandbox), True, [])
    assert not sandbox.exists()
    names = recorder.names()
    assert names.count("reqless_sandbox_prepare") == names.count("reqless_sandbox_clean") == 1


class _BrokenSandbox:
    @hookimpl(tryfirst=True)
    def reqless_sandbox_prepare(self, path: Path) -> bool:
        raise PermissionError(f"cannot write {path}")


def test_a_sandbox_that_cannot_be_prepared_fails_the_job_that_reads_it(
    client: reqless.Client, tmp_path: Path
) -> None:
    runner = make_runner(client, tmp_path / "work", ("broken", _BrokenSandbox()))
    jid = client.queues["q"].put(f"{JOBS}.SandboxUser", {"log": str(tmp_path / "jobs.log")})

    assert runner.run(pop(client)) is JobOutcome.FAILED

    job = client.jobs[jid]
    assert isinstance(job, reqless.Job) and job.failure is not None
    assert job.failure.group == "q-SandboxError"
    assert "cannot write" in job.failure.message


@pytest.mark.parametrize("reads", ["job", "plugin"])
def test_a_plugin_reading_the_sandbox_makes_it_before_the_method_runs(
    client: reqless.Client, tmp_path: Path, reads: str
) -> None:
    seen: list[bool] = []

    class Eager:
        @hookimpl
        def reqless_before_perform(self, job: reqless.Job) -> None:
            if reads == "plugin":
                seen.append(Path(str(job.sandbox)).is_dir())

    runner = make_runner(client, tmp_path / "work", ("eager", Eager()))
    client.queues["q"].put(f"{JOBS}.Noop", {})

    assert runner.run(pop(client)) is JobOutcome.COMPLETED
    assert seen == ([True] if reads == "plugin" else [])
    assert not (tmp_path / "work" / "reqless-py-workers" / "sandbox-0").exists()


# ------------------------------------------------- a pop sent with the completion


@pytest.fixture
def session(server: Server, tmp_path: Path) -> Iterator[ChildSession]:
    settings = WorkerSettings(
        queues=("q",), url=server.url, name="piggy", workers=1, workdir=tmp_path, max_jobs=4
    )
    child = ChildSession(settings, 0, ChildControl(JobBudget(settings.max_jobs)), "process")
    try:
        yield child
    finally:
        child.client.close()


def put_noops(client: reqless.Client, count: int) -> list[str]:
    return [client.queues["q"].put(f"{JOBS}.Noop", {}, priority=count - i) for i in range(count)]


def test_a_batch_sends_its_completions_and_the_next_pop_in_one_request(
    client: reqless.Client, session: ChildSession
) -> None:
    first, second, *others = put_noops(client, 4)
    recorder = HookRecorder()
    session.plugins.register(recorder, "recorder")
    runner = session.runner()
    jobs = {job.jid: job for job in session.pop(2)}
    for jid in (first, second):
        assert runner.perform(jobs[jid]) is JobOutcome.RETURNED
        runner.completions.hold(jobs[jid], runner)
    held = client.jobs[first]
    assert isinstance(held, reqless.Job) and held.state == "running"  # not sent yet
    request = session.pop_request(5)
    assert request is not None

    sent = runner.completions.send(request)

    assert sent.outcomes == {first: JobOutcome.COMPLETED, second: JobOutcome.COMPLETED}
    popped = session.took(request, sent.popped)
    assert sorted(j.jid for j in popped) == sorted(others)
    assert all(isinstance(j, WorkerJob) for j in popped)
    assert all(j.jid in session.leases for j in popped)  # heartbeated until run
    for jid in (first, second):
        done = client.jobs[jid]
        assert isinstance(done, reqless.Job) and done.state == "complete"
    for jid in others:
        taken = client.jobs[jid]
        assert isinstance(taken, reqless.Job)
        assert (taken.state, taken.worker_name) == ("running", "piggy-0")
    completed = [call.kwargs["job"].jid for call in recorder.calls_of("reqless_job_completed")]
    assert completed == [first, second]


def test_the_pop_sent_with_completions_stays_within_the_job_budget(
    client: reqless.Client, session: ChildSession
) -> None:
    put_noops(client, 6)
    jobs = session.pop(3)
    runner = session.runner()
    for job in jobs:
        runner.perform(job)
        runner.completions.hold(job, runner)
    request = session.pop_request(5)
    assert request is not None and request.granted == 1  # --max-jobs 4: three popped before

    popped = session.took(request, runner.completions.send(request).popped)

    assert len(popped) == 1
    assert session.control.budget_spent
    assert client.queues["q"].counts.waiting == 2


def test_nothing_is_popped_once_the_child_is_stopping(
    client: reqless.Client, session: ChildSession
) -> None:
    put_noops(client, 2)
    session.pop(1)
    session.control.drain()

    assert session.pop_request(5) is None


def test_a_pop_the_core_sends_nothing_for_gives_its_budget_back(
    client: reqless.Client, session: ChildSession
) -> None:
    [jid] = put_noops(client, 1)
    runner = session.runner()
    [job] = session.pop(1)
    runner.perform(job)
    runner.completions.hold(job, runner)
    request = session.pop_request(3)
    assert request is not None and request.asked_every_queue

    sent = runner.completions.send(request)

    assert sent.popped == [] and session.took(request, sent.popped) == []
    assert session.control.jobs_reserved == 1
    done = client.jobs[jid]
    assert isinstance(done, reqless.Job) and done.state == "complete"


def test_a_failed_job_is_reported_at_once(client: reqless.Client, session: ChildSession) -> None:
    jid = client.queues["q"].put(f"{JOBS}.Failing", {"log": os.devnull})
    [job] = session.pop(1)

    assert session.runner().perform(job) is JobOutcome.FAILED

    failed = client.jobs[jid]
    assert isinstance(failed, reqless.Job) and failed.state == "failed"


# ------------------------------------------------------------ held completions


def test_run_completes_its_own_job_at_once_and_leaves_what_others_hold(
    client: reqless.Client, session: ChildSession
) -> None:
    first, second = put_noops(client, 2)
    runner = session.runner()
    jobs = {job.jid: job for job in session.pop(2)}
    runner.perform(jobs[first])
    runner.completions.hold(jobs[first], runner)

    assert runner.run(jobs[second]) is JobOutcome.COMPLETED

    assert get_state(client, second) == "complete"
    assert get_state(client, first) == "running"  # held: it goes with its batch
    assert session.completions.unanswered() == {first}
    runner.flush()
    assert get_state(client, first) == "complete"
    assert session.completions.unanswered() == set()


def get_state(client: reqless.Client, jid: str) -> str:
    job = client.jobs[jid]
    assert isinstance(job, reqless.Job)
    return job.state


def test_flush_sends_held_completions(client: reqless.Client, session: ChildSession) -> None:
    [jid] = put_noops(client, 1)
    runner = session.runner()
    [job] = session.pop(1)
    runner.perform(job)
    runner.completions.hold(job, runner)

    runner.flush()

    done = client.jobs[jid]
    assert isinstance(done, reqless.Job) and done.state == "complete"


def test_a_held_completion_refused_by_the_core_is_a_lost_lock(
    client: reqless.Client, session: ChildSession
) -> None:
    [jid] = put_noops(client, 1)
    recorder = HookRecorder()
    session.plugins.register(recorder, "recorder")
    runner = session.runner()
    [job] = session.pop(1)
    runner.perform(job)
    runner.completions.hold(job, runner)
    client.jobs.get(jid)[0].timeout()  # the lock goes: someone else may take the job

    runner.flush()

    assert recorder.names()[-1] == "reqless_job_lock_lost"
    assert "reqless_job_completed" not in recorder.names()
    stalled = client.jobs[jid]
    assert isinstance(stalled, reqless.Job) and stalled.state != "complete"


def test_a_job_whose_own_call_meets_an_outage_is_given_back_not_failed(
    client: reqless.Client, session: ChildSession, tmp_path: Path
) -> None:
    jid = client.queues["q"].put(f"{JOBS}.MeetsAnOutage", {"log": str(tmp_path / "log")})
    [job] = session.pop(1)

    assert session.runner().perform(job) is JobOutcome.GIVEN_BACK

    assert client.jobs.failed() == {}
    assert get_state(client, jid) == "waiting"


def test_a_job_run_with_a_method_guard_is_freed_at_once_not_by_the_garbage_collector(
    client: reqless.Client, session: ChildSession
) -> None:
    # The concurrent strategies' guards refer back to the job they guard. Were the
    # guard left on the job, every job would be a reference cycle, and a busy child's
    # collector would walk thousands of finished jobs at a time.
    def guard(job: WorkerJob, method: Callable[[WorkerJob], object]) -> Callable[..., object]:
        def guarded(_: WorkerJob) -> object:
            return method(job)

        return guarded

    put_noops(client, 1)
    runner = session.runner(0, guard)
    [job] = session.pop(1)
    alive = weakref.ref(job)
    gc.disable()
    try:
        assert runner.perform(job) is JobOutcome.RETURNED
        del job
        assert alive() is None
    finally:
        gc.enable()
