"""``reqless-worker`` checks the URL, driver and credentials before it forks.

A bad one is a one-line error naming it and exit code 2 (no child is started
to crash on it again and again); a server that is merely down is waited for,
with a log line per backoff step.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import reqless
from tests.worker.conftest import RestartableServer, StartWorker, get_job, wait_until
from tests.worker.jobs_for_tests import events
from tests.worker.test_settings_and_cli import run_cli

JOBS = "tests.worker.jobs_for_tests"


def one_line_error(*args: str) -> str:
    result = run_cli("-q", "q", "-w", "1", *args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("reqless-worker: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--url", "http://127.0.0.1:1/0"], "http://127.0.0.1:1/0"),
        (["--url", "embedded:"], "embedded:"),
        (["--url", "redis://127.0.0.1:1/0", "--driver", "nope"], "'nope'"),
    ],
)
def test_a_bad_url_or_driver_is_one_line_and_exit_code_2(args: list[str], named: str) -> None:
    assert named in one_line_error(*args)


@pytest.mark.parametrize("driver", ["redis", "valkey"])
def test_wrong_credentials_are_one_line_and_exit_code_2(
    make_server: Callable[[str], RestartableServer], driver: str
) -> None:
    server = make_server("redis")
    server.extra = ["--requirepass", "right-password"]
    server.start()
    url = f"redis://:wrong-password@127.0.0.1:{server.port}/0"

    line = one_line_error("--url", url, "--driver", driver)

    assert "refused the credentials" in line and f"127.0.0.1:{server.port}" in line
    assert "wrong-password" not in line


def test_a_server_down_at_start_is_waited_for(
    restartable_server: RestartableServer, start_worker: StartWorker, tmp_path: Path
) -> None:
    log, url = tmp_path / "runs.log", restartable_server.url
    restartable_server.stop()
    worker = start_worker(url, "-q", "q", "-w", "1", "-i", "0.2")
    wait_until(lambda: worker.output().count("waiting for the server at") >= 2, timeout=15)
    assert worker.process.poll() is None
    assert not worker.children()  # nothing forked while the server is away

    restartable_server.start()
    with reqless.Client(url) as client:
        jid = client.queues["q"].put(f"{JOBS}.Record", {"log": str(log)})
        wait_until(lambda: get_job(client, jid).state == "complete", timeout=20)
    assert len(events(log, "ran")) == 1
    assert "reached the server at" in worker.output()


def test_the_wait_for_the_server_logs_each_backoff_step_longer(
    restartable_server: RestartableServer, start_worker: StartWorker
) -> None:
    restartable_server.stop()
    worker = start_worker(restartable_server.url, "-q", "q", "-w", "1")
    wait_until(lambda: worker.output().count("waiting for the server at") >= 4, timeout=15)
    steps = [
        float(line.split("next try in ")[1].split("s)")[0])
        for line in worker.output().splitlines()
        if "waiting for the server at" in line
    ]
    assert steps[:4] == [0.1, 0.2, 0.4, 0.8]
