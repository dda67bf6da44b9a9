"""Who is asking and may they: authentication, roles, CSRF and security headers.

One pure ASGI middleware (so streamed responses such as the event stream pass
through untouched) that, for every HTTP request:

1. adds the security headers (a strict Content-Security-Policy among them) to
   whatever response goes out, error answers (500s too) included;
2. refuses a Host header that is not an allowed host name (DNS rebinding) and,
   on a state change, an ``Origin`` that is not this dashboard;
3. authenticates: nobody (everyone is admin), HTTP basic, or a user named by a
   trusted reverse proxy; the result is ``request.state.user`` / ``.role``;
4. binds a CSRF token to the ``reqless_csrf`` cookie (double submit: the cookie
   holds a random nonce, the token is its HMAC under the app secret and the
   user) and refuses a mutating request whose ``X-CSRF-Token`` header or
   ``csrf_token`` form field does not carry it.

Forwarded headers (``X-Forwarded-Proto``, ``-For``, ``-Host``) are believed only
from a ``trusted_proxies`` address. Failed basic-auth logins are limited per
client address (:class:`FailedLogins`).

Roles are enforced per route by the API (``Role`` needed for each endpoint).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import secrets
from collections.abc import Mapping
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reqless_web._limits import FailedLogins
from reqless_web._settings import Role, WebSettings, WebSettingsError

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SECURITY_HEADERS",
    "SecurityMiddleware",
    "csrf_token",
    "read_body",
]

CSRF_COOKIE = "reqless_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Probes must answer without credentials (load balancers and kubelets have none).
UNAUTHENTICATED_PATHS = frozenset({"/healthz", "/readyz"})
# Form bodies are read to find the token; anything bigger is not a form of ours.
MAX_FORM_BYTES = 1 << 20
# All a probe tells a caller who has not logged in when it fails.
NOT_READY = json.dumps({"error": "not ready"}).encode()

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ]
)
SECURITY_HEADERS: Mapping[str, str] = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


def csrf_token(secret: str, nonce: str, user: str | None) -> str:
    """The token a page must echo: bound to the cookie's nonce and to the user."""
    message = f"{nonce}\x00{user or ''}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class Denied(Exception):
    """The request is answered here with a JSON error; it never reaches the app."""

    def __init__(self, status: int, error: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.headers = dict(headers or {})


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, settings: WebSettings) -> None:
        self.app = app
        self.settings = settings
        self.failed_logins = FailedLogins()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        trusted = _peer(scope) in self.settings.trusted_proxies
        nonce = _cookie(headers, CSRF_COOKIE)
        new_cookie = None
        if nonce is None or len(nonce) < 16:
            nonce = secrets.token_urlsafe(24)
            new_cookie = _set_cookie(scope, nonce, secure=_is_https(scope, headers, trusted))
        response = _Response(send, new_cookie)
        path = _route_path(scope)
        try:
            if path in UNAUTHENTICATED_PATHS:
                # Probes skip the host check (a kubelet asks by pod address) and, when
                # authentication is on, tell a failure without its detail (the
                # server's URL, say): that goes to the log only.
                if self.settings.authenticated:
                    response.redact_errors = True
            else:
                self.check_host(headers)
                address = _client_address(scope, headers, trusted)
                user, role = self.authenticate(scope, headers, address)
                token = csrf_token(self.settings.secret, nonce, user)
                state = scope.setdefault("state", {})
                state.update(
                    user=user,
                    role=role,
                    csrf_token=token,
                    root_path=scope.get("root_path", ""),
                    client_address=address,
                )
                if scope["method"] not in SAFE_METHODS:
                    self.check_origin(headers, trusted)
                    receive = await self.check_csrf(scope, headers, receive, token)
        except Denied as denied:
            await _deny(response.send, denied)
            return
        try:
            await self.app(scope, receive, response.send)
        except Exception:
            # Starlette's error middleware sits outside this one and would answer
            # without our headers; answer here first (it then only logs).
            if not response.started:
                await _deny(response.send, Denied(500, "internal server error"))
            raise

    def check_host(self, headers: Headers) -> None:
        allowed = self.settings.allowed_hosts
        host = _host_name(headers.get("host", ""))
        if "*" in allowed or host in allowed:
            return
        raise Denied(
            400,
            f"host {host!r} is not one this dashboard answers to"
            " (see --allowed-host / REQLESS_WEB_ALLOWED_HOSTS)",
        )

    def check_origin(self, headers: Headers, trusted: bool) -> None:
        """A browser names the page that sent a state change: it must be this dashboard."""
        origin = headers.get("origin")
        if origin is None:
            return  # not a browser (curl, a script): the CSRF token still has to match
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Denied(403, f"cross-origin request refused (Origin {origin!r})")
        default_port = {"http": 80, "https": 443}[parts.scheme]
        wanted = _netloc(parts.hostname, parts.port, default_port)
        hosts = [headers.get("host", "")]
        if trusted and headers.get("x-forwarded-host"):
            hosts.append(headers["x-forwarded-host"].split(",")[0])
        for host in hosts:
            seen = urlsplit("//" + host.strip())
            try:
                port = seen.port
            except ValueError:
                continue
            if seen.hostname and _netloc(seen.hostname, port, default_port) == wanted:
                return
        raise Denied(403, f"cross-origin request refused (Origin {origin!r})")

    def authenticate(self, scope: Scope, headers: Headers, address: str) -> tuple[str | None, Role]:
        settings = self.settings
        if settings.auth == "none":
            return None, Role.admin
        if settings.auth == "basic":
            return self._basic(headers, address)
        return self._proxy(scope, headers)

    def _basic(self, headers: Headers, address: str) -> tuple[str, Role]:
        challenge = {"www-authenticate": 'Basic realm="reqless", charset="UTF-8"'}
        scheme, _, encoded = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic" or not encoded:
            raise Denied(401, "authentication required", challenge)
        wait = self.failed_logins.retry_after(address)
        if wait is not None:
            raise Denied(
                429,
                "too many failed logins from this address; try again later",
                {"retry-after": str(max(1, math.ceil(wait)))},
            )
        try:
            name, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            self.failed_logins.failed(address)
            raise Denied(401, "malformed basic credentials", challenge) from None
        user = self.settings.users.get(name) if sep else None
        expected = user.password if user is not None else None
        # Compare even for an unknown user, so timing does not tell which names exist.
        matches = hmac.compare_digest(
            password.encode(), (expected if expected else secrets.token_hex()).encode()
        )
        if user is None or not expected or not matches:
            self.failed_logins.failed(address)
            raise Denied(401, "invalid user name or password", challenge)
        return user.name, user.role

    def _proxy(self, scope: Scope, headers: Headers) -> tuple[str, Role]:
        settings = self.settings
        host = _peer(scope)
        if host not in settings.trusted_proxies:
            raise Denied(401, f"requests must come through the trusted proxy, not {host!r}")
        name = headers.get(settings.proxy_user_header, "").strip()
        if not name:
            raise Denied(401, f"the proxy sent no {settings.proxy_user_header} header")
        role_text = headers.get(settings.proxy_role_header) if settings.proxy_role_header else None
        if role_text:
            try:
                return name, Role.parse(role_text)
            except WebSettingsError as exc:
                raise Denied(403, str(exc)) from None
        known = settings.users.get(name)
        return name, known.role if known is not None else settings.proxy_default_role

    async def check_csrf(
        self, scope: Scope, headers: Headers, receive: Receive, token: str
    ) -> Receive:
        """The receive channel to pass on (a form body read here is replayed)."""
        sent = headers.get(CSRF_HEADER)
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if sent is None and content_type == "application/x-www-form-urlencoded":
            body = await read_body(headers, receive, MAX_FORM_BYTES)
            fields = parse_qs(body.decode("latin-1"), keep_blank_values=True)
            values = fields.get(CSRF_FIELD)
            sent = values[0] if values else None
            receive = _replay(body, receive)
        if sent is None:
            raise Denied(403, "missing CSRF token (send the X-CSRF-Token header)")
        if not hmac.compare_digest(sent.encode(), token.encode()):
            raise Denied(403, "CSRF token does not match this session; reload the page")
        return receive


class _Response:
    """The ``send`` the app gets: security headers and the cookie on every answer."""

    def __init__(self, send: Send, cookie: str | None) -> None:
        self._send = send
        self.cookie = cookie
        self.started = False
        self.redact_errors = False
        self._redacting = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            headers = MutableHeaders(scope=message)
            for name, value in SECURITY_HEADERS.items():
                headers[name] = value
            if self.cookie is not None:
                headers.append("set-cookie", self.cookie)
            if self.redact_errors and message["status"] >= 400:
                self._redacting = True
                headers["content-type"] = "application/json"
                headers["content-length"] = str(len(NOT_READY))
        elif message["type"] == "http.response.body" and self._redacting:
            if message.get("more_body", False):
                return
            message = {"type": "http.response.body", "body": NOT_READY}
        await self._send(message)


def _peer(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


def _client_address(scope: Scope, headers: Headers, trusted: bool) -> str:
    """Who is asking: the peer, or behind a trusted proxy the address it forwards for."""
    if trusted:
        forwarded = headers.get("x-forwarded-for", "")
        # The last entry is the one our proxy added; earlier ones the client may forge.
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last
    return _peer(scope) or "unknown"


def _is_https(scope: Scope, headers: Headers, trusted: bool) -> bool:
    if scope.get("scheme") == "https":
        return True
    if trusted:
        proto = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        return proto == "https"
    return False


def _host_name(host: str) -> str:
    """The name in a Host header, port dropped: ``[::1]:8080`` is ``::1``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _netloc(host: str, port: int | None, default_port: int) -> str:
    return host.lower() if port in (None, default_port) else f"{host.lower()}:{port}"


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _cookie(headers: Headers, name: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    for raw in headers.getlist("cookie"):
        try:
            jar.load(raw)
        except Exception:  # a malformed foreign cookie must not lock anyone out
            continue
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


def _set_cookie(scope: Scope, nonce: str, *, secure: bool) -> str:
    path = scope.get("root_path") or "/"
    cookie = f"{CSRF_COOKIE}={nonce}; Path={path}; HttpOnly; SameSite=Strict"
    if secure:
        cookie += "; Secure"
    return cookie


async def _deny(send: Send, denied: Denied) -> None:
    body = json.dumps({"error": denied.error}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.encode(), v.encode()) for k, v in denied.headers.items()),
    ]
    await send({"type": "http.response.start", "status": denied.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def read_body(headers: Headers, receive: Receive, limit: int) -> bytes:
    """The request body, refused (413) as soon as it passes ``limit`` bytes.

    A declared length over the limit is refused before anything is read; a body
    sent in chunks stops being read at the chunk that crosses it.
    """
    declared = headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise Denied(413, f"request body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise Denied(400, "the client went away while sending the body")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise Denied(413, f"request body larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, upstream: Receive) -> Receive:
    """Hand the app the body read here, then the server's channel (for the disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await upstream()

    return receive
