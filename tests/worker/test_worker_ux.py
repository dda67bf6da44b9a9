"""A newcomer's worker: job modules beside it are found, it says what it does, its help is complete.

The runs use the installed ``reqless-worker`` console script, as a user does:
unlike ``python -m``, it does not put the current directory on ``sys.path``
by itself, so a job module found there was found because the worker put it
there.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import reqless
import reqless_worker
from reqless_worker import WorkerSettings, WorkerSettingsError
from reqless_worker._cli import _parser, main
from reqless_worker._imports import ClassLoader
from reqless_worker._unknown_queues import unknown_queue_warnings
from tests.conftest import Server
from tests.worker.conftest import get_job, wait_until, worker_env

GNOMES = textwrap.dedent(
    """
    class GnomesJob:
        @staticmethod
        def process(job):
            pass


    class Boom:
        @staticmethod
        def process(job):
            1 / 0
    """
)

# Not a module of the test tree: must not be importable from anywhere but its folder.
MODULE = "gnomes_for_worker_ux"


def _script() -> Path:
    found = Path(sys.executable).parent / "reqless-worker"
    if not found.exists():
        pytest.skip("console scripts are not installed next to this interpreter")
    return found


class ScriptWorker:
    """``reqless-worker`` started in a folder holding the job module."""

    def __init__(
        self, folder: Path, url: str, *args: str, env: dict[str, str] | None = None
    ) -> None:
        self.log = folder / "worker.log"
        environment = worker_env()
        environment.update(env or {})
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(_script()), "--url", url, "-w", "1", *args],
                cwd=folder,
                env=environment,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait(self, timeout: float = 30.0) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the worker did not exit; its log:\n{self.output()}") from None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    work = tmp_path / "project"
    work.mkdir()
    (work / f"{MODULE}.py").write_text(GNOMES, encoding="utf-8")
    return work


@pytest.fixture
def workers() -> Iterator[list[ScriptWorker]]:
    started: list[ScriptWorker] = []
    yield started
    for worker in started:
        worker.kill()


# ---------------------------------------------------------------- jobs are found


def test_a_job_module_beside_the_worker_is_found_and_each_job_is_logged(
    server: Server, client: reqless.Client, folder: Path, workers: list[ScriptWorker]
) -> None:
    queue = client.queues["underpants"]
    done = queue.put(f"{MODULE}.GnomesJob", {})
    boom = queue.put(f"{MODULE}.Boom", {})

    worker = ScriptWorker(folder, server.url, "-q", "underpants", "-v", "--max-jobs", "2")
    workers.append(worker)

    assert worker.wait() == 0, worker.output()
    assert get_job(client, done).state == "complete"
    assert get_job(client, boom).state == "failed"
    lines = worker.output().splitlines()

    def line(text: str) -> str:
        [found] = [each for each in lines if text in each]
        return found

    assert f"[jid={done} queue=underpants" in line(f"started {MODULE}.GnomesJob from underpants")
    completed = line(f"completed {MODULE}.GnomesJob from underpants in ")
    assert f"s [jid={done} queue=underpants" in completed
    assert f"[jid={boom} queue=underpants" in line(f"started {MODULE}.Boom from underpants")
    failed = line(f"failed {MODULE}.Boom from underpants in ")
    assert f"s: underpants-ZeroDivisionError [jid={boom} queue=underpants" in failed
    # A queue that holds jobs is known: no warning about it.
    assert not [each for each in lines if "has never seen a job" in each]


@pytest.mark.parametrize(
    ("args", "env"),
    [(["--no-cwd-path"], {}), ([], {"REQLESS_CWD_PATH": "0"})],
    ids=["flag", "env"],
)
def test_without_the_working_directory_the_class_is_not_found_and_the_worker_says_why(
    server: Server,
    client: reqless.Client,
    folder: Path,
    workers: list[ScriptWorker],
    args: list[str],
    env: dict[str, str],
) -> None:
    jid = client.queues["underpants"].put(f"{MODULE}.GnomesJob", {})

    worker = ScriptWorker(folder, server.url, "-q", "underpants", "--max-jobs", "1", *args, env=env)
    workers.append(worker)

    assert worker.wait() == 0, worker.output()
    job = get_job(client, jid)
    assert job.state == "failed"
    assert job.failure is not None
    assert job.failure.group == "underpants-ModuleNotFoundError"
    # Logged by the worker, not only stored in the failure, and with what to do.
    assert (
        f"cannot import the job class {MODULE}.GnomesJob: ModuleNotFoundError: "
        f"No module named '{MODULE}' (start the worker in the directory holding '{MODULE}',"
        " or give that directory with -p)"
    ) in worker.output()


# ------------------------------------------------------------ a misspelled queue


def test_a_queue_that_never_saw_a_job_is_warned_about_with_the_closest_name(
    server: Server, client: reqless.Client, folder: Path, workers: list[ScriptWorker]
) -> None:
    jid = client.queues["underpants"].put(f"{MODULE}.GnomesJob", {})
    client.queues["profit"].put(f"{MODULE}.GnomesJob", {})

    worker = ScriptWorker(folder, server.url, "-q", "underpant", "-q", "profit")
    workers.append(worker)

    # The warning comes before the supervisor starts: TERM only once it handles it.
    wait_until(lambda: "serving underpant, profit" in worker.output(), timeout=30)
    worker.process.send_signal(signal.SIGTERM)
    assert worker.wait() == 0, worker.output()
    warnings = [line for line in worker.output().splitlines() if "never seen" in line]
    assert len(warnings) == 1, worker.output()
    assert "WARNING" in warnings[0]
    assert "queue 'underpant' has never seen a job; did you mean 'underpants'?" in warnings[0]
    assert get_job(client, jid).state == "waiting"


def test_unknown_queue_messages_name_the_closest_queue_or_the_known_ones() -> None:
    known = ["underpants", "profit", "mail"]
    assert unknown_queue_warnings(["underpant", "profit", "ema*", "@x", "!mail"], known) == [
        "queue 'underpant' has never seen a job; did you mean 'underpants'? (-q underpants)"
    ]
    assert unknown_queue_warnings(["zzz"], known) == [
        "queue 'zzz' has never seen a job; the known queues are: underpants, profit, mail"
    ]
    assert unknown_queue_warnings(["zzz"], []) == [
        "queue 'zzz' has never seen a job; no queue on this server has yet"
    ]
    many = [f"queue-{n:02}" for n in range(12)]
    [listed] = unknown_queue_warnings(["zzz"], many)
    assert listed.endswith("queue-08, queue-09, ...")


# ----------------------------------------------------------- import errors, logged


def test_a_class_that_cannot_be_imported_is_logged_with_its_exception(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "broken_for_worker_ux.py").write_text("x = 1 +\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    loader = ClassLoader()

    with caplog.at_level(logging.ERROR, logger="reqless_worker._imports"):
        for path in ("NoDot", "broken_for_worker_ux.Job", "json.nothing_here", "json.dumps"):
            with pytest.raises((ImportError, SyntaxError)):
                loader.load(path)
    sys.modules.pop("broken_for_worker_ux", None)

    messages = [record.getMessage() for record in caplog.records]
    assert messages[0] == (
        "cannot import the job class NoDot: ImportError: 'NoDot' is not a dotted path to a"
        " class (package.module.Class)"
    )
    assert messages[1].startswith("cannot import the job class broken_for_worker_ux.Job: Syntax")
    assert messages[2].endswith("module 'json' has no attribute 'nothing_here'")
    assert messages[3].endswith("'json.dumps' is a function, not a class")
    # The module's own failure comes with its traceback; our one-line reasons do not.
    assert [bool(record.exc_info) for record in caplog.records] == [
        False,
        True,
        False,
        False,
    ]


# ------------------------------------------------------------------ settings


def test_every_setting_has_an_environment_variable(tmp_path: Path) -> None:
    environ = {
        "REQLESS_PATHS": f"{tmp_path}/a{os.pathsep}relative",
        "REQLESS_CWD_PATH": "off",
        "REQLESS_IMPORTS": "a.b, c",
        "REQLESS_RESUME": "yes",
        "REQLESS_VERBOSE": "1",
        "REQLESS_LOG_FILE": "w.log",
        "REQLESS_MAX_JOBS": "7",
        "REQLESS_MAX_JOBS_PER_CHILD": "3",
        "REQLESS_DRAIN_TIMEOUT": "2.5",
        "REQLESS_PLUGINS": "logging,sandbox",
        "REQLESS_DISABLED_PLUGINS": "sandbox",
        "REQLESS_RELOAD": "true",
    }
    settings = WorkerSettings.from_env(environ)
    assert settings.paths == (f"{tmp_path}/a", str(Path("relative").absolute()))
    assert settings.cwd_path is False
    assert settings.imports == ("a.b", "c")
    assert settings.resume is settings.verbose is settings.reload is True
    assert settings.log_file == "w.log"
    assert (settings.max_jobs, settings.max_jobs_per_child) == (7, 3)
    assert settings.drain_timeout == 2.5
    assert settings.plugins == ("logging", "sandbox")
    assert settings.disabled_plugins == ("sandbox",)
    # The command line still wins.
    assert WorkerSettings.from_env(environ, reload=False, cwd_path=True).reload is False
    assert WorkerSettings.from_env({}).cwd_path is True


def test_a_switch_variable_that_is_not_a_switch_is_a_settings_error() -> None:
    with pytest.raises(WorkerSettingsError, match=r"REQLESS_CWD_PATH='maybe': use 1 or 0"):
        WorkerSettings.from_env({"REQLESS_CWD_PATH": "maybe"})


# ------------------------------------------------------------------ help texts


def test_every_option_names_its_default_and_environment_variable() -> None:
    not_settings = ("help", "version", "list_strategies", "list_plugins")
    options = [
        action
        for action in _parser()._actions
        if action.option_strings
        and action.dest not in not_settings
        and action.help != "==SUPPRESS=="
    ]
    assert len(options) >= 23
    for action in options:
        assert action.help is not None, action.option_strings
        assert "default:" in action.help, action.option_strings
        assert "env REQLESS_" in action.help, action.option_strings


def test_the_environment_variables_the_help_names_are_the_ones_read() -> None:
    from reqless_worker._settings import _ENVIRONMENT

    helps = " ".join(action.help or "" for action in _parser()._actions)
    named = set(re.findall(r"env (REQLESS_[A-Z_]+)", helps))
    assert named == {variable for variable, _ in _ENVIRONMENT.values()}


def test_help_lists_the_signals_and_version_prints_the_version(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for signal_name in ("TERM", "INT, QUIT", "HUP", "USR1", "USR2"):
        assert f"\n  {signal_name} " in text, signal_name
    assert "--no-cwd-path" in text

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"reqless-worker {reqless_worker.__version__}"


def test_the_demo_help_does_not_mention_hatch() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reqless_worker.demo", "--help"],
        env=worker_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "underpants" in result.stdout
    assert "hatch" not in result.stdout.lower()
    version = subprocess.run(
        [sys.executable, "-m", "reqless_worker.demo", "--version"],
        env=worker_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert version.stdout.strip() == f"reqless-demo {reqless_worker.__version__}"
