"""Prometheus metrics at `/metrics` on every service.

Shared names (Grafana dashboards in deploy/ query these):
- `motcua_http_request_duration_seconds{service,method,route,status}` — HTTP latency
- `motcua_outbox_backlog{service}` — events committed but not yet published
- `motcua_consumer_pending_messages{service,durable}` — consumer lag (pending + unacked)
- `motcua_dead_letters{stream}` — messages waiting in the dead-letter stream
- `motcua_dossiers_received_total{unit_code,channel}` — receptions (intake)
- `motcua_dossiers_late{unit_code}` — unfinished dossiers past their due moment (intake)
- `motcua_queue_length{office_id}` — tickets waiting now (intake queue)
Services refresh gauges that need a query in a scrape hook, so nothing polls in between.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

log = logging.getLogger("motcua.metrics")

HTTP_LATENCY = Histogram(
    "motcua_http_request_duration_seconds",
    "HTTP request latency",
    ["service", "method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
OUTBOX_BACKLOG = Gauge("motcua_outbox_backlog", "Outbox entries not yet published", ["service"])
CONSUMER_PENDING = Gauge(
    "motcua_consumer_pending_messages",
    "Messages pending or unacknowledged per durable consumer",
    ["service", "durable"],
)
DEAD_LETTERS = Gauge("motcua_dead_letters", "Messages in the dead-letter stream", ["stream"])
DOSSIERS_RECEIVED = Counter("motcua_dossiers_received_total", "Dossiers received", ["unit_code", "channel"])
DOSSIERS_LATE = Gauge("motcua_dossiers_late", "Unfinished dossiers past their due moment", ["unit_code"])
QUEUE_LENGTH = Gauge("motcua_queue_length", "Tickets waiting now", ["office_id"])

ScrapeHook = Callable[[], Awaitable[None]]

_UNTIMED = frozenset({"/metrics", "/healthz", "/readyz"})


class LatencyMiddleware:
    """Pure ASGI (no per-request task like Starlette's BaseHTTPMiddleware): HTTP latency by route."""

    def __init__(self, app: Any, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            if path not in _UNTIMED:
                HTTP_LATENCY.labels(self.service, scope["method"], path, str(status["code"])).observe(
                    time.perf_counter() - started
                )

# One service per process: gauges that need a query register a hook run at each scrape.
SCRAPE_HOOKS: list[ScrapeHook] = []


def register_scrape_hook(hook: ScrapeHook) -> None:
    if hook not in SCRAPE_HOOKS:
        SCRAPE_HOOKS.append(hook)


def install_metrics(app: FastAPI, service: str) -> None:
    """Add `/metrics` and the HTTP latency histogram to an app."""

    app.add_middleware(LatencyMiddleware, service=service)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        for hook in list(SCRAPE_HOOKS):
            try:
                await asyncio.wait_for(hook(), timeout=2.0)
            except Exception as exc:  # a slow dependency must not break the scrape
                log.warning("metrics hook failed: %s", exc)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
