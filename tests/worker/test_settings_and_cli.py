"""Settings, the job budget, the public façade and the command line's errors (no server)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import reqless_worker
from reqless_worker import (
    UnknownStrategyError,
    WorkerSettings,
    WorkerSettingsError,
    load_strategy,
)
from reqless_worker._control import EXIT_OK, EXIT_RECYCLE, ChildControl, JobBudget, PutClaims
from reqless_worker.strategies.process import ProcessStrategy
from tests.worker.conftest import ROOT, worker_env


def test_the_facade_exports_exactly_the_public_names() -> None:
    assert reqless_worker.__all__ == sorted(reqless_worker.__all__)
    assert reqless_worker.__all__ == [
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
    for name in reqless_worker.__all__:
        assert getattr(reqless_worker, name) is not None


def test_importing_the_package_loads_no_client_and_no_driver() -> None:
    # gevent must patch before these load (and open sockets): the CLI imports this package first.
    code = (
        "import sys, reqless_worker, reqless_worker.strategies, reqless_worker._settings\n"
        "print(sorted(m for m in ('reqless', 'redis', 'valkey', 'hiredis', 'reqless_plugins') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=worker_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.strip() == "[]"


def test_control_flow_exceptions_are_not_caught_by_except_exception() -> None:
    assert not issubclass(reqless_worker.Shutdown, Exception)
    assert not issubclass(reqless_worker.JobCancelled, Exception)
    assert issubclass(reqless_worker.WorkerError, reqless_worker.WorkerError.__mro__[1])


def test_settings_take_the_command_line_then_the_environment_then_the_default() -> None:
    environ = {"REQLESS_URL": "redis://env:1", "REQLESS_WORKERS": "3", "REQLESS_QUEUES": "a,b"}
    settings = WorkerSettings.from_env(environ, url="redis://cli:2", workers=None)
    assert settings.url == "redis://cli:2"
    assert settings.workers == 3
    assert settings.queues == ("a", "b")
    assert settings.strategy == "process"
    assert WorkerSettings.from_env({}).url is None  # the client's default


def test_bad_settings_raise_one_error_naming_each_problem() -> None:
    with pytest.raises(WorkerSettingsError, match=r"workers must be at least 1.*interval"):
        WorkerSettings(workers=0, interval=0)
    with pytest.raises(WorkerSettingsError, match="REQLESS_WORKERS='many'"):
        WorkerSettings.from_env({"REQLESS_WORKERS": "many"})


def test_an_unknown_strategy_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownStrategyError) as raised:
        load_strategy("nope")
    assert {"gevent", "process", "trio"} <= set(raised.value.valid)
    assert load_strategy("process") is ProcessStrategy


def test_the_job_budget_is_shared_and_refunds_what_a_pop_did_not_use() -> None:
    budget = JobBudget(5)
    first, second = ChildControl(budget), ChildControl(budget)
    assert first.reserve(3) == 3
    assert second.reserve(3) == 2
    assert second.reserve(1) == 0 and budget.spent
    second.release(2)
    assert first.reserve(10) == 2


def test_a_child_recycles_after_its_own_job_limit() -> None:
    control = ChildControl(per_child=2)
    assert control.reserve(1) == 1 and control.reserve(5) == 1
    assert control.reserve(1) == 0
    assert control.recycling and control.exit_code() == EXIT_RECYCLE
    control.drain()
    # Recycling while told to stop is a plain stop: the supervisor must not replace it.
    assert control.exit_code() == EXIT_OK


def test_a_wake_before_wait_is_not_lost() -> None:
    control = ChildControl()
    control.wake()
    # Would sleep 30 s if the wake had been dropped; pytest's timeout would fail the test.
    control.wait(30)


def test_a_wake_cuts_a_wait_on_the_server_short_and_counts_before_it() -> None:
    control = ChildControl()
    interrupted: list[str] = []
    assert control.begin_server_wait(lambda: interrupted.append("cut"))
    control.wake()  # a put heard, or a signal, while the pop waits on the server
    assert interrupted == ["cut"]
    control.end_server_wait()
    control.wake()  # no wait in progress: only the next one is skipped
    assert interrupted == ["cut"]
    assert not control.begin_server_wait(lambda: interrupted.append("late"))
    control.end_server_wait()
    # The wake was consumed by that wait: the next one waits.
    assert control.begin_server_wait(lambda: None)
    control.end_server_wait()
    control.drain()
    assert not control.begin_server_wait(lambda: None)
    control.end_server_wait()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reqless_worker._cli", *args],
        env=worker_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-q", "q", "--bogus"], "unrecognized arguments: --bogus"),
        (["-q", "q", "--strategy", "nope"], "unknown strategy 'nope'; valid strategies: "),
        (["-q", "q", "-w", "0"], "workers must be at least 1"),
        (["-q", "q", "-i", "soon"], "invalid float value: 'soon'"),
        (["-q", "q", "--no-plugin", "nope"], "nope"),
        ([], "no queue to serve"),
    ],
)
def test_bad_flags_give_a_one_line_error_and_exit_code_2(args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("reqless-worker: error: ")
    assert message in lines[0]


def test_the_compatibility_alias_is_the_same_command(tmp_path: Path) -> None:
    scripts = Path(sys.executable).parent
    for name in ("reqless-worker", "reqless-py-worker"):
        found = list(scripts.glob(name))
        if not found:
            pytest.skip("console scripts are not installed next to this interpreter")
        result = subprocess.run(
            [str(found[0]), "--version"],
            env=worker_env(),
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert result.returncode == 0
        assert result.stdout.startswith("reqless-worker ")


def test_one_idle_child_claims_a_put_the_others_leave_it() -> None:
    now = [100.0]
    claims = PutClaims(clock=lambda: now[0])
    first, second = ChildControl(claims=claims), ChildControl(claims=claims)
    assert first.claims.claim("jid-1")
    assert not second.claims.claim("jid-1")
    assert second.claims.claim("jid-2")
    # Long after, a new put of the same jid is a new put.
    now[0] += PutClaims.CLAIM_SECONDS
    assert first.claims.claim("jid-2")
    assert second.claims.claim("jid-1")


def test_claims_remember_a_burst_of_puts() -> None:
    now = [100.0]
    claims = PutClaims(clock=lambda: now[0])
    burst = [f"jid-{n}" for n in range(PutClaims.SLOTS)]
    assert all(claims.claim(jid) for jid in burst)
    assert all(claims.claimed(jid) for jid in burst)
    assert not any(claims.claim(jid) for jid in burst)
    assert not claims.claimed("jid-other")
    # One more pushes out the oldest.
    assert claims.claim("jid-other")
    assert not claims.claimed("jid-0") and claims.claimed("jid-1")
    now[0] += PutClaims.CLAIM_SECONDS
    assert not claims.claimed("jid-1")
