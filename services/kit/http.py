"""FastAPI basics shared by every service: health probes, one error renderer, tracing."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bson.errors import InvalidDocument, InvalidStringData
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.kit.auth import AuthConfig, TokenVerifier
from services.kit.errors import AppError
from services.kit.settings import KitSettings

log = logging.getLogger("motcua.http")

ReadinessCheck = Callable[[], Awaitable[bool]]


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return {"error": body}


def _describe_validation(errors: list[Any]) -> list[dict[str, Any]]:
    described = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        described.append(
            {"field": ".".join(loc) or "body", "problem": err.get("msg", "invalid"), "type": err.get("type")}
        )
    return described


def install_error_handlers(app: FastAPI) -> None:
    """One error body for every failure — and the security headers (kit.security), since every
    service calls this."""
    from services.kit.security import install_security_headers

    install_security_headers(app)

    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = _describe_validation(list(exc.errors()))
        fields = ", ".join(d["field"] + ": " + d["problem"] for d in details[:5])
        return JSONResponse(error_body("validation_error", f"Invalid request: {fields}", details), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    async def _unstorable(_: Request, exc: Exception) -> JSONResponse:
        # input the database cannot store (a number beyond 64 bits, a NUL in a key, a lone
        # surrogate in a text): the request's fault, not an outage
        log.info("unstorable input refused: %s: %s", type(exc).__name__, exc)
        return JSONResponse(
            error_body("unprocessable_value", "A value in the request cannot be stored (too large a number, "
                                              "or characters that are not allowed)"),
            status_code=422,
        )

    for unstorable in (OverflowError, InvalidDocument, InvalidStringData, UnicodeEncodeError):
        app.add_exception_handler(unstorable, _unstorable)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # Infrastructure outages surface as 503 so clients retry; never a bare 500 page.
        log.exception("unhandled error: %s", exc)
        return JSONResponse(
            error_body("unavailable", "The service could not complete the request; try again shortly."),
            status_code=503,
        )


def install_health(app: FastAPI, service: str, checks: dict[str, ReadinessCheck]) -> None:
    """`/healthz`: the process is alive. `/readyz`: its own dependencies answer.
    `/metrics`: Prometheus metrics (kit.metrics), HTTP latency included."""
    from services.kit.metrics import install_metrics

    install_metrics(app, service)

    @app.get("/healthz", tags=["health"], operation_id="healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @app.get("/readyz", tags=["health"], operation_id="readyz")
    async def readyz() -> JSONResponse:
        results: dict[str, bool] = {}
        for name, check in checks.items():
            try:
                results[name] = await check()
            except Exception:
                results[name] = False
        ready = all(results.values())
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "service": service, "checks": results},
            status_code=200 if ready else 503,
        )


_UNTRACED_PATHS = frozenset({"/healthz", "/readyz"})


def http_telemetry() -> TelemetryConfig:
    """FastAPI's own OpenTelemetry support, as every service's `FastAPI(telemetry=…)`.

    One server span per request, named after the matched route, child of the caller's
    `traceparent`. Not the per-operation child spans (dependencies, endpoint, serialisation),
    nor OTel metrics and logs: Prometheus and the JSON logs cover those. FastAPI names the span
    from the route it has matched anyway; the contrib instrumentation matched every route a
    second time per request, which cost intake about 0.25 ms of CPU on each request.
    """
    return {
        "operation_spans": False,
        "metrics": False,
        "logs": False,
        "exclude": lambda scope: scope.get("path") in _UNTRACED_PATHS,
    }


def install_auth(app: FastAPI, settings: KitSettings) -> None:
    """Verify bearer tokens with the configured JWKS, or the dev secret (dev and tests); and let
    browsers call the API from the portal's origin only (CORS, kit.security)."""
    from services.kit.security import install_cors

    install_cors(app, settings.portal_url)
    config = AuthConfig(
        dev_secret=settings.auth_dev_secret.get_secret_value(),
        jwks_url=settings.auth_jwks_url,
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        jwks_cache_path=settings.auth_jwks_cache_path,
    )
    if config.dev_secret or config.jwks_url:
        app.state.token_verifier = TokenVerifier(config)
    else:
        log.warning("no MOTCUA_AUTH_JWKS_URL or MOTCUA_AUTH_DEV_SECRET: every protected endpoint answers 401")


class TraceHeaderMiddleware:
    """Pure ASGI (no per-request task as with `@app.middleware`): adds `X-Trace-Id`."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from opentelemetry import trace

        async def send_with_trace(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                ctx = trace.get_current_span().get_span_context()
                if ctx.is_valid:
                    headers = list(message.get("headers", []))
                    headers.append((b"x-trace-id", format(ctx.trace_id, "032x").encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_trace)


def install_trace_header(app: FastAPI) -> None:
    """Echo the trace id as `X-Trace-Id` so an officer can quote it to support."""
    app.add_middleware(TraceHeaderMiddleware)
