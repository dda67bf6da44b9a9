"""``client.workers`` and the client's own worker name."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import reqless
from tests.client.api.jobs_for_tests import Plain
from tests.conftest import Server


def test_workers_are_listed_with_their_jobs(client: reqless.Client, queue: reqless.Queue) -> None:
    jid = queue.put(Plain, {})
    queue.pop()
    assert client.workers.counts == [reqless.WorkerCounts("worker-a", 1, 0)]
    assert client.workers["worker-a"] == reqless.WorkerJobs(jobs=[jid], stalled=[])
    client.workers.forget("worker-a")
    assert client.workers.counts == []


def test_the_default_worker_name_is_host_and_pid(server: Server, driver_name: str) -> None:
    with reqless.Client(server.url, driver=driver_name) as client:
        assert client.worker_name == f"{socket.gethostname()}-{os.getpid()}"


def test_each_process_gets_its_own_worker_name(server: Server, driver_name: str) -> None:
    code = (
        f"import reqless; c = reqless.Client({server.url!r}, driver={driver_name!r}); "
        "print(c.worker_name); c.close()"
    )
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    with reqless.Client(server.url, driver=driver_name) as client:
        assert child.stdout.strip() != client.worker_name
        assert child.stdout.strip().startswith(socket.gethostname() + "-")
