"""The ``reqless-web`` command and the settings it builds."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from reqless_web import Role, WebSettings, WebSettingsError
from reqless_web._cli import is_loopback, main
from tests.conftest import Server


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "dashboard.example.com"])
def test_serving_a_public_address_without_auth_is_refused(
    host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--url", "redis://127.0.0.1:1/0", "--host", host])
    assert exit_.value.code == 2
    assert "without authentication" in capsys.readouterr().err


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_addresses_are_recognised(host: str) -> None:
    assert is_loopback(host)


def test_basic_auth_without_users_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--auth", "basic", "--host", "0.0.0.0"])
    assert "at least one user" in capsys.readouterr().err


def test_settings_read_the_environment_and_flags_override_it() -> None:
    env = {
        "REQLESS_WEB_AUTH": "basic",
        "REQLESS_WEB_USERS": "ann:pw:admin,bob:pw2:viewer",
        "REQLESS_WEB_REFRESH": "2.5",
        "REQLESS_WEB_ROOT_PATH": "/ops",
    }
    settings = WebSettings.from_env(env)
    assert settings.auth == "basic"
    assert settings.users["ann"].role is Role.admin
    assert settings.users["bob"].password == "pw2"
    assert (settings.refresh, settings.root_path) == (2.5, "/ops")
    assert settings.with_options(refresh=9.0).refresh == 9.0


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"auth": "kerberos"}, "kerberos"),
        ({"users": "ann:pw:superuser"}, "superuser"),
        ({"users": "justaname"}, "justaname"),
        ({"refresh": 0}, "refresh"),
        ({"root_path": "ops/"}, "ops/"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_settings_are_refused_naming_the_value(options: dict[str, object], named: str) -> None:
    with pytest.raises(WebSettingsError, match=named):
        WebSettings().with_options(**options)


def test_a_password_may_contain_colons() -> None:
    settings = WebSettings().with_options(auth="basic", users="ann:a:b:c:operator")
    assert settings.users["ann"].password == "a:b:c"
    assert settings.users["ann"].role is Role.operator


def test_the_command_serves_the_dashboard_under_its_root_path(server: Server) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("REQLESS_WEB_")}
    command = [sys.executable, "-m", "reqless_web._cli", "--url", server.url, "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--root-path", "/ops", "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/ops/api/v1/session", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "reqless-web did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.json()["root_path"] == "/ops"
        assert "Path=/ops" in response.headers["set-cookie"]
        assert httpx.get(f"http://127.0.0.1:{port}/ops/readyz").json() == {"status": "ready"}
        # A proxy that strips the prefix forwards /api/v1/...: that is served too.
        stripped = httpx.get(f"http://127.0.0.1:{port}/api/v1/session").json()
        assert stripped["root_path"] == "/ops"
    finally:
        process.terminate()
        process.wait(10)
        assert process.stderr is not None
        process.stderr.close()
