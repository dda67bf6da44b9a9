"""What a newcomer meets first in the client: a bad job class, and ``reqless-embedded``'s help."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import reqless
from reqless._embedded import _parser
from reqless._embedded import main as embedded_main
from tests.conftest import Server


@pytest.fixture
def client(server: Server, driver_name: str) -> Iterator[reqless.Client]:
    with reqless.Client(server.url, driver=driver_name, worker_name="newcomer") as connected:
        yield connected


@pytest.mark.parametrize(
    ("klass", "named"),
    [
        ("Foo", "klass must be a dotted import path such as 'package.module.Job', got 'Foo'"),
        (3, "klass must be a class or a dotted import path, got 3"),
        (["x"], "klass must be a class or a dotted import path, got ['x']"),
    ],
)
def test_a_bad_klass_is_one_clear_error_not_a_chained_key_error(
    client: reqless.Client, klass: object, named: str
) -> None:
    queue = client.queues["q"]
    # Twice: the second put finds the class cache as the first one left it.
    for _ in range(2):
        with pytest.raises(reqless.InvalidArgumentError) as raised:
            queue.put(klass, {})  # type: ignore[arg-type]
        assert str(raised.value) == named
        assert raised.value.__context__ is None and raised.value.__cause__ is None
    assert isinstance(raised.value, reqless.ReqlessError)
    assert queue.counts.waiting == 0
    # The cache still serves a good class after the bad ones.
    queue.put("tests.worker.jobs_for_tests.Noop", {})
    assert queue.counts.waiting == 1


def test_every_embedded_argument_names_its_default_and_environment_variable() -> None:
    arguments = [a for a in _parser()._actions if a.dest not in ("help", "version")]
    assert [a.dest for a in arguments] == ["action", "path"]
    for action in arguments:
        assert action.help is not None, action.dest
        assert "default:" in action.help, action.dest
        assert "env" in action.help, action.dest


def test_embedded_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        embedded_main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"reqless-embedded {reqless.__version__}"

    with pytest.raises(SystemExit) as exit_:
        embedded_main(["--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "embedded:PATH" in text
    assert "3 status: not running" in text
