"""The built-in ``logging`` plugin's line per job start and end, at DEBUG (``-v``)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, cast

import pytest

from reqless_plugins import PluginManager, WorkerInfo, bind_log_context
from reqless_plugins.builtin import logs
from tests.plugins.conftest import FakeJob

if TYPE_CHECKING:
    from reqless import Job

LOGGER = "reqless_plugins.builtin.logs"


@pytest.fixture(autouse=True)
def forget_start_times() -> Iterator[None]:
    yield
    logs._started.clear()
    logs._ran_for.clear()


@pytest.fixture
def plugins() -> PluginManager:
    return PluginManager.load(["logging"])


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == LOGGER]


def run(plugins: PluginManager, worker: WorkerInfo, job: Job, end: str, **extra: object) -> None:
    """The per-job hooks as the worker calls them, ending with ``reqless_job_<end>``."""
    plugins.notify("reqless_job_popped", worker=worker, job=job)
    plugins.notify("reqless_before_perform", worker=worker, job=job)
    plugins.notify("reqless_after_perform", worker=worker, job=job, error=None)
    plugins.notify(f"reqless_job_{end}", worker=worker, job=job, **extra)


@pytest.mark.parametrize(
    ("end", "extra", "expected"),
    [
        ("completed", {}, r"completed myapp\.jobs\.Mail from mail in \d+\.\d{3}s"),
        (
            "failed",
            {"group": "mail-KeyError", "message": "Traceback ..."},
            r"failed myapp\.jobs\.Mail from mail in \d+\.\d{3}s: mail-KeyError",
        ),
        ("retried", {}, r"retried myapp\.jobs\.Mail from mail in \d+\.\d{3}s"),
        ("lock_lost", {}, r"lost the lock of myapp\.jobs\.Mail from mail in \d+\.\d{3}s"),
    ],
)
def test_each_job_start_and_end_is_logged_with_its_outcome_and_duration(
    plugins: PluginManager,
    worker: WorkerInfo,
    job: Job,
    caplog: pytest.LogCaptureFixture,
    end: str,
    extra: dict[str, object],
    expected: str,
) -> None:
    # As the worker runs it: the job's context bound, so the jid goes on the record.
    with caplog.at_level(logging.DEBUG, logger=LOGGER), bind_log_context(plugins.log_context(job)):
        run(plugins, worker, job, end, **extra)

    started, ended = lines(caplog)
    assert started == "started myapp.jobs.Mail from mail"
    assert re.fullmatch(expected, ended), ended
    assert [record.levelno for record in caplog.records] == [logging.DEBUG] * 2
    assert not logs._started and not logs._ran_for


def test_without_a_bound_context_the_line_names_the_jid(
    plugins: PluginManager, worker: WorkerInfo, job: Job, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        run(plugins, worker, job, "completed")

    started, ended = lines(caplog)
    assert started == "started jid-1 myapp.jobs.Mail from mail"
    assert ended.startswith("completed jid-1 myapp.jobs.Mail from mail in ")


def test_jobs_running_side_by_side_each_get_their_own_duration(
    plugins: PluginManager,
    worker: WorkerInfo,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr(logs, "_clock", lambda: now[0])
    first = cast("Job", FakeJob(jid="a"))
    second = cast("Job", replace(FakeJob(jid="b"), klass_name="myapp.jobs.Slow"))

    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        plugins.notify("reqless_job_popped", worker=worker, job=first)
        now[0] = 101.0
        plugins.notify("reqless_job_popped", worker=worker, job=second)
        now[0] = 101.5
        plugins.notify("reqless_after_perform", worker=worker, job=first, error=None)
        now[0] = 104.0
        plugins.notify("reqless_after_perform", worker=worker, job=second, error=None)
        # A completion held back for a batch: the method's run time is what is reported.
        now[0] = 110.0
        plugins.notify("reqless_job_completed", worker=worker, job=second)
        plugins.notify("reqless_job_completed", worker=worker, job=first)

    assert lines(caplog)[2:] == [
        "completed b myapp.jobs.Slow from mail in 3.000s",
        "completed a myapp.jobs.Mail from mail in 1.500s",
    ]


def test_a_refused_job_ends_without_after_perform_and_is_timed_from_its_pop(
    plugins: PluginManager,
    worker: WorkerInfo,
    job: Job,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [5.0]
    monkeypatch.setattr(logs, "_clock", lambda: now[0])
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        plugins.notify("reqless_job_popped", worker=worker, job=job)
        now[0] = 5.25
        plugins.notify(
            "reqless_job_failed", worker=worker, job=job, group="mail-JobClassRefused", message=""
        )

    assert lines(caplog)[1] == (
        "failed jid-1 myapp.jobs.Mail from mail in 0.250s: mail-JobClassRefused"
    )


def test_at_info_nothing_is_logged_or_kept(
    plugins: PluginManager, worker: WorkerInfo, job: Job, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=LOGGER):
        run(plugins, worker, job, "completed")
        plugins.notify("reqless_job_popped", worker=worker, job=job)

    assert lines(caplog) == []
    assert not logs._started and not logs._ran_for


def test_the_table_of_start_times_cannot_grow_without_bound(
    plugins: PluginManager,
    worker: WorkerInfo,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(logs, "_MAX_TRACKED", 3)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        # Jobs whose end is never reported (e.g. their completion could not be sent).
        for n in range(5):
            plugins.notify("reqless_job_popped", worker=worker, job=FakeJob(jid=f"j{n}"))
        assert len(logs._started) <= 3
        for n in range(5):
            plugins.notify("reqless_job_lock_lost", worker=worker, job=FakeJob(jid=f"j{n}"))
    assert not logs._started
