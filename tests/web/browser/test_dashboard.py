"""The dashboard in a real browser: what an operator sees and does.

Jobs are put, popped and failed with the sync client, as a producer and a worker
would; the browser only ever sees what the dashboard serves and streams.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Dialog, Page, expect

import reqless
from tests.web.browser.conftest import Tab

pytestmark = pytest.mark.parametrize("server", ["valkey"], indirect=True)

EVIL = "<script>window.__pwned = 1</script><img src=x onerror=window.__pwned=2>"


def failed_jobs(client: reqless.Client, queue: str, group: str, count: int) -> list[str]:
    jids = client.queues[queue].put_many([("app.Job", {"n": n}) for n in range(count)])
    for job in client.queues[queue].pop(count):
        job.fail(group, f"{job.jid} failed\nTraceback: ...")
    return jids


def set_hidden(page: Page, hidden: bool) -> None:
    """Make the tab hidden or visible as far as the page can tell (headless tabs never are)."""
    page.evaluate(
        """(hidden) => {
            Object.defineProperty(document, "hidden", {configurable: true, get: () => hidden});
            Object.defineProperty(document, "visibilityState", {
                configurable: true, get: () => (hidden ? "hidden" : "visible"),
            });
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        hidden,
    )


def test_a_job_put_by_the_client_appears_on_the_open_overview_without_a_reload(tab: Tab) -> None:
    page = tab.open("/")
    expect(page.locator("#live")).to_have_text("live")
    # A reload would drop this marker: the count must arrive in the same document.
    page.evaluate("window.__sameDocument = true")

    tab.dashboard.client.queues["incoming"].put("app.Job", {})

    row = page.locator('#queues tr[data-queue="incoming"]')
    expect(row.locator('td[data-field="waiting"]')).to_have_text("1")
    expect(page.locator('[data-total="waiting"]')).to_have_text("1")
    assert page.evaluate("window.__sameDocument") is True


def test_a_job_put_while_its_queue_page_is_open_appears_as_a_row(tab: Tab) -> None:
    queue = tab.dashboard.client.queues["incoming"]
    first = queue.put("app.Job", {})
    page = tab.open("/queues/incoming")
    expect(page.locator(f'#jobs tr[data-jid="{first}"]')).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    second = queue.put("app.Job", {"n": 2}, tags=["fresh"])

    row = page.locator(f'#jobs tr[data-jid="{second}"]')
    expect(row).to_be_visible()
    expect(row.locator(".chip")).to_have_text("fresh")
    expect(page.locator('[data-state-count="waiting"]')).to_have_text("2")
    assert page.evaluate("window.__sameDocument") is True


def test_live_updates_pause_while_the_tab_is_hidden_and_catch_up_when_shown(tab: Tab) -> None:
    page = tab.open("/")
    live = page.locator("#live")
    expect(live).to_have_text("live")

    set_hidden(page, True)
    expect(live).to_have_text("paused")
    tab.dashboard.client.queues["quiet"].put("app.Job", {})
    # Longer than an event takes to arrive while visible (the tests above wait far less).
    page.wait_for_timeout(2500)
    expect(page.locator('#queues tr[data-queue="quiet"]')).to_have_count(0)

    set_hidden(page, False)
    expect(live).to_have_text("live")
    expect(page.locator('#queues tr[data-queue="quiet"] td[data-field="waiting"]')).to_have_text(
        "1"
    )


def test_retry_on_a_failed_job_puts_it_back_in_its_queue(tab: Tab) -> None:
    client = tab.dashboard.client
    [jid] = failed_jobs(client, "billing", "billing-CardDeclined", 1)
    page = tab.open(f"/jobs/{jid}")
    expect(page.locator("#failure")).to_contain_text(f"{jid} failed")

    page.get_by_role("button", name="Retry").click()

    expect(page.locator("h1 .badge.state-waiting")).to_be_visible()
    job = client.jobs[jid]
    assert isinstance(job, reqless.Job)
    assert (job.state, job.queue_name) == ("waiting", "billing")
    assert client.jobs.failed() == {}


def test_cancel_all_on_a_failure_group_of_100_jobs_deletes_every_one(tab: Tab) -> None:
    client = tab.dashboard.client
    jids = failed_jobs(client, "imports", "imports-Timeout", 100)
    page = tab.open("/failures/imports-Timeout")
    expect(page.locator('[data-total-for="jobs"]')).to_have_text("100")
    page.once("dialog", lambda dialog: dialog.accept())

    page.get_by_role("button", name="Cancel all 100").click()

    page.wait_for_url("**/failures")
    expect(page.locator("#failure-groups")).to_contain_text("No failures")
    assert client.jobs.failed() == {}
    assert client.jobs.get(*jids) == []


def test_pause_on_a_queue_page_stops_workers_popping_from_it(tab: Tab) -> None:
    queue = tab.dashboard.client.queues["emails"]
    queue.put("app.Job", {})
    page = tab.open("/queues/emails")
    expect(page.locator("#paused-badge")).to_be_hidden()

    page.get_by_role("button", name="Pause").click()

    expect(page.locator("#paused-badge")).to_be_visible()
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    assert queue.paused
    assert queue.pop() is None


def test_searching_a_tag_lists_exactly_the_jobs_carrying_it(tab: Tab) -> None:
    queue = tab.dashboard.client.queues["orders"]
    tagged = [queue.put("app.Job", {"n": n}, tags=["customer-42"]) for n in range(3)]
    queue.put("app.Job", {}, tags=["customer-7"])
    page = tab.open("/tags")

    page.locator("input[name=tag]").fill("customer-42")
    page.keyboard.press("Enter")

    rows = page.locator("#jobs tbody tr[data-jid]")
    expect(rows).to_have_count(3)
    assert sorted(rows.evaluate_all("rows => rows.map(row => row.dataset.jid)")) == sorted(tagged)
    expect(page.locator('[data-total-for="jobs"]')).to_have_text("3")


def test_markup_in_job_data_tags_and_failures_is_shown_as_text_and_never_runs(tab: Tab) -> None:
    client = tab.dashboard.client
    queue = client.queues["inbox"]
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    tab.page.on("dialog", on_dialog)
    failed = queue.put("app.Job", {"note": EVIL})
    job = queue.pop()
    assert job is not None
    job.fail(EVIL, EVIL)
    waiting = queue.put("app.Job", {"note": EVIL}, tags=[EVIL])

    page = tab.open(f"/jobs/{waiting}")
    expect(page.locator("#data")).to_contain_text(EVIL)
    expect(page.locator("#tags .chip a")).to_have_text(EVIL)
    page = tab.open(f"/jobs/{failed}")
    expect(page.locator("#failure")).to_have_text(EVIL)
    for path in ("/", "/queues/inbox", "/failures", f"/tags?tag={EVIL}"):
        page = tab.open(path)
        expect(page.locator("main")).to_contain_text(EVIL)
        assert page.evaluate("typeof window.__pwned") == "undefined", path

    # Rows drawn by the script on a live update, not by the server, are text too.
    page = tab.open("/queues/inbox")
    late = queue.put("app.Job", {"note": EVIL}, tags=[EVIL])
    expect(page.locator(f'#jobs tr[data-jid="{late}"] .chip')).to_have_text(EVIL)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("main img").count() == 0
    assert dialogs == []


def test_a_queue_page_draws_todays_wait_and_run_histograms(tab: Tab) -> None:
    # Early in today's (UTC) day, so both samples land in the stats the page shows.
    today = time.time() // 86400 * 86400
    now = [today + 60.0]
    client = reqless.Client(tab.dashboard.client.settings.url, clock=lambda: now[0])
    try:
        queue = client.queues["reports"]
        queue.put_many([("app.Job", {}) for _ in range(4)])
        now[0] += 5
        jobs = queue.pop(4)
        now[0] += 90
        for job in jobs:
            job.complete()
    finally:
        client.close()
    page = tab.open("/queues/reports")

    charts = page.locator("figure.histogram")
    expect(charts).to_have_count(2)
    wait_bars = charts.nth(0).locator("rect.bar")
    run_bars = charts.nth(1).locator("rect.bar")
    expect(wait_bars).to_have_count(1)
    expect(run_bars).to_have_count(1)
    assert wait_bars.first.locator("title").text_content() == "5s: 4"
    assert run_bars.first.locator("title").text_content() == "1m: 4"
