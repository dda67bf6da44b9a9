"""Logging in: ACL users with passwords in the URL, and TLS with ``rediss://``."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from reqless import (
    AuthenticationError,
    ClientSettings,
    CoreScript,
    PermissionDeniedError,
    ServerUnavailableError,
)
from reqless.drivers import connect
from tests.conftest import IN_CI, Server, _free_port

PASSWORD = "s3cret-Pa55"


@pytest.fixture
def acl_users(admin: redis.Redis) -> Iterator[None]:
    """``queue-user`` may do everything; ``no-functions`` may not run FUNCTION (so no LOAD)."""
    admin.execute_command("ACL", "SETUSER", "queue-user", "on", f">{PASSWORD}", "~*", "&*", "+@all")
    admin.execute_command(
        "ACL", "SETUSER", "no-functions", "on", f">{PASSWORD}", "~*", "&*", "+@all", "-function"
    )
    yield
    # ACL users outlive FLUSHALL; later tests must not inherit them.
    admin.execute_command("ACL", "DELUSER", "queue-user", "no-functions")


def _url(server: Server, user: str, password: str) -> str:
    return f"redis://{user}:{password}@{server.host}:{server.port}/0"


@pytest.mark.usefixtures("acl_users")
def test_an_acl_user_logs_in_with_the_credentials_in_the_url(
    server: Server, driver_name: str, admin: redis.Redis
) -> None:
    driver = connect(ClientSettings.from_url(_url(server, "queue-user", PASSWORD), driver_name))
    try:
        core = CoreScript(driver)
        assert core.call("queue.put", "w", "q", "jid-1", "tests.Job", "{}", 0) == "jid-1"
        assert driver.execute_command("ACL", "WHOAMI") == "queue-user"
    finally:
        driver.close()
    assert admin.hget("ql:j:jid-1", "queue") == "q"


@pytest.mark.usefixtures("acl_users")
def test_a_wrong_password_is_an_authentication_error_that_hides_the_password(
    server: Server, driver_name: str
) -> None:
    driver = connect(
        ClientSettings.from_url(_url(server, "queue-user", "wrong-guess"), driver_name)
    )
    try:
        with pytest.raises(AuthenticationError) as info:
            CoreScript(driver).call("queue.length", "q")
    finally:
        driver.close()
    assert isinstance(info.value, ServerUnavailableError)
    assert "wrong-guess" not in str(info.value)
    assert "queue-user:***@" in str(info.value)


@pytest.mark.usefixtures("acl_users")
def test_a_user_who_may_not_load_functions_falls_back_to_the_eval_form(
    server: Server, driver_name: str, admin: redis.Redis
) -> None:
    driver = connect(ClientSettings.from_url(_url(server, "no-functions", PASSWORD), driver_name))
    try:
        core = CoreScript(driver)
        assert core.call("queue.put", "w", "q", "jid-1", "tests.Job", "{}", 0) == "jid-1"
        assert core.mode == "eval"
        with pytest.raises(PermissionDeniedError, match="function"):
            CoreScript(driver, form="function").call("queue.length", "q")
    finally:
        driver.close()
    assert admin.exists("ql:j:jid-1") == 1


@pytest.fixture(scope="module")
def tls_server() -> Iterator[tuple[int, Path]]:
    """A Redis 7 that speaks only TLS, with a self-signed certificate: (port, CA file)."""
    binary, openssl = shutil.which("redis-server"), shutil.which("openssl")
    if binary is None or openssl is None:
        if IN_CI:
            pytest.fail("redis-server and openssl are needed for the TLS test")
        pytest.skip("redis-server or openssl missing")
    workdir = Path(tempfile.mkdtemp(prefix="reqless-tls-"))
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    port = _free_port()
    log = (workdir / "redis.log").open("ab")
    process = subprocess.Popen(
        [binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(cert), "--tls-key-file", str(key),
         "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no",
         "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        probe = redis.Redis(port=port, ssl=True, ssl_ca_certs=str(cert), socket_timeout=1)
        deadline = time.monotonic() + 15
        while True:
            try:
                probe.ping()
                break
            except redis.exceptions.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((workdir / "redis.log").read_text()) from None
                time.sleep(0.05)
            finally:
                probe.close()
        yield port, cert
    finally:
        process.terminate()
        process.wait(10)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.parametrize("scheme", ["rediss", "valkeys"])
def test_a_tls_url_connects_over_tls(
    tls_server: tuple[int, Path], driver_name: str, scheme: str
) -> None:
    port, ca = tls_server
    url = f"{scheme}://127.0.0.1:{port}/0?ssl_ca_certs={ca}"
    driver = connect(ClientSettings.from_url(url, driver_name))
    try:
        core = CoreScript(driver)
        core.call("queue.put", "w", "q", "jid-1", "tests.Job", "{}", 0)
        assert core.call("queue.length", "q") == 1
    finally:
        driver.close()


def test_a_plain_url_to_a_tls_port_is_server_unavailable(
    tls_server: tuple[int, Path], driver_name: str
) -> None:
    port, _ = tls_server
    settings = ClientSettings.from_url(
        f"redis://127.0.0.1:{port}/0", driver_name, socket_timeout=2, socket_connect_timeout=2
    )
    driver = connect(settings)
    try:
        with pytest.raises(ServerUnavailableError):
            driver.execute_command("PING")
    finally:
        driver.close()
