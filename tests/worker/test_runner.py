"""The runner in this process, on a real server: the lazy sandbox and how outcomes are sent.

The end-to-end tests run workers as processes; these call a ``JobRunner``
directly, so that what is (and is not) done for one job can be looked at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import reqless
from reqless_plugins import PluginManager, WorkerInfo, hookimpl
from reqless_plugins.testing import HookRecorder
from reqless_worker import ChildControl, JobBudget, JobOutcome, JobRunner, WorkerSettings
from reqless_worker._child import ChildSession
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


def pop(client: reqless.Client) -> reqless.Job:
    job = client.queues["q"].pop()
    assert job is not None
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


def test_completing_a_job_pops_the_next_ones_in_the_same_round_trip(
    client: reqless.Client, session: ChildSession
) -> None:
    first, *others = put_noops(client, 3)
    [job] = session.pop(1)
    then = session.next_pop(5)

    assert session.runner().run(job, then=then) is JobOutcome.COMPLETED

    assert then.sent
    assert sorted(j.jid for j in then.jobs) == sorted(others)
    assert all(j.jid in session.leases for j in then.jobs)  # heartbeated until run
    done = client.jobs[first]
    assert isinstance(done, reqless.Job) and done.state == "complete"
    for jid in others:
        held = client.jobs[jid]
        assert isinstance(held, reqless.Job)
        assert (held.state, held.worker_name) == ("running", "piggy-0")


def test_the_pop_sent_with_a_completion_stays_within_the_job_budget(
    client: reqless.Client, session: ChildSession
) -> None:
    put_noops(client, 6)
    jobs = session.pop(3)
    runner = session.runner()
    for job in jobs[:2]:
        runner.run(job)
    then = session.next_pop(5)

    runner.run(jobs[2], then=then)

    assert len(then.jobs) == 1  # --max-jobs 4: three popped before, one more now
    assert session.control.budget_spent
    assert client.queues["q"].counts.waiting == 2


def test_nothing_is_popped_with_the_completion_once_the_child_is_stopping(
    client: reqless.Client, session: ChildSession
) -> None:
    first, _ = put_noops(client, 2)
    [job] = session.pop(1)
    then = session.next_pop(5)
    session.control.drain()

    assert session.runner().run(job, then=then) is JobOutcome.COMPLETED

    assert not then.sent and then.jobs == []
    assert client.queues["q"].counts.waiting == 1
    done = client.jobs[first]
    assert isinstance(done, reqless.Job) and done.state == "complete"


def test_a_failed_job_sends_no_pop(client: reqless.Client, session: ChildSession) -> None:
    client.queues["q"].put(f"{JOBS}.Failing", {"log": os.devnull}, priority=5)
    put_noops(client, 1)
    [job] = session.pop(1)
    then = session.next_pop(5)

    assert session.runner().run(job, then=then) is JobOutcome.FAILED

    assert not then.sent
    assert client.queues["q"].counts.waiting == 1
    assert session.control.jobs_claimed == 1


# ------------------------------------------------------------ held completions


def test_held_completions_go_with_the_next_one_and_are_notified_in_order(
    client: reqless.Client, session: ChildSession
) -> None:
    first, second, third = put_noops(client, 3)
    recorder = HookRecorder()
    session.plugins.register(recorder, "recorder")
    runner = session.runner()
    jobs = {job.jid: job for job in session.pop(3)}

    assert runner.run(jobs[first], hold=True) is JobOutcome.COMPLETED
    assert runner.run(jobs[second], hold=True) is JobOutcome.COMPLETED
    held = client.jobs[first]
    assert isinstance(held, reqless.Job) and held.state == "running"  # not sent yet
    assert "reqless_job_completed" not in recorder.names()

    assert runner.run(jobs[third]) is JobOutcome.COMPLETED

    for jid in (first, second, third):
        job = client.jobs[jid]
        assert isinstance(job, reqless.Job) and job.state == "complete"
    completed = [call.kwargs["job"].jid for call in recorder.calls_of("reqless_job_completed")]
    assert completed == [first, second, third]


def test_flush_sends_held_completions(client: reqless.Client, session: ChildSession) -> None:
    [jid] = put_noops(client, 1)
    runner = session.runner()
    [job] = session.pop(1)
    runner.run(job, hold=True)

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
    runner.run(job, hold=True)
    client.jobs.get(jid)[0].timeout()  # the lock goes: someone else may take the job

    runner.flush()

    assert recorder.names()[-1] == "reqless_job_lock_lost"
    assert "reqless_job_completed" not in recorder.names()
    stalled = client.jobs[jid]
    assert isinstance(stalled, reqless.Job) and stalled.state != "complete"
