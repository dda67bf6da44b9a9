"""``client.config``: a mapping of JSON-decoded values with the core's defaults."""

from __future__ import annotations

import pytest

import reqless


def test_defaults_read_back_decoded(client: reqless.Client) -> None:
    assert client.config["heartbeat"] == 60
    assert client.config.all["grace-period"] == "10"
    assert client.config["application"] == "reqless"
    assert "application" in client.config
    assert dict(client.config.items())["heartbeat"] == 60


def test_set_get_and_delete(client: reqless.Client) -> None:
    client.config["heartbeat"] = 30
    client.config["custom"] = "value"
    assert client.config["heartbeat"] == 30
    assert client.config["custom"] == "value"
    del client.config["heartbeat"]
    del client.config["custom"]
    assert client.config["heartbeat"] == 60
    with pytest.raises(KeyError):
        client.config["custom"]


def test_get_honours_a_falsy_default(client: reqless.Client) -> None:
    assert client.config.get("missing", 0) == 0
    assert client.config.get("missing", "") == ""
    assert client.config.get("missing") is None


def test_clear_restores_the_defaults(client: reqless.Client) -> None:
    client.config["heartbeat"] = 5
    client.config["custom"] = "x"
    client.config.clear()
    assert client.config["heartbeat"] == 60
    assert "custom" not in client.config


def test_a_value_that_is_not_text_or_number_is_refused(client: reqless.Client) -> None:
    with pytest.raises(reqless.InvalidArgumentError):
        client.config["heartbeat"] = [1]  # type: ignore[assignment]
