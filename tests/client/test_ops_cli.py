"""``reqless``, the operations command: each command on both servers, on an embedded
server, and once through the installed console script.

Commands run in-process through ``reqless.cli.main``; what they did is checked
in the server with a client of its own.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

import reqless
from reqless.cli import _changes, main
from reqless.cli._parser import build_parser
from tests.conftest import Server, _free_port

KLASS = "tests.client.api.jobs_for_tests.Plain"


class Result:
    """What one run of the command did: its exit code and what it printed."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code = code
        self.out = out
        self.err = err

    @property
    def json(self) -> Any:
        return json.loads(self.out)


Cli = Callable[..., Result]


def _runner(url: str, capsys: pytest.CaptureFixture[str]) -> Cli:
    def run(*argv: str) -> Result:
        code = main(["--url", url, *argv])
        out, err = capsys.readouterr()
        if code in (1, 2, 3):
            # Every error a user can cause is one line naming it, never a traceback.
            assert len(err.splitlines()) >= 1
            assert "Traceback" not in err
        return Result(code, out, err)

    return run


@pytest.fixture
def cli(server: Server, capsys: pytest.CaptureFixture[str]) -> Cli:
    return _runner(server.url, capsys)


@pytest.fixture
def client(server: Server) -> Iterator[reqless.Client]:
    with reqless.Client(server.url, worker_name="w1") as connected:
        yield connected


def fail_job(client: reqless.Client, queue: str, group: str, message: str = "boom") -> str:
    jid = client.queues[queue].put(KLASS, {"q": queue})
    for job in client.queues[queue].pop(10):
        if job.jid == jid:
            job.fail(group, message)
        else:
            job.retry()
    return jid


# --------------------------------------------------------------------------- the parser


def test_version_help_and_every_option_names_its_default() -> None:
    parser = build_parser()
    subparsers = next(
        action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
    )
    expected = {"info", "jobs", "job", "failed", "retry", "cancel", "put", "pause", "unpause",
                "config", "watch"}  # fmt: skip
    assert set(subparsers.choices) == expected
    for name, sub in [("reqless", parser), *subparsers.choices.items()]:
        for action in sub._actions:
            if action.option_strings and action.dest not in ("help", "version"):
                assert action.help, (name, action.dest)
                assert "default" in action.help, (name, action.dest, action.help)
                assert "env" in action.help, (name, action.dest, action.help)
    assert "REQLESS_URL" in parser.format_help()
    assert "exit codes: 0" in parser.format_help()


def test_version_and_help_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"reqless {reqless.__version__}"
    assert main(["jobs", "--help"]) == 0
    assert "--state" in capsys.readouterr().out


def test_usage_errors_exit_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["jobs", "q", "--state", "lost"]) == 2
    assert "'lost'" in capsys.readouterr().err
    assert main(["jobs", "q", "--limit", "-3"]) == 2
    assert "'-3' is negative" in capsys.readouterr().err
    assert main(["watch", "--interval", "nan"]) == 2
    assert "'nan'" in capsys.readouterr().err


def test_bad_settings_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--url", "http://localhost", "info"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("reqless: unsupported server URL 'http://localhost'")
    assert len(err.splitlines()) == 1
    assert main(["--url", "redis://127.0.0.1:1", "--driver", "nosuch", "info"]) == 2
    assert "'nosuch'" in capsys.readouterr().err


def test_an_unreachable_server_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--url", f"redis://127.0.0.1:{_free_port()}", "info"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("reqless: ")
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1


# --------------------------------------------------------------------------- reads


def test_info_shows_queues_workers_and_failure_groups(cli: Cli, client: reqless.Client) -> None:
    empty = cli("info")
    assert empty.code == 0
    assert "no queues yet" in empty.out
    client.queues["alpha"].put(KLASS, {})
    client.queues["beta"].put(KLASS, {}, delay=60)
    fail_job(client, "alpha", "alpha-ValueError")
    client.queues["beta"].pause()

    shown = cli("info")
    assert shown.code == 0
    lines = shown.out.splitlines()
    assert lines[0].split() == ["QUEUE", "WAITING", "RUNNING", "STALLED", "SCHEDULED", "DEPENDS",
                                "THROTTLED", "RECURRING", "PAUSED"]  # fmt: skip
    alpha = next(line for line in lines if line.startswith("alpha"))
    assert alpha.split() == ["alpha", "1", "0", "0", "0", "0", "0", "0"]
    beta = next(line for line in lines if line.startswith("beta"))
    assert beta.split() == ["beta", "0", "0", "0", "1", "0", "0", "0", "yes"]
    assert any(line.split() == ["w1", "0", "0"] for line in lines)
    assert any(line.split() == ["alpha-ValueError", "1"] for line in lines)

    found = cli("info", "--json").json
    assert found["failed"] == {"alpha-ValueError": 1}
    assert [worker["name"] for worker in found["workers"]] == ["w1"]
    by_name = {counts["name"]: counts for counts in found["queues"]}
    assert by_name["alpha"]["waiting"] == 1
    assert by_name["beta"] == {"name": "beta", "waiting": 0, "stalled": 0, "running": 0,
                               "throttled": 0, "scheduled": 1, "depends": 0, "recurring": 0,
                               "paused": True}  # fmt: skip


def test_jobs_lists_every_state(cli: Cli, client: reqless.Client) -> None:
    queue = client.queues["q"]
    client.throttles["t"].maximum = 1
    running = queue.put(KLASS, {}, priority=9, tags=["x"])
    timed_out = queue.put(KLASS, {}, priority=8)
    held = queue.put(KLASS, {}, priority=7, throttles=["t"])
    throttled = queue.put(KLASS, {}, priority=6, throttles=["t"])
    popped = queue.pop(4)
    assert [job.jid for job in popped] == [running, timed_out, held]
    # A lock that expired an hour ago, on a clock of its own: stalled by the server's time.
    stalled = queue.put(KLASS, {}, priority=5)
    an_hour_ago = reqless.Client(
        client.settings.url, worker_name="w0", clock=lambda: time.time() - 3600
    )
    with an_hour_ago:
        assert [job.jid for job in an_hour_ago.queues["q"].pop(1)] == [stalled]
    # A timed-out job goes back to the work list: the core counts it as waiting.
    popped[1].timeout()
    waiting = queue.put(KLASS, {"n": 1})
    scheduled = queue.put(KLASS, {}, delay=600)
    depends = queue.put(KLASS, {}, depends=[waiting])
    recurring = queue.recur(KLASS, {}, interval=3600, offset=3600)

    expected = {
        "waiting": [timed_out, waiting],
        "running": [running, held],
        "stalled": [stalled],
        "scheduled": [scheduled],
        "depends": [depends],
        "throttled": [throttled],
        "recurring": [recurring],
    }
    for state, jids in expected.items():
        result = cli("jobs", "q", "--state", state, "--json")
        assert result.code == 0, result.err
        listed = result.json
        assert sorted(job["jid"] for job in listed["jobs"]) == sorted(jids), state
        assert listed["total"] == len(jids)
        assert listed["state"] == state

    table = cli("jobs", "q", "--state", "running")
    assert table.code == 0
    row = next(line for line in table.out.splitlines() if line.startswith(running))
    assert row.split() == [running, KLASS, "running", "9", "w1", "x"]
    assert table.out.splitlines()[-1] == "1-2 of 2 running in 'q'"
    every = cli("jobs", "q", "--state", "recurring").out
    assert recurring in every
    assert "3600s" in every


def test_jobs_pages_with_offset_and_limit(cli: Cli, client: reqless.Client) -> None:
    jids = [client.queues["q"].put(KLASS, {"n": n}, priority=10 - n) for n in range(5)]
    page = cli("jobs", "q", "--offset", "1", "--limit", "2", "--json").json
    assert [job["jid"] for job in page["jobs"]] == jids[1:3]
    assert page["total"] == 5
    assert cli("jobs", "q", "--offset", "1", "--limit", "2").out.splitlines()[-1] == (
        "2-3 of 5 waiting in 'q'"
    )
    assert cli("jobs", "q", "--limit", "0", "--json").json["jobs"] == []


def test_jobs_of_an_unknown_queue_exit_1_with_the_closest_name(
    cli: Cli, client: reqless.Client
) -> None:
    client.queues["underpants"].put(KLASS, {})
    result = cli("jobs", "underpant")
    assert result.code == 1
    assert (
        result.err == "reqless: queue 'underpant' has never had a job; did you mean 'underpants'?\n"
    )
    # A known queue with nothing in that state is no error.
    assert cli("jobs", "underpants", "--state", "running").code == 0


def test_job_shows_its_fields_failure_and_history(cli: Cli, client: reqless.Client) -> None:
    jid = fail_job(client, "q", "q-ValueError", "Traceback (most recent call last):\nValueError: x")
    shown = cli("job", jid)
    assert shown.code == 0
    fields = dict(line.split(":", 1) for line in shown.out.splitlines() if line[:1].isalpha())
    assert fields["jid"].strip() == jid
    assert fields["state"].strip() == "failed"
    assert fields["klass"].strip() == KLASS
    assert "failure: q-ValueError at" in shown.out
    assert "  ValueError: x" in shown.out
    history = shown.out.split("history:\n", 1)[1].splitlines()
    assert [line.split()[2] for line in history] == ["put", "popped", "failed"]
    assert '"q": "q"' in shown.out

    found = cli("job", jid, "--json").json
    assert found["failure"]["group"] == "q-ValueError"
    assert [entry["what"] for entry in found["history"]] == ["put", "popped", "failed"]
    assert found["data"] == {"q": "q"}


def test_job_shows_a_recurring_job_and_refuses_an_unknown_jid(
    cli: Cli, client: reqless.Client
) -> None:
    jid = client.queues["q"].recur(KLASS, {"every": "hour"}, interval=3600, tags=["t"])
    shown = cli("job", jid)
    assert shown.code == 0
    assert "every:     3600s" in shown.out
    assert cli("job", jid, "--json").json["recurring"] is True
    missing = cli("job", "nope")
    assert missing.code == 1
    assert missing.err == "reqless: no job or recurring job 'nope'\n"


def test_failed_lists_groups_then_the_jobs_of_one(cli: Cli, client: reqless.Client) -> None:
    first = fail_job(client, "q", "q-KeyError", "Traceback (most recent call last):\nKeyError: 1")
    second = fail_job(client, "q", "q-KeyError", "KeyError: 2\nmore")
    fail_job(client, "other", "other-OSError")
    groups = cli("failed")
    assert groups.out.splitlines()[1].split() == ["q-KeyError", "2"]
    assert cli("failed", "--json").json == {"q-KeyError": 2, "other-OSError": 1}

    listed = cli("failed", "q-KeyError")
    assert listed.code == 0
    rows = listed.out.splitlines()
    assert rows[1].startswith(second)
    assert rows[1].endswith("KeyError: 2")
    assert rows[2].startswith(first)
    assert rows[2].endswith("KeyError: 1")  # the exception's own line, not "Traceback ..."
    page = cli("failed", "q-KeyError", "--limit", "1", "--offset", "1", "--json").json
    assert [job["jid"] for job in page["jobs"]] == [first]
    assert page["total"] == 2

    unknown = cli("failed", "q-KeyErr")
    assert unknown.code == 1
    assert unknown.err == "reqless: no failure group 'q-KeyErr'; did you mean 'q-KeyError'?\n"


# --------------------------------------------------------------------------- changes


def test_retry_a_group_puts_each_job_back_into_its_own_queue(
    cli: Cli, client: reqless.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A small chunk, so the group is read in several rounds, as a large one would be.
    monkeypatch.setattr(_changes, "CHUNK", 2)
    jids = [fail_job(client, queue, "shared") for queue in ("a", "b", "a", "a", "b")]
    result = cli("retry", "shared")
    assert (result.code, result.out) == (0, "retried 5 jobs of 'shared'\n")
    assert client.jobs.failed() == {}
    for jid, queue in zip(jids, "abaab", strict=True):
        job = client.jobs[jid]
        assert job is not None
        assert (job.state, job.queue_name) == ("waiting", queue)
    assert client.queues["a"].counts.waiting == 3


def test_retry_a_group_into_another_queue(cli: Cli, client: reqless.Client) -> None:
    jids = [fail_job(client, queue, "g") for queue in ("a", "b")]
    result = cli("retry", "g", "--queue", "rescue", "--json")
    assert result.json == {"retried": [{"group": "g", "count": 2}], "errors": {}}
    assert sorted(job.jid for job in client.queues["rescue"].peek(5)) == sorted(jids)


def test_retry_a_group_stops_at_a_job_that_no_longer_exists(
    cli: Cli, client: reqless.Client, server: Server
) -> None:
    gone, kept = (fail_job(client, "q", "g") for _ in range(2))
    # Behind the core's back, as a botched manual cleanup would leave it.
    server.client().delete(f"ql:j:{gone}")
    result = cli("retry", "g")
    assert result.code == 1
    assert result.err == f"reqless: retried 0 of 2 jobs of 'g': job {gone} no longer exists\n"
    assert client.jobs.failed("g").jids == [kept, gone]


def test_retry_jobs_by_jid_and_report_the_unknown(cli: Cli, client: reqless.Client) -> None:
    failed = fail_job(client, "q", "q-Error")
    result = cli("retry", "nope", failed)
    assert result.code == 1
    assert result.out == f"retried {failed} into 'q'\n"
    assert result.err.startswith("reqless: no failure group or job 'nope'")
    job = client.jobs[failed]
    assert job is not None
    assert job.state == "waiting"
    recurring = client.queues["q"].recur(KLASS, {}, interval=60)
    refused = cli("retry", recurring)
    assert refused.code == 1
    assert "recurring job" in refused.err


def test_cancel_in_any_order_and_report_the_missing(cli: Cli, client: reqless.Client) -> None:
    queue = client.queues["q"]
    parent = queue.put(KLASS, {})
    child = queue.put(KLASS, {}, depends=[parent])
    # The parent first: refused while the child depends on it, so it is tried again after.
    result = cli("cancel", parent, "gone", child)
    assert result.code == 1
    assert sorted(result.out.splitlines()) == sorted([f"canceled {parent}", f"canceled {child}"])
    assert result.err == "reqless: no job or recurring job 'gone'\n"
    assert client.jobs[parent] is None
    assert client.jobs[child] is None


def test_cancel_reports_a_job_that_others_depend_on(cli: Cli, client: reqless.Client) -> None:
    parent = client.queues["q"].put(KLASS, {})
    client.queues["q"].put(KLASS, {}, depends=[parent])
    result = cli("cancel", parent, "--json")
    assert result.code == 1
    assert result.json["canceled"] == []
    assert parent in result.json["errors"]
    assert client.jobs[parent] is not None


def test_put_with_every_option(cli: Cli, client: reqless.Client) -> None:
    parent = client.queues["q"].put(KLASS, {})
    result = cli(
        "put", "q", KLASS, '{"to": "world"}', "--priority", "5", "--tags", "a,b", "--tags",
        "c", "--retries", "2", "--jid", "my-job", "--depends", parent, "--throttle", "t",
    )  # fmt: skip
    assert (result.code, result.out) == (0, "my-job\n")
    job = client.jobs["my-job"]
    assert isinstance(job, reqless.Job)
    assert (job.state, job.priority, job.tags, job.retries) == ("depends", 5, ["a", "b", "c"], 2)
    assert job.dependencies == [parent]
    assert "t" in job.throttles
    assert job.payload == {"to": "world"}

    delayed = cli("put", "q", KLASS, "--delay", "60", "--json").json
    later = client.jobs[delayed["jid"]]
    assert later is not None
    assert (later.state, later.data) == ("scheduled", "{}")


def test_put_reads_data_from_stdin(
    cli: Cli, client: reqless.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"from": "stdin"}\n'))
    jid = cli("put", "q", KLASS, "-").out.strip()
    job = client.jobs[jid]
    assert isinstance(job, reqless.Job)
    assert job.payload == {"from": "stdin"}


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (("put", "q", "Undotted", "{}"), "'Undotted'"),
        (("put", "q", KLASS, "{not json"), "'{not json'"),
        (("put", "q", KLASS, "--priority", "high"), "'high'"),
        (("put", "q", KLASS, "--delay", "-1"), "'-1'"),
    ],
)
def test_put_refuses_bad_values_naming_them(
    cli: Cli, client: reqless.Client, argv: tuple[str, ...], named: str
) -> None:
    result = cli(*argv)
    assert result.code == 2
    assert named in result.err
    assert client.queues.names == []


def test_pause_and_unpause(cli: Cli, client: reqless.Client) -> None:
    client.queues["q"].put(KLASS, {})

    def paused() -> bool:
        return client.queues["q"].paused

    result = cli("pause", "q")
    assert (result.code, result.out, result.err) == (0, "paused 'q'\n", "")
    assert paused()
    assert client.queues["q"].pop() is None
    typo = cli("pause", "qq")
    assert typo.code == 0
    assert typo.err == "reqless: queue 'qq' has never had a job; did you mean 'q'?; paused anyway\n"
    assert cli("unpause", "q", "qq", "--json").json == {"unpaused": ["q", "qq"]}
    assert not paused()
    assert client.queues["q"].pop() is not None


def test_config_reads_sets_and_restores(cli: Cli, client: reqless.Client) -> None:
    every = cli("config", "--json").json
    assert every == client.config.all
    assert "heartbeat" in cli("config").out
    assert cli("config", "heartbeat").out == f"{client.config['heartbeat']}\n"
    assert cli("config", "heartbeat", "120").out == "set heartbeat = 120\n"
    assert client.config["heartbeat"] == 120
    assert cli("config", "heartbeat", "--json").json == {"key": "heartbeat", "value": "120"}
    restored = cli("config", "heartbeat", "--unset")
    assert restored.out == f"restored heartbeat = {every['heartbeat']}\n"
    assert client.config["heartbeat"] == int(every["heartbeat"])
    unknown = cli("config", "heartbeet")
    assert unknown.code == 1
    assert unknown.err == "reqless: no config option 'heartbeet'; did you mean 'heartbeat'?\n"
    assert cli("config", "--unset").code == 2
    assert cli("config", "heartbeat", "1", "--unset").code == 2


# --------------------------------------------------------------------------- watch


def test_watch_draws_frames_until_its_count(cli: Cli, client: reqless.Client) -> None:
    client.queues["q"].put(KLASS, {})
    once = cli("watch", "--once")
    assert once.code == 0
    assert once.out.startswith("reqless watch  ")
    assert once.out.count("QUEUE") == 1
    two = cli("watch", "--count", "2", "--interval", "0")
    assert two.out.count("QUEUE") == 2
    lines = cli("watch", "--count", "2", "--interval", "0", "--json").out.splitlines()
    assert len(lines) == 2
    assert json.loads(lines[1])["queues"][0]["name"] == "q"
    assert cli("watch", "--once", "--count", "2").code == 2
    assert cli("watch", "--count", "0").code == 2


# --------------------------------------------------------------------------- other URLs


def test_the_url_comes_from_the_environment(
    server: Server, client: reqless.Client, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("REQLESS_URL", server.url)
    monkeypatch.setenv("REQLESS_DRIVER", "valkey")
    assert main(["put", "fromenv", KLASS]) == 0
    assert client.queues.names == ["fromenv"]
    # The option wins over the environment.
    monkeypatch.setenv("REQLESS_URL", f"redis://127.0.0.1:{_free_port()}")
    assert main(["info", "--url", server.url, "--driver", "redis"]) == 0


def test_every_command_on_an_embedded_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "embedded"
    cli = _runner(f"embedded:{folder}", capsys)
    try:
        jid = cli("put", "q", KLASS, '{"n": 1}').out.strip()
        assert cli("info", "--json").json["queues"][0]["waiting"] == 1
        assert [job["jid"] for job in cli("jobs", "q", "--json").json["jobs"]] == [jid]
        assert cli("job", jid, "--json").json["state"] == "waiting"
        with reqless.Client.embedded(folder, worker_name="w") as client:
            popped = client.queues["q"].pop()
            assert popped is not None
            popped.fail("q-Error", "boom")
            assert cli("failed", "--json").json == {"q-Error": 1}
            assert cli("failed", "q-Error", "--json").json["jobs"][0]["jid"] == jid
            assert cli("retry", "q-Error").code == 0
            job = client.jobs[jid]
            assert job is not None
            assert job.state == "waiting"
            assert cli("pause", "q").code == 0
            assert client.queues["q"].paused
            assert cli("unpause", "q").code == 0
            assert cli("config", "grace", "20").code == 0
            assert client.config["grace"] == 20
            assert cli("watch", "--once").code == 0
            assert cli("cancel", jid).code == 0
            assert client.jobs[jid] is None
    finally:
        stop = Path(sys.executable).parent / "reqless-embedded"
        subprocess.run([str(stop), "stop", str(folder)], check=False, capture_output=True)


def test_the_installed_console_script(server: Server, client: reqless.Client) -> None:
    console = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert console["reqless"] == "reqless.cli:main"
    script = Path(sys.executable).parent / "reqless"
    assert script.is_file(), f"{script} is missing: reinstall reqless-client"
    env = {**os.environ, "REQLESS_URL": server.url}
    put = subprocess.run(
        [str(script), "put", "q", KLASS, '{"via": "script"}'],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert put.returncode == 0, put.stderr
    job = client.jobs[put.stdout.strip()]
    assert isinstance(job, reqless.Job)
    assert job.payload == {"via": "script"}
    info = subprocess.run(
        [str(script), "info", "--json"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert json.loads(info.stdout)["queues"][0]["waiting"] == 1
    missing = subprocess.run(
        [str(script), "job", "nope"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (missing.returncode, missing.stderr) == (1, "reqless: no job or recurring job 'nope'\n")
