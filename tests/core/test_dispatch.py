"""Dispatch (spec 1.1): how the single script picks a command and reads ``now``.

The checks run in a fixed order and none of them may touch data, so every
failing call here is also checked to leave the database exactly as it was.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import redis

from tests.core.conftest import Core


def raw_call_fails(core: Core, pattern: str, numkeys: int, *words: Any) -> str:
    """A call with an arbitrary KEYS/ARGV split, which ``core.call`` cannot express."""
    before = core.snapshot()
    with pytest.raises(redis.exceptions.ResponseError) as info:
        core.raw(numkeys, *words)
    message = str(info.value)
    assert re.search(pattern, message), message
    assert core.snapshot() == before
    return message


def test_any_declared_key_is_refused(core: Core) -> None:
    raw_call_fails(core, "No Keys should be provided", 1, "ql:config", "config.set", 0, "a", "b")
    assert core.redis.hgetall("ql:config") == {}


def test_declared_keys_are_refused_before_the_command_is_looked_at(core: Core) -> None:
    raw_call_fails(core, "No Keys should be provided", 1, "ql:config")
    raw_call_fails(core, "No Keys should be provided", 2, "a", "b", "no.such.command")


def test_a_call_without_a_command_is_refused(core: Core) -> None:
    raw_call_fails(core, "Must provide a command", 0)


def test_an_unknown_command_is_refused_by_name(core: Core) -> None:
    core.raises(re.escape("Unknown command queue.popp"), "queue.popp", "q", "w", 1)


@pytest.mark.parametrize("name", ["CONFIG.GET", "Config.get", "config.get "])
def test_command_names_are_case_and_space_sensitive(core: Core, name: str) -> None:
    core.raises(re.escape(f"Unknown command {name}"), name, "heartbeat")


def test_an_unknown_command_is_reported_even_without_now(core: Core) -> None:
    # Check 3 (command name) comes before check 4 (now present).
    core.raises("Unknown command nothing", "nothing", now=None)


def test_missing_now_is_the_tonumber_runtime_error(core: Core) -> None:
    message = core.raises(re.escape("bad argument #1 to 'tonumber'"), "config.getAll", now=None)
    assert "not a number" not in message


@pytest.mark.parametrize("now", ["soon", "", "12 o'clock", "1,5"])
def test_non_numeric_now_is_refused_without_echoing_it(core: Core, now: str) -> None:
    message = core.raises(
        re.escape('Arg "now" missing or not a number: nil'), "config.getAll", now=now
    )
    if now:
        assert now not in message


def test_a_bad_now_stops_a_writing_command_before_it_writes_or_publishes(core: Core) -> None:
    with core.events() as events:
        core.raises(
            'Arg "now" missing or not a number', "config.set", "heartbeat", "5", now="later"
        )
    assert events.messages == []
    assert core.call("config.get", "heartbeat") == "60"


@pytest.mark.parametrize(
    ("now", "value"),
    [("0x10", 16), (" 5 ", 5), ("1.5", 1.5), ("1e3", 1000), ("-2", -2), ("+7", 7)],
)
def test_now_is_parsed_like_lua_tonumber(core: Core, now: str, value: float) -> None:
    # The numeric value, not the raw text, reaches the handler: pop records it
    # verbatim as the worker's last-seen score.
    assert core.call("queue.pop", "q", "worker", 1, now=now) == "[]"
    assert core.redis.zscore("ql:workers", "worker") == value


def test_arguments_after_now_reach_the_handler_in_order(core: Core) -> None:
    assert core.call("config.set", "heartbeat", "42") is None
    assert core.redis.hgetall("ql:config") == {"heartbeat": "42"}
