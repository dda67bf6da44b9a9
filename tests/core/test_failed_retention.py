"""Failed-job retention (``failed-jobs-history``, ``failed-jobs-history-count``).

An addition to the protocol (``reqless-core/EXTENSIONS.md``): unset, failed
jobs are kept until put, unfailed or cancelled, as in the reference core; set,
each new failure deletes the failed jobs past the limits, at most a chunk of
them per failure.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.core.conftest import Core

CHUNK = 100


def fail(
    core: Core, jid: str, group: str = "g", *, now: float, queue: str = "q", **extra: Any
) -> None:
    options: list[Any] = []
    for name, value in extra.items():
        options += [name, value]
    core.call("queue.put", "w", queue, jid, "k", "{}", 0, *options, now=now)
    popped = json.loads(core.call("queue.pop", queue, "w", 1, now=now))
    assert [job["jid"] for job in popped] == [jid]
    assert core.call("job.fail", jid, "w", group, "boom", now=now) == jid


def failed(core: Core, group: str = "g") -> list[str]:
    return [str(jid) for jid in core.redis.lrange(f"ql:f:{group}", 0, -1)]


def job_keys(core: Core, jid: str) -> list[str]:
    found = core.redis.keys(f"ql:j:{jid}") + core.redis.keys(f"ql:j:{jid}-*")
    return sorted(str(key) for key in found)


def test_unset_failed_jobs_are_kept_forever(core: Core) -> None:
    fail(core, "old", now=0)
    fail(core, "new", now=10_000_000)
    assert failed(core) == ["new", "old"]
    assert core.redis.hget("ql:j:old", "state") == "failed"


def test_failed_jobs_older_than_the_age_are_deleted_from_every_group(core: Core) -> None:
    core.call("config.set", "failed-jobs-history", 100)
    fail(core, "j1", "g", now=10, tags='["t1"]')
    fail(core, "j3", "h", now=20)
    fail(core, "j2", "g", now=50)
    assert failed(core, "g") == ["j2", "j1"]
    fail(core, "j4", "g", now=130)  # cutoff 30: j1 (10) and j3 (20) go
    assert failed(core, "g") == ["j4", "j2"]
    assert not core.redis.exists("ql:f:h")
    assert core.redis.smembers("ql:failures") == {"g"}
    assert job_keys(core, "j1") == [] and job_keys(core, "j3") == []
    assert core.redis.hget("ql:j:j2", "state") == "failed"
    assert json.loads(core.call("failureGroups.counts", now=130)) == {"g": 2}
    # The tag index and the failed counter follow, as for a cancel.
    assert core.redis.keys("ql:t:*") == [] and core.redis.zcard("ql:tags") == 0
    assert core.redis.hget("ql:s:stats:0:q", "failed") == "2"
    assert core.redis.hget("ql:s:stats:0:q", "failures") == "4"


def test_failed_jobs_past_the_count_are_deleted_oldest_first_from_the_growing_group(
    core: Core,
) -> None:
    for n in range(3):
        fail(core, f"h{n}", "h", now=n)
    core.call("config.set", "failed-jobs-history-count", 2)
    for n in range(3):
        fail(core, f"g{n}", "g", now=10 + n)
    assert failed(core, "g") == ["g2", "g1"]
    assert job_keys(core, "g0") == []
    # Another group is trimmed when it next grows, not before.
    assert failed(core, "h") == ["h2", "h1", "h0"]
    fail(core, "h3", "h", now=20)
    assert failed(core, "h") == ["h3", "h2"]
    assert json.loads(core.call("failureGroups.counts", now=20)) == {"g": 2, "h": 2}
    assert core.redis.hget("ql:s:stats:0:q", "failed") == "4"


def test_a_large_backlog_is_deleted_in_capped_chunks(core: Core) -> None:
    for n in range(250):
        fail(core, f"j{n}", now=n)
    core.call("config.set", "failed-jobs-history-count", 0)
    fail(core, "x1", now=1000)
    assert len(failed(core)) == 251 - CHUNK
    assert failed(core)[-1] == f"j{CHUNK}"
    assert job_keys(core, "j99") == [] and core.redis.exists("ql:j:j100")
    fail(core, "x2", now=1001)
    assert len(failed(core)) == 252 - 2 * CHUNK
    fail(core, "x3", now=1002)
    # Count 0 keeps none, the job that just failed included (as jobs-history-count 0).
    assert failed(core) == []
    assert core.redis.smembers("ql:failures") == set()
    assert core.redis.keys("ql:j:*") == []
    assert core.redis.hget("ql:s:stats:0:q", "failed") == "0"


def test_the_age_sweep_is_capped_across_groups_too(core: Core) -> None:
    for n in range(60):
        fail(core, f"a{n}", "a", now=n)
        fail(core, f"b{n}", "b", now=n)
    core.call("config.set", "failed-jobs-history", 10)
    fail(core, "c", "c", now=1000)
    assert len(failed(core, "a")) + len(failed(core, "b")) == 120 - CHUNK
    fail(core, "d", "c", now=1001)
    assert failed(core, "a") == [] and failed(core, "b") == []
    assert failed(core, "c") == ["d", "c"]


def test_a_failed_job_others_depend_on_is_kept(core: Core) -> None:
    core.call("config.set", "failed-jobs-history-count", 1)
    fail(core, "old", now=0)
    fail(core, "dep", now=1)
    core.call("queue.put", "w", "q2", "child", "k", "{}", 0, "depends", '["dep"]', now=2)
    fail(core, "new", now=3)
    # dep waits on nothing but is waited on: it stays, and the group holds it and the newest.
    assert failed(core) == ["new", "dep"]
    assert core.redis.smembers("ql:j:dep-dependents") == {"child"}
    assert core.redis.hget("ql:j:child", "state") == "depends"


def test_a_deleted_failed_job_leaves_its_dependencies_dependents(core: Core) -> None:
    core.call("config.set", "failed-jobs-history-count", 0)
    core.call("queue.put", "w", "q", "parent", "k", "{}", 0, now=0)
    # A job running while it still depends on another: the reference core can
    # leave one so (a re-put after a retry into another queue, DEVIATIONS D-30),
    # and this core may find its keys.
    core.call("queue.put", "w", "q1", "j1", "k", "{}", 0, now=0)
    core.call("queue.pop", "q1", "w", 1, now=1)
    core.redis.sadd("ql:j:j1-dependencies", "parent")
    core.redis.sadd("ql:j:parent-dependents", "j1")
    core.call("job.fail", "j1", "w", "g", "boom", now=5)
    assert job_keys(core, "j1") == []
    assert not core.redis.exists("ql:j:parent-dependents")


@pytest.mark.parametrize("path", ["retry", "lease"])
def test_automatic_failures_apply_the_retention_too(core: Core, path: str) -> None:
    core.call("config.set", "failed-jobs-history-count", 1)
    core.call("config.set", "grace-period", 0)
    for n, jid in enumerate(["a", "b"]):
        core.call("queue.put", "w", "q", jid, "k", "{}", 0, "retries", 0, now=n)
        core.call("queue.pop", "q", "w", 1, now=n)
        if path == "retry":
            assert core.call("job.retry", jid, "q", "w", now=n) == -1
        else:
            assert core.call("queue.pop", "q", "w2", 1, now=n + 100) == "[]"
    assert failed(core, "failed-retries-q") == ["b"]
    assert job_keys(core, "a") == []


def test_nothing_but_the_expired_failed_jobs_is_touched(core: Core) -> None:
    fail(core, "gone", now=0)
    fail(core, "other", "h", now=0)
    core.call("queue.put", "w", "q", "done", "k", "{}", 0, "tags", '["t"]', now=1)
    core.call("queue.pop", "q", "w", 1, now=1)
    core.call("job.complete", "done", "w", "q", "{}", now=1)
    core.call("queue.put", "w", "q", "waiting", "k", "{}", 0, "tags", '["t"]', now=1)
    core.call("config.set", "failed-jobs-history-count", 0)
    before = core.snapshot()
    fail(core, "new", "g", now=2, queue="q9")
    after = core.snapshot()
    changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    assert changed == {
        # The expired job and its counter; the group, emptied, leaves ql:failures.
        "ql:j:gone",
        "ql:j:gone-history",
        "ql:f:g",
        "ql:failures",
        "ql:s:stats:0:q",
        # What putting, popping and failing the new job in q9 leaves behind.
        "ql:queues",
        "ql:workers",
        "ql:s:wait:0:q9",
        "ql:s:stats:0:q9",
    }, changed
    assert after["ql:failures"] == ("set", ["h"])
    assert after["ql:s:stats:0:q9"] == ("hash", {"failures": "1", "failed": "0"})
