"""The worker CLI behind Sentinel: it follows a failover without a restart.

A master, a replica and three sentinels (see :mod:`tests.client.test_sentinel`);
the worker is given the ``redis+sentinel://`` URL, works through jobs, and the
master is killed with SIGKILL while jobs run. The worker must reach the promoted
replica on its own, complete every job put after the failover, and finish the
ones put before it (none lost, none failed by the outage).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

import reqless
from reqless import ServerUnavailableError
from tests.client.test_sentinel import sentinel_group
from tests.conftest import BACKENDS
from tests.worker.conftest import StartWorker, wait_until

JOBS = "tests.worker.jobs_for_tests"


def _put(client: reqless.Client, jid: str, log: Path) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            client.queues["q"].put(f"{JOBS}.Sleepy", {"log": str(log), "seconds": 0.05}, jid=jid)
            return
        except ServerUnavailableError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _states(client: reqless.Client, jids: list[str]) -> Counter[str]:
    return Counter(job.state for job in client.jobs.get(*jids))


@pytest.mark.timeout(180)
@pytest.mark.parametrize("kind", BACKENDS)
def test_a_worker_follows_a_sentinel_failover(
    kind: str, start_worker: StartWorker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "jobs.log"
    with sentinel_group(kind) as group, reqless.Client(group.url()) as client:
        before = [f"before-{n}" for n in range(40)]
        for jid in before:
            _put(client, jid, log)
        worker = start_worker(group.url(), "-q", "q", "-w", "2")
        wait_until(lambda: _states(client, before)["complete"] >= 10, timeout=30)

        old = group.kill_master()
        new = group.wait_failover(old)
        after = [f"after-{n}" for n in range(20)]
        for jid in after:
            _put(client, jid, log)

        def after_done() -> bool:
            try:
                return _states(client, after)["complete"] == len(after)
            except ServerUnavailableError:
                return False

        try:
            wait_until(after_done, timeout=60)
        except AssertionError:
            raise AssertionError(
                f"jobs put after the failover not done:\n{worker.output()}"
            ) from None
        assert worker.process.poll() is None, worker.output()
        assert group.node(new).info("replication")["role"] == "master"
        states = _states(client, before)
        with capsys.disabled():
            print(f"\n[{kind}] jobs put before the failover {old}->{new}: {dict(states)}")
        # Nothing put before the kill vanished, and the outage failed none of them.
        wait_until(lambda: _states(client, before)["complete"] == len(before), timeout=60)
