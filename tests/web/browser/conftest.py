"""A live dashboard and a real browser for the browser tests.

``dashboard`` runs the app under uvicorn in a thread, on a free loopback port,
against the flushed test server; ``page`` is a fresh Chromium tab (Debian's
``/usr/bin/chromium``, driven by Playwright; no browser is ever downloaded).
Every tab records uncaught script errors and Content-Security-Policy
violations, and a test fails if its pages produced any: our own markup must
never need an inline script or style.

The browser tests use Valkey only: they test the pages, and the API tests
already cover both servers.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, Playwright, sync_playwright

import reqless
from reqless_web import create_app
from tests.conftest import IN_CI, Server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: How long a test waits for something to show up in the page.
WAIT_MS = 10_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Dashboard:
    """A running dashboard: ``url`` is its root, ``client`` talks to the same server."""

    url: str
    client: reqless.Client


@dataclass
class Tab:
    """A browser tab and the problems its pages reported."""

    page: Page
    dashboard: Dashboard
    errors: list[str] = field(default_factory=list)

    def open(self, path: str) -> Page:
        self.page.goto(self.dashboard.url + path)
        return self.page


class _Uvicorn(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        # Signals belong to pytest's main thread, not to a server in a helper thread.
        pass


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve ``app`` on a free loopback port until the generator is closed."""
    port = _free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    server = _Uvicorn(config)
    thread = threading.Thread(target=server.run, name="dashboard", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the dashboard did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


@pytest.fixture
def dashboard(server: Server) -> Iterator[Dashboard]:
    client = reqless.Client(server.url)
    app = create_app(server.url)
    try:
        with serve(app) as url:
            yield Dashboard(url, client)
    finally:
        client.close()


# Module scope, not session: the sync API keeps an event loop running in this thread
# while it is started, and asyncio.run() in the tests that follow would refuse to run.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"{CHROMIUM} missing in CI (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture
def tab(browser: Browser, dashboard: Dashboard) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    opened = Tab(page, dashboard)

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            opened.errors.append(f"CSP: {message.text}")

    def on_error(error: Error) -> None:
        opened.errors.append(f"script error: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_error)
    yield opened
    context.close()
    assert opened.errors == [], "the pages reported script errors or CSP violations"


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where screenshots go: ``REQLESS_WEB_SCREENSHOTS`` (docs/screenshots for the README)
    or a temporary folder, so a plain test run never rewrites the tracked images."""
    wanted = os.environ.get("REQLESS_WEB_SCREENSHOTS")
    folder = Path(wanted) if wanted else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
