"""The portal's web security basics.

- Security headers on every response: a Content-Security-Policy without inline scripts or
  styles (JavaScript and CSS are served from /static), no framing, no MIME sniffing, a strict
  referrer policy; HSTS outside dev.
- CSRF protection by double submit: a random token in the `motcua_csrf` cookie (HttpOnly,
  SameSite=Strict) must come back with every POST, in the `csrf_token` form field or the
  `X-CSRF-Token` header (pages render it into their forms and into a <meta> for scripts).
  Requests whose `Origin` is another site are refused as well.
"""

from __future__ import annotations

import hmac
import secrets
from http.cookies import SimpleCookie

from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_COOKIE = "motcua_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
TOKEN_COOKIE = "motcua_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "media-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

BASE_HEADERS: tuple[tuple[str, str], ...] = (
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
    ("cross-origin-opener-policy", "same-origin"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=()"),
)


class CsrfError(Exception):
    """A state-changing request without the matching CSRF token (or from another origin)."""


def cookie_attributes(*, secure: bool, max_age: int | None = None) -> str:
    parts = ["Path=/", "HttpOnly", "SameSite=Strict"]
    if secure:
        parts.append("Secure")
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return "; ".join(parts)


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers") or []:
        if key == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:
                continue
            if name in jar:
                return jar[name].value
    return None


def _valid_token(value: str | None) -> bool:
    return bool(value) and 20 <= len(value or "") <= 100 and all(c.isalnum() or c in "-_" for c in value or "")


class SecurityMiddleware:
    """Pure ASGI (keeps server-sent events streaming): headers + the CSRF cookie."""

    def __init__(self, app: ASGIApp, *, secure_cookies: bool, hsts: bool) -> None:
        self.app = app
        self.secure_cookies = secure_cookies
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _cookie(scope, CSRF_COOKIE)
        issue = not _valid_token(token)
        if issue:
            token = secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf_token"] = token

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in BASE_HEADERS:
                    if name not in headers:
                        headers[name] = value
                if self.hsts:
                    headers["strict-transport-security"] = "max-age=31536000; includeSubDomains"
                if issue:
                    headers.append(
                        "set-cookie", f"{CSRF_COOKIE}={token}; {cookie_attributes(secure=self.secure_cookies)}"
                    )
            await send(message)

        await self.app(scope, receive, send_with_headers)


def csrf_token(request: Request) -> str:
    return str(getattr(request.state, "csrf_token", "") or "")


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin != "null"
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


async def csrf_protect(request: Request) -> None:
    """Router dependency: POST/PUT/PATCH/DELETE need the double-submitted token."""
    if request.method in SAFE_METHODS:
        return
    cookie = request.cookies.get(CSRF_COOKIE)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not _same_origin(request) or not cookie or not sent or not hmac.compare_digest(cookie, sent):
        raise CsrfError()
