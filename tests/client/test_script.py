"""CoreScript: the bundled core loaded once per pool, called by name, recovering when lost."""

from __future__ import annotations

import asyncio
import json

import pytest
import redis

from reqless import (
    AsyncCoreScript,
    ClientSettings,
    CoreScript,
    InvalidArgumentError,
    JobNotFoundError,
    ScriptError,
)
from reqless._script import CoreCode
from reqless.drivers import Arg, Driver, connect, connect_async


class Ticking:
    """A clock that moves one second each time it is read."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 1
        return self.now


def _put(core: CoreScript, jid: str, queue: str = "q") -> object:
    return core.call("queue.put", "w", queue, jid, "tests.Job", "{}", 0)


def _put_call(jid: str) -> tuple[str, list[Arg]]:
    return ("queue.put", ["w", "q", jid, "tests.Job", "{}", 0])


def _command_calls(admin: redis.Redis, command: str) -> int:
    stats = admin.info("commandstats")
    entry = stats.get(f"cmdstat_{command}")
    return int(entry["calls"]) if entry else 0


def _library_names(admin: redis.Redis) -> list[str]:
    # RESP2 gives each library as a flat [key, value, ...] list.
    return [
        dict(zip(lib[::2], lib[1::2], strict=True))["library_name"] for lib in admin.function_list()
    ]


@pytest.fixture
def core(driver: Driver, form: str, admin: redis.Redis) -> CoreScript:
    return CoreScript(driver, form=form)  # type: ignore[arg-type]


def test_a_command_returns_its_decoded_reply(core: CoreScript, admin: redis.Redis) -> None:
    assert _put(core, "jid-1") == "jid-1"
    job = json.loads(core.call("job.get", "jid-1"))
    assert (job["jid"], job["queue"], job["state"]) == ("jid-1", "q", "waiting")
    assert core.call("queue.length", "q") == 1
    assert core.call("job.get", "nobody") is None
    assert admin.hget("ql:j:jid-1", "klass") == "tests.Job"


def test_function_form_loads_the_library_and_calls_it_with_fcall(
    driver: Driver, admin: redis.Redis
) -> None:
    core = CoreScript(driver, form="function")
    _put(core, "jid-1")
    assert core.mode == "function"
    assert _library_names(admin) == ["reqless"]
    assert admin.fcall_ro("reqless_version", 0) == CoreCode().library_id
    assert _command_calls(admin, "fcall") == 1
    assert _command_calls(admin, "evalsha") == 0


def test_eval_form_calls_the_script_by_its_sha(driver: Driver, admin: redis.Redis) -> None:
    core = CoreScript(driver, form="eval")
    _put(core, "jid-1")
    assert core.mode == "eval"
    assert admin.script_exists(CoreCode().sha) == [True]
    assert _library_names(admin) == []
    assert _command_calls(admin, "evalsha") >= 1


def test_auto_form_prefers_functions_where_the_server_has_them(
    driver: Driver, admin: redis.Redis
) -> None:
    core = CoreScript(driver)
    _put(core, "jid-1")
    assert core.mode == "function"


def test_the_core_text_is_sent_once_then_only_its_name_or_hash(
    core: CoreScript, admin: redis.Redis, form: str
) -> None:
    admin.config_resetstat()
    for i in range(20):
        _put(core, f"jid-{i}")
    core.call_many([("queue.length", ["q"])] * 5)
    load = "function|load" if form == "function" else "script|load"
    call = "fcall" if form == "function" else "evalsha"
    assert _command_calls(admin, load) == 1
    # The eval form's first EVALSHA finds no script and is sent again after the load.
    assert _command_calls(admin, call) == 25 + (form == "eval")
    assert core.call("queue.length", "q") == 20


def test_a_loaded_core_is_reused_by_a_new_pool(
    settings: ClientSettings, driver: Driver, admin: redis.Redis, form: str
) -> None:
    _put(CoreScript(driver, form=form), "jid-1")  # type: ignore[arg-type]
    admin.config_resetstat()
    other = connect(settings)
    try:
        assert CoreScript(other, form=form).call("queue.length", "q") == 1  # type: ignore[arg-type]
    finally:
        other.close()
    assert _command_calls(admin, "function|load") + _command_calls(admin, "script|load") == 0


def test_eval_form_recovers_from_script_flush(driver: Driver, admin: redis.Redis) -> None:
    core = CoreScript(driver, form="eval")
    _put(core, "jid-1")
    admin.script_flush()
    assert _put(core, "jid-2") == "jid-2"
    assert core.call("queue.length", "q") == 2


def test_function_form_recovers_from_function_flush(driver: Driver, admin: redis.Redis) -> None:
    core = CoreScript(driver, form="function")
    _put(core, "jid-1")
    admin.function_flush()
    assert _put(core, "jid-2") == "jid-2"
    assert core.call("queue.length", "q") == 2
    assert admin.fcall_ro("reqless_version", 0) == CoreCode().library_id


def test_a_stale_library_on_the_server_is_replaced(driver: Driver, admin: redis.Redis) -> None:
    stale = (
        "#!lua name=reqless\n"
        "redis.register_function('reqless', function(keys, args) return 'stale core' end)\n"
        "redis.register_function{function_name='reqless_version', "
        "callback=function() return '0.0.1+old' end, flags={'no-writes'}}\n"
    )
    admin.function_load(stale)
    core = CoreScript(driver, form="function")
    assert _put(core, "jid-1") == "jid-1"
    assert admin.fcall_ro("reqless_version", 0) == CoreCode().library_id


def test_call_many_recovers_when_the_core_vanished(core: CoreScript, admin: redis.Redis) -> None:
    _put(core, "jid-0")
    admin.script_flush()
    admin.function_flush()
    puts = [_put_call(f"jid-{i}") for i in range(1, 4)]
    assert core.call_many(puts) == ["jid-1", "jid-2", "jid-3"]
    assert core.call("queue.length", "q") == 4


def test_now_is_sent_with_millisecond_precision(driver: Driver, admin: redis.Redis) -> None:
    core = CoreScript(driver, clock=lambda: 1700000000.1234567)
    _put(core, "jid-1")
    # The core keeps the put's `now` in the job hash with 20 decimals.
    assert float(admin.hget("ql:j:jid-1", "time") or "nan") == pytest.approx(
        1700000000.123, abs=1e-6
    )
    history = json.loads(core.call("job.get", "jid-1"))["history"]
    assert history[0]["when"] == 1700000000


def test_call_many_sends_one_now_for_the_whole_batch(core: CoreScript, admin: redis.Redis) -> None:
    core.clock = Ticking(1000.0)
    puts = [_put_call(f"jid-{i}") for i in range(3)]
    core.call_many(puts)
    times = {admin.hget(f"ql:j:jid-{i}", "time") for i in range(3)}
    assert len(times) == 1
    assert float(times.pop() or "nan") == 1001.0


def test_call_many_returns_errors_in_place_and_runs_the_rest(
    core: CoreScript, admin: redis.Redis
) -> None:
    results = core.call_many(
        [
            ("queue.put", ["w", "q", "jid-1", "tests.Job", "{}", 0]),
            ("queue.put", ["w", "q", "jid-2", "tests.Job", "not json", 0]),
            ("job.complete", ["nobody", "w", "q", "{}"]),
            ("queue.put", ["w", "q", "jid-3", "tests.Job", "{}", 0]),
        ]
    )
    assert results[0] == "jid-1" and results[3] == "jid-3"
    assert isinstance(results[1], InvalidArgumentError)
    assert isinstance(results[2], JobNotFoundError)
    assert admin.exists("ql:j:jid-1", "ql:j:jid-2", "ql:j:jid-3") == 2


def test_an_empty_batch_sends_nothing(core: CoreScript, admin: redis.Redis) -> None:
    admin.config_resetstat()
    assert core.call_many([]) == []
    assert _command_calls(admin, "fcall") + _command_calls(admin, "evalsha") == 0


def test_an_unknown_form_is_rejected(driver: Driver) -> None:
    with pytest.raises(InvalidArgumentError, match=r"'lua'.*auto, function, eval"):
        CoreScript(driver, form="lua")  # type: ignore[arg-type]


def test_errors_of_the_core_are_raised_typed(core: CoreScript) -> None:
    with pytest.raises(JobNotFoundError, match="Complete\\(\\): Job does not exist"):
        core.call("job.complete", "nobody", "w", "q", "{}")
    _put(core, "a")
    core.call("queue.put", "w", "q", "b", "tests.Job", "{}", 0, "depends", '["a"]')
    with pytest.raises(ScriptError, match="is a dependency"):
        core.call("job.cancel", "a")


def test_the_async_twin_loads_calls_and_recovers(
    settings: ClientSettings, admin: redis.Redis, form: str
) -> None:
    async def scenario() -> list[object]:
        driver = connect_async(settings)
        try:
            core = AsyncCoreScript(driver, clock=lambda: 50.0004, form=form)  # type: ignore[arg-type]
            first = await core.call("queue.put", "w", "q", "jid-1", "tests.Job", "{}", 0)
            admin.script_flush()
            admin.function_flush()
            second = await core.call("queue.put", "w", "q", "jid-2", "tests.Job", "{}", 0)
            admin.script_flush()
            admin.function_flush()
            many = await core.call_many(
                [("queue.length", ["q"]), ("job.complete", ["nobody", "w", "q", "{}"])]
            )
            return [first, second, many[0], type(many[1]), core.mode]
        finally:
            await driver.aclose()

    assert asyncio.run(scenario()) == ["jid-1", "jid-2", 2, JobNotFoundError, form]
    assert float(admin.hget("ql:j:jid-1", "time") or "nan") == 50.0


def test_a_trailed_call_and_a_stream_recover_when_the_core_vanished(
    core: CoreScript, admin: redis.Redis
) -> None:
    _put(core, "jid-0")
    admin.script_flush()
    admin.function_flush()
    put = _put_call("jid-1")
    assert core.call_with_trailer(put[0], put[1], ("SET", "trailed", "1")) == "jid-1"
    assert admin.get("trailed") == "1"
    admin.script_flush()
    admin.function_flush()
    arg_lists = [_put_call(f"jid-{i}")[1] for i in (2, 3)]
    assert core.call_each("queue.put", arg_lists, ("SET", "streamed", "1")) == ["jid-2", "jid-3"]
    assert admin.get("streamed") == "1"
    assert core.call("queue.length", "q") == 4


def test_the_async_twin_recovers_a_trailed_call_and_a_stream(
    settings: ClientSettings, admin: redis.Redis, form: str
) -> None:
    async def scenario() -> list[object]:
        driver = connect_async(settings)
        try:
            core = AsyncCoreScript(driver, form=form)  # type: ignore[arg-type]
            admin.script_flush()
            admin.function_flush()
            put = _put_call("jid-1")
            trailed = await core.call_with_trailer(put[0], put[1], ("SET", "trailed", "1"))
            admin.script_flush()
            admin.function_flush()
            arg_lists = [_put_call(f"jid-{i}")[1] for i in (2, 3)]
            streamed = await core.call_each("queue.put", arg_lists, ("SET", "streamed", "1"))
            return [trailed, streamed, await core.call("queue.length", "q"), core.mode]
        finally:
            await driver.aclose()

    assert asyncio.run(scenario()) == ["jid-1", ["jid-2", "jid-3"], 3, form]
    assert (admin.get("trailed"), admin.get("streamed")) == ("1", "1")
