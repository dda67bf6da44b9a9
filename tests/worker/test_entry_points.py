"""Third-party strategies and plugins are found through real entry-point registrations,
and every hook fires in order with the right arguments."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import reqless
from reqless_plugins.testing import read_hook_log
from tests.conftest import Server
from tests.worker.conftest import ROOT, StartWorker, worker_env

JOBS = "tests.worker.jobs_for_tests"
THIRD_PARTY = "tests.worker.plugins_for_tests"


def publish(site: Path) -> Path:
    """Install a distribution ``thirdparty`` the way pip would leave its metadata."""
    info = site / "thirdparty-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[reqless.strategies]\n"
        f"marking = {THIRD_PARTY}:MarkingStrategy\n"
        "\n[reqless.plugins]\n"
        f"recorder = {THIRD_PARTY}:recorder\n"
    )
    return site


def run_cli(*args: str, site: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reqless_worker._cli", *args],
        env=worker_env(() if site is None else (site,)),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_installed_strategies_and_plugins_are_listed(tmp_path: Path) -> None:
    site = publish(tmp_path / "site")
    strategies = run_cli("--list-strategies", site=site)
    plugins = run_cli("--list-plugins", site=site)
    assert strategies.returncode == plugins.returncode == 0
    assert [line.split("\t")[0] for line in strategies.stdout.splitlines()] == [
        "asyncio",
        "gevent",
        "marking",
        "process",
        "trio",
    ]
    assert [line.split("\t")[0] for line in plugins.stdout.splitlines()] == [
        "logging",
        "recorder",
        "sandbox",
    ]


def test_a_third_party_strategy_is_selectable_by_name(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    site, mark = publish(tmp_path / "site"), tmp_path / "mark"
    jid = client.queues["q"].put(f"{JOBS}.Noop", {})
    worker = start_worker(
        server.url, "-q", "q", "-w", "1", "--strategy", "marking", "--max-jobs", "1",
        extra_paths=(site,), env={"REQLESS_TEST_MARK": str(mark)},
    )  # fmt: skip
    assert worker.wait() == 0, worker.output()
    assert mark.read_text() == "marking 0"
    job = client.jobs[jid]
    assert isinstance(job, reqless.Job) and job.state == "complete"


def test_every_hook_fires_in_order_with_the_right_arguments(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    site, hooks, workdir = publish(tmp_path / "site"), tmp_path / "hooks.log", tmp_path / "work"
    # Priority, not put order: two puts in the same millisecond pop in reverse jid order.
    # The first job reads job.sandbox, the second does not.
    log = str(tmp_path / "jobs.log")
    done = client.queues["q"].put(f"{JOBS}.SandboxUser", {"log": log}, priority=1)
    failed = client.queues["q"].put(f"{JOBS}.Failing", {"log": log})
    worker = start_worker(
        server.url, "-q", "q", "-w", "1", "-n", "hooked", "-d", str(workdir), "--max-jobs", "2",
        extra_paths=(site,), env={"REQLESS_TEST_HOOK_LOG": str(hooks)},
    )  # fmt: skip
    assert worker.wait() == 0, worker.output()
    child = [call for call in read_hook_log(hooks) if call.name != "reqless_configure_logging"]
    per_job = [
        "reqless_log_context",
        "reqless_job_popped",
        "reqless_allow_job_class",
        "reqless_before_perform",
        "reqless_perform",
    ]
    assert [call.name for call in child] == [
        "reqless_worker_started",
        *per_job,
        # Made when the job first reads job.sandbox, inside its method.
        "reqless_sandbox_path",  # asked once per slot
        "reqless_sandbox_prepare",
        "reqless_after_perform",
        "reqless_job_completed",
        "reqless_sandbox_clean",
        # A job that never reads job.sandbox: no directory made or removed.
        *per_job,
        "reqless_after_perform",
        "reqless_job_failed",
        "reqless_worker_stopping",
    ]
    worker_info = {
        "name": "hooked-0",
        "strategy": "process",
        "workdir": str(workdir),
        "pid": child[0].pid,
        "slot": 0,
    }
    assert child[0].kwargs == {"worker": worker_info}
    assert child[-1].kwargs == {"worker": worker_info, "reason": "max-jobs"}
    jobs = [call.kwargs["job"]["jid"] for call in child if "job" in call.kwargs]
    assert jobs == [done] * 9 + [failed] * 7
    sandbox = str(workdir / "reqless-py-workers" / "sandbox-0")
    prepare = next(call for call in child if call.name == "reqless_sandbox_prepare")
    assert prepare.kwargs["path"] == sandbox
    allow = next(call for call in child if call.name == "reqless_allow_job_class")
    assert allow.kwargs["klass_name"] == f"{JOBS}.SandboxUser"
    after = [call.kwargs["error"] for call in child if call.name == "reqless_after_perform"]
    assert after[0] is None
    assert after[1] == {"type": "ValueError", "message": "the job's own bug"}
    failure = next(call for call in child if call.name == "reqless_job_failed")
    assert failure.kwargs["group"] == "q-ValueError"
    assert "the job's own bug" in failure.kwargs["message"]
    # The supervisor configured logging once, before forking.
    assert read_hook_log(hooks)[0].name == "reqless_configure_logging"


def test_a_disabled_plugin_is_not_loaded(
    server: Server, client: reqless.Client, start_worker: StartWorker, tmp_path: Path
) -> None:
    site, hooks = publish(tmp_path / "site"), tmp_path / "hooks.log"
    client.queues["q"].put(f"{JOBS}.Noop", {})
    worker = start_worker(
        server.url, "-q", "q", "-w", "1", "--no-plugin", "recorder", "--max-jobs", "1",
        extra_paths=(site,), env={"REQLESS_TEST_HOOK_LOG": str(hooks)},
    )  # fmt: skip
    assert worker.wait() == 0, worker.output()
    assert read_hook_log(hooks) == []
