"""Putting jobs: every option reaches the core, and bad input writes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

import reqless
from tests.client.api.jobs_for_tests import Plain
from tests.client.conftest import Clock


def _job(client: reqless.Client, jid: str) -> reqless.Job:
    job = client.jobs[jid]
    assert isinstance(job, reqless.Job)
    return job


def test_put_with_a_class_stores_its_import_path(
    client: reqless.Client, queue: reqless.Queue
) -> None:
    jid = queue.put(Plain, {"n": 1})
    job = _job(client, jid)
    assert job.klass_name == "tests.client.api.jobs_for_tests.Plain"
    assert job.klass is Plain
    assert json.loads(job.data) == {"n": 1}
    assert job.payload == {"n": 1}
    assert job.state == "waiting"
    assert job.queue_name == "q"


def test_put_with_a_dotted_path_and_json_text_stores_them_verbatim(
    client: reqless.Client, queue: reqless.Queue
) -> None:
    jid = queue.put("somewhere.else.Job", '{"a": [1, 2]}')
    job = _job(client, jid)
    assert job.klass_name == "somewhere.else.Job"
    assert job.data == '{"a": [1, 2]}'


def test_priority_zero_and_retries_zero_are_honoured(
    client: reqless.Client, queue: reqless.Queue
) -> None:
    queue.put(Plain, {}, jid="j", priority=7, retries=3)
    # Re-putting with explicit zeros must not keep the old values (nor fall back to defaults).
    queue.put(Plain, {}, jid="j", priority=0, retries=0)
    job = _job(client, "j")
    assert (job.priority, job.retries, job.remaining) == (0, 0, 0)


def test_options_left_out_keep_an_existing_jobs_values(
    client: reqless.Client, queue: reqless.Queue
) -> None:
    queue.put(Plain, {}, jid="j", priority=7, retries=3, tags=["t"])
    queue.put(Plain, {}, jid="j")
    job = _job(client, "j")
    assert (job.priority, job.retries, job.tags) == (7, 3, ["t"])


def test_put_options_reach_the_job(
    client: reqless.Client, queue: reqless.Queue, clock: Clock
) -> None:
    dep = queue.put(Plain, {})
    jid = queue.put(
        Plain,
        {},
        jid="mine",
        priority=-2,
        tags=["a", "b"],
        retries=1,
        depends=[dep],
        throttles=["t1"],
    )
    assert jid == "mine"
    job = _job(client, jid)
    assert job.state == "depends"
    assert job.dependencies == [dep]
    assert job.tags == ["a", "b"]
    assert job.throttles == ["t1", "ql:q:q"]
    assert _job(client, dep).dependents == ["mine"]


def test_delay_schedules_the_job(
    client: reqless.Client, queue: reqless.Queue, clock: Clock
) -> None:
    jid = queue.put(Plain, {}, delay=30)
    assert _job(client, jid).state == "scheduled"
    assert queue.pop() is None
    clock.advance(31)
    popped = queue.pop()
    assert popped is not None and popped.jid == jid


def test_generated_jids_are_unique(queue: reqless.Queue) -> None:
    assert len({queue.put(Plain, {}) for _ in range(50)}) == 50


def _local_class() -> type:
    class Local:
        pass

    return Local


class _NotJson:
    pass


BAD_PUTS: list[tuple[str, dict[str, Any]]] = [
    ("data", {"data": {"x": _NotJson()}}),
    ("data", {"data": "{not json"}),
    ("data", {"data": {"x": float("nan")}}),
    ("delay", {"delay": -1}),
    ("delay", {"delay": "soon"}),
    ("priority", {"priority": 1.5}),
    ("priority", {"priority": "high"}),
    ("priority", {"priority": True}),
    ("retries", {"retries": -1}),
    ("tags", {"tags": "single-string"}),
    ("tags", {"tags": ["ok", 3]}),
    ("depends", {"depends": [""]}),
    ("klass", {"klass": _local_class()}),
    ("klass", {"klass": "no_dots"}),
    ("klass", {"klass": "has spaces.Job"}),
    ("klass", {"klass": 42}),
    ("jid", {"jid": ""}),
]


@pytest.mark.parametrize(
    ("bad", "kwargs"), BAD_PUTS, ids=[f"{b}-{i}" for i, (b, _) in enumerate(BAD_PUTS)]
)
def test_bad_input_is_refused_with_nothing_written(
    queue: reqless.Queue, admin: redis.Redis, bad: str, kwargs: dict[str, Any]
) -> None:
    arguments: dict[str, Any] = {"klass": Plain, "data": {}} | kwargs
    with pytest.raises(reqless.InvalidArgumentError, match=bad):
        queue.put(**arguments)
    assert admin.dbsize() == 0


def test_an_unknown_keyword_is_a_type_error(queue: reqless.Queue, admin: redis.Redis) -> None:
    with pytest.raises(TypeError, match="priorty"):
        queue.put(Plain, {}, priorty=1)  # type: ignore[call-arg]
    assert admin.dbsize() == 0


def test_a_class_defined_in_main_cannot_be_put(queue: reqless.Queue, admin: redis.Redis) -> None:
    klass = type("Script", (), {"__module__": "__main__"})
    with pytest.raises(reqless.InvalidArgumentError, match="__main__"):
        queue.put(klass, {})
    assert admin.dbsize() == 0
