"""Invariants of our core's keys, checked after every command of random sequences.

hypothesis drives random command sequences (``fuzz.py``: valid and invalid
arguments, a clock that jumps past leases, grace periods and days, delays,
recurrences, throttles, dependencies, empty names) into our core, on both
servers and in both forms. After every command it reads the keys and checks:

* a rejected command (error reply) changed no key (except where the spec has
  the command work item by item: ``PARTIAL_BY_SPEC``);
* every job is in exactly one state set: ``-work``, ``-scheduled``,
  ``-depends``, ``-locks`` or ``-throttled`` of its own queue, one failure
  list, or ``ql:completed``, and that set fits its ``state``; every recurring
  template is in exactly one ``-recur`` set, its queue's;
* running ⇔ locked: a job is in a ``-locks`` set exactly when it is running,
  and a running job has a worker (``""`` is a worker name);
* ``queue.counts`` and ``workers.counts`` equal the sizes of the sets;
* nothing references a job that no longer exists: state sets, failure lists,
  tag indexes, dependency edges (both ends agree), throttle waiters;
* every throttle holder is a running job that lists that throttle
  (reqless-core/DEVIATIONS.md D-31).

A job's own queue is its ``queue`` field, or the ``in-queue`` field while a
retry into another queue keeps it there (reqless-core/EXTENSIONS.md E.5).

Exempt, as the spec keeps them: tracked jids (4.16: tracking survives
deletion); worker job sets (4.14 and pitfall 23: ``job.timeout`` leaves the jid
in the old worker's set).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from tests.conftest import Server
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

Keys = dict[str, tuple[str, Any]]

QUEUE_SETS = ("work", "scheduled", "depends", "locks", "throttled")

# Where a job in each state may be (spec 2.4). Two of the spec's quirks make the
# state field lag (pitfall 14): completeAndRequeue with a delay leaves `waiting`
# in `-scheduled`; a throttle release leaves `throttled` in `-work`.
PLACES = {
    "waiting": {"work", "scheduled"},
    "scheduled": {"scheduled"},
    "depends": {"depends"},
    "throttled": {"throttled", "work"},
    "running": {"locks"},
    "stalled": {"work"},
    "failed": {"failed"},
    "complete": {"completed"},
}


# Commands the spec has work item by item, an error keeping the items before it:
# job.timeout (3.21: "earlier jids stay timed out") and recurringJob.update (3.52:
# "earlier pairs are already applied").
PARTIAL_BY_SPEC = frozenset({"job.timeout", "recurringJob.update"})


def _queue_set(key: str) -> tuple[str, str] | None:
    """``ql:q:<queue>-<set>`` as (queue, set)."""
    if not key.startswith("ql:q:") or "-" not in key:
        return None
    queue, _, kind = key[len("ql:q:") :].rpartition("-")
    return queue, kind


def _tag_text(tag: Any) -> str:
    # Spec 4.15: an integral number tag is indexed under its plain digits.
    if isinstance(tag, float) and tag.is_integer():
        return str(int(tag))
    return str(tag) if not isinstance(tag, str) else tag


Places = dict[str, list[tuple[str, str]]]
Jobs = dict[str, dict[str, Any]]


def _places(keys: Keys) -> tuple[Places, dict[str, list[str]]]:
    """Where each jid is: (set, queue or group) per state set, and each template's
    ``-recur`` queues."""
    places: Places = defaultdict(list)
    recur_places: dict[str, list[str]] = defaultdict(list)
    for key, (kind, value) in keys.items():
        where = _queue_set(key)
        if kind == "zset" and where is not None:
            queue, name = where
            for member, _score in value:
                if name in QUEUE_SETS:
                    places[member].append((name, queue))
                elif name == "recur":
                    recur_places[member].append(queue)
        elif kind == "list" and key.startswith("ql:f:"):
            for member in value:
                places[member].append(("failed", key[len("ql:f:") :]))
        elif kind == "zset" and key == "ql:completed":
            for member, _score in value:
                places[member].append(("completed", ""))
    return places, recur_places


def _own_queue(job: dict[str, Any]) -> Any:
    """The queue whose sets hold the job: ``in-queue`` after a retry elsewhere."""
    return job.get("in-queue", job.get("queue"))


def _job_violations(jid: str, job: dict[str, Any], here: list[tuple[str, str]]) -> list[str]:
    state = job.get("state")
    if len(here) != 1:
        return [f"job {jid!r} ({state}) is in {len(here)} state sets: {here}"]
    found = []
    name, place = here[0]
    if name not in PLACES.get(str(state), set()):
        found.append(f"job {jid!r} in state {state!r} is in {name} {place!r}")
    if name in QUEUE_SETS and place != _own_queue(job):
        found.append(f"job {jid!r} of queue {_own_queue(job)!r} is in {name} of {place!r}")
    if name == "failed":
        failure = job.get("failure")
        group = failure.get("group") if isinstance(failure, dict) else None
        if group != place:
            found.append(f"failed job {jid!r} (group {group!r}) is in ql:f:{place}")
    if (state == "running") != (name == "locks"):
        found.append(f"job {jid!r} in state {state!r} is in {name}")
    if state == "running" and "worker" not in job:
        found.append(f"running job {jid!r} has no worker field")
    return found


def _members(keys: Keys, key: str) -> list[str]:
    kind, value = keys.get(key, ("none", []))
    if kind == "zset":
        return [member for member, _ in value]
    return list(value) if kind in ("set", "list") else []


def _tag_index(key: str, value: Any, keys: Keys, jobs: Jobs) -> list[str]:
    tag = key[len("ql:t:") :]
    found = []
    for member, _score in value:
        job = jobs.get(member)
        if job is None:
            found.append(f"{key} holds {member!r}, which has no job")
        elif tag not in [_tag_text(t) for t in job.get("tags") or []]:
            found.append(f"{key} holds {member!r}, whose tags are {job.get('tags')!r}")
    return found


def _dependencies(key: str, value: Any, keys: Keys, jobs: Jobs) -> list[str]:
    jid = key[len("ql:j:") : -len("-dependencies")]
    found = []
    if value and jid not in jobs:
        found.append(f"{key} belongs to no job")
    for dep in value:
        if dep not in jobs or jid not in _members(keys, f"ql:j:{dep}-dependents"):
            found.append(f"{jid!r} depends on {dep!r}, which has no job or no edge back")
    if value and jid in jobs and jobs[jid].get("state") != "depends":
        found.append(f"{jid!r} has dependencies {value} in state {jobs[jid].get('state')!r}")
    return found


def _dependents(key: str, value: Any, keys: Keys, jobs: Jobs) -> list[str]:
    jid = key[len("ql:j:") : -len("-dependents")]
    return [
        f"{dependent!r} is a dependent of {jid!r} without its edge"
        for dependent in value
        if dependent not in jobs or jid not in _members(keys, f"ql:j:{dependent}-dependencies")
    ]


def _holders(key: str, value: Any, keys: Keys, jobs: Jobs) -> list[str]:
    # A slot is held only by a running job that lists the throttle (DEVIATIONS D-31).
    tid = key[len("ql:th:") : -len("-locks")]
    found = []
    for member, _score in value:
        job = jobs.get(member)
        if job is None:
            found.append(f"{key} holds {member!r}, which has no job")
        elif job.get("state") != "running" or tid not in (job.get("throttles") or []):
            found.append(
                f"{key} holds {member!r} ({job.get('state')}, throttles {job.get('throttles')!r})"
            )
    return found


def _waiters(key: str, value: Any, keys: Keys, jobs: Jobs) -> list[str]:
    found = []
    for member, _score in value:
        job = jobs.get(member)
        if job is None:
            found.append(f"{key} holds {member!r}, which has no job")
        elif member not in _members(keys, f"ql:q:{_own_queue(job)}-throttled"):
            found.append(f"{key} holds {member!r}, which is not throttled in its queue")
    return found


# Which keys each check reads: (kind, prefix, suffix, check).
KEY_CHECKS = (
    ("zset", "ql:t:", "", _tag_index),
    ("set", "ql:j:", "-dependencies", _dependencies),
    ("set", "ql:j:", "-dependents", _dependents),
    ("zset", "ql:th:", "-locks", _holders),
    ("zset", "ql:th:", "-pending", _waiters),
)


def violations(keys: Keys, now: float) -> list[str]:
    """Every broken invariant in one snapshot of the keys."""
    found: list[str] = []
    jobs: Jobs = {
        key[len("ql:j:") :]: value
        for key, (kind, value) in keys.items()
        if kind == "hash" and key.startswith("ql:j:") and "jid" in value
    }
    templates = {
        key[len("ql:r:") :]: value
        for key, (kind, value) in keys.items()
        if kind == "hash" and key.startswith("ql:r:")
    }
    places, recur_places = _places(keys)
    for jid, job in jobs.items():
        found += _job_violations(jid, job, places.get(jid, []))
        found += [
            f"job {jid!r} has tag {tag!r} but is not in its index"
            for tag in job.get("tags") or []
            if jid not in _members(keys, f"ql:t:{_tag_text(tag)}")
        ]
    found += [
        f"{here} hold {jid!r}, which has no job" for jid, here in places.items() if jid not in jobs
    ]
    for jid, template in templates.items():
        queues = recur_places.get(jid, [])
        if queues != [template.get("queue")]:
            found.append(f"recurring {jid!r} of queue {template.get('queue')!r} is in {queues}")
    found += [
        f"-recur of {queues} holds {jid!r}, which has no template"
        for jid, queues in recur_places.items()
        if jid not in templates
    ]
    for key, (kind, value) in keys.items():
        for wanted, prefix, suffix, check in KEY_CHECKS:
            if kind == wanted and key.startswith(prefix) and key.endswith(suffix):
                found += check(key, value, keys, jobs)
                break
    return found


def count_violations(caller: Caller, now: float, keys_before: Keys) -> tuple[list[str], Keys]:
    """``queue.counts`` of every known queue and ``workers.counts`` against the sets
    they count (read after the counts, which promote due scheduled jobs)."""
    queues = {name for name, _ in keys_before.get("ql:queues", ("zset", []))[1]} | {"q1", "q2", ""}
    replies = {}
    for queue in sorted(queues):
        reply = caller.call("queue.counts", now, (queue,))
        assert reply.error is None, f"queue.counts {queue!r}: {reply.error}"
        replies[queue] = json.loads(reply.value)
    workers_reply = caller.call("workers.counts", now, ())
    assert workers_reply.error is None, workers_reply.error
    keys = snapshot(caller.redis)
    found = []

    def members(key: str) -> list[tuple[str, float]]:
        return list(keys.get(key, ("zset", []))[1])

    paused = keys.get("ql:paused_queues", ("set", []))[1]
    for queue, counts in replies.items():
        locks = members(f"ql:q:{queue}-locks")
        stalled = sum(1 for _, expiry in locks if 0 <= expiry <= now)
        expected = {
            "name": queue,
            "waiting": len(members(f"ql:q:{queue}-work")),
            "stalled": stalled,
            "running": len(locks) - stalled,
            "throttled": len(members(f"ql:q:{queue}-throttled")),
            "scheduled": len(members(f"ql:q:{queue}-scheduled")),
            "depends": len(members(f"ql:q:{queue}-depends")),
            "recurring": len(members(f"ql:q:{queue}-recur")),
            "paused": queue in paused,
        }
        if counts != expected:
            found.append(f"queue.counts {queue!r}: {counts}, the sets say {expected}")
    listed = json.loads(workers_reply.value)
    for entry in listed if isinstance(listed, list) else []:
        held = members(f"ql:w:{entry['name']}:jobs")
        expected = {
            "name": entry["name"],
            "jobs": sum(1 for _, expiry in held if now <= expiry <= now + 8640000),
            "stalled": sum(1 for _, expiry in held if 0 <= expiry <= now),
        }
        if entry != expected:
            found.append(f"workers.counts: {entry}, the set says {expected}")
    names = [name for name, _ in members("ql:workers")]
    if sorted(entry["name"] for entry in (listed if isinstance(listed, list) else [])) != sorted(
        names
    ):
        found.append(f"workers.counts lists {listed}, ql:workers holds {names}")
    return found, keys


def _machine(caller: Caller, label: str) -> type[RuleBasedStateMachine]:
    class Invariants(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            caller.redis.flushdb()
            self.now: float = T0
            # The calls that changed a key: the others are left out of the reproducer.
            self.calls: list[Call] = []

        def fail(self, what: str) -> None:
            raise AssertionError(
                f"ours ({label}) broke an invariant after this sequence (from an empty"
                f" database):\n{transcript(self.calls)}\n{what}"
            )

        @rule(tick=TICKS, command=commands())
        def step(self, tick: float, command: tuple[str, tuple[str, ...]]) -> None:
            self.now += tick
            before = snapshot(caller.redis)
            call = Call(command[0], self.now, command[1])
            reply = caller.call(call.command, call.now, call.args)
            after = snapshot(caller.redis)
            if after != before:
                self.calls.append(call)
            if reply.error is not None:
                if after != before and call.command not in PARTIAL_BY_SPEC:
                    changed = sorted(
                        k for k in set(before) | set(after) if before.get(k) != after.get(k)
                    )
                    self.fail(f"the command was rejected ({reply.error}) but changed {changed}")
                return
            found, keys = count_violations(caller, self.now, before)
            found += violations(keys, self.now)
            if found:
                self.fail("\n".join(found))

    return Invariants


@pytest.mark.parametrize("form", FORMS)
def test_random_sequences_keep_the_core_invariants(server: Server, form: str) -> None:
    caller = Caller(server.client(decode_responses=True), form, our_source(form))
    run_state_machine_as_test(
        _machine(caller, f"{form} form, {server.name}"), settings=fuzz_settings()
    )
