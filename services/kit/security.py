"""HTTP security basics shared by every service: response headers and CORS.

- Headers on every response, set only when the app did not set them itself:
  `X-Content-Type-Options: nosniff`, no framing (`X-Frame-Options: DENY`), `Cache-Control:
  no-store` on answers to authenticated requests (personal data stays out of shared caches),
  HSTS behind HTTPS; and on the API's data answers (JSON, text, CSV, event streams) a strict
  Content-Security-Policy (`default-src 'none'; frame-ancestors 'none'`: opened as a page,
  such an answer runs nothing and loads nothing) and `Referrer-Policy: no-referrer`.
  Documents the browser renders itself — HTML pages (the portal's, the docs, the gateway's
  return page), PDFs, images — keep the policy of the app that serves them: the portal's
  middleware sets its own (its CSRF check needs the `Origin` a `no-referrer` policy would
  blank), Swagger UI at `/docs` loads from its CDN, and a `default-src 'none'` policy could
  stop the browser's PDF viewer.
- CORS: only the portal's origin (`MOTCUA_PORTAL_URL`) may call the APIs from a browser, with
  a bearer token, never with cookies; preflights from any other origin are refused.

`install_security_headers` is called by `kit.http.install_error_handlers` and `install_cors`
by `kit.http.install_auth`, which every service already calls (the portal, the origin
itself, calls the first only).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

BASE_HEADERS: tuple[tuple[str, str], ...] = (
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
)
API_HEADERS: tuple[tuple[str, str], ...] = (
    ("content-security-policy", API_CSP),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-resource-policy", "same-site"),
)

DATA_TYPES = frozenset({"application/json", "text/plain", "text/csv", "text/event-stream", ""})

CORS_METHODS = ("GET", "POST", "PUT", "DELETE")
CORS_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "traceparent", "tracestate", "Last-Event-ID")


class SecurityHeadersMiddleware:
    """Pure ASGI (streams such as the board's SSE feed pass through untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        authenticated = "authorization" in request_headers or "motcua_token=" in request_headers.get("cookie", "")
        https = scope.get("scheme") == "https" or request_headers.get("x-forwarded-proto", "") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                media = headers.get("content-type", "").split(";")[0].strip().lower()
                data = media in DATA_TYPES or media.endswith("+json")
                for name, value in BASE_HEADERS + API_HEADERS if data else BASE_HEADERS:
                    headers.setdefault(name, value)
                if authenticated:
                    headers.setdefault("cache-control", "no-store")
                if https:
                    headers.setdefault("strict-transport-security", "max-age=31536000; includeSubDomains")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_security_headers(app: FastAPI) -> None:
    app.add_middleware(SecurityHeadersMiddleware)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def install_cors(app: FastAPI, portal_url: str) -> None:
    """Browsers may call this API from the portal's origin only (bearer tokens, no cookies)."""
    origins = [o for o in (origin_of(u.strip()) for u in portal_url.split(",")) if o]
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=list(CORS_METHODS),
        allow_headers=list(CORS_HEADERS),
        expose_headers=["X-Trace-Id", "Retry-After"],
        allow_credentials=False,
        max_age=600,
    )
