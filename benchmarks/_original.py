"""The original reqless-py, as a same-run baseline for the benchmarks.

The issues state their speed targets against the original Python client,
worker and core (reqless-py 0.13.3 and the core script it ships), measured on
a machine whose speed this one only matches some of the time. Measuring the
original in the same run turns each target into a ratio that holds on any
machine. The original is installed from PyPI into a virtual environment of
its own (its import name is ours too), kept in ``~/.cache/reqless-bench``,
and only ever run from there: nothing of it is copied into this repository.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

RELEASE = "reqless==0.13.3"
CACHE = Path.home() / ".cache" / "reqless-bench"
VENV = CACHE / "original-venv"
PYTHON = VENV / "bin" / "python"
# The core script the original client loads, inside its installed package.
CORE_SCRIPT = Path("reqless") / "lua" / "qless.lua"


class Unavailable(Exception):
    """The original could not be installed here."""


def python() -> Path:
    """The interpreter of the original's environment, installed on first use."""
    marker = VENV / f"{RELEASE}.installed"
    if marker.exists():
        return PYTHON
    print(f"  original: installing {RELEASE} into {VENV}", file=sys.stderr, flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    # hiredis as for ours, so both clients parse replies the same way.
    installed = subprocess.run(
        [str(PYTHON), "-m", "pip", "install", "--quiet", RELEASE, "hiredis"],
        capture_output=True,
        text=True,
    )
    if installed.returncode != 0:
        raise Unavailable(f"pip install {RELEASE} failed: {installed.stderr.strip()[-300:]}")
    marker.touch()
    return PYTHON


def core_script() -> str:
    """The original core's EVAL script, read from the installed package."""
    where = "import pathlib, reqless; print(pathlib.Path(reqless.__file__).parents[1])"
    found = subprocess.run([str(python()), "-c", where], capture_output=True, text=True, check=True)
    return (Path(found.stdout.strip()) / CORE_SCRIPT).read_text()


def run(script: str, *args: object, timeout: float = 600) -> str:
    """Run ``script`` with the original's interpreter; returns what it printed."""
    done = subprocess.run(
        [str(python()), "-c", script, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise Unavailable(f"the original failed: {done.stderr.strip()[-300:]}")
    return done.stdout.strip()


# One job per round trip with the original client; prints jobs per second.
PUT_RATE = """
import sys, time, reqless
url, queue, jobs = sys.argv[1], sys.argv[2], int(sys.argv[3])
put = reqless.Client(url=url).queues[queue].put
put("bench.jobs.Job", "{}")
started = time.perf_counter()
for index in range(jobs):
    put("bench.jobs.Job", '{"n": %d}' % index)
print(jobs / (time.perf_counter() - started))
"""


def put_rate(url: str, queue: str, jobs: int) -> float:
    """Single puts per second of the original client (its queue is left filled)."""
    return float(run(PUT_RATE, url, queue, jobs))


# The original worker does not complete a job whose method returns, so its
# no-op job completes itself.
NOOP_MODULE = """
class Noop:
    @staticmethod
    def process(job):
        job.complete()
"""

# Puts the jobs with the original client, starts the original worker (its CLI,
# N processes, polling every second: its interval is whole seconds) and times
# the drain from the first job taken to the last one completed.
DRAIN_RATE = """
import subprocess, sys, time, reqless
url, queue, jobs, workers, path = sys.argv[1:6]
jobs = int(jobs)
client = reqless.Client(url=url)
put = client.queues[queue].put
for _ in range(jobs):
    put("original_noop.Noop", "{}")
redis = client.redis
worker = subprocess.Popen(
    [sys.executable.replace("python", "reqless-py-worker"), "--host", url, "-q", queue,
     "-w", workers, "-p", path, "-d", path, "-i", "1"],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
try:
    started = None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if started is None and redis.zcard("ql:q:%s-work" % queue) < jobs:
            started = time.perf_counter()
        if started is not None and redis.zcard("ql:completed") >= jobs:
            print(jobs / (time.perf_counter() - started))
            break
        time.sleep(0.002)
finally:
    worker.terminate()
    worker.wait(30)
"""


def drain_rate(url: str, queue: str, jobs: int, workers: int, workdir: Path) -> float:
    """No-op jobs per second the original worker drains; the database must start empty."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "original_noop.py").write_text(NOOP_MODULE)
    printed = run(DRAIN_RATE, url, queue, jobs, workers, workdir)
    if not printed:
        raise Unavailable("the original worker did not drain its queue in 10 minutes")
    return float(printed)
