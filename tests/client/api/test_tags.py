"""``client.tags.top``: tags used by at least two jobs."""

from __future__ import annotations

import reqless
from tests.client.api.jobs_for_tests import Plain


def test_top_lists_tags_used_more_than_once(client: reqless.Client, queue: reqless.Queue) -> None:
    queue.put(Plain, {}, tags=["common", "rare"])
    queue.put(Plain, {}, tags=["common"])
    assert client.tags.top() == ["common"]
    assert client.tags.top(offset=1) == []
