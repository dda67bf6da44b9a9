"""Every page renders cleanly, for each role and under a root path; the README's screenshots.

The ``tab`` fixture fails a test whose pages raised a script error or violated
the Content-Security-Policy, so visiting a page is already an assertion.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from starlette.applications import Starlette
from starlette.routing import Mount

import reqless
import reqless.aio
from reqless_web import create_app
from tests.conftest import Server
from tests.web.browser.conftest import WAIT_MS, Tab, serve

pytestmark = pytest.mark.parametrize("server", ["valkey"], indirect=True)


def populate(url: str) -> dict[str, str]:
    """A working day of a small shop: several queues in every state, a worker, failures,
    a throttle, a recurring job and today's timings. Returns a few jids worth showing."""
    # Half an hour ago, so today's stats have samples and the history reads like the present.
    now = [time.time() - 1800]
    shown: dict[str, str] = {}
    rng = random.Random(5)
    client = reqless.Client(url, worker_name="worker-1.shop.internal-4242", clock=lambda: now[0])
    try:
        # Locks outlive the half hour, so popped jobs show as running, not stalled.
        client.config.set("heartbeat", 7200)
        emails = client.queues["emails"]
        reports = client.queues["reports"]
        billing = client.queues["billing"]
        imports = client.queues["imports"]
        for n in range(40):
            now[0] += rng.uniform(0, 3)
            emails.put(
                "shop.jobs.SendEmail",
                {"to": f"customer{n}@example.com", "template": "receipt"},
                tags=["receipt", f"customer-{n % 7}"],
                priority=rng.choice([0, 0, 0, 10]),
            )
        for job in emails.pop(30):
            now[0] += rng.uniform(0.2, 40)
            job.complete()
        for n in range(12):
            reports.put("shop.jobs.Report", {"day": n}, tags=["nightly"])
        now[0] += 12
        running = reports.pop(3)
        shown["running"] = running[0].jid
        client.config.set("billing-heartbeat", 300)
        billing.put("shop.jobs.Charge", {"order": 1000, "amount": "5.00"})
        declined = billing.pop()
        assert declined is not None
        declined.fail("billing-CardDeclined", "CardDeclined: insufficient funds")
        shown["parent"] = billing.put("shop.jobs.Charge", {"order": 1001, "amount": "19.99"})
        shown["child"] = billing.put(
            "shop.jobs.Ship", {"order": 1001}, depends=[shown["parent"]], tags=["order-1001"]
        )
        billing.put("shop.jobs.Charge", {"order": 1002}, delay=7200)
        for n in range(8):
            imports.put(
                "shop.jobs.Import", {"file": f"catalog-{n}.csv"}, throttles=["supplier-api"]
            )
        client.throttles["supplier-api"].set_maximum(2)
        imported = imports.pop(8)
        now[0] += 30
        for job in imported[:1]:
            job.fail(
                "imports-TimeoutError", f"TimeoutError: supplier did not answer\n  job {job.jid}"
            )
        webhooks = client.queues["webhooks"]
        for n in range(6):
            webhooks.put("shop.jobs.Notify", {"url": f"https://partner{n}.example/hook"})
        for job in webhooks.pop(6):
            now[0] += 7
            job.fail(
                "webhooks-ConnectionError",
                "ConnectionError: [Errno 111] Connection refused\n"
                '  File "shop/jobs.py", line 88, in process\n    response = post(url)',
            )
            shown["failed"] = job.jid
        shown["recurring"] = reports.recur("shop.jobs.Digest", {"to": "ops@example.com"}, 3600)
        child = client.jobs[shown["child"]]
        assert isinstance(child, reqless.Job)
        child.track()
    finally:
        client.close()
    return shown


@pytest.fixture
def shop(server: Server) -> dict[str, str]:
    return populate(server.url)


PAGES = [
    ("overview", "/", "Overview"),
    ("queue", "/queues/emails", "emails"),
    ("queue-running", "/queues/reports?state=running", "reports"),
    ("job", "/jobs/{child}", "{child}"),
    ("failed-job", "/jobs/{failed}", "{failed}"),
    ("failures", "/failures", "Failures"),
    ("failure-group", "/failures/webhooks-ConnectionError", "webhooks-ConnectionError"),
    ("workers", "/workers", "Workers"),
    ("worker", "/workers/worker-1.shop.internal-4242", "worker-1.shop.internal-4242"),
    ("tracked", "/tracked", "Tracked jobs"),
    ("tags", "/tags?tag=nightly", "Tags"),
    ("throttles", "/throttles", "Throttles"),
    ("throttle", "/throttles/supplier-api", "supplier-api"),
    ("recurring-list", "/recurring", "Recurring jobs"),
    ("recurring", "/recurring/{recurring}", "{recurring}"),
    ("patterns", "/patterns", "Queue patterns"),
    ("config", "/config", "Config"),
]


def test_every_page_renders_without_script_errors_and_is_captured(
    tab: Tab, shop: dict[str, str], screenshots: Path
) -> None:
    for name, path, heading in PAGES:
        page = tab.open(path.format(**shop))
        expect(page.locator("h1")).to_contain_text(heading.format(**shop))
        expect(page.locator("#live")).to_have_text("live")
        page.screenshot(path=screenshots / f"{name}.png", full_page=True)
    assert sorted(p.stem for p in screenshots.glob("*.png")) == sorted(n for n, _, _ in PAGES)


def test_the_job_page_links_dependencies_both_ways(tab: Tab, shop: dict[str, str]) -> None:
    page = tab.open(f"/jobs/{shop['child']}")
    page.get_by_role("link", name=shop["parent"]).click()

    expect(page.locator("h1")).to_contain_text(shop["parent"])
    page.get_by_role("link", name=shop["child"]).click()
    expect(page.locator("h1")).to_contain_text(shop["child"])


def test_the_throttles_page_is_in_the_navigation_and_leads_to_each_throttle(
    tab: Tab, shop: dict[str, str]
) -> None:
    page = tab.open("/")
    page.locator("header nav").get_by_role("link", name="Throttles").click()
    expect(page.locator("h1")).to_contain_text("Throttles")
    row = page.locator('#throttles tr[data-throttle="supplier-api"]')
    # At most 2 at once; of the two imports popped one failed, which released its
    # lock to the first of the six waiting (now waiting in the queue, not the throttle).
    expect(row.locator("td").nth(2)).to_have_text("2")
    expect(row.locator("td").nth(3)).to_have_text("1")
    expect(row.locator("td").nth(4)).to_have_text("5")
    row.get_by_role("link", name="supplier-api").click()
    expect(page.locator("h1")).to_contain_text("supplier-api")
    expect(page.locator("#holders tbody tr")).to_have_count(1)


def test_a_throttle_is_opened_by_name_from_the_list(tab: Tab, shop: dict[str, str]) -> None:
    page = tab.open("/throttles")
    page.get_by_label("throttle name").fill("idle/named")
    page.get_by_role("button", name="Open throttle").click()
    expect(page.locator("h1")).to_contain_text("idle/named")


def test_the_recurring_page_is_in_the_navigation_and_leads_to_each_job(
    tab: Tab, shop: dict[str, str]
) -> None:
    page = tab.open("/")
    page.locator("header nav").get_by_role("link", name="Recurring").click()
    expect(page.locator("h1")).to_contain_text("Recurring jobs")
    expect(page.locator("#recurring-jobs tbody tr")).to_have_count(1)
    page.get_by_role("link", name=shop["recurring"]).click()
    expect(page.locator("h1")).to_contain_text(shop["recurring"])


def test_a_failure_row_drawn_live_shows_the_exception_line(tab: Tab) -> None:
    client = tab.dashboard.client
    queue = client.queues["mail"]
    queue.put("app.Job", {})
    first = queue.pop()
    assert first is not None
    first.fail("mail-KeyError", "KeyError: 'cc'")
    page = tab.open("/failures/mail-KeyError")
    expect(page.locator("#live")).to_have_text("live")
    queue.put("app.Job", {})
    second = queue.pop()
    assert second is not None
    second.fail(
        "mail-KeyError",
        'Traceback (most recent call last):\n  File "app.py", line 1, in process\n'
        "KeyError: 'to'\n",
    )
    row = page.locator(f'#jobs tr[data-jid="{second.jid}"]')
    expect(row.locator(".msg")).to_have_text("KeyError: 'to'")


def test_an_unknown_queue_says_it_was_never_seen(tab: Tab) -> None:
    response = tab.page.goto(tab.dashboard.url + "/queues/underpant")
    assert response is not None and response.status == 404
    expect(tab.page.locator("main")).to_contain_text("The queue 'underpant' has never been seen")


def test_a_missing_job_answers_404_with_a_page(tab: Tab) -> None:
    response = tab.page.goto(tab.dashboard.url + "/jobs/no-such-jid")
    assert response is not None and response.status == 404
    expect(tab.page.locator("main")).to_contain_text("There is no job 'no-such-jid'")


@pytest.fixture
def roles(server: Server) -> Iterator[str]:
    app = create_app(server.url, auth="basic", users="vera:pw:viewer,otto:pw:operator,ada:pw:admin")
    with serve(app) as url:
        yield url


@pytest.mark.parametrize(
    ("user", "role", "sees_actions", "sees_admin"),
    [
        ("vera", "viewer", False, False),
        ("otto", "operator", True, False),
        ("ada", "admin", True, True),
    ],
)
def test_pages_show_only_the_actions_the_role_may_take(
    browser: Browser,
    roles: str,
    shop: dict[str, str],
    user: str,
    role: str,
    sees_actions: bool,
    sees_admin: bool,
) -> None:
    context = browser.new_context(http_credentials={"username": user, "password": "pw"})
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        page.goto(f"{roles}/jobs/{shop['failed']}")
        expect(page.locator("header .badge")).to_have_text(role)
        expect(page.get_by_role("button", name="Retry")).to_have_count(int(sees_actions))
        page.goto(f"{roles}/queues/emails")
        expect(page.get_by_role("button", name="Pause")).to_have_count(int(sees_actions))
        expect(page.get_by_role("button", name="Forget queue")).to_have_count(int(sees_admin))
        page.goto(f"{roles}/config")
        resets = page.get_by_role("button", name="Reset")
        if sees_admin:
            expect(resets.first).to_be_visible()
        else:
            expect(resets).to_have_count(0)
    finally:
        context.close()


@pytest.fixture(params=["mounted", "root_path"])
def under_ops(request: pytest.FixtureRequest, server: Server) -> Iterator[str]:
    """The dashboard at /ops: mounted inside another ASGI app, as a user would embed it,
    or on its own with ``root_path="/ops"`` (``reqless-web --root-path /ops``) behind a
    proxy that passes the prefix on.
    """
    if request.param == "root_path":
        with serve(create_app(server.url, root_path="/ops")) as url:
            yield url
        return
    # A mounted app gets no lifespan events, so the outer app owns (and closes) the client.
    client = reqless.aio.Client(server.url)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    outer = Starlette(routes=[Mount("/ops", app=create_app(client))], lifespan=lifespan)
    with serve(outer) as url:
        yield url


def test_under_a_root_path_links_actions_and_live_updates_stay_inside_it(
    browser: Browser, under_ops: str, server: Server
) -> None:
    client = reqless.Client(server.url)
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    try:
        client.queues["emails"].put("app.Job", {})
        page = context.new_page()
        page.goto(f"{under_ops}/ops/")
        expect(page.locator("#live")).to_have_text("live")

        client.queues["late"].put("app.Job", {})
        expect(page.locator('#queues tr[data-queue="late"]')).to_have_count(1)
        page.get_by_role("link", name="emails").click()
        page.wait_for_url(f"{under_ops}/ops/queues/emails")
        page.get_by_role("button", name="Pause").click()
        expect(page.locator("#paused-badge")).to_be_visible()
        assert client.queues["emails"].paused
    finally:
        context.close()
        client.close()
