"""The edit forms of the pages: each one changes the server, and a refused value is reported."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

import reqless
from tests.web.browser.conftest import Tab

pytestmark = pytest.mark.parametrize("server", ["valkey"], indirect=True)


def test_a_job_is_moved_reprioritised_and_tagged_from_its_page(tab: Tab) -> None:
    client = tab.dashboard.client
    jid = client.queues["inbox"].put("app.Job", {}, tags=["old"])
    page = tab.open(f"/jobs/{jid}")

    page.get_by_label("priority").fill("7")
    page.get_by_role("button", name="Set priority").click()
    expect(page.locator("#flash")).to_have_text("Priority set")
    page.get_by_label("new tags").fill("vip, rush")
    page.get_by_role("button", name="Add tags").click()
    expect(page.locator("#tags .chip a")).to_have_count(3)
    page.get_by_role("button", name="remove tag old").click()
    expect(page.locator("#tags .chip a")).to_have_count(2)
    page.get_by_label("queue", exact=True).fill("priority-inbox")
    page.get_by_role("button", name="Move", exact=True).click()
    expect(page.get_by_role("link", name="priority-inbox", exact=True)).to_be_visible()

    job = client.jobs[jid]
    assert isinstance(job, reqless.Job)
    assert (job.queue_name, job.priority, sorted(job.tags)) == (
        "priority-inbox",
        7,
        ["rush", "vip"],
    )


def test_a_recurring_job_is_edited_and_a_refused_value_is_reported(tab: Tab) -> None:
    client = tab.dashboard.client
    jid = client.queues["digests"].recur("app.Digest", {"to": "ops"}, 3600)
    page = tab.open(f"/recurring/{jid}")

    page.get_by_label("interval (seconds)").fill("-5")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#flash.error")).to_contain_text("interval")

    page.get_by_label("interval (seconds)").fill("900")
    page.get_by_label("data (JSON)").fill('{"to": "oncall", "format": "short"}')
    page.get_by_role("button", name="Save").click()
    expect(page.locator("dl.fields")).to_contain_text("15.0 min")

    recurring = client.jobs[jid]
    assert isinstance(recurring, reqless.RecurringJob)
    assert recurring.interval == 900
    assert json.loads(recurring.data) == {"to": "oncall", "format": "short"}


def test_config_options_are_set_and_reset_from_the_config_page(tab: Tab) -> None:
    client = tab.dashboard.client
    page = tab.open("/config")

    page.get_by_label("option").fill("emails-heartbeat")
    page.get_by_label("value", exact=True).fill("120")
    page.get_by_role("button", name="Set", exact=True).click()
    row = page.locator('tr[data-option="emails-heartbeat"]')
    expect(row).to_be_visible()
    assert client.config["emails-heartbeat"] == 120

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator('tr[data-option="heartbeat"]').get_by_role("button", name="Reset").click()
    expect(page.locator("#flash")).to_contain_text("Reset heartbeat")
    page.locator('tr[data-option="grace-period"] input').fill("3")
    page.locator('tr[data-option="grace-period"]').get_by_role("button", name="Save").click()
    expect(page.locator("#flash")).to_contain_text("Saved grace-period")
    assert client.config["grace-period"] == 3


def test_priority_patterns_are_saved_from_the_patterns_page(tab: Tab) -> None:
    client = tab.dashboard.client
    page = tab.open("/patterns")
    wanted = [{"pattern": ["urgent-*"], "fairly": False}, {"pattern": ["default"], "fairly": True}]

    page.get_by_label("priority patterns").fill(json.dumps(wanted))
    page.get_by_role("button", name="Save priorities").click()
    expect(page.locator("#flash")).to_have_text("Priorities saved")

    saved = client.queue_patterns.priorities
    assert [(p.pattern, p.fairly) for p in saved] == [(["urgent-*"], False), (["default"], True)]


def test_a_throttle_is_set_and_a_holder_released_from_its_page(tab: Tab) -> None:
    client = tab.dashboard.client
    queue = client.queues["crawl"]
    queue.put_many([{"klass": "app.Job", "throttles": ["site-a"]} for _ in range(2)])
    client.throttles["site-a"].set_maximum(1)
    queue.pop(2)
    [held] = client.throttles["site-a"].locks()
    page = tab.open("/throttles/site-a")
    expect(page.locator("#holders")).to_contain_text(held)

    page.get_by_label("maximum").fill("4")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".stat").first).to_contain_text("4")
    page.locator("#holders").get_by_role("button", name="Release").click()
    expect(page.locator("#holders")).to_contain_text("Nobody holds it")

    assert client.throttles["site-a"].maximum == 4
    assert held not in client.throttles["site-a"].locks()
