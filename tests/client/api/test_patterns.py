"""Queue identifier and priority patterns, and resolving them to queue names."""

from __future__ import annotations

import reqless
from reqless._patterns import match_queues, order_queues
from tests.client.api.jobs_for_tests import Plain


def test_globs_match_regex_characters_literally() -> None:
    names = ["a.b", "axb", "a+", "aa", "(x)", "x"]
    assert match_queues(["a.b"], names) == ["a.b"]
    assert match_queues(["a+"], names) == ["a+"]
    assert match_queues(["(x)"], names) == ["(x)"]
    assert match_queues(["a*"], names) == ["a.b", "axb", "a+", "aa"]


def test_negated_patterns_exclude() -> None:
    names = ["high-1", "high-slow", "low"]
    assert match_queues(["high-*", "!*-slow"], names) == ["high-1"]
    assert match_queues(["*", "!low"], names) == ["high-1", "high-slow"]
    assert match_queues(["!low"], names) == []


def test_priorities_order_queues_with_default_in_its_place() -> None:
    priorities = [
        reqless.PriorityPattern(["urgent-*"]),
        reqless.PriorityPattern(["default"]),
        reqless.PriorityPattern(["bulk"]),
    ]
    assert order_queues(["bulk", "a", "urgent-1", "b"], priorities) == [
        "urgent-1",
        "a",
        "b",
        "bulk",
    ]


def test_fair_patterns_are_shuffled() -> None:
    priorities = [reqless.PriorityPattern(["*"], fairly=True)]
    assert order_queues(["a", "b"], priorities, shuffle=lambda group: group.reverse()) == ["b", "a"]


def test_identifier_patterns_round_trip(client: reqless.Client) -> None:
    patterns = client.queue_patterns
    assert patterns.identifiers == {"default": ["*"]}
    patterns.set_identifiers({"web": ["web-*", "!web-slow"]})
    assert patterns.identifiers == {"default": ["*"], "web": ["web-*", "!web-slow"]}


def test_priority_patterns_round_trip(client: reqless.Client) -> None:
    patterns = client.queue_patterns
    assert patterns.priorities == [reqless.PriorityPattern(["default"], fairly=False)]
    patterns.set_priorities([reqless.PriorityPattern(["a", "b"], fairly=True)])
    assert patterns.priorities == [
        reqless.PriorityPattern(["a", "b"], fairly=True),
        reqless.PriorityPattern(["default"], fairly=False),
    ]


def test_resolve_uses_the_stored_patterns(client: reqless.Client) -> None:
    for name in ("web-1", "web-slow", "batch", "web.x"):
        client.queues[name].put(Plain, {})
    client.queue_patterns.set_identifiers({"web": ["web-*", "!web-slow"]})
    client.queue_patterns.set_priorities([reqless.PriorityPattern(["batch"])])
    assert client.queue_patterns.resolve("@web") == ["web-1"]
    assert client.queue_patterns.resolve() == ["batch", "web-1", "web-slow", "web.x"]
    assert client.queue_patterns.resolve("web.*") == ["web.x"]
