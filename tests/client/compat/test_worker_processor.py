"""The worker hands a job-processor's method the decoded data, as ``job.process()`` does."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import reqless
from tests.client.compat.processors import Size
from tests.conftest import Server

ROOT = Path(__file__).resolve().parents[3]


def test_a_worker_runs_a_processor_with_its_data_decoded(server: Server, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REQLESS_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    with reqless.Client(server.url) as client:
        jid = client.queues["q"].put("tests.client.compat.processors.Area", Size(3, 4))
        args = [sys.executable, "-m", "reqless_worker._cli", "--url", server.url]
        args += ["-q", "q", "-w", "1", "--max-jobs", "1"]
        log = tmp_path / "worker.log"
        with log.open("wb") as out:
            worker = subprocess.Popen(
                args, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        try:
            worker.wait(60)
        finally:
            if worker.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(10)
        job = client.jobs[jid]
        assert isinstance(job, reqless.Job), log.read_text()
        assert job.state == "complete", log.read_text()
        assert job.payload == {"area": 12, "seen": "Size"}
