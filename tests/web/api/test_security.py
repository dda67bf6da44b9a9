"""Authentication, roles, CSRF and the security headers, against a real server."""

from __future__ import annotations

import base64
import re

import pytest
from starlette.testclient import TestClient

import reqless
from reqless_web._api._common import ENDPOINTS, Endpoint
from reqless_web._settings import Role
from tests.web.api.conftest import KLASS, OpenApi

USERS = "vera:v-pass:viewer,otto:o-pass:operator,ada:a-pass:admin"
MUTATING = [e for e in ENDPOINTS if e.method != "GET"]


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def as_user(open_api: OpenApi, user: str, password: str) -> TestClient:
    """A basic-auth session that sends its CSRF token, as a page would."""
    client = open_api(auth="basic", users=USERS)
    client.headers.update(basic(user, password))
    client.headers["X-CSRF-Token"] = client.get("/api/v1/session").json()["csrf_token"]
    return client


def concrete(path: str) -> str:
    """A URL for a route template: every parameter filled with a harmless name."""
    return "/api/v1" + re.sub(r"\{[^}]+\}", "x", path)


def test_every_response_carries_the_strict_security_headers(open_api: OpenApi) -> None:
    client = open_api(auth="basic", users=USERS)
    for response in (
        client.get("/api/v1/queues", headers=basic("vera", "v-pass")),
        client.get("/api/v1/queues"),  # refused: the headers are there too
        client.get("/api/v1/no-such-thing", headers=basic("vera", "v-pass")),
        client.get("/healthz"),
    ):
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"


def test_the_csrf_cookie_is_http_only_and_same_site_strict(open_api: OpenApi) -> None:
    response = open_api(auth="none").get("/api/v1/session")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("reqless_csrf=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_a_mutating_request_without_the_csrf_token_is_refused_and_changes_nothing(
    open_api: OpenApi, rq: reqless.Client
) -> None:
    rq.queues["mail"].put(KLASS, {})
    client = open_api(auth="none")
    response = client.post("/api/v1/queues/mail/pause")
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]
    assert rq.queues["mail"].paused is False


def test_a_wrong_csrf_token_is_refused(open_api: OpenApi, rq: reqless.Client) -> None:
    rq.queues["mail"].put(KLASS, {})
    client = open_api(auth="none")
    client.get("/api/v1/session")
    response = client.post("/api/v1/queues/mail/pause", headers={"X-CSRF-Token": "forged"})
    assert response.status_code == 403
    assert rq.queues["mail"].paused is False


def test_a_token_is_only_good_with_the_cookie_it_was_issued_for(
    open_api: OpenApi, rq: reqless.Client
) -> None:
    rq.queues["mail"].put(KLASS, {})
    victim, attacker = open_api(auth="none"), open_api(auth="none")
    stolen = attacker.get("/api/v1/session").json()["csrf_token"]
    victim.get("/api/v1/session")
    response = victim.post("/api/v1/queues/mail/pause", headers={"X-CSRF-Token": stolen})
    assert response.status_code == 403
    assert rq.queues["mail"].paused is False


def test_the_csrf_token_may_come_as_a_form_field(open_api: OpenApi, rq: reqless.Client) -> None:
    rq.queues["mail"].put(KLASS, {})
    client = open_api(auth="none")
    token = client.get("/api/v1/session").json()["csrf_token"]
    response = client.post("/api/v1/queues/mail/pause", data={"csrf_token": token})
    assert response.status_code == 200
    assert rq.queues["mail"].paused is True


@pytest.mark.parametrize("endpoint", MUTATING, ids=lambda e: f"{e.method} {e.path}")
def test_every_mutating_endpoint_refuses_a_request_without_csrf_token(
    open_api: OpenApi, endpoint: Endpoint
) -> None:
    client = open_api(auth="none")
    response = client.request(endpoint.method, concrete(endpoint.path), json={})
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]


def test_basic_auth_asks_for_credentials(open_api: OpenApi) -> None:
    response = open_api(auth="basic", users=USERS).get("/api/v1/queues")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic")
    assert response.json() == {"error": "authentication required"}


@pytest.mark.parametrize(
    ("user", "password"), [("vera", "wrong"), ("nobody", "v-pass"), ("vera", "")]
)
def test_basic_auth_refuses_a_wrong_user_or_password(
    open_api: OpenApi, user: str, password: str
) -> None:
    response = open_api(auth="basic", users=USERS).get(
        "/api/v1/queues", headers=basic(user, password)
    )
    assert response.status_code == 401


def test_malformed_basic_credentials_are_refused(open_api: OpenApi) -> None:
    response = open_api(auth="basic", users=USERS).get(
        "/api/v1/queues", headers={"Authorization": "Basic !!!not-base64"}
    )
    assert response.status_code == 401


def test_the_session_names_the_user_and_role(open_api: OpenApi) -> None:
    client = as_user(open_api, "otto", "o-pass")
    session = client.get("/api/v1/session").json()
    assert session["user"] == "otto"
    assert session["role"] == "operator"
    assert session["auth"] == "basic"
    assert session["csrf_token"] == client.headers["X-CSRF-Token"]


def test_a_viewer_reads_but_may_not_act(open_api: OpenApi, rq: reqless.Client) -> None:
    rq.queues["mail"].put(KLASS, {})
    client = as_user(open_api, "vera", "v-pass")
    assert client.get("/api/v1/queues").status_code == 200
    response = client.post("/api/v1/queues/mail/pause")
    assert response.status_code == 403
    assert "operator" in response.json()["error"]
    assert rq.queues["mail"].paused is False


def test_an_operator_acts_on_queues_but_may_not_change_config(
    open_api: OpenApi, rq: reqless.Client
) -> None:
    rq.queues["mail"].put(KLASS, {})
    client = as_user(open_api, "otto", "o-pass")
    assert client.post("/api/v1/queues/mail/pause").status_code == 200
    assert rq.queues["mail"].paused is True
    response = client.put("/api/v1/config/heartbeat", json={"value": 5})
    assert response.status_code == 403
    assert rq.config["heartbeat"] == 60


def test_an_admin_changes_config(open_api: OpenApi, rq: reqless.Client) -> None:
    client = as_user(open_api, "ada", "a-pass")
    assert client.put("/api/v1/config/heartbeat", json={"value": 5}).status_code == 200
    assert rq.config["heartbeat"] == 5


@pytest.mark.parametrize("endpoint", MUTATING, ids=lambda e: f"{e.method} {e.path}")
def test_every_mutating_endpoint_refuses_a_role_below_its_own(
    open_api: OpenApi, endpoint: Endpoint
) -> None:
    below = {Role.operator: ("vera", "v-pass"), Role.admin: ("otto", "o-pass")}[endpoint.role]
    client = as_user(open_api, *below)
    response = client.request(endpoint.method, concrete(endpoint.path), json={})
    assert response.status_code == 403
    assert endpoint.role.name in response.json()["error"]


def test_admin_only_endpoints_are_config_patterns_and_forgetting() -> None:
    admin = {f"{e.method} {e.path}" for e in ENDPOINTS if e.role is Role.admin}
    assert admin == {
        "POST /queues/{queue:path}/forget",
        "POST /workers/{worker:path}/forget",
        "POST /throttles/{tid:path}",
        "DELETE /throttles/{tid:path}",
        "PUT /patterns",
        "PUT /config/{key}",
        "DELETE /config/{key}",
    }


def test_proxy_auth_takes_the_user_and_role_from_the_trusted_proxy(open_api: OpenApi) -> None:
    client = open_api(
        auth="proxy", trusted_proxies=("testclient",), proxy_role_header="X-Forwarded-Role"
    )
    session = client.get(
        "/api/v1/session", headers={"X-Forwarded-User": "pat", "X-Forwarded-Role": "operator"}
    ).json()
    assert (session["user"], session["role"]) == ("pat", "operator")


def test_proxy_auth_falls_back_to_configured_users_then_to_viewer(open_api: OpenApi) -> None:
    client = open_api(auth="proxy", trusted_proxies=("testclient",), users="ada:admin")
    ada = client.get("/api/v1/session", headers={"X-Forwarded-User": "ada"}).json()
    bob = client.get("/api/v1/session", headers={"X-Forwarded-User": "bob"}).json()
    assert ada["role"] == "admin"
    assert bob["role"] == "viewer"


def test_proxy_auth_refuses_requests_that_bypass_the_proxy(open_api: OpenApi) -> None:
    # The test client connects from "testclient", which is not a trusted address.
    client = open_api(auth="proxy")
    response = client.get("/api/v1/queues", headers={"X-Forwarded-User": "mallory"})
    assert response.status_code == 401
    assert "trusted proxy" in response.json()["error"]


def test_proxy_auth_needs_the_user_header(open_api: OpenApi) -> None:
    client = open_api(auth="proxy", trusted_proxies=("testclient",))
    assert client.get("/api/v1/queues").status_code == 401


def test_proxy_auth_refuses_an_unknown_role(open_api: OpenApi) -> None:
    client = open_api(
        auth="proxy", trusted_proxies=("testclient",), proxy_role_header="X-Forwarded-Role"
    )
    response = client.get(
        "/api/v1/queues", headers={"X-Forwarded-User": "pat", "X-Forwarded-Role": "root"}
    )
    assert response.status_code == 403
    assert "'root'" in response.json()["error"]


def test_health_probes_answer_without_credentials(open_api: OpenApi) -> None:
    client = open_api(auth="basic", users=USERS)
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics").status_code == 401
