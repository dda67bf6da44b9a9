"""``WebSettings``: how the dashboard authenticates, where it is mounted, how often it refreshes.

Settings are data. ``from_env()`` reads ``REQLESS_WEB_*``; the CLI overlays its flags
on top of that, so the precedence is flag > environment > default.
"""

from __future__ import annotations

import enum
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import reqless

__all__ = ["AuthMode", "Role", "User", "WebSettings", "WebSettingsError"]

AuthMode = Literal["none", "basic", "proxy"]
AUTH_MODES: tuple[AuthMode, ...] = ("none", "basic", "proxy")
LOOPBACK_NAMES: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")


class WebSettingsError(reqless.InvalidArgumentError):
    """A setting is malformed; the message names the setting and the bad value."""


class Role(enum.IntEnum):
    """What a user may do; each role includes the ones below it."""

    viewer = 1
    operator = 2
    admin = 3

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.strip().lower()]
        except KeyError:
            valid = ", ".join(role.name for role in cls)
            raise WebSettingsError(f"unknown role {name!r} (valid: {valid})") from None


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    # Only basic auth checks it; behind a proxy the proxy has authenticated the user.
    password: str | None = None

    @classmethod
    def parse(cls, spec: str) -> User:
        """``name:password:role`` for basic auth, or ``name:role`` (proxy mode)."""
        parts = spec.split(":")
        if len(parts) == 2 and parts[0]:
            return cls(parts[0], Role.parse(parts[1]))
        if len(parts) >= 3 and parts[0]:
            # A password may itself contain colons; the role is always the last field.
            password = ":".join(parts[1:-1])
            if not password:
                # `ann::admin` would let anyone in as ann with an empty password.
                raise WebSettingsError(f"user {parts[0]!r} has an empty password")
            return cls(parts[0], Role.parse(parts[-1]), password)
        raise WebSettingsError(f"user {spec!r} is not name:password:role or name:role")


def parse_users(specs: str) -> dict[str, User]:
    users = [User.parse(spec) for spec in specs.split(",") if spec.strip()]
    return {user.name: user for user in users}


@dataclass(frozen=True)
class WebSettings:
    auth: AuthMode = "none"
    users: Mapping[str, User] = field(default_factory=dict)
    # Trusted reverse proxy: it authenticates and names the user in this header (and
    # the role in `proxy_role_header` only when that is configured: a proxy that
    # passes a client's role header through would otherwise make anyone admin).
    # Only requests from `trusted_proxies` may set them; they are also the only
    # peers whose X-Forwarded-Proto / X-Forwarded-For are believed.
    proxy_user_header: str = "X-Forwarded-User"
    proxy_role_header: str | None = None
    proxy_default_role: Role = Role.viewer
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    # Host names the dashboard answers to (the Host header, port ignored); "*" is any.
    # Refusing other names defeats DNS rebinding: a page on rebind.evil.example that
    # resolves to 127.0.0.1 would otherwise drive a dashboard without auth.
    allowed_hosts: tuple[str, ...] = LOOPBACK_NAMES
    # Concurrent event streams one user (or, without auth, one address) may hold open.
    max_event_streams: int = 8
    root_path: str = ""
    refresh: float = 5.0
    # Signs CSRF tokens. A random one means tokens end with the process, which only
    # makes open pages fetch a fresh token.
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)

    def __post_init__(self) -> None:
        if self.auth not in AUTH_MODES:
            raise WebSettingsError(f"auth {self.auth!r} is not one of {', '.join(AUTH_MODES)}")
        if self.auth == "basic" and not any(u.password is not None for u in self.users.values()):
            raise WebSettingsError("auth 'basic' needs at least one user name:password:role")
        if self.refresh <= 0:
            raise WebSettingsError(f"refresh must be positive seconds, not {self.refresh!r}")
        if self.root_path and (not self.root_path.startswith("/") or self.root_path.endswith("/")):
            raise WebSettingsError(
                f"root_path {self.root_path!r} must start with '/' and not end with '/'"
            )
        if not self.secret:
            raise WebSettingsError("secret must not be empty")
        given: object = self.allowed_hosts  # typed a tuple, but callers may pass a str
        if isinstance(given, str):
            raise WebSettingsError("allowed_hosts must be a sequence of names, not one string")
        # Compared with the Host header as normal_host() spells it, however it was given.
        object.__setattr__(
            self, "allowed_hosts", tuple(normal_host(host) for host in self.allowed_hosts)
        )
        if not self.allowed_hosts:
            raise WebSettingsError("allowed_hosts must name at least one host (or '*')")
        for host in self.allowed_hosts:
            if host != "*" and (not host or any(c in host for c in "/ ,")):
                raise WebSettingsError(f"allowed host {host!r} is not a host name")
        if isinstance(self.max_event_streams, bool) or self.max_event_streams < 1:
            raise WebSettingsError(
                f"max_event_streams must be at least 1, not {self.max_event_streams!r}"
            )

    @property
    def authenticated(self) -> bool:
        return self.auth != "none"

    def with_options(self, **options: Any) -> WebSettings:
        """A copy with the given fields replaced; an unknown name is an error."""
        known = set(self.__dataclass_fields__)
        unknown = sorted(set(options) - known)
        if unknown:
            raise WebSettingsError(
                f"unknown option(s) {', '.join(unknown)} (valid: {', '.join(sorted(known))})"
            )
        if isinstance(options.get("users"), str):
            options["users"] = parse_users(options["users"])
        if isinstance(options.get("proxy_default_role"), str):
            options["proxy_default_role"] = Role.parse(options["proxy_default_role"])
        if isinstance(options.get("trusted_proxies"), str):
            options["trusted_proxies"] = split_list(options["trusted_proxies"])
        if isinstance(options.get("allowed_hosts"), str):
            options["allowed_hosts"] = split_list(options["allowed_hosts"])
        if options.get("proxy_role_header") == "":
            options["proxy_role_header"] = None
        if isinstance(options.get("max_event_streams"), str):
            options["max_event_streams"] = _int_option(
                "max_event_streams", options["max_event_streams"]
            )
        return replace(self, **options)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebSettings:
        env = os.environ if environ is None else environ
        options: dict[str, Any] = {}
        for name in (
            "auth",
            "users",
            "proxy_user_header",
            "proxy_role_header",
            "proxy_default_role",
            "trusted_proxies",
            "allowed_hosts",
            "root_path",
            "secret",
            "max_event_streams",
        ):
            value = env.get(f"REQLESS_WEB_{name.upper()}")
            if value is not None:
                options[name] = value
        refresh = env.get("REQLESS_WEB_REFRESH")
        if refresh is not None:
            try:
                options["refresh"] = float(refresh)
            except ValueError:
                raise WebSettingsError(f"REQLESS_WEB_REFRESH {refresh!r} is not seconds") from None
        return cls().with_options(**options)


def split_list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def normal_host(host: str) -> str:
    """A host name as the Host header check compares it: lower case, IPv6 unbracketed."""
    return host.strip().lower().removeprefix("[").removesuffix("]")


def _int_option(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise WebSettingsError(f"{name} {value!r} is not a whole number") from None
