"""Errors of the core arrive as typed exceptions under ReqlessError, carrying the server's text."""

from __future__ import annotations

import json
import pickle

import pytest

from reqless import (
    CoreScript,
    InvalidArgumentError,
    JobNotFoundError,
    LostLockError,
    PermissionDeniedError,
    ReplicationTimeoutError,
    ReqlessError,
    ScriptError,
    ScriptNotLoadedError,
    ServerUnavailableError,
    UnknownDriverError,
)
from reqless._errors import translate_server_error
from reqless.drivers import Driver


@pytest.fixture(params=["function", "eval"])
def core(driver: Driver, request: pytest.FixtureRequest) -> CoreScript:
    """The core in each form: the servers wrap errors differently for FCALL and EVALSHA."""
    return CoreScript(driver, form=request.param)


def _running_job(core: CoreScript, jid: str = "jid-1", worker: str = "w1") -> None:
    core.call("queue.put", worker, "q", jid, "tests.Job", "{}", 0)
    popped = json.loads(core.call("queue.pop", "q", worker, 1))
    assert [job["jid"] for job in popped] == [jid]


def test_a_missing_job_is_job_not_found(core: CoreScript) -> None:
    with pytest.raises(JobNotFoundError) as info:
        core.call("job.complete", "nobody", "w1", "q", "{}")
    assert info.value.detail == "Complete(): Job does not exist"
    # The message is the server's own text, wrapping included.
    assert "Complete(): Job does not exist" in info.value.message
    assert str(info.value) == info.value.message


def test_requeueing_a_missing_job_names_it(core: CoreScript) -> None:
    with pytest.raises(JobNotFoundError, match="Requeue\\(\\): Job gone does not exist"):
        core.call("job.requeue", "w1", "q", "gone", "tests.Job", "{}", 0)


def test_completing_a_job_another_worker_holds_is_a_lost_lock(core: CoreScript) -> None:
    _running_job(core, worker="w1")
    with pytest.raises(LostLockError) as info:
        core.call("job.complete", "jid-1", "w2", "q", "{}")
    assert info.value.detail == "Complete(): Job has been handed out to another worker: w1"


def test_heartbeating_a_job_that_is_not_running_is_a_lost_lock(core: CoreScript) -> None:
    core.call("queue.put", "w1", "q", "jid-1", "tests.Job", "{}", 0)
    with pytest.raises(LostLockError, match="not currently running: waiting"):
        core.call("job.heartbeat", "jid-1", "w1")


def test_completing_in_another_queue_is_a_lost_lock(core: CoreScript) -> None:
    _running_job(core)
    with pytest.raises(LostLockError, match="Job running in another queue: q"):
        core.call("job.complete", "jid-1", "w1", "other", "{}")


def test_failing_a_job_another_worker_holds_is_a_lost_lock(core: CoreScript) -> None:
    _running_job(core, worker="w1")
    with pytest.raises(LostLockError, match="Fail\\(\\): Job running with another worker: w1"):
        core.call("job.fail", "jid-1", "w2", "group", "message", "{}")


@pytest.mark.parametrize(
    ("command", "args", "words"),
    [
        ("queue.put", ["w", "q", "j", "k", "{}", 0, "priority", "high"], 'Arg "priority"'),
        ("queue.put", ["w", "q", "j", "k", "not json", 0], "Expected"),
        ("queue.put", ["w", "q"], 'Put(): Arg "jid" missing'),
        ("queue.pop", ["q", "w", "many"], 'Arg "limit"'),
        ("no.such.command", [], "Unknown command no.such.command"),
        ("queue.jobsByState", ["sideways", "q", 0, 10], 'Unknown type "sideways"'),
    ],
)
def test_malformed_input_is_an_invalid_argument(
    core: CoreScript, command: str, args: list[str | int], words: str
) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        core.call(command, *args)
    assert words in info.value.detail
    # Also a ValueError, so generic input handling catches it.
    assert isinstance(info.value, ValueError)


def test_other_core_refusals_are_script_errors(core: CoreScript) -> None:
    core.call("queue.put", "w", "q", "a", "tests.Job", "{}", 0)
    core.call("queue.put", "w", "q", "b", "tests.Job", "{}", 0, "depends", '["a"]')
    with pytest.raises(ScriptError) as info:
        core.call("job.cancel", "a")
    assert type(info.value) is ScriptError
    assert (
        info.value.detail == "Cancel(): a is a dependency of b but is not mentioned to be canceled"
    )


def test_user_text_inside_a_message_does_not_decide_the_type(core: CoreScript) -> None:
    # The core echoes bad values and jids; words of other messages in them must not leak
    # into the type.
    with pytest.raises(InvalidArgumentError) as info:
        core.call("queue.put", "w", "q", "j", "k", "{}", 0, "priority", "not currently running: x")
    assert info.value.detail == 'Put(): Arg "priority" not a numbernot currently running: x'
    with pytest.raises(ScriptError) as failure:
        core.call("job.addDependency", "given out to another worker: w", "does not exist")
    assert type(failure.value) is ScriptError
    assert "not in the depends state" in failure.value.detail


def test_every_error_is_a_reqless_error() -> None:
    for error in (
        InvalidArgumentError,
        JobNotFoundError,
        LostLockError,
        PermissionDeniedError,
        ScriptError,
        ScriptNotLoadedError,
    ):
        assert issubclass(error, ReqlessError)
    assert issubclass(UnknownDriverError, ReqlessError)


@pytest.mark.parametrize(
    "text",
    [
        # Redis 7, EVALSHA and FCALL
        "user_script:712: Retry(): Job has been given to another worker: w2 script: "
        "f06ea12d3bbdcfb5fefd96257534b28523befd56, on @user_script:712.",
        "user_function:715: Retry(): Job has been given to another worker: w2 script: reqless, "
        "on @user_function:715.",
        # Valkey leaves the script's name out
        "user_function:715: Retry(): Job has been given to another worker: w2 script: "
        "on @user_function:715.",
        # Some servers keep the ERR prefix
        "ERR user_script:1: Retry(): Job has been given to another worker: w2 script: x, "
        "on @user_script:1.",
    ],
)
def test_each_server_wrapping_is_parsed_once(text: str) -> None:
    error = translate_server_error(text)
    assert type(error) is LostLockError
    assert error.detail == "Retry(): Job has been given to another worker: w2"
    assert error.message == text


def test_missing_core_and_missing_permission_are_recognised() -> None:
    assert type(translate_server_error("No matching script. Please use EVAL.")) is (
        ScriptNotLoadedError
    )
    assert type(translate_server_error("Function not found")) is ScriptNotLoadedError
    assert (
        type(
            translate_server_error(
                "NOPERM User bob has no permissions to run the 'function' command"
            )
        )
        is PermissionDeniedError
    )


def test_errors_survive_pickling_across_processes(core: CoreScript) -> None:
    with pytest.raises(JobNotFoundError) as info:
        core.call("job.complete", "nobody", "w1", "q", "{}")
    copy = pickle.loads(pickle.dumps(info.value))
    assert type(copy) is JobNotFoundError
    assert (copy.message, copy.detail) == (info.value.message, info.value.detail)
    unknown = pickle.loads(pickle.dumps(UnknownDriverError("x", ["redis"])))
    assert (unknown.name, unknown.valid) == ("x", ["redis"])
    lagging = ReplicationTimeoutError("0 of 1", acknowledged=0, wanted=1, replies=["jid-1"])
    replicated = pickle.loads(pickle.dumps(lagging))
    assert type(replicated) is ReplicationTimeoutError
    assert (replicated.message, replicated.acknowledged, replicated.wanted) == ("0 of 1", 0, 1)


def test_a_replication_timeout_is_no_outage_to_retry() -> None:
    # The change was made on the master: code that makes a call again after an
    # outage must not catch it, or it would send the change twice.
    assert issubclass(ReplicationTimeoutError, ReqlessError)
    assert not issubclass(ReplicationTimeoutError, (ServerUnavailableError, ScriptError))
    import reqless.exceptions

    assert reqless.exceptions.ReplicationTimeoutError is ReplicationTimeoutError
