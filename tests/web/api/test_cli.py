"""The ``reqless-web`` command and the settings it builds."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

import reqless_web
from reqless_web import Role, WebSettings, WebSettingsError
from reqless_web._cli import UsageError, is_loopback, main, parser, shown_url, wait_for_server
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


def test_basic_auth_without_users_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQLESS_WEB_USERS", raising=False)
    with pytest.raises(SystemExit) as exit_:
        main(["--auth", "basic", "--host", "0.0.0.0"])
    assert exit_.value.code == 2
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


# --------------------------------------------------------------------------- help and version


def test_every_option_names_its_default_and_environment_variable() -> None:
    options = [
        a for a in parser()._actions if a.option_strings and a.dest not in ("help", "version")
    ]
    assert len(options) >= 15
    for action in options:
        assert action.help is not None, action.option_strings
        assert "default:" in action.help, action.option_strings
        assert "env REQLESS_" in action.help, action.option_strings


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"reqless-web {reqless_web.__version__}"


def test_options_fall_back_to_their_environment_variables() -> None:
    env = {
        "REQLESS_URL": "redis://db:6379/3",
        "REQLESS_DRIVER": "valkey",
        "REQLESS_WEB_HOST": "::1",
        "REQLESS_WEB_PORT": "9090",
        "REQLESS_WEB_INSECURE": "1",
        "REQLESS_WEB_LOG_LEVEL": "DEBUG",
    }
    args = parser(env).parse_args([])
    assert (args.url, args.driver, args.host, args.port) == (
        "redis://db:6379/3",
        "valkey",
        "::1",
        9090,
    )
    assert args.insecure is True
    assert args.log_level == "debug"
    assert parser(env).parse_args(["--port", "7070"]).port == 7070


@pytest.mark.parametrize("port", ["http", "0", "70000"])
def test_a_bad_port_is_a_usage_error(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--port", port])
    assert exit_.value.code == 2
    assert port in capsys.readouterr().err


# --------------------------------------------------------------------------- fail fast


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--url", "nosuch://x"], "'nosuch://x'"),
        (["--url", "redis://127.0.0.1:notaport/0"], "notaport"),
        (["--url", "redis://127.0.0.1:6379/0", "--driver", "nope"], "'nope'"),
    ],
)
def test_a_bad_url_or_driver_ends_the_command_with_one_line_and_code_2(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQLESS_DRIVER", raising=False)
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--log-level", "critical"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("reqless-web: error: ")
    assert named in lines[0]


def test_wrong_credentials_end_the_command_naming_the_server_not_the_password(
    server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"redis://nobody-here:s3cret-guess@{server.host}:{server.port}/0"
    with pytest.raises(SystemExit) as exit_:
        main(["--url", url, "--log-level", "critical"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "refused the credentials" in err
    assert f"nobody-here:***@{server.host}" in err
    assert "s3cret-guess" not in err


def test_a_server_that_is_down_is_waited_for_with_a_log_line_per_step(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"redis://ann:pw@127.0.0.1:{port}/0"
    waits: list[float] = []

    class GaveUp(Exception):
        pass

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 4:
            raise GaveUp

    with caplog.at_level("WARNING", logger="reqless_web"), pytest.raises(GaveUp):
        wait_for_server(url, None, sleep=sleep)
    assert waits == [0.5, 1.0, 2.0, 4.0]
    lines = [r.getMessage() for r in caplog.records if r.name == "reqless_web"]
    assert len(lines) == 4
    assert all("not reachable" in line and "ann:***@" in line for line in lines)
    assert "trying again in 4.0 s" in lines[-1]
    assert not any(":pw@" in line for line in lines)


def test_waiting_ends_as_soon_as_the_server_answers(server: Server) -> None:
    def never(seconds: float) -> None:
        raise AssertionError("waited for a server that was up")

    wait_for_server(server.url, None, sleep=never)


def test_a_bad_url_is_a_usage_error_not_a_wait() -> None:
    with pytest.raises(UsageError, match="nosuch"):
        wait_for_server("nosuch://x", None, sleep=lambda s: None)


def test_shown_urls_hide_the_password() -> None:
    assert shown_url("redis://u:p@h:1/0") == "redis://u:***@h:1/0"
    assert shown_url("redis://:p@h:1/0") == "redis://:***@h:1/0"
    assert shown_url("redis://h:1/0") == "redis://h:1/0"


def test_the_command_waits_for_a_server_that_is_down(tmp_path: object) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("REQLESS_")}
    command = [sys.executable, "-m", "reqless_web._cli", "--url", f"redis://127.0.0.1:{port}/0"]
    process = subprocess.Popen(
        [*command, "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline().decode()
        assert "not reachable" in line and "trying again in 0.5 s" in line
        assert process.poll() is None
    finally:
        process.terminate()
        process.wait(10)
        assert process.stderr is not None
        process.stderr.close()


def test_a_bound_host_name_is_allowed_and_a_wildcard_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from reqless_web._cli import _with_bound_host

    settings = WebSettings(auth="basic", users={"a": reqless_web.User("a", Role.admin, "pw")})
    assert "dash.example.com" in _with_bound_host(settings, "dash.example.com").allowed_hosts
    with caplog.at_level("WARNING", logger="reqless_web"):
        assert _with_bound_host(settings, "0.0.0.0").allowed_hosts == settings.allowed_hosts
    assert "--allowed-host" in caplog.text
    chosen = settings.with_options(allowed_hosts="ops.example.com")
    assert _with_bound_host(chosen, "10.0.0.5").allowed_hosts == ("ops.example.com",)


def test_a_settings_error_is_a_reqless_error() -> None:
    import reqless

    assert issubclass(WebSettingsError, reqless.InvalidArgumentError)
    assert issubclass(WebSettingsError, ValueError)
