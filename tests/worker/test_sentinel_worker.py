"""The worker CLI behind Sentinel: it follows a failover without a restart.

A master, a replica and three sentinels (see :mod:`tests.client.test_sentinel`);
the worker is given the ``redis+sentinel://`` URL and works through jobs while
the master fails over: killed with SIGKILL, or handed over with ``SENTINEL
FAILOVER``. The worker must reach the promoted replica on its own, complete
every job put after the failover, and finish the ones put before it: none lost,
none failed by the outage.

A coordinated failover leaves the old master up, still a master, until Sentinel
demotes it some seconds later; what the worker reported there meanwhile
(completions, pops) is dropped when it resyncs. Those jobs are still running on
the new master, under leases nobody renews, so they run again once the lease
(the ``heartbeat`` setting, shortened here) has passed: the test prints how many
ran twice.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

import reqless
from reqless import ServerUnavailableError
from tests.client.test_sentinel import SERVICE, SentinelGroup, sentinel_group
from tests.conftest import BACKENDS
from tests.worker.conftest import StartWorker, wait_until
from tests.worker.jobs_for_tests import events

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
    try:
        return Counter(job.state for job in client.jobs.get(*jids))
    except ServerUnavailableError:
        return Counter()


def _fail_over(group: SentinelGroup, how: str) -> tuple[int, int]:
    """The old and the new master's ports, once the sentinels agree on the new one."""
    if how == "kill":
        old = group.kill_master()
        return old, group.wait_failover(old)
    old_port = group.master_port()
    assert old_port is not None
    group.node(group.sentinel_ports[0]).execute_command("SENTINEL", "FAILOVER", SERVICE)
    return old_port, group.wait_failover(old_port)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("how", ["kill", "coordinated"])
@pytest.mark.parametrize("kind", BACKENDS)
def test_a_worker_follows_a_sentinel_failover(
    kind: str,
    how: str,
    start_worker: StartWorker,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = tmp_path / "jobs.log"
    with sentinel_group(kind) as group, reqless.Client(group.url()) as client:
        # Lost completions come back as expired leases: make those short.
        client.config["heartbeat"] = 3
        before = [f"before-{n}" for n in range(200)]
        for jid in before:
            _put(client, jid, log)
        worker = start_worker(group.url(), "-q", "q", "-w", "2")
        wait_until(lambda: _states(client, before)["complete"] >= 10, timeout=30)

        old, new = _fail_over(group, how)
        after = [f"after-{n}" for n in range(20)]
        for jid in after:
            _put(client, jid, log)

        try:
            wait_until(lambda: _states(client, after)["complete"] == len(after), timeout=60)
            # Nothing put before the failover vanished, and the outage failed none of them.
            wait_until(lambda: _states(client, before)["complete"] == len(before), timeout=60)
        except AssertionError:
            states = dict(_states(client, before + after))
            raise AssertionError(f"not all done: {states}\n{worker.output()}") from None
        assert worker.process.poll() is None, worker.output()
        assert group.node(new).info("replication")["role"] == "master"
        runs = Counter(line["jid"] for line in events(log, "started"))
        twice = sorted(jid for jid, count in runs.items() if count > 1)
        with capsys.disabled():
            print(
                f"\n[{kind}/{how}] failover {old}->{new}: {len(before) + len(after)} jobs "
                f"complete, {len(twice)} ran more than once"
            )
        assert set(runs) == set(before + after)
