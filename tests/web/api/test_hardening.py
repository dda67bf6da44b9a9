"""The security review's findings (issue 15, item 8): one test per hole, each failing
without its fix. They run against a real server, through the whole app."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.requests import Request
from starlette.testclient import TestClient

import reqless
from reqless_web import WebSettings, WebSettingsError, create_app
from reqless_web._limits import FailedLogins
from reqless_web._security import CSRF_COOKIE, csrf_token
from tests.conftest import Server
from tests.web.api.conftest import KLASS, SECRET, OpenApi

USERS = "vera:v-pass:viewer,ada:a-pass:admin"


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def with_token(client: TestClient, **headers: str) -> TestClient:
    client.headers["X-CSRF-Token"] = client.get("/api/v1/session", headers=headers).json()[
        "csrf_token"
    ]
    return client


# --------------------------------------------------------------------------- DNS rebinding


def test_a_request_for_a_foreign_host_name_is_refused(
    open_api: OpenApi, rq: reqless.Client
) -> None:
    """A page on rebind.evil.example whose name now resolves to 127.0.0.1 reaches the
    dashboard with that Host header: it must get neither a token nor an action."""
    rq.queues["mail"].put(KLASS, {})
    client = open_api(auth="none")
    evil = {"Host": "rebind.evil.example:8080"}
    session = client.get("/api/v1/session", headers=evil)
    assert session.status_code == 400
    assert "rebind.evil.example" in session.json()["error"]
    assert "csrf_token" not in session.json()
    assert client.get("/", headers=evil).status_code == 400
    # Even a token read under the right name does not work under the wrong one.
    token = client.get("/api/v1/session").json()["csrf_token"]
    response = client.post("/api/v1/queues/mail/pause", headers={**evil, "X-CSRF-Token": token})
    assert response.status_code == 400
    assert rq.queues["mail"].paused is False


@pytest.mark.parametrize("host", ["127.0.0.1:8080", "localhost", "LOCALHOST:1", "[::1]:8080"])
def test_loopback_names_are_allowed_by_default(open_api: OpenApi, host: str) -> None:
    assert open_api(auth="none").get("/api/v1/session", headers={"Host": host}).status_code == 200


def test_allowed_hosts_replace_the_loopback_names(open_api: OpenApi) -> None:
    client = open_api(auth="none", allowed_hosts="dash.example.com")
    assert (
        client.get("/api/v1/session", headers={"Host": "dash.example.com:443"}).status_code == 200
    )
    assert client.get("/api/v1/session", headers={"Host": "127.0.0.1"}).status_code == 400
    anything = open_api(auth="none", allowed_hosts="*")
    assert anything.get("/api/v1/session", headers={"Host": "a.example"}).status_code == 200


def test_probes_answer_whatever_the_host_name(open_api: OpenApi) -> None:
    # A kubelet asks by the pod's address, which no one lists as a host name.
    client = open_api(auth="none")
    assert client.get("/healthz", headers={"Host": "10.1.2.3:8080"}).status_code == 200
    assert client.get("/readyz", headers={"Host": "10.1.2.3:8080"}).status_code == 200


def test_allowed_hosts_come_from_the_environment() -> None:
    settings = WebSettings.from_env({"REQLESS_WEB_ALLOWED_HOSTS": "Dash.Example.com, [::1]"})
    assert settings.allowed_hosts == ("dash.example.com", "::1")


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "http://127.0.0.1:9999", "null", "http://localhost"]
)
def test_a_state_change_from_another_origin_is_refused(
    open_api: OpenApi, rq: reqless.Client, origin: str
) -> None:
    rq.queues["mail"].put(KLASS, {})
    client = with_token(open_api(auth="none"))
    response = client.post("/api/v1/queues/mail/pause", headers={"Origin": origin})
    assert response.status_code == 403
    assert "cross-origin" in response.json()["error"]
    assert rq.queues["mail"].paused is False


@pytest.mark.parametrize("origin", [None, "http://127.0.0.1", "http://127.0.0.1:80"])
def test_a_state_change_from_the_dashboard_itself_is_served(
    open_api: OpenApi, rq: reqless.Client, origin: str | None
) -> None:
    rq.queues["mail"].put(KLASS, {})
    client = with_token(open_api(auth="none"))
    headers = {"Origin": origin} if origin else {}
    assert client.post("/api/v1/queues/mail/pause", headers=headers).status_code == 200
    assert rq.queues["mail"].paused is True


def test_behind_a_trusted_proxy_the_origin_may_match_the_forwarded_host(
    open_api: OpenApi, rq: reqless.Client
) -> None:
    rq.queues["mail"].put(KLASS, {})
    public = {"Origin": "https://dash.example.com", "X-Forwarded-Host": "dash.example.com"}
    untrusted = with_token(open_api(auth="none"))
    assert untrusted.post("/api/v1/queues/mail/pause", headers=public).status_code == 403
    proxied = with_token(open_api(auth="none", trusted_proxies="testclient"))
    assert proxied.post("/api/v1/queues/mail/pause", headers=public).status_code == 200
    assert rq.queues["mail"].paused is True


# --------------------------------------------------------------------------- proxy roles


def test_the_proxy_role_header_is_ignored_unless_configured(open_api: OpenApi) -> None:
    """A proxy that sets the user but passes the client's own X-Forwarded-Role through
    must not make that client admin."""
    client = open_api(auth="proxy", trusted_proxies=("testclient",))
    session = client.get(
        "/api/v1/session", headers={"X-Forwarded-User": "mallory", "X-Forwarded-Role": "admin"}
    ).json()
    assert (session["user"], session["role"]) == ("mallory", "viewer")


def test_an_empty_proxy_role_header_setting_means_none() -> None:
    env = {"REQLESS_WEB_PROXY_ROLE_HEADER": ""}
    assert WebSettings.from_env(env).proxy_role_header is None
    configured = WebSettings.from_env({"REQLESS_WEB_PROXY_ROLE_HEADER": "X-Role"})
    assert configured.proxy_role_header == "X-Role"


# --------------------------------------------------------------------------- basic auth


@pytest.mark.parametrize("users", ["ann::admin", "bob:pw:viewer,ann::operator"])
def test_a_user_with_an_empty_password_is_refused(users: str) -> None:
    with pytest.raises(WebSettingsError, match="'ann' has an empty password"):
        WebSettings().with_options(auth="basic", users=users)
    with pytest.raises(WebSettingsError, match="'ann'"):
        WebSettings.from_env({"REQLESS_WEB_AUTH": "basic", "REQLESS_WEB_USERS": users})


@contextlib.contextmanager
def basic_client(server: Server, address: str) -> Iterator[TestClient]:
    app = create_app(server.url, auth="basic", users=USERS, secret=SECRET)
    with TestClient(app, base_url="http://127.0.0.1", client=(address, 40000)) as client:
        yield client


def test_failed_logins_are_throttled_per_client_address(server: Server) -> None:
    app = create_app(server.url, auth="basic", users=USERS, secret=SECRET)
    guesser = TestClient(app, base_url="http://127.0.0.1", client=("203.0.113.9", 40000))
    other = TestClient(app, base_url="http://127.0.0.1", client=("198.51.100.7", 40000))
    with guesser, other:
        for n in range(10):
            wrong = guesser.get("/api/v1/session", headers=basic("ada", f"guess-{n}"))
            assert wrong.status_code == 401
        # Past the limit even the right password is not looked at.
        refused = guesser.get("/api/v1/session", headers=basic("ada", "a-pass"))
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert "too many failed logins" in refused.json()["error"]
        # Someone else, from another address, is not locked out by the guesser.
        assert other.get("/api/v1/session", headers=basic("ada", "a-pass")).status_code == 200


def test_asking_without_credentials_is_not_a_failed_login(server: Server) -> None:
    # Browsers ask once without credentials to get the challenge.
    with basic_client(server, "203.0.113.10") as client:
        for _ in range(15):
            assert client.get("/api/v1/session").status_code == 401
        assert client.get("/api/v1/session", headers=basic("ada", "a-pass")).status_code == 200


def test_behind_a_trusted_proxy_failed_logins_count_per_forwarded_address(
    server: Server,
) -> None:
    app = create_app(
        server.url, auth="basic", users=USERS, secret=SECRET, trusted_proxies="203.0.113.1"
    )
    with TestClient(app, base_url="http://127.0.0.1", client=("203.0.113.1", 1)) as proxy:
        for n in range(10):
            headers = {**basic("ada", f"guess-{n}"), "X-Forwarded-For": "192.0.2.66"}
            assert proxy.get("/api/v1/session", headers=headers).status_code == 401
        blocked = {**basic("ada", "a-pass"), "X-Forwarded-For": "192.0.2.66"}
        assert proxy.get("/api/v1/session", headers=blocked).status_code == 429
        # A client forging an earlier entry is still counted by the address the proxy saw.
        forged = {**basic("ada", "a-pass"), "X-Forwarded-For": "10.9.9.9, 192.0.2.66"}
        assert proxy.get("/api/v1/session", headers=forged).status_code == 429
        someone = {**basic("ada", "a-pass"), "X-Forwarded-For": "192.0.2.77"}
        assert proxy.get("/api/v1/session", headers=someone).status_code == 200


def test_failed_logins_are_forgotten_after_the_window() -> None:
    now = [1000.0]
    limiter = FailedLogins(limit=3, window=60.0, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.retry_after("a") is None
        limiter.failed("a")
        now[0] += 1
    assert limiter.retry_after("a") == pytest.approx(57.0)
    assert limiter.retry_after("b") is None
    now[0] += 57
    assert limiter.retry_after("a") is None


def test_failed_logins_remember_a_bounded_number_of_addresses() -> None:
    limiter = FailedLogins(limit=1, window=60.0, max_addresses=2, clock=lambda: 0.0)
    for address in ("a", "b", "c"):
        limiter.failed(address)
    assert limiter.retry_after("a") is None
    assert limiter.retry_after("c") is not None


# --------------------------------------------------------------------------- headers, cookies


def test_a_500_answer_carries_the_security_headers(server: Server) -> None:
    app = create_app(server.url, auth="none", secret=SECRET)

    async def broken(request: Request) -> Any:
        raise RuntimeError("a bug")

    app.add_route("/broken", broken)
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
        response = client.get("/broken")
    assert response.status_code == 500
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.json() == {"error": "internal server error"}
    assert "a bug" not in response.text


def test_the_csrf_cookie_is_secure_behind_a_trusted_tls_proxy(open_api: OpenApi) -> None:
    tls = {"X-Forwarded-Proto": "https"}
    proxied = open_api(auth="none", trusted_proxies="testclient")
    assert "; Secure" in proxied.get("/api/v1/session", headers=tls).headers["set-cookie"]
    assert "Secure" not in proxied.get("/api/v1/session").headers["set-cookie"]
    # Anyone else may claim https: that must not change the cookie.
    direct = open_api(auth="none")
    assert "Secure" not in direct.get("/api/v1/session", headers=tls).headers["set-cookie"]


def _unreachable_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


def test_readyz_says_only_not_ready_to_a_caller_who_has_not_logged_in() -> None:
    url = _unreachable_url()
    app = create_app(url, auth="basic", users=USERS, secret=SECRET)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {"error": "not ready"}
    assert url.split("//")[1].split("/")[0] not in ready.text
    assert ready.headers["content-security-policy"]


# --------------------------------------------------------------------------- body limit


def test_reading_a_body_stops_at_the_limit(server: Server) -> None:
    """The API must refuse a 4 MiB body after reading little more than 1 MiB of it."""
    app = create_app(server.url, auth="none", secret=SECRET)
    nonce = "n" * 24
    chunk = b" " * (64 * 1024)
    chunks = 64
    given = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal given
        given += 1
        return {"type": "http.request", "body": chunk, "more_body": given < chunks}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": "/api/v1/config/heartbeat",
        "raw_path": b"/api/v1/config/heartbeat",
        "root_path": "",
        "query_string": b"",
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8080),
        # No content-length: the body comes in chunks, as with chunked encoding.
        "headers": [
            (b"host", b"127.0.0.1:8080"),
            (b"content-type", b"application/json"),
            (b"cookie", f"{CSRF_COOKIE}={nonce}".encode()),
            (b"x-csrf-token", csrf_token(SECRET, nonce, None).encode()),
        ],
    }

    async def call() -> None:
        await app(scope, receive, send)  # type: ignore[arg-type]

    asyncio.run(call())
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 413
    assert given <= (1 << 20) // len(chunk) + 1


def test_a_declared_length_over_the_limit_is_refused_unread(api: TestClient) -> None:
    response = api.put(
        "/api/v1/config/heartbeat",
        content=b"{}",
        headers={"content-type": "application/json", "content-length": str(4 << 20)},
    )
    assert response.status_code == 413


# --------------------------------------------------------------------------- three bugs


@pytest.mark.parametrize(
    "path",
    ["/queues/mail", "/failures/boom", "/tracked", "/tags?tag=x&", "/queues/mail?state=running&"],
)
def test_a_unicode_digit_page_number_is_page_one(
    api: TestClient, rq: reqless.Client, path: str
) -> None:
    rq.queues["mail"].put(KLASS, {})
    separator = "&" if path.endswith("&") else "?"
    response = api.get(path.rstrip("&") + separator + "page=²")
    assert response.status_code == 200
    assert "page 1" in response.text


@pytest.mark.parametrize("depth", [65, 1000, 100_000])
def test_deeply_nested_json_is_a_400_not_a_500(api: TestClient, depth: int) -> None:
    body = '{"value": ' + "[" * depth + "]" * depth + "}"
    response = api.put(
        "/api/v1/config/heartbeat", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "nests deeper than 64" in response.json()["error"]


def test_nested_json_within_the_limit_is_still_read(api: TestClient, rq: reqless.Client) -> None:
    jid = rq.queues["mail"].recur(KLASS, {}, 60)
    data = json.loads("[" * 60 + "]" * 60)
    response = api.post(f"/api/v1/recurring/{jid}", json={"data": data})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("path", ["/api/v1/queues/a%0Ab", "/api/v1/%0A", "/api/v1/jobs/x%0Dy%0A"])
def test_an_api_path_no_route_can_match_gets_the_api_json_404(api: TestClient, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert "no API endpoint" in response.json()["error"]


def test_allowed_hosts_given_directly_are_compared_as_the_host_header_spells_them() -> None:
    settings = WebSettings(allowed_hosts=("Dash.Example.COM", "[::1]"))
    assert settings.allowed_hosts == ("dash.example.com", "::1")
    with pytest.raises(WebSettingsError, match="allowed host"):
        WebSettings(allowed_hosts=("a.example/path",))
