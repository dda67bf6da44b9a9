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
before comparing (``TRANSLATED``), and a fractional ``max-job-history``, which the
0.13.3 core cannot run with, is given to it as its floor, as ours counts it (D-18).

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

import contextlib
import json
import math
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
    # What each side published (channel, payload JSON parsed), ours first.
    events: tuple[list[tuple[str, Any]], list[tuple[str, Any]]] = ([], [])

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
# How the reference writes that tag (Lua's %.14g drops the last digit), as text and
# as a JSON number parsed.
FOURTEEN_G = "1.2345678901234e+14"
FOURTEEN_G_NUMBER = float(FOURTEEN_G)
DIGITS_INDEX, FOURTEEN_G_INDEX = f"ql:t:{FIFTEEN_DIGITS}", f"ql:t:{FOURTEEN_G}"


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


def _as_digits(value: Any) -> Any:
    """``value`` with the reference's rendering of the 15-digit tag (text or JSON
    number) written as the digits, all through lists and objects."""
    if isinstance(value, str):
        return FIFTEEN_DIGITS if value == FOURTEEN_G else value
    if isinstance(value, float) and value == FOURTEEN_G_NUMBER:
        return int(FIFTEEN_DIGITS)
    if isinstance(value, list | tuple):
        return type(value)(_as_digits(item) for item in value)
    if isinstance(value, dict):
        return {key: _as_digits(item) for key, item in value.items()}
    return value


def _members(keys: dict[str, tuple[str, Any]], key: str) -> dict[str, float] | None:
    """A sorted set's members and scores ({} when absent; None when not a sorted set)."""
    found = keys.get(key)
    if found is None:
        return {}
    return dict(found[1]) if found[0] == "zset" else None


def _carries_the_tag(keys: dict[str, tuple[str, Any]], jid: str) -> bool:
    job = keys.get(f"ql:j:{jid}", ("none", {}))[1]
    tags = job.get("tags") if isinstance(job, dict) else None
    return isinstance(tags, list) and int(FIFTEEN_DIGITS) in _as_digits(tags)


def _tag_index_alike(step: Step) -> bool:
    """Whether our index of the 15-digit tag is the reference's, written as digits.

    The reference indexes under the %.14g text (its own entries), and never finds
    the digits key that ours wrote, so what it meant to remove from there stays
    (DEVIATIONS.md D-14, "Index entries the reference made"). So: each job we index
    under the digits is one the reference indexed, under either key, with the same
    score; each job the reference indexed under %.14g in this call we index alike;
    a job the reference left under the digits and we do not index no longer carries
    the tag with us. Its `ql:tags` count for the tag cannot be checked against ours:
    it counts under the digits too (Redis writes a number argument in full), but
    drops the member whenever its %.14g key empties, other jobs tagged or not. Ours
    has the digits member exactly when the digits key has a job."""
    ours, theirs = step.after
    mine = _members(ours, DIGITS_INDEX)
    left, made = _members(theirs, DIGITS_INDEX), _members(theirs, FOURTEEN_G_INDEX)
    made_before, mine_made = (
        _members(step.before, FOURTEEN_G_INDEX),
        _members(ours, FOURTEEN_G_INDEX),
    )
    if mine is None or left is None or made is None or made_before is None or mine_made is None:
        return False
    indexed = {**left, **made}
    if any(indexed.get(jid) != score for jid, score in mine.items()):
        return False
    if any(mine.get(jid) != score for jid, score in made.items() if made_before.get(jid) != score):
        return False
    if any(jid not in mine and _carries_the_tag(ours, jid) for jid in left):
        return False
    # Ours only ever takes jobs out of the reference's %.14g key.
    if any(made_before.get(jid) != score for jid, score in mine_made.items()):
        return False
    counts = _members(ours, "ql:tags")
    return counts is not None and (FIFTEEN_DIGITS in counts) == bool(mine)


def _without_the_tag_count(found: tuple[str, Any] | None) -> Any:
    if found is None:
        return []
    if found[0] != "zset":
        return found
    return [entry for entry in found[1] if entry[0] != FIFTEEN_DIGITS]


def _only_in_fifteen_digit_rendering(step: Step) -> bool:
    """Whether all that differs after the step is what D-14 declares: replies and
    events alike but for how the 15-digit tag is written, job and recurring-template
    hashes alike but for how their `tags` write it, the tag's index as
    ``_tag_index_alike`` says, and every other key alike."""
    ours, theirs = step.after
    if not step.answered_alike:
        if (step.ours.error is None) != (step.theirs.error is None):
            return False
        if step.ours.error is None:
            mine = canonical(step.ours.value)
            other = _to_spec(step.call, canonical(step.theirs.value), step.ours)
            if mine != _as_digits(other):
                return False
        if step.events[0] != _as_digits(step.events[1]):
            return False
    for key in set(ours) | set(theirs):
        mine, other = ours.get(key), theirs.get(key)
        if mine == other or key in (DIGITS_INDEX, FOURTEEN_G_INDEX):
            continue
        if key == "ql:tags":
            if _without_the_tag_count(mine) != _without_the_tag_count(other):
                return False
        elif key.startswith(("ql:j:", "ql:r:")) and mine is not None and other is not None:
            if mine[0] != "hash" or other[0] != "hash":
                return False
            other_tags = _as_digits(other[1].get("tags"))
            if {**mine[1], "tags": mine[1].get("tags")} != {**other[1], "tags": other_tags}:
                return False
        else:
            return False
    return _tag_index_alike(step)


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
        _only_in_fifteen_digit_rendering,
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
    (
        "D-18",
        "a fractional max-job-history counts as its floor: the reference runs each call"
        " with the floor in its place (its LTRIM refuses the fraction), then gets the"
        " fraction back (``_history_limit_floor``)",
    ),
    ("D-20", "a put history entry names its queue `queue`; the 0.13.3 core wrote `q`"),
    ("D-21", "WA commands send an empty top-level list as `[]`; the 0.13.3 core `{}`"),
    ("D-22", "the throttle object has a `ttl`; the 0.13.3 core's has none"),
    (
        "D-23",
        "throttle.locks and throttle.pending answer JSON array text; the 0.13.3 core a"
        " RESP array (canonical() reads both as the same list)",
    ),
]


def _history_limit_floor(call: Call, before: dict[str, tuple[str, Any]]) -> str | None:
    """The whole number the reference runs ``call`` with as max-job-history, when our
    config holds a fraction (D-18: ours counts it as its floor).

    Given the fraction, every history append of the reference fails part way
    through a call (its LTRIM refuses it), leaving a half-written state that no
    comparison could tell from a fault of ours. Run with the floor, the reference
    shows what the call must do, and everything is compared as usual. A call that
    sets or unsets the option itself is left alone (it appends no history)."""
    if call.command in ("config.set", "config.unset") and call.args[:1] == ("max-job-history",):
        return None
    value = before.get("ql:config", ("hash", {}))[1].get("max-job-history")
    if not _fractional(value):
        return None
    return str(math.floor(float(value)))


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
            floor = _history_limit_floor(call, before)
            if floor is not None:
                fraction = before["ql:config"][1]["max-job-history"]
                reference.raw.hset("ql:config", "max-job-history", floor)
            theirs = reference.caller.call(name, call.now, args)
            if floor is not None:
                reference.raw.hset("ql:config", "max-job-history", fraction)
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
            deviation = allowed(
                Step(call, mine, theirs, before, keys, answered_alike, (my_events, their_events))
            )
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


@contextlib.contextmanager
def _comparing(
    server: Server, reference_server: Server, reference_script: str, form: str
) -> Iterator[tuple[_Comparing, Side]]:
    """A comparing machine driven by hand (and our side, to read its keys)."""
    ours = _side(server, form, our_source(form))
    reference = _side(reference_server, "eval", reference_script)
    try:
        yield cast(_Comparing, _machine(ours, reference, f"{form} form, {server.name}")()), ours
    finally:
        ours.events.close()
        reference.events.close()


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
    with _comparing(server, reference_server, reference_script, form) as (machine, _):
        for call in RETRIED_ELSEWHERE[setup]:
            machine.step(1.0, call)
        assert machine.allowed == ["D-30"], "the retry into q2 differs only in `in-queue`"
        for tick, command, args in calls:
            machine.step(tick, (command, args))
        assert machine.allowed[1:] and set(machine.allowed) == {"D-30"}


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
    with _comparing(server, reference_server, reference_script, form) as (machine, _):
        recur = ("q1", "r1", "K", "{}", "60", "0", "throttles", '["t2","ql:q:q1"]')
        machine.step(1.0, ("queue.recurAtInterval", recur))
        machine.step(1.0, ("recurringJob.update", ("r1", "queue", "q1")))
        assert machine.allowed == ["D-12"]


# ---------------------------------------------------------------------------
# D-14 allows only how the 15-digit tag is written


def _tagged_step(
    command: str,
    args: tuple[str, ...],
    ours_differ: dict[str, tuple[str, Any] | None],
    theirs_differ: dict[str, tuple[str, Any] | None],
    replies: tuple[Reply, Reply] = (Reply(None, "j1"), Reply(None, "j1")),
    events: tuple[list[tuple[str, Any]], list[tuple[str, Any]]] = ([], []),
) -> Step:
    """A step from j1 (in q1) tagged with the 15-digit number and indexed under its
    digits, with ``ours_differ`` and ``theirs_differ`` laid over that state (None
    takes a key away) for each side's keys after it."""
    j1 = {"jid": "j1", "state": "waiting", "queue": "q1", "tags": [int(FIFTEEN_DIGITS)]}
    before: dict[str, tuple[str, Any]] = {
        "ql:j:j1": ("hash", j1),
        DIGITS_INDEX: ("zset", [("j1", float(T0))]),
        "ql:tags": ("zset", [(FIFTEEN_DIGITS, 1.0), ("a", 1.0)]),
        "ql:t:a": ("zset", [("j2", float(T0))]),
        "ql:q:q1-work": ("zset", [("j1", 0.0)]),
    }

    def laid(differ: dict[str, tuple[str, Any] | None]) -> dict[str, tuple[str, Any]]:
        keys = {**before, **differ}
        return {key: value for key, value in keys.items() if value is not None}

    alike = replies[0] == replies[1] and events[0] == events[1]
    call = Call(command, T0 + 5, args)
    return Step(call, *replies, before, (laid(ours_differ), laid(theirs_differ)), alike, events)


_REPUT = ("w1", "q1", "j1", "K", "{}", "0", "tags", f"[{FIFTEEN_DIGITS}]")
# What the re-put of j1 with the tag leaves: ours moves j1's entry to the call's
# time; the reference indexes it under %.14g and leaves the digits entry.
_REPUT_OURS: dict[str, tuple[str, Any] | None] = {DIGITS_INDEX: ("zset", [("j1", T0 + 5.0)])}
_REPUT_THEIRS_J1 = {"jid": "j1", "state": "waiting", "queue": "q1", "tags": [FOURTEEN_G_NUMBER]}
_REPUT_THEIRS: dict[str, tuple[str, Any] | None] = {
    "ql:j:j1": ("hash", _REPUT_THEIRS_J1),
    FOURTEEN_G_INDEX: ("zset", [("j1", T0 + 5.0)]),
    "ql:tags": ("zset", [(FIFTEEN_DIGITS, 2.0), ("a", 1.0)]),
}
# Cancelling j1: ours drops its index entries; the reference misses them.
_CANCEL_OURS: dict[str, tuple[str, Any] | None] = {
    "ql:j:j1": None,
    DIGITS_INDEX: None,
    "ql:tags": ("zset", [("a", 1.0)]),
    "ql:q:q1-work": None,
}
_CANCEL_THEIRS: dict[str, tuple[str, Any] | None] = {
    "ql:j:j1": None,
    "ql:tags": ("zset", [("a", 1.0)]),
    "ql:q:q1-work": None,
}


def _allowed_section(step: Step) -> str | None:
    found = allowed(step)
    return found.section if found is not None else None


def test_d14_allows_a_reput_indexed_under_the_reference_s_rendering() -> None:
    step = _tagged_step("queue.put", _REPUT, _REPUT_OURS, _REPUT_THEIRS)
    assert _allowed_section(step) == "D-14"


def test_d14_allows_the_index_entries_the_reference_leaves_behind() -> None:
    step = _tagged_step("job.cancel", ("j1",), _CANCEL_OURS, _CANCEL_THEIRS)
    assert _allowed_section(step) == "D-14"


def test_d14_allows_a_reply_and_events_differing_in_the_tag_s_rendering_alone() -> None:
    def job(tag: Any) -> str:
        return json.dumps([{"jid": "j1", "tags": [tag], "priority": 0}])

    replies = (Reply(None, job(int(FIFTEEN_DIGITS))), Reply(None, job(FOURTEEN_G_NUMBER)))
    events = (
        [("ql:log", {"jid": "j1", "tags": [int(FIFTEEN_DIGITS)]})],
        [("ql:log", {"jid": "j1", "tags": [FOURTEEN_G_NUMBER]})],
    )
    step = _tagged_step("queue.pop", ("q1", "w1", "1"), {}, {}, replies, events)
    assert _allowed_section(step) == "D-14"


@pytest.mark.parametrize(
    ("ours_differ", "theirs_differ"),
    [
        # Another field of the job hash, beside the tag's rendering.
        (
            _REPUT_OURS,
            {**_REPUT_THEIRS, "ql:j:j1": ("hash", {**_REPUT_THEIRS_J1, "state": "running"})},
        ),
        # Another tag's index, or its count.
        ({**_REPUT_OURS, "ql:t:a": ("zset", [])}, _REPUT_THEIRS),
        (
            _REPUT_OURS,
            {**_REPUT_THEIRS, "ql:tags": ("zset", [(FIFTEEN_DIGITS, 2.0), ("a", 2.0)])},
        ),
        # Another key altogether.
        ({**_REPUT_OURS, "ql:q:q1-work": ("zset", [])}, _REPUT_THEIRS),
        # The re-put job indexed at another time than the reference's.
        ({DIGITS_INDEX: ("zset", [("j1", T0 + 6.0)])}, _REPUT_THEIRS),
        # A job indexed by ours that the reference indexes nowhere.
        ({DIGITS_INDEX: ("zset", [("j1", float(T0)), ("j2", T0 + 5.0)])}, {}),
        # The reference's leftover for a job that, with us, still carries the tag.
        ({DIGITS_INDEX: None, "ql:tags": ("zset", [("a", 1.0)])}, {}),
        # The tag's count kept with no job indexed, or gone with one indexed.
        (
            {**_CANCEL_OURS, "ql:tags": ("zset", [(FIFTEEN_DIGITS, 1.0), ("a", 1.0)])},
            _CANCEL_THEIRS,
        ),
        ({"ql:tags": ("zset", [("a", 1.0)])}, {"ql:tags": ("zset", [("a", 1.0)])}),
    ],
    ids=[
        "job-state",
        "other-tag-index",
        "other-tag-count",
        "other-key",
        "index-time",
        "index-extra-job",
        "leftover-still-tagged",
        "count-without-jobs",
        "jobs-without-count",
    ],
)
def test_d14_allows_no_other_difference(
    ours_differ: dict[str, tuple[str, Any] | None],
    theirs_differ: dict[str, tuple[str, Any] | None],
) -> None:
    step = _tagged_step("queue.put", _REPUT, ours_differ, theirs_differ)
    assert _allowed_section(step) is None


def test_d14_allows_no_other_reply_or_event_difference() -> None:
    def job(tag: Any, priority: int) -> str:
        return json.dumps([{"jid": "j1", "tags": [tag], "priority": priority}])

    other_reply = (Reply(None, job(int(FIFTEEN_DIGITS), 0)), Reply(None, job(FOURTEEN_G_NUMBER, 1)))
    error = (Reply(None, job(int(FIFTEEN_DIGITS), 0)), Reply("boom"))
    other_event = (
        [("ql:log", {"jid": "j1", "tags": [int(FIFTEEN_DIGITS)]})],
        [("ql:log", {"jid": "j2", "tags": [FOURTEEN_G_NUMBER]})],
    )
    pop = ("q1", "w1", "1")
    assert _allowed_section(_tagged_step("queue.pop", pop, {}, {}, other_reply)) is None
    assert _allowed_section(_tagged_step("queue.pop", pop, {}, {}, error)) is None
    alike = (Reply(None, "[]"), Reply(None, "[]"))
    assert _allowed_section(_tagged_step("queue.pop", pop, {}, {}, alike, other_event)) is None


# Calls that reach D-14 from an empty database: (tick, command, args). Each must
# differ, and only as D-14 declares.
_TAG = f"[{FIFTEEN_DIGITS}]"
D14_SEQUENCES: list[tuple[tuple[float, str, tuple[str, ...]], ...]] = [
    # DEVIATIONS.md D-14's reproducer, then the job read back, re-put and cancelled.
    (
        (1, "queue.put", ("w1", "q1", "j1", "K", "{}", "0", "tags", _TAG)),
        (1, "job.get", ("j1",)),
        (1, "tags.top", ("0", "25")),
        (1, "queue.put", ("w1", "q1", "j1", "K", "{}", "0")),
        (1, "queue.put", ("w1", "q1", "j2", "K", "{}", "0", "tags", _TAG)),
        (1, "queue.pop", ("q1", "w1", "2")),
        (1, "job.cancel", ("j1",)),
    ),
    # A recurring template's tags, and the children it spawns.
    (
        (1, "queue.recurAtInterval", ("q1", "r1", "K", "{}", "60", "0", "tags", _TAG)),
        (1, "recurringJob.get", ("r1",)),
        (1, "queue.pop", ("q1", "w1", "1")),
        (1, "job.complete", ("r1-1", "w1", "q1", "{}")),
    ),
]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("calls", D14_SEQUENCES, ids=["put", "recur"])
def test_d14_sequences_differ_only_as_d14_declares(
    server: Server,
    reference_server: Server,
    reference_script: str,
    form: str,
    calls: tuple[tuple[float, str, tuple[str, ...]], ...],
) -> None:
    with _comparing(server, reference_server, reference_script, form) as (machine, _):
        for tick, command, args in calls:
            machine.step(tick, (command, args))
        assert machine.allowed and set(machine.allowed) == {"D-14"}


# ---------------------------------------------------------------------------
# D-18: the reference runs with the floor, so nothing may differ


def test_d18_allows_nothing_of_the_reference_s_refusal_of_the_fraction() -> None:
    """The reference's LTRIM refusal is no longer an allowed difference: the machine
    keeps the reference from meeting the fraction (``_history_limit_floor``)."""
    config = {"ql:config": ("hash", {"max-job-history": "2.5"})}
    keys: dict[str, tuple[str, Any]] = {**config, "ql:j:j1": ("hash", {"jid": "j1"})}
    refused = Reply("ERR value is not an integer or out of range")
    call = Call("queue.pop", T0, ("q1", "w1", "1"))
    step = Step(call, Reply(None, "[]"), refused, keys, (keys, config), False)
    assert _allowed_section(step) is None


def test_d18_the_reference_runs_with_the_floor_but_for_the_option_s_own_calls() -> None:
    before: dict[str, tuple[str, Any]] = {"ql:config": ("hash", {"max-job-history": "3.5"})}
    assert _history_limit_floor(Call("queue.pop", T0, ("q1", "w1", "1")), before) == "3"
    assert _history_limit_floor(Call("config.set", T0, ("max-job-history", "4")), before) is None
    assert _history_limit_floor(Call("config.set", T0, ("heartbeat", "4")), before) == "3"
    whole: dict[str, tuple[str, Any]] = {"ql:config": ("hash", {"max-job-history": "3"})}
    assert _history_limit_floor(Call("queue.pop", T0, ("q1", "w1", "1")), whole) is None


# Under a fractional max-job-history, calls that append history: none may differ.
D18_SEQUENCES: list[tuple[tuple[float, str, tuple[str, ...]], ...]] = [
    # DEVIATIONS.md D-18's reproducer, on to a trim: 2.5 never trims, 3.5 keeps three.
    (
        (1, "config.set", ("max-job-history", "2.5")),
        (1, "queue.put", ("w1", "q1", "j1", "K", "{}", "0")),
        (1, "queue.pop", ("q1", "w1", "1")),
        (1, "job.retry", ("j1", "q1", "w1", "0")),
        (1, "queue.pop", ("q1", "w1", "1")),
        (1, "config.set", ("max-job-history", "3.5")),
        (1, "job.log", ("j1", "m")),
        (1, "job.complete", ("j1", "w1", "q1", "{}")),
        (1, "job.get", ("j1",)),
    ),
    (
        (1, "config.set", ("max-job-history", "1.5")),
        (1, "queue.put", ("w1", "q1", "j1", "K", "{}", "0")),
        (1, "queue.pop", ("q1", "w1", "1")),
        (1, "job.fail", ("j1", "w1", "g1", "m")),
        (1, "queue.unfail", ("q1", "g1", "1")),
        (1, "job.get", ("j1",)),
    ),
]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("calls", D18_SEQUENCES, ids=["2.5-3.5", "1.5"])
def test_d18_sequences_match_the_reference_run_with_the_floor(
    server: Server,
    reference_server: Server,
    reference_script: str,
    form: str,
    calls: tuple[tuple[float, str, tuple[str, ...]], ...],
) -> None:
    with _comparing(server, reference_server, reference_script, form) as (machine, ours):
        for tick, command, args in calls:
            machine.step(tick, (command, args))
        assert machine.allowed == []
        history = ours.raw.lrange("ql:j:j1-history", 0, -1)
        assert len(history) >= 2, "the sequence appended history under the fraction"
