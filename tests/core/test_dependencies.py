"""Dependencies between jobs (spec sections 3.6, 3.16, 4.8 and the depends option of put)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.core.conftest import Core
from tests.core.lifecycle import put


def run(core: Core, jid: str, queue: str = "q", *, now: float = 0, **options: Any) -> None:
    """Put a job and pop it so that worker ``w`` holds it."""
    put(core, jid, queue, now=now, **options)
    assert [job["jid"] for job in core.json("queue.pop", queue, "w", 1, now=now)] == [jid]


def complete(core: Core, jid: str, queue: str = "q", *, now: float = 0) -> None:
    assert core.call("job.complete", jid, "w", queue, "{}", now=now) == "complete"


def finished(core: Core, jid: str, queue: str = "q", *, now: float = 0) -> None:
    run(core, jid, queue, now=now)
    complete(core, jid, queue, now=now)


def work_score(priority: float, t: float) -> float:
    return priority - t / 10_000_000_000


def state(core: Core, jid: str) -> str:
    return str(core.redis.hget(f"ql:j:{jid}", "state"))


def dependencies(core: Core, jid: str) -> set[str]:
    return {str(member) for member in core.redis.smembers(f"ql:j:{jid}-dependencies")}


def dependents(core: Core, jid: str) -> set[str]:
    return {str(member) for member in core.redis.smembers(f"ql:j:{jid}-dependents")}


def make_state(core: Core, jid: str, wanted: str) -> None:
    if wanted == "waiting":
        put(core, jid)
    elif wanted == "scheduled":
        put(core, jid, delay=10)
    elif wanted == "running":
        run(core, jid)
    elif wanted == "failed":
        run(core, jid)
        core.call("job.fail", jid, "w", "g", "boom")
    else:
        finished(core, jid)
    assert state(core, jid) == wanted


# --- creating edges on put -------------------------------------------------------------


def test_a_job_with_an_unmet_dependency_waits_in_depends(core: Core) -> None:
    put(core, "dep")
    put(core, "child", now=5, depends=["dep"])
    assert state(core, "child") == "depends"
    assert core.redis.zscore("ql:q:q-depends", "child") == 5
    assert core.redis.zscore("ql:q:q-work", "child") is None
    assert dependencies(core, "child") == {"dep"}
    assert dependents(core, "dep") == {"child"}
    assert core.json("job.get", "child")["dependencies"] == ["dep"]
    assert core.json("job.get", "dep")["dependents"] == ["child"]


def test_jobs_without_edges_report_empty_objects(core: Core) -> None:
    put(core, "a")
    job = core.json("job.get", "a")
    assert (job["dependencies"], job["dependents"]) == ({}, {})


def test_dependencies_on_missing_or_complete_jobs_count_as_met(core: Core) -> None:
    finished(core, "done")
    put(core, "child", now=5, depends=["done", "ghost"])
    assert state(core, "child") == "waiting"
    assert core.redis.zscore("ql:q:q-work", "child") == pytest.approx(work_score(0, 5))
    assert (
        core.redis.exists(
            "ql:j:child-dependencies", "ql:j:done-dependents", "ql:j:ghost-dependents"
        )
        == 0
    )


@pytest.mark.parametrize("dep_state", ["waiting", "scheduled", "running", "failed"])
def test_a_dependency_in_any_unfinished_state_blocks(core: Core, dep_state: str) -> None:
    make_state(core, "dep", dep_state)
    put(core, "child", depends=["dep"])
    assert state(core, "child") == "depends"
    assert dependents(core, "dep") == {"child"}


def test_a_delay_with_unmet_dependencies_is_remembered_not_scheduled(core: Core) -> None:
    put(core, "dep")
    put(core, "child", now=5, delay=30, depends=["dep"])
    assert state(core, "child") == "depends"
    assert float(str(core.redis.hget("ql:j:child", "scheduled"))) == 35
    assert core.redis.exists("ql:q:q-scheduled") == 0
    assert core.redis.zscore("ql:q:q-depends", "child") == 5


# --- release on complete ----------------------------------------------------------------


def test_completing_the_last_dependency_releases_the_dependent_to_work(core: Core) -> None:
    run(core, "dep")
    put(core, "child", depends=["dep"], priority=2)
    complete(core, "dep", now=10)
    assert state(core, "child") == "waiting"
    assert core.redis.zscore("ql:q:q-work", "child") == pytest.approx(work_score(2, 10))
    assert core.redis.exists("ql:q:q-depends") == 0
    assert core.redis.exists("ql:j:child-dependencies", "ql:j:dep-dependents") == 0


def test_a_dependent_waits_for_every_dependency(core: Core) -> None:
    run(core, "a")
    put(core, "b")
    put(core, "child", depends=["a", "b"])
    complete(core, "a", now=1)
    assert state(core, "child") == "depends"
    assert dependencies(core, "child") == {"b"}
    run(core, "b", now=2)
    complete(core, "b", now=3)
    assert state(core, "child") == "waiting"


def test_release_schedules_a_dependent_that_was_given_a_delay(core: Core) -> None:
    run(core, "dep")
    put(core, "child", now=5, delay=30, depends=["dep"])
    complete(core, "dep", now=10)
    assert state(core, "child") == "scheduled"
    assert core.redis.zscore("ql:q:q-scheduled", "child") == 35
    assert core.redis.zscore("ql:q:q-work", "child") is None
    assert core.redis.hget("ql:j:child", "scheduled") is None


def test_dependencies_may_span_queues(core: Core) -> None:
    run(core, "dep", "first")
    put(core, "child", "second", depends=["dep"])
    assert core.redis.zscore("ql:q:second-depends", "child") == 0
    complete(core, "dep", "first", now=10)
    assert core.redis.zscore("ql:q:second-work", "child") == pytest.approx(work_score(0, 10))
    assert state(core, "child") == "waiting"


def test_released_dependents_tie_and_come_out_in_reverse_jid_order(core: Core) -> None:
    run(core, "dep")
    put(core, "b", depends=["dep"], now=1)
    put(core, "c", depends=["dep"], now=2)
    complete(core, "dep", now=10)
    assert core.redis.zscore("ql:q:q-work", "b") == core.redis.zscore("ql:q:q-work", "c")
    assert [job["jid"] for job in core.json("queue.peek", "q", 0, 10, now=10)] == ["c", "b"]


def test_release_publishes_nothing_beyond_the_completion(core: Core) -> None:
    run(core, "dep")
    put(core, "child", depends=["dep"])
    with core.events() as ev:
        complete(core, "dep")
    assert ev.parsed() == [("ql:log", {"jid": "dep", "event": "completed", "queue": "q"})]


def test_dependents_are_released_even_when_the_dependency_expires_at_once(core: Core) -> None:
    core.call("config.set", "jobs-history-count", 0)
    run(core, "dep")
    put(core, "child", depends=["dep"])
    complete(core, "dep", now=3)
    assert core.call("job.get", "dep") is None
    assert state(core, "child") == "waiting"
    assert core.redis.exists("ql:j:dep-dependents", "ql:j:child-dependencies") == 0


def test_a_failed_dependency_keeps_its_dependents_blocked(core: Core) -> None:
    run(core, "dep")
    put(core, "child", depends=["dep"])
    core.call("job.fail", "dep", "w", "g", "boom")
    assert state(core, "child") == "depends"
    assert dependents(core, "dep") == {"child"}


def test_a_retried_dependency_keeps_its_dependents_blocked(core: Core) -> None:
    run(core, "dep")
    put(core, "child", depends=["dep"])
    core.call("job.retry", "dep", "q", "w")
    assert state(core, "child") == "depends"
    assert dependents(core, "dep") == {"child"}


# --- re-putting a job with dependencies ---------------------------------------------------


def test_reput_with_new_depends_replaces_the_edges(core: Core) -> None:
    put(core, "a")
    put(core, "b")
    put(core, "child", depends=["a"])
    put(core, "child", depends=["b"], now=1)
    assert dependencies(core, "child") == {"b"}
    assert core.redis.exists("ql:j:a-dependents") == 0
    assert dependents(core, "b") == {"child"}
    assert state(core, "child") == "depends"


def test_reput_with_a_superset_keeps_the_old_edges_and_adds_new_ones(core: Core) -> None:
    put(core, "a")
    put(core, "b")
    put(core, "child", depends=["a"])
    put(core, "child", depends=["a", "b"], now=1)
    assert dependencies(core, "child") == {"a", "b"}
    assert dependents(core, "a") == dependents(core, "b") == {"child"}


def test_reput_depending_only_on_met_jobs_drops_the_old_edges_and_runs(core: Core) -> None:
    put(core, "a")
    put(core, "child", depends=["a"])
    put(core, "child", depends=["ghost"], now=1)
    assert state(core, "child") == "waiting"
    assert core.redis.exists("ql:j:a-dependents", "ql:j:child-dependencies") == 0
    assert core.redis.zscore("ql:q:q-work", "child") == pytest.approx(work_score(0, 1))


@pytest.mark.parametrize("options", [{}, {"depends": []}])
def test_reput_without_depends_keeps_the_edges(core: Core, options: dict[str, Any]) -> None:
    put(core, "a")
    put(core, "child", depends=["a"])
    put(core, "child", now=1, **options)
    assert dependencies(core, "child") == {"a"}
    assert dependents(core, "a") == {"child"}
    assert state(core, "child") == "depends"
    assert core.redis.zscore("ql:q:q-depends", "child") == 1
    assert core.redis.zscore("ql:q:q-work", "child") is None


# --- job.addDependency ---------------------------------------------------------------------


def test_add_dependency_adds_edges_to_unfinished_jobs_only(core: Core) -> None:
    put(core, "a")
    put(core, "b", "other")
    finished(core, "done")
    put(core, "child", depends=["a"])
    assert core.call("job.addDependency", "child", "b", "done", "ghost") == 1
    assert dependencies(core, "child") == {"a", "b"}
    assert dependents(core, "b") == {"child"}
    assert core.redis.exists("ql:j:done-dependents", "ql:j:ghost-dependents") == 0
    assert state(core, "child") == "depends"


def test_add_dependency_with_no_jids_changes_nothing(core: Core) -> None:
    put(core, "a")
    put(core, "child", depends=["a"])
    before = core.snapshot()
    assert core.call("job.addDependency", "child") == 1
    assert core.snapshot() == before


@pytest.mark.parametrize("wanted", ["waiting", "scheduled", "running", "failed", "complete"])
def test_add_dependency_needs_a_job_in_the_depends_state(core: Core, wanted: str) -> None:
    put(core, "other", "elsewhere")
    make_state(core, "a", wanted)
    core.raises(
        rf"Depends\(\): Job a not in the depends state: {wanted}", "job.addDependency", "a", "other"
    )


def test_add_dependency_to_a_missing_job_reports_state_false(core: Core) -> None:
    put(core, "other")
    core.raises(
        r"Depends\(\): Job ghost not in the depends state: false",
        "job.addDependency",
        "ghost",
        "other",
    )


def test_add_dependency_without_a_jid_is_refused(core: Core) -> None:
    core.raises(r"Job\(\): no jid provided", "job.addDependency")


# --- job.removeDependency ------------------------------------------------------------------


def test_remove_dependency_releases_the_job_once_none_are_left(core: Core) -> None:
    put(core, "a")
    put(core, "b")
    put(core, "child", depends=["a", "b"], priority=3)
    assert core.call("job.removeDependency", "child", "a", now=10) == 1
    assert state(core, "child") == "depends"
    assert dependencies(core, "child") == {"b"}
    assert core.redis.exists("ql:j:a-dependents") == 0
    assert core.call("job.removeDependency", "child", "b", now=20) == 1
    assert state(core, "child") == "waiting"
    assert core.redis.zscore("ql:q:q-work", "child") == pytest.approx(work_score(3, 20))
    assert core.redis.exists("ql:q:q-depends", "ql:j:b-dependents") == 0


def test_remove_dependency_all_drops_every_edge(core: Core) -> None:
    put(core, "a")
    put(core, "b")
    put(core, "child", depends=["a", "b"])
    assert core.call("job.removeDependency", "child", "all", now=10) == 1
    assert state(core, "child") == "waiting"
    assert core.redis.zscore("ql:q:q-work", "child") == pytest.approx(work_score(0, 10))
    assert (
        core.redis.exists(
            "ql:j:child-dependencies", "ql:j:a-dependents", "ql:j:b-dependents", "ql:q:q-depends"
        )
        == 0
    )


def test_remove_dependency_of_an_unrelated_jid_keeps_the_job_waiting(core: Core) -> None:
    put(core, "a")
    put(core, "child", depends=["a"])
    core.call("job.removeDependency", "child", "ghost")
    assert state(core, "child") == "depends"
    assert dependencies(core, "child") == {"a"}


def test_remove_dependency_ignores_a_remembered_delay(core: Core) -> None:
    put(core, "a")
    put(core, "child", delay=30, depends=["a"])
    core.call("job.removeDependency", "child", "a", now=10)
    assert state(core, "child") == "waiting"
    assert core.redis.zscore("ql:q:q-work", "child") == pytest.approx(work_score(0, 10))
    assert core.redis.exists("ql:q:q-scheduled") == 0


def test_remove_dependency_does_not_check_throttles(core: Core) -> None:
    core.call("queue.throttle.set", "q", 1)
    run(core, "holder")
    put(core, "a", "other")
    put(core, "child", depends=["a"])
    core.call("job.removeDependency", "child", "all", now=5)
    assert state(core, "child") == "waiting"
    assert core.redis.exists("ql:q:q-throttled") == 0


@pytest.mark.parametrize("wanted", ["waiting", "scheduled", "running", "failed", "complete"])
def test_remove_dependency_needs_a_job_in_the_depends_state(core: Core, wanted: str) -> None:
    make_state(core, "a", wanted)
    core.raises(
        rf"Depends\(\): Job a not in the depends state: {wanted}",
        "job.removeDependency",
        "a",
        "all",
    )


def test_remove_dependency_of_a_missing_job_reports_state_false(core: Core) -> None:
    core.raises(
        r"Depends\(\): Job ghost not in the depends state: false",
        "job.removeDependency",
        "ghost",
        "all",
    )


def test_dependency_commands_publish_nothing(core: Core) -> None:
    put(core, "a")
    put(core, "b")
    put(core, "child", depends=["a"])
    with core.events() as ev:
        core.call("job.addDependency", "child", "b")
        core.call("job.removeDependency", "child", "a")
        core.call("job.removeDependency", "child", "all")
    assert ev.messages == []
    assert state(core, "child") == "waiting"
