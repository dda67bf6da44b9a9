"""The built-in ``logging`` plugin and the job context on log records."""

from __future__ import annotations

import logging
import logging.config
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from reqless_plugins import (
    JobContextFilter,
    PluginManager,
    bind_log_context,
    current_log_context,
    hookimpl,
)

if TYPE_CHECKING:
    from reqless import Job


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """dictConfig rewires the root logger; put pytest's handlers back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def make_record(message: str = "sent") -> logging.LogRecord:
    return logging.LogRecord("myapp.jobs", logging.INFO, __file__, 1, message, None, None)


def added(record: logging.LogRecord, *names: str) -> tuple[object, ...]:
    """Attributes a filter set on ``record`` (typeshed's LogRecord does not declare them)."""
    return tuple(vars(record)[name] for name in names)


def test_the_builtin_adds_a_console_handler_at_info() -> None:
    config = PluginManager.load().logging_config(verbose=False, log_file=None)

    assert config["root"] == {"level": "INFO", "handlers": ["console"]}
    console = config["handlers"]["console"]
    assert console["class"] == "logging.StreamHandler"
    assert console["filters"] == ["reqless_job_context"]
    assert config["disable_existing_loggers"] is False
    assert "file" not in config["handlers"]


def test_verbose_means_debug_and_a_log_file_adds_a_file_handler(tmp_path: Path) -> None:
    log_file = str(tmp_path / "worker.log")

    config = PluginManager.load().logging_config(verbose=True, log_file=log_file)

    assert config["root"] == {"level": "DEBUG", "handlers": ["console", "file"]}
    assert config["handlers"]["file"]["filename"] == log_file


def test_what_the_cli_already_configured_is_kept() -> None:
    base: dict[str, Any] = {
        "version": 1,
        "root": {"level": "WARNING", "handlers": ["syslog"]},
        "handlers": {"syslog": {"class": "logging.NullHandler"}},
    }

    config = PluginManager.load().logging_config(verbose=True, log_file=None, config=base)

    assert config is base
    assert config["root"] == {"level": "WARNING", "handlers": ["syslog", "console"]}
    assert config["handlers"]["syslog"] == {"class": "logging.NullHandler"}


def test_a_plugin_edits_the_builtin_defaults_because_the_builtin_runs_first() -> None:
    class Json:
        @hookimpl
        def reqless_configure_logging(self, config: dict[str, Any]) -> None:
            config["formatters"]["json"] = {"format": '{"msg": "%(message)s"}'}
            config["handlers"]["console"]["formatter"] = "json"

    manager = PluginManager.load()
    manager.register(Json(), "json")

    config = manager.logging_config(verbose=False, log_file=None)

    assert config["handlers"]["console"]["formatter"] == "json"
    assert "reqless" in config["formatters"]


def test_records_logged_inside_a_job_carry_its_context_into_the_log_file(
    tmp_path: Path, job: Job, restore_logging: None
) -> None:
    log_file = tmp_path / "worker.log"
    manager = PluginManager.load()
    logging.config.dictConfig(manager.logging_config(verbose=False, log_file=str(log_file)))
    app = logging.getLogger("myapp.jobs")

    app.info("starting")
    with bind_log_context(manager.log_context(job)):
        app.info("sent 3 mails")
    app.debug("not at INFO")
    for handler in logging.getLogger().handlers:
        handler.flush()

    lines = log_file.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("myapp.jobs: starting")
    assert lines[1].endswith(
        "myapp.jobs: sent 3 mails [jid=jid-1 queue=mail klass=myapp.jobs.Mail worker=host-1-42]"
    )


def test_the_filter_sets_context_fields_and_placeholders_outside_a_job() -> None:
    job_filter = JobContextFilter()

    outside = make_record()
    assert job_filter.filter(outside) is True
    assert added(outside, "jid", "queue", "klass", "worker") == ("-", "-", "-", "-")
    assert added(outside, "job_context", "reqless_context") == ("", {})

    with bind_log_context({"jid": "j1", "queue": "mail", "tenant": "acme"}):
        inside = make_record()
        job_filter.filter(inside)
    assert added(inside, "jid", "queue", "klass", "tenant") == ("j1", "mail", "-", "acme")
    assert added(inside, "job_context") == (" [jid=j1 queue=mail tenant=acme]",)


def test_the_filter_never_replaces_logging_attributes_or_extra_fields() -> None:
    record = logging.makeLogRecord({"name": "myapp.jobs", "msg": "sent", "jid": "from-extra"})

    with bind_log_context({"name": "job-name", "jid": "j1", "msg": "x"}):
        JobContextFilter().filter(record)

    assert record.name == "myapp.jobs"
    assert record.getMessage() == "sent"
    assert added(record, "jid", "reqless_context") == (
        "from-extra",
        {"name": "job-name", "jid": "j1", "msg": "x"},
    )


def test_nested_contexts_add_up_and_unwind_even_on_error() -> None:
    seen: list[dict[str, object]] = []

    def job_body() -> None:
        with bind_log_context({"jid": "j1", "queue": "mail"}):
            with bind_log_context({"step": "render"}):
                seen.append(dict(current_log_context()))
            seen.append(dict(current_log_context()))
            raise RuntimeError("render failed")

    with pytest.raises(RuntimeError, match="render failed"):
        job_body()

    assert seen == [
        {"jid": "j1", "queue": "mail", "step": "render"},
        {"jid": "j1", "queue": "mail"},
    ]
    assert dict(current_log_context()) == {}


def test_each_thread_sees_only_its_own_job_context() -> None:
    seen: dict[str, dict[str, object]] = {}
    bound = threading.Barrier(2)

    def run(jid: str) -> None:
        with bind_log_context({"jid": jid}):
            bound.wait(timeout=5)
            seen[jid] = dict(current_log_context())

    threads = [threading.Thread(target=run, args=(jid,)) for jid in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)

    assert seen == {"a": {"jid": "a"}, "b": {"jid": "b"}}
