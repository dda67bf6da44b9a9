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
``reqless-core/DEVIATIONS.md`` that declares it (``SPEC_WINS``: where the
0.13.3 core predates the spec and ours follows it, declared there too); the
reference's keys are then replaced by ours so the sequence goes on comparing
from the same state. Older shapes of
the 0.13.3 core that carry the same meaning are translated to the spec's
before comparing (``TRANSLATED``).

Random sequences seldom reach D-30's situation (a job that a retry sent to another
queue): a second test starts each sequence with one of ``RETRIED_ELSEWHERE``'s ways
into it, and ``D30_SEQUENCES`` replays the calls where the two cores part there.

Commands the 0.13.3 core lacks (``config.getAll``, ``queues.names``, the queue
pattern commands) are left out. Budget and replay: see ``fuzz.py``. For a
local survey of every difference rather than the first,
``REQLESS_FUZZ_SURVEY=/tmp/differences.txt`` notes each one (and each allowed
one, with the entry that allowed it) and carries on.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import pytest
import redis
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    rule,
    run_state_machine_as_test,
)

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
    Reply,
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
# Allowed differences. DECLARED mirrors reqless-core/DEVIATIONS.md: each entry names
# its section id there (D-<n>) and says after which steps that difference may show.
# SPEC_WINS lists where the 0.13.3 core predates the spec and ours follows the spec;
# TRANSLATED lists the older shapes that are mapped to the spec's before comparing
# (both name their D-<n> section too) (reference_core.reply_to_spec / keys_to_spec).


@dataclass(frozen=True)
class Step:
    """One compared call: what each side answered, our keys before it, both sides'
    keys after it (the reference's in the spec's shape), and whether the replies and
    the events compared alike."""

    call: Call
    ours: Reply
    theirs: Reply
    before: dict[str, tuple[str, Any]]
    after: tuple[dict[str, tuple[str, Any]], dict[str, tuple[str, Any]]]
    answered_alike: bool

    def option(self, name: str, start: int) -> str | None:
        """The last value of option ``name`` among the trailing pairs from ``start``."""
        tail = self.call.args[start:]
        found = None
        for index in range(0, len(tail) - 1, 2):
            if tail[index] == name:
                found = tail[index + 1]
        return found

    def jobs(self) -> dict[str, dict[str, Any]]:
        """Our job hashes before the call."""
        return {
            key[len("ql:j:") :]: value
            for key, (kind, value) in self.before.items()
            if kind == "hash" and key.startswith("ql:j:") and "jid" in value
        }


@dataclass(frozen=True)
class Deviation:
    section: str
    summary: str
    # Whether a difference after this step is the declared one.
    applies: Callable[[Step], bool]


def _number(word: str | None) -> float | None:
    try:
        return float(word) if word is not None else None
    except ValueError:
        return None


def _below(word: str | None, bound: float) -> bool:
    number = _number(word)
    return number is not None and number < bound


def _json(word: str | None) -> Any:
    try:
        return json.loads(word) if word is not None else None
    except ValueError:
        return None


PUTS = ("queue.put", "job.requeue")
# Calls that release throttles (4.10), and so reach D-9.
RELEASING = (
    "job.complete",
    "job.completeAndRequeue",
    "job.fail",
    "job.retry",
    "job.timeout",
    "job.cancel",
    "throttle.release",
    "queue.pop",
)
FIFTEEN_DIGITS = "123456789012345"


def _stale_waiter(step: Step) -> bool:
    """A throttle's waiter that is no longer throttled (D-9's situation)."""
    jobs = step.jobs()
    return any(
        kind == "zset"
        and key.startswith("ql:th:")
        and key.endswith("-pending")
        and any(jobs.get(jid, {}).get("state") != "throttled" for jid, _ in value)
        for key, (kind, value) in step.before.items()
    )


# Calls that spawn recurring children (4.9), and so reach D-29.
SPAWNING = ("queue.pop", "queue.peek")


def _spawns_onto_a_job(step: Step) -> bool:
    """A template whose next children's jids already hold jobs (D-29's situation)."""
    jobs = step.jobs()
    for key, (kind, value) in step.before.items():
        if kind != "hash" or not key.startswith("ql:r:"):
            continue
        template, count = key[len("ql:r:") :], _number(value.get("count")) or 0
        for jid in jobs:
            child, _, number = jid.rpartition("-")
            if child == template and number.isdigit() and int(number) > count:
                return True
    return False


def _retries_elsewhere(step: Step) -> bool:
    """A job.retry into a queue other than the job's `queue` field."""
    args = step.call.args
    if step.call.command != "job.retry" or len(args) < 2:
        return False
    job = step.jobs().get(args[0])
    return job is not None and job.get("queue") != args[1]


# The five per-queue sets a job sits in (spec 2.2), as key suffixes.
QUEUE_SETS = ("-work", "-scheduled", "-throttled", "-locks", "-depends")


def _away(keys: dict[str, tuple[str, Any]]) -> set[str]:
    """The jids whose job hash has an `in-queue` field (EXTENSIONS E.5)."""
    return {
        key[len("ql:j:") :]
        for key, (kind, value) in keys.items()
        if kind == "hash" and key.startswith("ql:j:") and "in-queue" in value
    }


def _only_in_queue_bookkeeping(step: Step) -> bool:
    """Whether all that differs after the step is what D-30 declares: the replies
    and events alike, job hashes that differ in their `in-queue` field alone, and the
    five sets of a queue differing only in where a job with `in-queue` (before or after
    the step, on either side) sits."""
    if not step.answered_alike:
        return False
    ours, theirs = step.after
    away = _away(step.before) | _away(ours) | _away(theirs)
    for key in set(ours) | set(theirs):
        mine, other = ours.get(key), theirs.get(key)
        if mine == other:
            continue
        if key.startswith("ql:j:") and key[len("ql:j:") :] in away:
            if mine is None or other is None or mine[0] != "hash" or other[0] != "hash":
                return False
            if {**mine[1], "in-queue": None} != {**other[1], "in-queue": None}:
                return False
        elif key.startswith("ql:q:") and key.endswith(QUEUE_SETS):
            kinds = {found[0] for found in (mine, other) if found is not None}
            if kinds != {"zset"}:
                return False
            members = [
                [entry for entry in (found[1] if found else []) if entry[0] not in away]
                for found in (mine, other)
            ]
            if members[0] != members[1]:
                return False
        else:
            return False
    return True


def _touches_an_away_job(step: Step) -> bool:
    """A call naming a job that waits in the queue a retry sent it to, or one that may
    hand it out, spawn onto it or release it from a throttle (D-30's situation)."""
    away = [jid for jid, job in step.jobs().items() if "in-queue" in job]
    return bool(away) and (
        step.call.command in (*SPAWNING, *RELEASING) or any(jid in step.call.args for jid in away)
    )


def _repeats(items: list[Any]) -> bool:
    return len(items) != len(set(map(str, items)))


def _moves_a_template_with_a_repeated_throttle(step: Step) -> bool:
    """A recurringJob.update with a `queue` pair, of a template whose throttle list
    (stored, or given in the same call) names a throttle twice (D-12's situation)."""
    args = step.call.args
    if step.call.command != "recurringJob.update" or "queue" not in args[1::2]:
        return False
    stored = step.before.get(f"ql:r:{args[0]}", ("hash", {}))[1].get("throttles")
    # (A last name without a value is refused: zip leaves it out.)
    pairs = zip(args[1::2], args[2::2], strict=False)
    given = [_json(value) for name, value in pairs if name == "throttles"]
    return any(isinstance(found, list) and _repeats(found) for found in (stored, *given))


def _fractional(value: Any) -> bool:
    number = _number(value) if isinstance(value, str) else None
    return number is not None and not number.is_integer()


DECLARED: list[Deviation] = [
    Deviation(
        "D-2",
        "job.cancel of a failed job whose failed counter is absent cancels it",
        lambda step: (
            step.call.command == "job.cancel"
            and step.ours.error is None
            and step.theirs.error is not None
        ),
    ),
    Deviation(
        "D-9",
        "a throttle release queues only jobs still throttled",
        lambda step: step.call.command in RELEASING and _stale_waiter(step),
    ),
    Deviation(
        "D-12",
        "every old-queue entry is dropped from a re-put's or a moved template's throttles",
        lambda step: (
            (
                step.call.command in PUTS
                and isinstance(throttles := _json(step.option("throttles", 6)), list)
                and _repeats(throttles)
            )
            or _moves_a_template_with_a_repeated_throttle(step)
        ),
    ),
    Deviation(
        "D-13",
        "a trailing next option of job.completeAndRequeue is ignored",
        lambda step: (
            step.call.command == "job.completeAndRequeue" and step.option("next", 5) is not None
        ),
    ),
    Deviation(
        "D-14",
        "15-digit integer tags keep their digits (and take the reference's entries along)",
        lambda step: (
            any(FIFTEEN_DIGITS in arg for arg in step.call.args)
            or FIFTEEN_DIGITS in repr(step.before)
        ),
    ),
    Deviation(
        "D-15",
        "tags that are not a JSON array are refused",
        lambda step: (
            step.call.command in (*PUTS, "queue.recurAtInterval")
            and step.option("tags", 6) is not None
            and not isinstance(_json(step.option("tags", 6)), list)
            and _json(step.option("tags", 6)) is not None
        ),
    ),
    Deviation(
        "D-16",
        "a negative queue.peek offset",
        lambda step: (
            step.call.command == "queue.peek"
            and _below(step.call.args[1] if len(step.call.args) > 1 else None, 0)
        ),
    ),
    Deviation(
        "D-17",
        "a negative queue.pop limit hands out nothing",
        lambda step: (
            step.call.command == "queue.pop"
            and _below(step.call.args[2] if len(step.call.args) > 2 else None, 0)
        ),
    ),
    Deviation(
        "D-18",
        "a fractional max-job-history counts as its floor",
        lambda step: _fractional(
            step.before.get("ql:config", ("hash", {}))[1].get("max-job-history")
        ),
    ),
    Deviation(
        "D-19",
        "fractional retries count down by one",
        lambda step: (
            step.theirs.error is not None
            and any(_fractional(job.get("remaining")) for job in step.jobs().values())
        ),
    ),
    Deviation(
        "D-29",
        "a recurring spawn onto an existing jid clears the job there first",
        lambda step: step.call.command in SPAWNING and _spawns_onto_a_job(step),
    ),
    Deviation(
        "D-30",
        "a job a retry sent to another queue is found there (in-queue), and runs in its own",
        lambda step: (
            (_retries_elsewhere(step) or _touches_an_away_job(step))
            and _only_in_queue_bookkeeping(step)
        ),
    ),
    Deviation(
        "D-31",
        "a re-put of a running job gives back its throttle slots",
        lambda step: (
            step.call.command in PUTS
            and len(step.call.args) > 2
            and step.jobs().get(step.call.args[2], {}).get("state") == "running"
        ),
    ),
    # Last: the specific entries above say better why a refused put differs.
    Deviation(
        "D-1",
        "a put refused for a bad option leaves the job's tags",
        lambda step: step.call.command in PUTS and step.ours.error is not None,
    ),
]

SPEC_WINS: list[Deviation] = [
    Deviation(
        "D-28",
        "job.timeout sets the job's worker to ''; the 0.13.3 core leaves it",
        lambda step: step.call.command == "job.timeout",
    ),
    Deviation(
        "D-24",
        "config.get answers the spec's defaults (max-pop-retry, max-job-history,"
        " max-worker-age, application 'reqless') and refuses a missing key; the 0.13.3"
        " core has other defaults and answers every option without a key",
        lambda step: step.call.command == "config.get",
    ),
    Deviation(
        "D-25",
        "queue.unfail refuses a count of 0 or less; the 0.13.3 core reads -0..-1 as the"
        " whole failure list, moves every job to the queue and keeps them listed as failed",
        lambda step: (
            step.call.command == "queue.unfail"
            and _below(step.call.args[2] if len(step.call.args) > 2 else None, 1)
        ),
    ),
    Deviation(
        "D-26",
        "recurringJob.addTag stores and answers `[]` for an empty list; the 0.13.3 core `{}`",
        lambda step: step.call.command == "recurringJob.addTag",
    ),
    Deviation(
        "D-27",
        "job.retry that exhausts the retries writes history `failed-retries`; the 0.13.3"
        " core writes `failed`",
        lambda step: step.call.command == "job.retry" and step.ours.value == -1,
    ),
]

TRANSLATED = [
    ("D-20", "a put history entry names its queue `queue`; the 0.13.3 core wrote `q`"),
    ("D-21", "WA commands send an empty top-level list as `[]`; the 0.13.3 core `{}`"),
    ("D-22", "the throttle object has a `ttl`; the 0.13.3 core's has none"),
    (
        "D-23",
        "throttle.locks and throttle.pending answer JSON array text; the 0.13.3 core a"
        " RESP array (canonical() reads both as the same list)",
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


def allowed(step: Step) -> Deviation | None:
    for deviation in (*DECLARED, *SPEC_WINS):
        if deviation.applies(step):
            return deviation
    return None


def test_every_declared_deviation_names_a_section_of_deviations_md() -> None:
    text = DEVIATIONS.read_text()
    sections = [d.section for d in (*DECLARED, *SPEC_WINS)] + [s for s, _ in TRANSLATED]
    missing = [s for s in sections if not re.search(rf"^### {s}:", text, re.M)]
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


# Ways into D-30's situation, each from an empty database: job j1, put in q1 and run
# there, is retried into q2 (so j1 has `in-queue` q2), waiting there, scheduled there
# or throttled there by a pop of q2 (t1 held by j2, so that finishing j2 releases j1).
# The random sequences seldom get there by themselves: a retry needs a job running
# for the worker it names.
Setup = tuple[tuple[str, tuple[str, ...]], ...]
_RUN_J1_IN_Q1: Setup = (
    ("queue.put", ("w1", "q1", "j1", "K", "{}", "0")),
    ("queue.pop", ("q1", "w1", "1")),
)
RETRIED_ELSEWHERE: dict[str, Setup] = {
    "waiting": (*_RUN_J1_IN_Q1, ("job.retry", ("j1", "q2", "w1", "0"))),
    "scheduled": (*_RUN_J1_IN_Q1, ("job.retry", ("j1", "q2", "w1", "5"))),
    "throttled": (
        ("throttle.set", ("t1", "1", "0")),
        ("queue.put", ("w1", "q1", "j1", "K", "{}", "0", "throttles", '["t1"]')),
        ("queue.pop", ("q1", "w1", "1")),
        ("queue.put", ("w1", "q2", "j2", "K", "{}", "0", "throttles", '["t1"]')),
        ("job.retry", ("j1", "q2", "w1", "0")),
        ("queue.pop", ("q2", "w2", "1")),
        ("queue.pop", ("q2", "w2", "1")),
    ),
}


def _machine(ours: Side, reference: Side, label: str) -> type[RuleBasedStateMachine]:
    class Differential(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            ours.flush()
            reference.flush()
            self.now: float = T0
            self.calls: list[Call] = []
            # The calls that changed a key on either side: the others are left out of
            # the reproducer (they changed nothing, and answered alike or as declared).
            self.effective: list[Call] = []
            self.keys: tuple[Any, Any] = ({}, {})
            # The section that allowed each allowed difference, in order.
            self.allowed: list[str] = []

        @rule(tick=TICKS, command=commands(reference_core.compared))
        def step(self, tick: float, command: tuple[str, tuple[str, ...]]) -> None:
            self.now += tick
            call = Call(command[0], self.now, command[1])
            self.calls.append(call)
            before = self.keys[0]
            mine = ours.caller.call(call.command, call.now, call.args)
            name, args = reference_core.to_reference(call.command, call.args)
            theirs = reference.caller.call(name, call.now, args)
            difference = reply_difference(mine, theirs, lambda value: _to_spec(call, value, mine))
            my_events, their_events = ours.events.take(), reference.events.take()
            answered_alike = difference is None and my_events == their_events
            if difference is None and my_events != their_events:
                difference = f"events: ours {my_events!r}\n         the reference {their_events!r}"
            keys = (
                snapshot(ours.caller.redis),
                reference_core.keys_to_spec(snapshot(reference.caller.redis)),
            )
            if keys != self.keys or my_events or their_events:
                self.effective.append(call)
            if difference is None:
                difference = key_difference(*keys)
            self.keys = keys
            if difference is None:
                return
            deviation = allowed(Step(call, mine, theirs, before, keys, answered_alike))
            if deviation is not None:
                self.allowed.append(deviation.section)
                if SURVEY:
                    with open(SURVEY, "a") as out:
                        out.write(f"allowed by {deviation.section}: {call}\n  {difference}\n")
                copy_database(ours.raw, reference.raw)
                self.keys = (keys[0], keys[0])
                return
            if call not in self.effective:
                self.effective.append(call)
            if SURVEY:
                # Survey mode (local): note every difference, carry on from ours' state.
                with open(SURVEY, "a") as out:
                    out.write(f"{transcript(self.effective)}\n=> {difference}\n\n")
                copy_database(ours.raw, reference.raw)
                self.keys = (keys[0], keys[0])
                return
            raise AssertionError(
                f"ours ({label}) and the reference differ after this sequence"
                f" (from an empty database; calls that changed nothing left out):\n"
                f"{transcript(self.effective)}\n"
                f"first difference: {difference}"
            )

    return Differential


def _starting_with(
    machine: type[RuleBasedStateMachine], setups: tuple[Setup, ...]
) -> type[RuleBasedStateMachine]:
    """``machine`` whose sequences each start with one of ``setups``, compared too."""

    class AfterSetup(machine):  # type: ignore[valid-type,misc]
        @initialize(setup=st.sampled_from(setups))
        def set_up(self, setup: Setup) -> None:
            for command in setup:
                self.step(1.0, command)

    return AfterSetup


def _side(found: Server, form: str, source: str) -> Side:
    client = found.client(decode_responses=True)
    return Side(Caller(client, form, source), found.client(), EventTap(client))


def _run(
    server: Server, reference_server: Server, reference_script: str, form: str, *setups: Setup
) -> None:
    ours = _side(server, form, our_source(form))
    reference = _side(reference_server, "eval", reference_script)
    try:
        machine = _machine(ours, reference, f"{form} form, {server.name}")
        if setups:
            machine = _starting_with(machine, setups)
        run_state_machine_as_test(machine, settings=fuzz_settings())
    finally:
        ours.events.close()
        reference.events.close()


@pytest.mark.parametrize("form", FORMS)
def test_random_sequences_match_the_reference(
    server: Server, reference_server: Server, reference_script: str, form: str
) -> None:
    _run(server, reference_server, reference_script, form)


@pytest.mark.parametrize("form", FORMS)
def test_random_sequences_after_a_retry_into_another_queue_match_the_reference(
    server: Server, reference_server: Server, reference_script: str, form: str
) -> None:
    """D-30's situation, where only what that section declares may differ."""
    _run(server, reference_server, reference_script, form, *RETRIED_ELSEWHERE.values())


# ---------------------------------------------------------------------------
# D-30 allows only what it declares


# After each way into D-30's situation, calls where the reference and ours part:
# (tick, command, args); each sequence must reach a difference that D-30 allows.
D30_SEQUENCES: list[tuple[str, tuple[tuple[float, str, tuple[str, ...]], ...]]] = [
    # DEVIATIONS.md D-30's reproducer: the re-put takes j1 out of q2 too.
    (
        "waiting",
        (
            (1, "queue.put", ("w1", "q1", "j1", "K", "{}", "0")),
            (1, "queue.pop", ("q1", "w1", "1")),
            (1, "queue.pop", ("q2", "w2", "1")),
        ),
    ),
    ("waiting", ((1, "job.requeue", ("w1", "q1", "j1", "K", "{}", "0")),)),
    ("waiting", ((1, "job.cancel", ("j1",)),)),
    ("waiting", ((1, "job.setPriority", ("j1", "5")),)),
    # Handed out by q2, it runs in q1: its lock in q1-locks, where complete looks.
    (
        "waiting",
        (
            (1, "queue.pop", ("q2", "w2", "1")),
            (1, "job.complete", ("j1", "w2", "q1", "{}")),
        ),
    ),
    ("scheduled", ((10, "queue.pop", ("q2", "w2", "1")),)),
    ("scheduled", ((1, "job.cancel", ("j1",)),)),
    # Finishing j2 releases t1: j1 goes back to q2-work, where it waits.
    (
        "throttled",
        (
            (1, "job.complete", ("j2", "w2", "q2", "{}")),
            (1, "queue.pop", ("q2", "w2", "1")),
        ),
    ),
    ("throttled", ((1, "job.cancel", ("j1",)),)),
]


class _Comparing(Protocol):
    """What a test drives of ``_machine``'s class by hand."""

    allowed: list[str]

    def step(self, tick: float, command: tuple[str, tuple[str, ...]]) -> None: ...


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(("setup", "calls"), D30_SEQUENCES)
def test_d30_sequences_differ_only_as_d30_declares(
    server: Server,
    reference_server: Server,
    reference_script: str,
    form: str,
    setup: str,
    calls: tuple[tuple[float, str, tuple[str, ...]], ...],
) -> None:
    ours = _side(server, form, our_source(form))
    reference = _side(reference_server, "eval", reference_script)
    try:
        machine = cast(_Comparing, _machine(ours, reference, f"{form} form, {server.name}")())
        for call in RETRIED_ELSEWHERE[setup]:
            machine.step(1.0, call)
        assert machine.allowed == ["D-30"], "the retry into q2 differs only in `in-queue`"
        for tick, command, args in calls:
            machine.step(tick, (command, args))
        assert machine.allowed[1:] and set(machine.allowed) == {"D-30"}
    finally:
        ours.events.close()
        reference.events.close()


def _away_step(
    command: str, args: tuple[str, ...], theirs_differ: dict[str, tuple[str, Any]]
) -> Step:
    """A step with j1 away in q2 (before and after), our keys after it, and the
    reference's: ours with ``theirs_differ`` laid over them."""
    j1 = {"jid": "j1", "state": "waiting", "queue": "q1", "in-queue": "q2", "priority": 0}
    keys: dict[str, tuple[str, Any]] = {
        "ql:j:j1": ("hash", j1),
        "ql:q:q2-work": ("zset", [("j1", 0.0)]),
        "ql:q:q1-work": ("zset", [("j3", 0.0)]),
        "ql:f:g1": ("list", ["j2"]),
    }
    reply = Reply(None, "1")
    return Step(
        Call(command, T0, args), reply, reply, keys, (keys, {**keys, **theirs_differ}), True
    )


def test_d30_allows_a_job_hash_differing_in_in_queue_alone() -> None:
    j1 = {"jid": "j1", "state": "waiting", "queue": "q1", "priority": 0}
    step = _away_step("job.setPriority", ("j1", "5"), {"ql:j:j1": ("hash", j1)})
    assert (found := allowed(step)) is not None and found.section == "D-30"


def test_d30_allows_where_in_a_queue_s_sets_the_away_job_sits() -> None:
    step = _away_step(
        "job.setPriority",
        ("j1", "5"),
        {
            "ql:q:q2-work": ("zset", [("j1", 5.0)]),
            "ql:q:q1-work": ("zset", [("j1", 0.0), ("j3", 0.0)]),
        },
    )
    assert (found := allowed(step)) is not None and found.section == "D-30"


@pytest.mark.parametrize(
    "theirs_differ",
    [
        # Another job's place in a queue's sets.
        {"ql:q:q1-work": ("zset", [])},
        # A failure list, a worker's jobs, another key altogether.
        {"ql:f:g1": ("list", [])},
        {"ql:w:w1:jobs": ("zset", [("j1", 0.0)])},
        # Any field of the job hash but `in-queue`.
        {"ql:j:j1": ("hash", {"jid": "j1", "state": "running", "queue": "q1", "in-queue": "q2"})},
        # The job hash itself.
        {"ql:j:j1": None},
    ],
    ids=["another-job-s-place", "failure-list", "worker-jobs", "job-state", "job-gone"],
)
def test_d30_allows_no_other_difference(theirs_differ: dict[str, Any]) -> None:
    step = _away_step("job.setPriority", ("j1", "5"), theirs_differ)
    theirs = {key: value for key, value in step.after[1].items() if value is not None}
    step = Step(step.call, step.ours, step.theirs, step.before, (step.after[0], theirs), True)
    assert allowed(step) is None


def test_d30_allows_no_reply_or_event_difference() -> None:
    step = _away_step("job.setPriority", ("j1", "5"), {})
    differing = Step(step.call, step.ours, Reply(None, "2"), step.before, step.after, False)
    assert allowed(differing) is None


@pytest.mark.parametrize("form", FORMS)
def test_d12_a_moved_template_differs_only_as_declared(
    server: Server, reference_server: Server, reference_script: str, form: str
) -> None:
    ours = _side(server, form, our_source(form))
    reference = _side(reference_server, "eval", reference_script)
    try:
        machine = cast(_Comparing, _machine(ours, reference, f"{form} form, {server.name}")())
        recur = ("q1", "r1", "K", "{}", "60", "0", "throttles", '["t2","ql:q:q1"]')
        machine.step(1.0, ("queue.recurAtInterval", recur))
        machine.step(1.0, ("recurringJob.update", ("r1", "queue", "q1")))
        assert machine.allowed == ["D-12"]
    finally:
        ours.events.close()
        reference.events.close()
