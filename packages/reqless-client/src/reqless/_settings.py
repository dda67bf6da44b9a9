"""Where the server is and which driver talks to it, as data.

Precedence, for the URL and for the driver alike: an explicit argument, then
the environment (``REQLESS_URL``, ``REQLESS_DRIVER``), then the default. The
default URL is ``redis://localhost:6379``; the default driver follows the URL's
scheme (``valkey://``, ``valkeys://`` and ``valkey+sentinel://`` mean
valkey-py), else redis-py when it is installed, else valkey-py.

Sentinel URLs name the sentinels and the service, not the master:
``redis+sentinel://[user:pass@]host:port[,host:port...]/service[/db]``
(``valkey+sentinel://`` alike). The credentials are the master's; the sentinels'
own, if they need any, go in ``?sentinel_username=`` and ``?sentinel_password=``.

Any URL may carry the opt-in durability options ``?wait_replicas=N`` and
``?wait_timeout_ms=T``: every core call that may change state is then followed,
in the same round trip, by ``WAIT N T``, and raises
:class:`reqless.ReplicationTimeoutError` when fewer than ``N`` replicas
acknowledged it within ``T`` milliseconds. reqless strips these options (and the
sentinel ones) before the URL reaches the library.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from reqless._errors import InvalidArgumentError

__all__ = ["DEFAULT_URL", "EMBEDDED_PREFIX", "SCHEMES", "ClientSettings", "SentinelURL"]

DEFAULT_URL = "redis://localhost:6379"
EMBEDDED_PREFIX = "embedded:"
URL_VARIABLE = "REQLESS_URL"
DRIVER_VARIABLE = "REQLESS_DRIVER"

# Scheme -> the driver it selects (None: whichever default driver is installed).
SCHEMES: Mapping[str, str | None] = {
    "redis": None,
    "rediss": None,
    "unix": None,
    "valkey": "valkey",
    "valkeys": "valkey",
    "embedded": None,
    "redis+sentinel": None,
    "valkey+sentinel": "valkey",
}
SENTINEL_SCHEMES = ("redis+sentinel", "valkey+sentinel")
SENTINEL_PORT = 26379
DEFAULT_WAIT_TIMEOUT_MS = 1000
# Query options reqless reads itself and never hands to the library.
_WAIT_OPTIONS = ("wait_replicas", "wait_timeout_ms")
_SENTINEL_OPTIONS = ("sentinel_username", "sentinel_password")

# Drivers in order of preference when nothing chooses one: (driver, library module).
_DEFAULT_DRIVERS = (("redis", "redis"), ("valkey", "valkey"))


@dataclass(frozen=True)
class ClientSettings:
    """How a client connects: the server URL, the driver's name and socket timeouts.

    ``url`` is as given (``embedded:PATH`` included); :func:`reqless.drivers.connect`
    turns an embedded URL into the server's unix socket when it connects.
    Timeouts are in seconds; ``None`` waits as long as the operating system does.

    ``wait_replicas`` (opt-in durability) makes every core call that may change
    state wait, in the same round trip, until that many replicas acknowledged
    it, at most ``wait_timeout_ms`` milliseconds; ``None`` takes the URL's
    ``?wait_replicas=`` / ``?wait_timeout_ms=``, else 0 (no waiting) and
    1000 ms.
    """

    url: str = DEFAULT_URL
    driver: str = field(default_factory=lambda: _installed_driver())
    socket_timeout: float | None = None
    socket_connect_timeout: float | None = 10.0
    wait_replicas: int | None = None
    wait_timeout_ms: int | None = None

    def __post_init__(self) -> None:
        _check_url(self.url)
        if not self.driver:
            raise InvalidArgumentError("the driver name must not be empty")
        options = _query_options(self.url)
        for name, default, minimum in (
            ("wait_replicas", 0, 0),
            ("wait_timeout_ms", DEFAULT_WAIT_TIMEOUT_MS, 1),
        ):
            value = getattr(self, name)
            if value is None:
                value = _int_option(name, options.get(name, str(default)), minimum)
            elif isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise InvalidArgumentError(f"{name} must be an int >= {minimum}, not {value!r}")
            object.__setattr__(self, name, value)

    @classmethod
    def from_url(
        cls,
        url: str | None = None,
        driver: str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        socket_timeout: float | None = None,
        socket_connect_timeout: float | None = 10.0,
        wait_replicas: int | None = None,
        wait_timeout_ms: int | None = None,
    ) -> ClientSettings:
        """Settings for ``url`` and ``driver``.

        What is ``None`` comes from ``environ`` (default ``os.environ``), then
        from the defaults.
        """
        env = os.environ if environ is None else environ
        chosen_url = url or env.get(URL_VARIABLE) or DEFAULT_URL
        scheme = _check_url(chosen_url)
        chosen_driver = driver or env.get(DRIVER_VARIABLE) or SCHEMES[scheme] or _installed_driver()
        return cls(
            url=chosen_url,
            driver=chosen_driver,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_connect_timeout,
            wait_replicas=wait_replicas,
            wait_timeout_ms=wait_timeout_ms,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClientSettings:
        """Settings from ``REQLESS_URL`` and ``REQLESS_DRIVER`` alone (defaults where unset)."""
        return cls.from_url(environ=environ)

    @property
    def scheme(self) -> str:
        """The URL's scheme, lower case (``embedded`` for ``embedded:PATH``)."""
        return _check_url(self.url)

    @property
    def embedded_path(self) -> str | None:
        """The folder of an ``embedded:PATH`` URL; ``None`` for a real server's URL."""
        if self.scheme != "embedded":
            return None
        return self.url[len(EMBEDDED_PREFIX) :]

    @property
    def uses_tls(self) -> bool:
        """Whether the URL asks for TLS (``rediss://`` or ``valkeys://``)."""
        return self.scheme in ("rediss", "valkeys")

    @property
    def sentinel(self) -> SentinelURL | None:
        """The parts of a ``redis+sentinel://`` or ``valkey+sentinel://`` URL, else ``None``."""
        if self.scheme not in SENTINEL_SCHEMES:
            return None
        return _sentinel_url(self.url)

    @property
    def library_url(self) -> str:
        """The URL for the library: without the query options reqless reads itself."""
        if self.scheme == "embedded":
            return self.url
        return _without_options(self.url, _WAIT_OPTIONS)


@dataclass(frozen=True)
class SentinelURL:
    """A sentinel URL taken apart: where the sentinels are and which master to ask for."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None


def _check_url(url: str) -> str:
    """The URL's scheme, or an error naming the URL and the schemes understood."""
    if not isinstance(url, str):
        raise InvalidArgumentError(f"the server URL must be a str, not {url!r}")
    if url.lower().startswith(EMBEDDED_PREFIX):
        if not url[len(EMBEDDED_PREFIX) :]:
            raise InvalidArgumentError(f"{url!r}: an embedded URL needs a folder, embedded:PATH")
        return "embedded"
    scheme = urlsplit(url).scheme.lower()
    if scheme not in SCHEMES or "://" not in url:
        valid = ", ".join(f"{name}://" for name in SCHEMES if name != "embedded")
        raise InvalidArgumentError(
            f"unsupported server URL {_hide_password(url)!r}; use one of {valid} "
            f"or {EMBEDDED_PREFIX}PATH"
        )
    if scheme in SENTINEL_SCHEMES:
        _sentinel_url(url)
    elif scheme != "unix":
        _host_port(urlsplit(url).netloc.rpartition("@")[2], None)
    return scheme


def _hide_password(url: str) -> str:
    """``url`` with any password replaced, for error messages."""
    parts = urlsplit(url)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hosts}"))


def _host_port(text: str, default: int | None) -> tuple[str, int | None]:
    """``host[:port]`` (``[v6]:port`` too); the port checked, ``default`` when absent."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
    else:
        host, colon, port_text = text.rpartition(":")
        port = port_text if colon else None
        host = host if colon else text
    if port is None or port == "":
        return host, default
    if not (port.isascii() and port.isdigit() and 0 < int(port) <= 65535):
        raise InvalidArgumentError(
            f"malformed port {port!r} in the server URL (host {host!r}): "
            "give a number from 1 to 65535"
        )
    return host, int(port)


def _query_options(url: str) -> dict[str, str]:
    if url.lower().startswith(EMBEDDED_PREFIX):
        return {}
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def _int_option(name: str, text: str, minimum: int) -> int:
    if not (text.isascii() and text.isdigit() and int(text) >= minimum):
        raise InvalidArgumentError(
            f"the URL option {name}={text!r} must be a whole number >= {minimum}"
        )
    return int(text)


def _without_options(url: str, names: tuple[str, ...]) -> str:
    parts = urlsplit(url)
    if not parts.query:
        return url
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in names]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def _sentinel_url(url: str) -> SentinelURL:
    """The parts of a sentinel URL, or an error naming what is wrong with it."""
    parts = urlsplit(url)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    shown = _hide_password(url)
    addresses = []
    for item in hosts.split(","):
        host, port = _host_port(item.strip(), SENTINEL_PORT)
        if not host:
            raise InvalidArgumentError(f"{shown!r}: a sentinel address has no host")
        addresses.append((host, SENTINEL_PORT if port is None else port))
    path = [piece for piece in parts.path.split("/") if piece]
    if not path or len(path) > 2:
        raise InvalidArgumentError(
            f"{shown!r}: a sentinel URL names the service after the sentinels, "
            f"{parts.scheme}://host:port[,host:port...]/service[/db]"
        )
    db = _int_option("db", path[1], 0) if len(path) == 2 else 0
    options = _query_options(url)
    unknown = sorted(set(options) - set(_WAIT_OPTIONS) - set(_SENTINEL_OPTIONS))
    if unknown:
        valid = ", ".join((*_SENTINEL_OPTIONS, *_WAIT_OPTIONS))
        raise InvalidArgumentError(
            f"{shown!r}: unknown sentinel URL option(s) {', '.join(unknown)}; valid: {valid}"
        )
    username, password = None, None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    return SentinelURL(
        sentinels=tuple(addresses),
        service=unquote(path[0]),
        db=db,
        username=username,
        password=password,
        sentinel_username=options.get("sentinel_username") or None,
        sentinel_password=options.get("sentinel_password") or None,
    )


def _importable(module: str) -> bool:
    # A None entry in sys.modules is how Python spells "blocked": honour it.
    if module in sys.modules:
        return sys.modules[module] is not None
    return importlib.util.find_spec(module) is not None


def _installed_driver() -> str:
    for driver, module in _DEFAULT_DRIVERS:
        if _importable(module):
            return driver
    # Neither is installed: name the usual one, so connecting says which extra to add.
    return _DEFAULT_DRIVERS[0][0]
