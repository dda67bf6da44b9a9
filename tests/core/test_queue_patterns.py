"""Queue identifier and priority patterns (spec 3.42-3.45), legacy ``qmore:*`` keys included."""

from __future__ import annotations

import json

from tests.core.conftest import Core

DEFAULT_PRIORITY = '{"fairly": false, "pattern": ["default"]}'


# -- queueIdentifierPatterns.getAll ------------------------------------------


def test_identifier_patterns_default_to_everything(core: Core) -> None:
    reply = core.call("queueIdentifierPatterns.getAll")
    assert json.loads(reply) == {"default": '["*"]'}


def test_identifier_pattern_values_are_json_text_not_nested_arrays(core: Core) -> None:
    core.call("queueIdentifierPatterns.setAll", "mail", '["mail-*","smtp"]')
    patterns = core.json("queueIdentifierPatterns.getAll")
    assert patterns["mail"] == '["mail-*","smtp"]'
    assert json.loads(patterns["mail"]) == ["mail-*", "smtp"]


def test_identifier_patterns_fall_back_to_the_legacy_hash(core: Core) -> None:
    core.redis.hset("qmore:dynamic", mapping={"old": '["legacy-*"]'})
    assert core.json("queueIdentifierPatterns.getAll") == {
        "default": '["*"]',
        "old": '["legacy-*"]',
    }


def test_a_legacy_default_overrides_the_builtin_default(core: Core) -> None:
    core.redis.hset("qmore:dynamic", mapping={"default": '["a"]'})
    assert core.json("queueIdentifierPatterns.getAll") == {"default": '["a"]'}


def test_the_legacy_hash_is_ignored_once_the_new_one_has_fields(core: Core) -> None:
    core.redis.hset("qmore:dynamic", mapping={"old": '["legacy-*"]'})
    core.redis.hset("ql:qp:identifiers", mapping={"new": '["new-*"]'})
    assert core.json("queueIdentifierPatterns.getAll") == {"default": '["*"]', "new": '["new-*"]'}


# -- queueIdentifierPatterns.setAll ------------------------------------------


def test_set_all_stores_pairs_verbatim_and_adds_the_default(core: Core) -> None:
    assert (
        core.call("queueIdentifierPatterns.setAll", "mail", '[ "mail-*" ]', "web", '["www"]')
        is None
    )
    assert core.redis.hgetall("ql:qp:identifiers") == {
        "mail": '[ "mail-*" ]',
        "web": '["www"]',
        "default": '["*"]',
    }
    assert core.json("queueIdentifierPatterns.getAll") == {
        "mail": '[ "mail-*" ]',
        "web": '["www"]',
        "default": '["*"]',
    }


def test_set_all_keeps_a_given_default(core: Core) -> None:
    core.call("queueIdentifierPatterns.setAll", "default", '["only-*"]')
    assert core.redis.hgetall("ql:qp:identifiers") == {"default": '["only-*"]'}


def test_set_all_drops_pairs_with_an_empty_pattern_list(core: Core) -> None:
    core.call("queueIdentifierPatterns.setAll", "gone", "[]", "kept", '["k"]', "default", "[]")
    # An empty default is dropped too, so the built-in default takes its place.
    assert core.redis.hgetall("ql:qp:identifiers") == {"kept": '["k"]', "default": '["*"]'}


def test_set_all_without_arguments_resets_to_the_default(core: Core) -> None:
    core.call("queueIdentifierPatterns.setAll", "mail", '["mail-*"]')
    core.call("queueIdentifierPatterns.setAll")
    assert core.redis.hgetall("ql:qp:identifiers") == {"default": '["*"]'}
    assert core.json("queueIdentifierPatterns.getAll") == {"default": '["*"]'}


def test_set_all_replaces_rather_than_merges(core: Core) -> None:
    core.call("queueIdentifierPatterns.setAll", "mail", '["mail-*"]')
    core.call("queueIdentifierPatterns.setAll", "web", '["www"]')
    assert core.json("queueIdentifierPatterns.getAll") == {"default": '["*"]', "web": '["www"]'}


def test_set_all_deletes_the_legacy_hash(core: Core) -> None:
    core.redis.hset("qmore:dynamic", mapping={"old": '["legacy-*"]'})
    core.call("queueIdentifierPatterns.setAll", "web", '["www"]')
    assert core.redis.exists("qmore:dynamic") == 0
    assert "old" not in core.json("queueIdentifierPatterns.getAll")


def test_set_all_with_an_odd_argument_count_is_refused(core: Core) -> None:
    core.call("queueIdentifierPatterns.setAll", "mail", '["mail-*"]')
    core.raises(
        "Odd number of identifier patterns",
        "queueIdentifierPatterns.setAll",
        "web",
        '["www"]',
        "api",
    )


def test_set_all_with_a_value_that_is_not_json_is_refused(core: Core) -> None:
    # The decoder's own wording is not part of the contract, only that it fails.
    core.call("queueIdentifierPatterns.setAll", "mail", '["mail-*"]')
    core.raises("", "queueIdentifierPatterns.setAll", "web", "[www")


# -- queuePriorityPatterns.getAll --------------------------------------------


def test_priority_patterns_default_to_one_unfair_default_entry(core: Core) -> None:
    # The default literal carries spaces, unlike anything cjson would produce.
    assert core.json("queuePriorityPatterns.getAll") == [DEFAULT_PRIORITY]


def test_priority_patterns_fall_back_to_the_legacy_list(core: Core) -> None:
    core.redis.rpush(
        "qmore:priority",
        '{"fairly":true,"pattern":["a"]}',
        '{"fairly":false,"pattern":["default"]}',
    )
    assert core.json("queuePriorityPatterns.getAll") == [
        '{"fairly":true,"pattern":["a"]}',
        '{"fairly":false,"pattern":["default"]}',
    ]


def test_the_legacy_list_is_ignored_once_the_new_one_has_elements(core: Core) -> None:
    core.redis.rpush("qmore:priority", '{"fairly":true,"pattern":["old"]}')
    core.redis.rpush("ql:qp:priorities", '{"fairly":true,"pattern":["new"]}')
    assert core.json("queuePriorityPatterns.getAll") == ['{"fairly":true,"pattern":["new"]}']


# -- queuePriorityPatterns.setAll --------------------------------------------


def test_set_all_appends_the_default_after_patterns_without_one(core: Core) -> None:
    first = '{"fairly": true, "pattern": ["a", "b"]}'
    second = '{"fairly":false,"pattern":["c"]}'
    assert core.call("queuePriorityPatterns.setAll", first, second) is None
    assert core.redis.lrange("ql:qp:priorities", 0, -1) == [first, second, DEFAULT_PRIORITY]
    assert core.json("queuePriorityPatterns.getAll") == [first, second, DEFAULT_PRIORITY]


def test_set_all_keeps_a_given_default_where_it_is(core: Core) -> None:
    first = '{"fairly":false,"pattern":["a"]}'
    default = '{"fairly":true,"pattern":["default"]}'
    last = '{"fairly":false,"pattern":["z"]}'
    core.call("queuePriorityPatterns.setAll", first, default, last)
    assert core.redis.lrange("ql:qp:priorities", 0, -1) == [first, default, last]


def test_set_all_of_only_a_fair_default_stores_exactly_that(core: Core) -> None:
    default = '{"fairly": true, "pattern": ["default"]}'
    core.call("queuePriorityPatterns.setAll", default)
    assert core.json("queuePriorityPatterns.getAll") == [default]


def test_a_pattern_naming_default_among_others_is_not_the_default(core: Core) -> None:
    mixed = '{"fairly":false,"pattern":["default","x"]}'
    core.call("queuePriorityPatterns.setAll", mixed)
    assert core.redis.lrange("ql:qp:priorities", 0, -1) == [mixed, DEFAULT_PRIORITY]


def test_arguments_after_the_default_are_stored_without_validation(core: Core) -> None:
    default = '{"fairly":false,"pattern":["default"]}'
    core.call("queuePriorityPatterns.setAll", default, "not json at all")
    assert core.redis.lrange("ql:qp:priorities", 0, -1) == [default, "not json at all"]


def test_set_all_without_arguments_clears_back_to_the_default(core: Core) -> None:
    core.call("queuePriorityPatterns.setAll", '{"fairly":true,"pattern":["a"]}')
    core.call("queuePriorityPatterns.setAll")
    assert core.redis.exists("ql:qp:priorities") == 0
    assert core.json("queuePriorityPatterns.getAll") == [DEFAULT_PRIORITY]


def test_set_all_replaces_rather_than_appends(core: Core) -> None:
    core.call("queuePriorityPatterns.setAll", '{"fairly":true,"pattern":["a"]}')
    core.call("queuePriorityPatterns.setAll", '{"fairly":true,"pattern":["b"]}')
    assert core.json("queuePriorityPatterns.getAll") == [
        '{"fairly":true,"pattern":["b"]}',
        DEFAULT_PRIORITY,
    ]


def test_set_all_deletes_the_legacy_list(core: Core) -> None:
    core.redis.rpush("qmore:priority", '{"fairly":true,"pattern":["old"]}')
    core.call("queuePriorityPatterns.setAll", '{"fairly":true,"pattern":["new"]}')
    assert core.redis.exists("qmore:priority") == 0


def test_set_all_without_arguments_deletes_the_legacy_list(core: Core) -> None:
    core.redis.rpush("qmore:priority", '{"fairly":true,"pattern":["old"]}')
    core.call("queuePriorityPatterns.setAll")
    assert core.redis.exists("qmore:priority") == 0
    assert core.json("queuePriorityPatterns.getAll") == [DEFAULT_PRIORITY]


def test_a_priority_pattern_that_is_not_json_is_refused(core: Core) -> None:
    # Nothing stored beforehand: whether the old list is deleted before the
    # decode fails is not pinned down, only that the call fails.
    core.raises("", "queuePriorityPatterns.setAll", '{"fairly":true,"pattern":["a"]}', "{nope")


def test_a_priority_pattern_without_a_pattern_member_is_refused(core: Core) -> None:
    core.raises("", "queuePriorityPatterns.setAll", '{"fairly":true}')


def test_a_refused_priority_pattern_keeps_the_stored_ones(core: Core) -> None:
    # Deviation (reqless-core/DEVIATIONS.md): the reference deletes the stored
    # list before it decodes the new one, so bad input erased it.
    core.call("queuePriorityPatterns.setAll", '{"fairly":true,"pattern":["a"]}')
    core.raises(r"Expected|pattern", "queuePriorityPatterns.setAll", "{nope")
    core.raises(r"pattern", "queuePriorityPatterns.setAll", '{"fairly":true}')
    assert core.json("queuePriorityPatterns.getAll") == [
        '{"fairly":true,"pattern":["a"]}',
        DEFAULT_PRIORITY,
    ]


def test_a_refused_identifier_pattern_keeps_the_stored_ones(core: Core) -> None:
    core.call("queueIdentifierPatterns.setAll", "mail", '["mail-*"]')
    core.raises(r"array", "queueIdentifierPatterns.setAll", "mail", '"mail-*"')
    assert json.loads(core.json("queueIdentifierPatterns.getAll")["mail"]) == ["mail-*"]


# -- events -------------------------------------------------------------------


def test_pattern_commands_publish_nothing(core: Core) -> None:
    with core.events() as events:
        core.call("queueIdentifierPatterns.setAll", "mail", '["mail-*"]')
        core.call("queueIdentifierPatterns.getAll")
        core.call("queuePriorityPatterns.setAll", '{"fairly":true,"pattern":["a"]}')
        core.call("queuePriorityPatterns.getAll")
    assert events.messages == []
