"""Bulk enqueue: one round trip, jids in order, and all-or-nothing validation."""

from __future__ import annotations

from typing import Any

import pytest
import redis

import reqless
from tests.client.api.jobs_for_tests import Plain


def test_put_many_returns_the_jids_in_order(client: reqless.Client, queue: reqless.Queue) -> None:
    jids = queue.put_many([(Plain, {"n": n}) for n in range(10)])
    assert len(jids) == 10
    jobs = client.jobs.get(*jids)
    assert [job.jid for job in jobs] == jids
    assert [job.payload["n"] for job in jobs] == list(range(10))


def test_put_many_takes_specs_mappings_and_pairs(
    client: reqless.Client, queue: reqless.Queue
) -> None:
    jids = queue.put_many(
        [
            reqless.JobSpec(Plain, {}, priority=0, retries=0, jid="spec"),
            {"klass": "x.Y", "data": '{"a":1}', "tags": ["t"], "priority": 4},
            (Plain, {"pair": True}),
        ]
    )
    assert jids[0] == "spec"
    spec, mapping, pair = client.jobs.get(*jids)
    assert (spec.priority, spec.retries) == (0, 0)
    assert (mapping.klass_name, mapping.tags, mapping.priority) == ("x.Y", ["t"], 4)
    assert pair.payload == {"pair": True}


def test_put_many_is_one_streamed_batch(client: reqless.Client, queue: reqless.Queue) -> None:
    streamed: list[int] = []
    stream = client._driver.stream  # type: ignore[attr-defined]

    def spy(name: str, target: str, head: Any, items: Any, then: Any = None) -> list[Any]:
        streamed.append(len(items))
        return stream(name, target, head, items, then)  # type: ignore[no-any-return]

    client._driver.stream = spy  # type: ignore[attr-defined]
    queue.put_many([(Plain, {})] * 100)
    assert streamed == [100]
    assert queue.length() == 100


def test_put_many_takes_any_iterable(client: reqless.Client, queue: reqless.Queue) -> None:
    jids = queue.put_many((Plain, {"n": n}) for n in range(3))
    assert [job.payload["n"] for job in client.jobs.get(*jids)] == [0, 1, 2]
    assert len(set(jids)) == 3


@pytest.mark.parametrize(
    "bad",
    [
        (Plain, {"x": object()}),
        {"klass": Plain, "delay": -5},
        {"klass": Plain, "priority": "1"},
        "not-an-item",
        (Plain, {"x": float("nan")}),
        (Plain, "not json"),
        (["not", "a", "class"], {}),
        ("no_dots", {}),
    ],
)
def test_one_invalid_item_means_nothing_is_written(
    queue: reqless.Queue, admin: redis.Redis, bad: Any
) -> None:
    with pytest.raises(reqless.InvalidArgumentError):
        queue.put_many([(Plain, {}), bad, (Plain, {})])
    assert admin.dbsize() == 0


def test_an_unknown_key_in_an_item_is_a_type_error(
    queue: reqless.Queue, admin: redis.Redis
) -> None:
    with pytest.raises(TypeError, match="prio"):
        queue.put_many([{"klass": Plain, "prio": 1}])
    assert admin.dbsize() == 0


def test_put_many_of_nothing_returns_an_empty_list(queue: reqless.Queue) -> None:
    assert queue.put_many([]) == []


def test_pairs_take_any_data_put_takes(client: reqless.Client, queue: reqless.Queue) -> None:
    data: list[Any] = [{"text": "déjà vu ✓"}, [1, 2], '{"raw":true}', None, {"n": 1}]
    jids = queue.put_many([(Plain, item) for item in data] + [("x.Y", {})])
    jobs = client.jobs.get(*jids)
    assert [job.payload for job in jobs][:5] == [
        {"text": "déjà vu ✓"},
        [1, 2],
        {"raw": True},
        {},
        {"n": 1},
    ]
    assert jobs[-1].klass_name == "x.Y"


def test_many_chunks_keep_the_order_of_jids(client: reqless.Client, queue: reqless.Queue) -> None:
    jids = queue.put_many([(Plain, {"n": n}) for n in range(250)])
    assert [job.payload["n"] for job in client.jobs.get(*jids)] == list(range(250))
