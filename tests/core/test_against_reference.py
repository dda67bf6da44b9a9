"""Ours against the reference core, command by command, on random sequences.

The reference is the Lua the ``reqless==0.13.3`` wheel ships (see
``reference_core.py``; fetched at test time, never kept here). hypothesis drives
the same random command sequence (``fuzz.py``) into ours, in one of its two forms,
and into the reference, each on its own server process of the same kind (events
are server-wide, so the two streams must not mix), with the same ``now``. After
every command it compares: error or not (error texts may differ), the replies
(JSON parsed), the events (channel and payload) and every key (type and content,
JSON values parsed).

A difference fails the test with the shortest sequence hypothesis finds, as
``command now args...`` lines from an empty database, and the first difference.
A difference is allowed only where ``DECLARED`` names the section of
``reqless-core/DEVIATIONS.md`` that declares it; the reference's keys are then
replaced by ours so the sequence goes on comparing from the same state.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from tests.conftest import BACKENDS, IN_CI, Server, _Missing, _start_redis, _start_valkey
from tests.core import reference_core
from tests.core.differential import (
    EventTap,
    canonical,
    copy_database,
    key_difference,
    reply_difference,
)
from tests.core.fuzz import (
    FORMS,
    T0,
    TICKS,
    Call,
    Caller,
    commands,
    fuzz_settings,
    our_source,
    snapshot,
    transcript,
)

# A file to note every difference in instead of failing at the first one: a local
# survey of what differs (REQLESS_FUZZ_SURVEY=/tmp/differences.txt).
SURVEY = os.environ.get("REQLESS_FUZZ_SURVEY", "")
DEVIATIONS = Path(__file__).resolve().parents[2] / "reqless-core" / "DEVIATIONS.md"


# ---------------------------------------------------------------------------
# Declared differences: each names the DEVIATIONS.md section that declares it and
# says which calls may differ. Keep this table in step with that file.


@dataclass(frozen=True)
class Deviation:
    section: str
    summary: str
    applies: Callable[[Call], bool]


def _number(word: str) -> float | None:
    try:
        return float(word)
    except ValueError:
        return None


def _option(call: Call, name: str, start: int) -> str | None:
    """The value of option ``name`` among the call's trailing pairs (from ``start``)."""
    tail = call.args[start:]
    found = None
    for index in range(0, len(tail) - 1, 2):
        if tail[index] == name:
            found = tail[index + 1]
    return found


DECLARED: list[Deviation] = [
    Deviation(
        "unfail-count",
        "queue.unfail with a count of 0 or less is refused (spec 3.40); the 0.13.3 core"
        " moves the whole failure list to the queue and keeps it listed as failed",
        lambda call: call.command == "queue.unfail"
        and len(call.args) > 2
        and _number(call.args[2]) is not None
        and _number(call.args[2]) <= 0,  # type: ignore[operator]
    ),
    Deviation(
        "config-defaults",
        "config.get answers the spec's defaults (4.19); the reference lacks some of them",
        lambda call: call.command == "config.get",
    ),
]


def _to_spec(call: Call, value: Any, ours: Reply) -> Any:
    """The reference's canonical reply in the spec's shape (see ``TRANSLATED``)."""
    value = reference_core.reply_to_spec(call.command, value)
    if (
        call.command in ("throttle.get", "queue.throttle.get")
        and isinstance(value, dict)
        and "ttl" not in value
        and isinstance(mine := canonical(ours.value), dict)
        and "ttl" in mine
    ):
        # The 0.13.3 throttle object has no `ttl` (spec 2.11): take ours, checked elsewhere.
        value = {**value, "ttl": mine["ttl"]}
    return value


def declared(call: Call) -> Deviation | None:
    for deviation in DECLARED:
        if deviation.applies(call):
            return deviation
    return None


def test_every_declared_deviation_names_a_section_of_deviations_md() -> None:
    text = DEVIATIONS.read_text()
    missing = [d.section for d in DECLARED if not re.search(rf"\b{re.escape(d.section)}\b", text)]
    assert not missing, f"DEVIATIONS.md has no section {missing}"


# ---------------------------------------------------------------------------
# Servers: the reference runs on a server process of its own, of the same kind.


@pytest.fixture(scope="session")
def reference_script() -> str:
    try:
        return reference_core.script()
    except reference_core.Unavailable as error:
        if IN_CI:
            pytest.fail(f"the reference core is needed in CI: {error}")
        pytest.skip(f"the reference core is not available: {error}")


@pytest.fixture(scope="session")
def _reference_servers() -> Iterator[dict[str, Server | str]]:
    started: dict[str, Server | str] = {}
    yield started
    for found in started.values():
        if isinstance(found, Server):
            found.stop()  # type: ignore[operator]


@pytest.fixture
def reference_server(server: Server, _reference_servers: dict[str, Server | str]) -> Server:
    """A second flushed server of the ``server``'s kind, for the reference."""
    assert server.name in BACKENDS
    if server.name not in _reference_servers:
        try:
            started = _start_valkey() if server.name == "valkey" else _start_redis()
        except _Missing as missing:
            _reference_servers[server.name] = str(missing)
        else:
            _reference_servers[server.name] = started
    found = _reference_servers[server.name]
    if isinstance(found, str):
        if IN_CI:
            pytest.fail(f"{server.name} backend missing in CI: {found}")
        pytest.skip(f"{server.name} backend missing: {found}")
    found.client().flushall()
    return found


# ---------------------------------------------------------------------------
# The comparison


@dataclass
class Side:
    caller: Caller
    raw: redis.Redis
    events: EventTap

    def flush(self) -> None:
        self.raw.flushdb()
        self.events.take()


def _machine(ours: Side, reference: Side, label: str) -> type[RuleBasedStateMachine]:
    class Differential(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            ours.flush()
            reference.flush()
            self.now: float = T0
            self.calls: list[Call] = []

        @rule(tick=TICKS, command=commands(reference_core.compared))
        def step(self, tick: float, command: tuple[str, tuple[str, ...]]) -> None:
            self.now += tick
            call = Call(command[0], self.now, command[1])
            self.calls.append(call)
            mine = ours.caller.call(call.command, call.now, call.args)
            name, args = reference_core.to_reference(call.command, call.args)
            theirs = reference.caller.call(name, call.now, args)
            difference = reply_difference(mine, theirs, lambda value: _to_spec(call, value, mine))
            my_events, their_events = ours.events.take(), reference.events.take()
            if difference is None and my_events != their_events:
                difference = f"events: ours {my_events!r}\n         the reference {their_events!r}"
            if difference is None:
                difference = key_difference(
                    snapshot(ours.caller.redis),
                    reference_core.keys_to_spec(snapshot(reference.caller.redis)),
                )
            if difference is None:
                return
            if declared(call) is not None:
                copy_database(ours.raw, reference.raw)
                return
            if SURVEY:
                # Survey mode (local): note every difference, carry on from ours' state.
                with open(SURVEY, "a") as out:
                    out.write(f"## {call.command}: {difference}\n{transcript(self.calls)}\n")
                copy_database(ours.raw, reference.raw)
                return
            raise AssertionError(
                f"ours ({label}) and the reference differ after this sequence"
                f" (from an empty database):\n{transcript(self.calls)}\n"
                f"first difference: {difference}"
            )

    return Differential


@pytest.mark.parametrize("form", FORMS)
def test_random_sequences_match_the_reference(
    server: Server, reference_server: Server, reference_script: str, form: str
) -> None:
    def side(found: Server, caller_form: str, source: str) -> Side:
        client = found.client(decode_responses=True)
        return Side(Caller(client, caller_form, source), found.client(), EventTap(client))

    ours = side(server, form, our_source(form))
    reference = side(reference_server, "eval", reference_script)
    try:
        run_state_machine_as_test(
            _machine(ours, reference, f"{form} form, {server.name}"), settings=fuzz_settings()
        )
    finally:
        ours.events.close()
        reference.events.close()


