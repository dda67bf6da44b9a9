"""ClientSettings: URL and driver from argument, environment or default."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from reqless import ClientSettings, InvalidArgumentError
from reqless._settings import DEFAULT_URL


def test_nothing_given_means_local_redis_with_redis_py() -> None:
    settings = ClientSettings.from_url(environ={})
    assert settings.url == DEFAULT_URL == "redis://localhost:6379"
    assert settings.driver == "redis"
    assert settings.embedded_path is None


def test_reqless_url_is_used_when_no_url_is_given() -> None:
    settings = ClientSettings.from_url(environ={"REQLESS_URL": "redis://queue-host:7000/2"})
    assert settings.url == "redis://queue-host:7000/2"


def test_an_explicit_url_beats_reqless_url() -> None:
    env = {"REQLESS_URL": "redis://from-env:1/0"}
    assert (
        ClientSettings.from_url("redis://explicit:2/0", environ=env).url == "redis://explicit:2/0"
    )


@pytest.mark.parametrize("url", ["valkey://host:6379/0", "valkeys://host:6380/0"])
def test_valkey_schemes_select_valkey_py(url: str) -> None:
    assert ClientSettings.from_url(url, environ={}).driver == "valkey"


def test_reqless_driver_beats_the_scheme() -> None:
    settings = ClientSettings.from_url("valkey://host/0", environ={"REQLESS_DRIVER": "redis"})
    assert settings.driver == "redis"


def test_an_explicit_driver_beats_reqless_driver() -> None:
    settings = ClientSettings.from_url(
        "redis://host/0", "valkey", environ={"REQLESS_DRIVER": "redis"}
    )
    assert settings.driver == "valkey"


def test_from_env_reads_both_variables() -> None:
    env = {"REQLESS_URL": "unix:///run/valkey.sock", "REQLESS_DRIVER": "valkey"}
    settings = ClientSettings.from_env(env)
    assert (settings.url, settings.driver, settings.scheme) == (
        "unix:///run/valkey.sock",
        "valkey",
        "unix",
    )


@pytest.mark.parametrize(
    ("url", "tls"),
    [
        ("redis://h/0", False),
        ("rediss://h/0", True),
        ("valkeys://h/0", True),
        ("unix:///tmp/s.sock", False),
    ],
)
def test_tls_follows_the_scheme(url: str, tls: bool) -> None:
    assert ClientSettings.from_url(url, environ={}).uses_tls is tls


def test_credentials_and_db_stay_in_the_url() -> None:
    url = "redis://alice:s3cret@host:6379/4"
    assert ClientSettings.from_url(url, environ={}).url == url


def test_embedded_url_names_its_folder() -> None:
    settings = ClientSettings.from_url("embedded:/srv/dev-queue", environ={})
    assert settings.scheme == "embedded"
    assert settings.embedded_path == "/srv/dev-queue"


@pytest.mark.parametrize("url", ["http://host:6379", "localhost:6379", "embedded:", "mongodb://h"])
def test_an_unsupported_url_is_rejected_naming_the_valid_schemes(url: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        ClientSettings.from_url(url, environ={})
    assert url in str(info.value)
    if url != "embedded:":
        assert "redis://" in str(info.value) and "valkeys://" in str(info.value)


def test_settings_are_immutable_data() -> None:
    settings = ClientSettings.from_url("redis://h/0", "redis", environ={})
    assert settings == ClientSettings(url="redis://h/0", driver="redis")
    with pytest.raises(AttributeError):
        settings.url = "redis://elsewhere/0"  # type: ignore[misc]


def test_without_redis_py_the_default_driver_is_valkey_py() -> None:
    # A None entry in sys.modules makes `import redis` fail as if it were not installed.
    code = textwrap.dedent(
        """
        import sys
        sys.modules["redis"] = None
        from reqless._settings import ClientSettings
        print(ClientSettings.from_url(environ={}).driver)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "valkey"
