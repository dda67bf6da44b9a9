"""Where the server is and which driver talks to it, as data.

Precedence, for the URL and for the driver alike: an explicit argument, then
the environment (``REQLESS_URL``, ``REQLESS_DRIVER``), then the default. The
default URL is ``redis://localhost:6379``; the default driver follows the URL's
scheme (``valkey://`` and ``valkeys://`` mean valkey-py), else redis-py when it
is installed, else valkey-py.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from reqless._errors import InvalidArgumentError

__all__ = ["DEFAULT_URL", "EMBEDDED_PREFIX", "SCHEMES", "ClientSettings"]

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
}

# Drivers in order of preference when nothing chooses one: (driver, library module).
_DEFAULT_DRIVERS = (("redis", "redis"), ("valkey", "valkey"))


@dataclass(frozen=True)
class ClientSettings:
    """How a client connects: the server URL, the driver's name and socket timeouts.

    ``url`` is as given (``embedded:PATH`` included); :func:`reqless.drivers.connect`
    turns an embedded URL into the server's unix socket when it connects.
    Timeouts are in seconds; ``None`` waits as long as the operating system does.
    """

    url: str = DEFAULT_URL
    driver: str = field(default_factory=lambda: _installed_driver())
    socket_timeout: float | None = None
    socket_connect_timeout: float | None = 10.0

    def __post_init__(self) -> None:
        _check_url(self.url)
        if not self.driver:
            raise InvalidArgumentError("the driver name must not be empty")

    @classmethod
    def from_url(
        cls,
        url: str | None = None,
        driver: str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        socket_timeout: float | None = None,
        socket_connect_timeout: float | None = 10.0,
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


def _check_url(url: str) -> str:
    """The URL's scheme, or an error naming the URL and the schemes understood."""
    if url.lower().startswith(EMBEDDED_PREFIX):
        if not url[len(EMBEDDED_PREFIX) :]:
            raise InvalidArgumentError(f"{url!r}: an embedded URL needs a folder, embedded:PATH")
        return "embedded"
    scheme = urlsplit(url).scheme.lower()
    if scheme not in SCHEMES or "://" not in url:
        valid = ", ".join(f"{name}://" for name in SCHEMES if name != "embedded")
        raise InvalidArgumentError(
            f"unsupported server URL {url!r}; use one of {valid} or {EMBEDDED_PREFIX}PATH"
        )
    return scheme


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
