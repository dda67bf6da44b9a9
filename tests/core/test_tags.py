"""Tags: job.addTag, job.removeTag, jobs.tagged, tags.top (spec 3.7, 3.17, 3.26, 3.53, 4.15)."""

from __future__ import annotations

import json
from typing import Any

from tests.core.conftest import Core


def put(core: Core, jid: str, queue: str = "q", now: float = 0, **options: Any) -> None:
    extra: list[Any] = []
    for name, value in options.items():
        extra += [name, value if isinstance(value, str | int | float) else json.dumps(value)]
    core.call("queue.put", "putter", queue, jid, "klass", "{}", 0, *extra, now=now)


def tags_of(core: Core, jid: str) -> Any:
    return core.json("job.get", jid)["tags"]


def counters(core: Core) -> dict[str, float]:
    pairs: Any = core.redis.zrange("ql:tags", 0, -1, withscores=True)
    return dict(pairs)


# --- job.addTag ---------------------------------------------------------------------------------


def test_add_tag_appends_new_tags_in_order_and_replies_with_the_list(core: Core) -> None:
    put(core, "jid", tags=["a"])
    assert core.json("job.addTag", "jid", "b", "c") == ["a", "b", "c"]
    assert tags_of(core, "jid") == ["a", "b", "c"]
    stored: Any = core.redis.hget("ql:j:jid", "tags")
    assert json.loads(stored) == ["a", "b", "c"]


def test_add_tag_deduplicates_against_the_job_and_among_the_arguments(core: Core) -> None:
    put(core, "jid", tags=["a"])
    assert core.json("job.addTag", "jid", "b", "a", "c", "b") == ["a", "b", "c"]


def test_add_tag_indexes_the_job_under_each_tag_at_now(core: Core) -> None:
    put(core, "jid", now=0)
    core.call("job.addTag", "jid", "x", "y", now=5)
    assert core.redis.zscore("ql:t:x", "jid") == 5
    assert core.redis.zscore("ql:t:y", "jid") == 5


def test_add_tag_counts_every_argument_even_tags_already_present(core: Core) -> None:
    # Quirk: the ql:tags counter is bumped once per argument, duplicates included.
    put(core, "jid", tags=["a"], now=0)
    assert counters(core) == {"a": 1}
    core.call("job.addTag", "jid", "b", "a", "c", "b", now=5)
    assert counters(core) == {"a": 2, "b": 2, "c": 1}
    assert core.redis.zscore("ql:t:a", "jid") == 5


def test_add_tag_with_no_tags_on_an_untagged_job_replies_with_an_empty_json_array(
    core: Core,
) -> None:
    put(core, "jid")
    assert core.call("job.addTag", "jid") == "[]"


def test_add_tag_errors_on_a_missing_jid_or_job(core: Core) -> None:
    core.raises(r'Tag\(\): Arg "jid" missing', "job.addTag")
    core.raises(r"Tag\(\): Job missing does not exist", "job.addTag", "missing", "a")


def test_tag_commands_publish_nothing(core: Core) -> None:
    put(core, "jid")
    with core.events() as ev:
        core.call("job.addTag", "jid", "a")
        core.call("job.removeTag", "jid", "a")
        core.call("jobs.tagged", "a")
        core.call("tags.top")
    assert ev.messages == []


# --- job.removeTag ------------------------------------------------------------------------------


def test_remove_tag_keeps_the_order_of_the_remaining_tags(core: Core) -> None:
    put(core, "jid", tags=["a", "b", "c", "d"])
    assert core.json("job.removeTag", "jid", "c", "a") == ["b", "d"]
    assert tags_of(core, "jid") == ["b", "d"]


def test_removing_every_tag_replies_with_an_empty_json_array_and_stores_an_object(
    core: Core,
) -> None:
    put(core, "jid", tags=["a"])
    assert core.call("job.removeTag", "jid", "a") == "[]"
    assert core.redis.hget("ql:j:jid", "tags") == "{}"
    assert tags_of(core, "jid") == {}


def test_remove_tag_drops_the_index_and_the_counter_once_no_job_has_the_tag(core: Core) -> None:
    put(core, "jid", tags=["a"])
    core.call("job.removeTag", "jid", "a")
    assert not core.redis.exists("ql:t:a")
    assert counters(core) == {}


def test_remove_tag_decrements_the_counter_for_every_argument_while_others_hold_it(
    core: Core,
) -> None:
    # Quirk: a tag the job does not carry, or a repeated argument, still decrements.
    for jid in ("j1", "j2", "j3"):
        put(core, jid, tags=["x"])
    put(core, "untagged")
    assert counters(core) == {"x": 3}
    core.call("job.removeTag", "untagged", "x")
    assert counters(core) == {"x": 2}
    core.call("job.removeTag", "j1", "x", "x")
    assert counters(core) == {"x": 0}
    assert core.redis.zrange("ql:t:x", 0, -1) == ["j2", "j3"]


def test_remove_tag_errors_on_a_missing_jid_or_job(core: Core) -> None:
    core.raises(r'Tag\(\): Arg "jid" missing', "job.removeTag")
    core.raises(r"Tag\(\): Job missing does not exist", "job.removeTag", "missing", "a")


# --- jobs.tagged --------------------------------------------------------------------------------


def test_tagged_lists_jobs_oldest_tagging_first_with_the_total(core: Core) -> None:
    put(core, "b", tags=["t"], now=1)
    put(core, "a", tags=["t"], now=2)
    put(core, "c", tags=["t"], now=3)
    assert core.json("jobs.tagged", "t") == {"total": 3, "jobs": ["b", "a", "c"]}


def test_tagged_orders_jobs_tagged_at_the_same_time_by_jid(core: Core) -> None:
    put(core, "y", tags=["t"], now=1)
    put(core, "x", tags=["t"], now=1)
    assert core.json("jobs.tagged", "t")["jobs"] == ["x", "y"]


def test_tagging_again_moves_the_job_to_the_end(core: Core) -> None:
    put(core, "a", tags=["t"], now=1)
    put(core, "b", tags=["t"], now=2)
    core.call("job.addTag", "a", "t", now=3)
    assert core.json("jobs.tagged", "t")["jobs"] == ["b", "a"]


def test_tagged_pages_by_offset_and_limit(core: Core) -> None:
    for i in range(5):
        put(core, f"j{i}", tags=["t"], now=i)
    assert core.json("jobs.tagged", "t", 1, 2) == {"total": 5, "jobs": ["j1", "j2"]}
    assert core.json("jobs.tagged", "t", 4, 10) == {"total": 5, "jobs": ["j4"]}


def test_tagged_limit_0_at_offset_0_returns_every_job(core: Core) -> None:
    for i in range(30):
        put(core, f"j{i:02}", tags=["t"], now=i)
    assert len(core.json("jobs.tagged", "t", 0, 0)["jobs"]) == 30


def test_tagged_defaults_to_the_first_25(core: Core) -> None:
    for i in range(30):
        put(core, f"j{i:02}", tags=["t"], now=i)
    reply = core.json("jobs.tagged", "t")
    assert reply["total"] == 30
    assert reply["jobs"] == [f"j{i:02}" for i in range(25)]


def test_tagged_with_no_job_sends_jobs_as_an_empty_object(core: Core) -> None:
    raw = core.call("jobs.tagged", "nothing")
    assert json.loads(raw) == {"total": 0, "jobs": {}}
    assert '"jobs":{}' in raw


def test_tagged_rejects_missing_tag_and_non_numeric_paging(core: Core) -> None:
    core.raises(r'Tag\(\): Arg "tag" missing', "jobs.tagged")
    core.raises(r'Tag\(\): Arg "offset" not a number: one', "jobs.tagged", "t", "one")
    core.raises(r'Tag\(\): Arg "limit" not a number: ten', "jobs.tagged", "t", 0, "ten")


# --- tags.top -----------------------------------------------------------------------------------


def test_top_lists_tags_used_at_least_twice_highest_first(core: Core) -> None:
    put(core, "j1", tags=["common", "pair", "single"])
    put(core, "j2", tags=["common", "pair"])
    put(core, "j3", tags=["common"])
    assert core.json("tags.top") == ["common", "pair"]


def test_top_breaks_ties_in_reverse_lexicographic_order(core: Core) -> None:
    put(core, "j1", tags=["a", "b", "c"])
    put(core, "j2", tags=["a", "b", "c"])
    assert core.json("tags.top") == ["c", "b", "a"]


def test_top_counts_repeated_add_tag_of_the_same_tag(core: Core) -> None:
    put(core, "jid", tags=["solo"])
    assert core.call("tags.top") == "[]"
    core.call("job.addTag", "jid", "solo")
    assert core.json("tags.top") == ["solo"]


def test_top_pages_with_offset_and_limit_and_limit_0_is_empty(core: Core) -> None:
    for jid in ("j1", "j2", "j3"):
        put(core, jid, tags=["x"])
    for jid in ("j1", "j2"):
        core.call("job.addTag", jid, "y", "z")
    assert counters(core) == {"x": 3, "y": 2, "z": 2}
    assert core.json("tags.top", 1, 1) == ["z"]
    assert core.json("tags.top", 1, 5) == ["z", "y"]
    assert core.call("tags.top", 0, 0) == "[]"


def test_top_with_no_tags_is_an_empty_json_array(core: Core) -> None:
    assert core.call("tags.top") == "[]"


def test_top_rejects_non_numeric_paging(core: Core) -> None:
    core.raises(r'Tag\(\): Arg "offset" not a number: first', "tags.top", "first")
    core.raises(r'Tag\(\): Arg "limit" not a number: all', "tags.top", 0, "all")


# --- 4.15 numeric tags and removal paths --------------------------------------------------------


def test_numeric_tags_stay_numbers_in_the_job_but_index_as_decimal_text(core: Core) -> None:
    put(core, "jid", tags=[3, -2])
    assert tags_of(core, "jid") == [3, -2]
    assert core.redis.zrange("ql:t:3", 0, -1) == ["jid"]
    assert core.redis.zrange("ql:t:-2", 0, -1) == ["jid"]
    assert counters(core) == {"3": 1, "-2": 1}
    assert core.json("jobs.tagged", "3") == {"total": 1, "jobs": ["jid"]}


def test_two_jobs_with_a_numeric_tag_make_it_a_top_tag(core: Core) -> None:
    put(core, "j1", tags=[7])
    put(core, "j2", tags=[7])
    assert core.json("tags.top") == ["7"]


def test_removing_the_string_of_a_numeric_tag_unindexes_but_keeps_the_number(core: Core) -> None:
    put(core, "jid", tags=[3])
    assert core.json("job.removeTag", "jid", "3") == [3]
    assert not core.redis.exists("ql:t:3")
    assert counters(core) == {}


def test_adding_the_string_of_a_numeric_tag_appends_it_as_a_string(core: Core) -> None:
    put(core, "jid", tags=[3])
    assert core.call("job.addTag", "jid", "3") == '[3,"3"]'
    assert counters(core) == {"3": 2}


def test_reput_replaces_the_tags_in_the_index(core: Core) -> None:
    put(core, "jid", tags=["old"], now=1)
    put(core, "jid", tags=["new"], now=2)
    assert not core.redis.exists("ql:t:old")
    assert counters(core) == {"new": 1}
    assert core.redis.zscore("ql:t:new", "jid") == 2


def test_reput_without_tags_keeps_the_tags_and_their_counters(core: Core) -> None:
    put(core, "jid", tags=["keep"], now=1)
    put(core, "jid", now=2)
    assert tags_of(core, "jid") == ["keep"]
    assert counters(core) == {"keep": 1}
    assert core.redis.zscore("ql:t:keep", "jid") == 2


def test_reput_with_an_invalid_option_keeps_the_job_tagged(core: Core) -> None:
    # Deviation (reqless-core/DEVIATIONS.md): the reference removes the old
    # tags before it validates the options; we validate first, losing nothing.
    put(core, "jid", tags=["a"])
    core.raises(
        r'Arg "retries" not a number',
        "queue.put",
        "putter",
        "q",
        "jid",
        "klass",
        "{}",
        0,
        "retries",
        "many",
    )
    assert core.json("jobs.tagged", "a") == {"total": 1, "jobs": ["jid"]}


def test_cancel_removes_the_job_from_its_tags(core: Core) -> None:
    put(core, "j1", tags=["x"])
    put(core, "j2", tags=["x", "y"])
    core.call("job.cancel", "j2")
    assert core.json("jobs.tagged", "x") == {"total": 1, "jobs": ["j1"]}
    assert not core.redis.exists("ql:t:y")
    assert counters(core) == {"x": 1}
