"""README's first command: the demo runs end to end on an embedded Valkey."""

from __future__ import annotations

import subprocess
import sys


def test_the_demo_puts_jobs_through_the_whole_pipeline_and_reports() -> None:
    # What `hatch run demo:run` runs, smaller: an embedded Valkey, the gnomes
    # pipeline, a real worker, then the summary from the core's stats.
    done = subprocess.run(
        [sys.executable, "-m", "reqless_worker.demo", "--jobs", "30", "--workers", "1"],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "30/30 jobs went through all three queues" in done.stdout
    for queue in ("underpants", "unknown", "profit"):
        assert f"  {queue}" in done.stdout
