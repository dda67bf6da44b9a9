"""Who is asking and may they: authentication, roles, CSRF and security headers.

One pure ASGI middleware (so streamed responses such as the event stream pass
through untouched) that, for every HTTP request:

1. adds the security headers (a strict Content-Security-Policy among them) to
   whatever response goes out, error answers included;
2. authenticates: nobody (everyone is admin), HTTP basic, or a user named by a
   trusted reverse proxy; the result is ``request.state.user`` / ``.role``;
3. binds a CSRF token to the ``reqless_csrf`` cookie (double submit: the cookie
   holds a random nonce, the token is its HMAC under the app secret and the
   user) and refuses a mutating request whose ``X-CSRF-Token`` header or
   ``csrf_token`` form field does not carry it.

Roles are enforced per route by the API (``Role`` needed for each endpoint).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reqless_web._settings import Role, WebSettings, WebSettingsError

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SECURITY_HEADERS",
    "SecurityMiddleware",
    "csrf_token",
]

CSRF_COOKIE = "reqless_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Probes must answer without credentials (load balancers and kubelets have none).
UNAUTHENTICATED_PATHS = frozenset({"/healthz", "/readyz"})
# Form bodies are read to find the token; anything bigger is not a form of ours.
MAX_FORM_BYTES = 1 << 20

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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        nonce = _cookie(headers, CSRF_COOKIE)
        new_cookie = None
        if nonce is None or len(nonce) < 16:
            nonce = secrets.token_urlsafe(24)
            new_cookie = _set_cookie(scope, nonce)
        send = _decorated(send, new_cookie)
        path = _route_path(scope)
        try:
            if path not in UNAUTHENTICATED_PATHS:
                user, role = self.authenticate(scope, headers)
                token = csrf_token(self.settings.secret, nonce, user)
                state = scope.setdefault("state", {})
                state.update(
                    user=user, role=role, csrf_token=token, root_path=scope.get("root_path", "")
                )
                if scope["method"] not in SAFE_METHODS:
                    receive = await self.check_csrf(scope, headers, receive, token)
        except Denied as denied:
            await _deny(send, denied)
            return
        await self.app(scope, receive, send)

    def authenticate(self, scope: Scope, headers: Headers) -> tuple[str | None, Role]:
        settings = self.settings
        if settings.auth == "none":
            return None, Role.admin
        if settings.auth == "basic":
            return self._basic(headers)
        return self._proxy(scope, headers)

    def _basic(self, headers: Headers) -> tuple[str, Role]:
        challenge = {"www-authenticate": 'Basic realm="reqless", charset="UTF-8"'}
        scheme, _, encoded = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic" or not encoded:
            raise Denied(401, "authentication required", challenge)
        try:
            name, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Denied(401, "malformed basic credentials", challenge) from None
        user = self.settings.users.get(name) if sep else None
        expected = user.password if user is not None else None
        # Compare even for an unknown user, so timing does not tell which names exist.
        matches = hmac.compare_digest(
            password.encode(), (expected if expected is not None else secrets.token_hex()).encode()
        )
        if user is None or expected is None or not matches:
            raise Denied(401, "invalid user name or password", challenge)
        return user.name, user.role

    def _proxy(self, scope: Scope, headers: Headers) -> tuple[str, Role]:
        settings = self.settings
        client = scope.get("client")
        host = client[0] if client else None
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
            body = await _read_body(receive)
            fields = parse_qs(body.decode("latin-1"), keep_blank_values=True)
            values = fields.get(CSRF_FIELD)
            sent = values[0] if values else None
            receive = _replay(body, receive)
        if sent is None:
            raise Denied(403, "missing CSRF token (send the X-CSRF-Token header)")
        if not hmac.compare_digest(sent.encode(), token.encode()):
            raise Denied(403, "CSRF token does not match this session; reload the page")
        return receive


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


def _set_cookie(scope: Scope, nonce: str) -> str:
    path = scope.get("root_path") or "/"
    cookie = f"{CSRF_COOKIE}={nonce}; Path={path}; HttpOnly; SameSite=Strict"
    if scope.get("scheme") == "https":
        cookie += "; Secure"
    return cookie


def _decorated(send: Send, cookie: str | None) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for name, value in SECURITY_HEADERS.items():
                headers[name] = value
            if cookie is not None:
                headers.append("set-cookie", cookie)
        await send(message)

    return wrapped


async def _deny(send: Send, denied: Denied) -> None:
    body = json.dumps({"error": denied.error}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.encode(), v.encode()) for k, v in denied.headers.items()),
    ]
    await send({"type": "http.response.start", "status": denied.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise Denied(400, "the client went away while sending the form")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise Denied(400, f"form body larger than {MAX_FORM_BYTES} bytes")
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
