"""Prometheus metrics at `/metrics` on every service.

Shared names (Grafana dashboards in deploy/ query these):
- `motcua_http_request_duration_seconds{service,method,route,status}` — HTTP latency
- `motcua_outbox_backlog{service}` — events committed but not yet published
- `motcua_consumer_pending_messages{service,durable}` — consumer lag (pending + unacked)
- `motcua_dead_letters{stream}` — messages waiting in the dead-letter stream
- `motcua_dossiers_received_total{unit_code,channel}` — receptions (intake)
- `motcua_dossiers_finished_total{unit_code,timeliness}` — dossiers finished (intake), by
  timeliness `early` / `on_time` / `late`
- `motcua_dossiers_late{unit_code}` — unfinished dossiers past their due moment (intake)
- `motcua_queue_length{office_id}` — tickets waiting now (intake queue)
- `motcua_queue_wait_seconds{office_id}` — queue wait, ticket issued → first called (intake queue)
- `motcua_callbacks_refused_total{service,reason}` — third-party callbacks refused before their
  signature is checked (kit.callbacks): `source_not_allowed` or `rate_limited`

`unit_code` is the receiving unit (the dossier's own `unit_code`), as in intake's reports.

**Finished** is the moment the competent body ends processing — the dossier is *resolved*
(giải quyết xong) or *refused* after appraisal (từ chối) — which is when intake stamps
`finished_at` and `timeliness`: the moment the national on-time indicator uses (the national
portal sync sends it as `NgayKetThucXuLy`, compared with `NgayHenTraTheoQuyDinh` for `TreHan`)
and the one intake's reports count. The result being ready or handed back later does not
change it. Timeliness follows DOMAIN §5:
finished before / on / after the due date (day granularity, office's local dates) → `early` /
`on_time` / `late`; the due date is the statutory one (pauses and supplement restarts included).
Dossiers without a due date (no processing time) and withdrawn ones are not counted. The
counter is incremented once per dossier, after the transaction that finishes it commits (a
repeated request is refused by the state machine; a lost optimistic update raises first).
On-time rate over a window: `sum(increase(…{timeliness=~"early|on_time"}[w])) /
sum(increase(…[w]))`.

Services refresh gauges that need a query in a scrape hook, so nothing polls in between:
intake's `motcua_dossiers_late` counts its own open dossiers carrying the late flag (set by the
late scan), `motcua_queue_length` the tickets waiting today in each active office.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
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
DOSSIERS_FINISHED = Counter(
    "motcua_dossiers_finished_total",
    "Dossiers finished (resolved or refused), by timeliness against the due date",
    ["unit_code", "timeliness"],
)
TIMELINESS = ("early", "on_time", "late")
DOSSIERS_LATE = Gauge("motcua_dossiers_late", "Unfinished dossiers past their due moment", ["unit_code"])
QUEUE_LENGTH = Gauge("motcua_queue_length", "Tickets waiting now", ["office_id"])
QUEUE_WAIT = Histogram(
    "motcua_queue_wait_seconds",
    "Queue wait: ticket issued to first called",
    ["office_id"],
    buckets=(30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200, 10800, 14400),
)
CALLBACKS_REFUSED = Counter(
    "motcua_callbacks_refused_total",
    "Third-party callbacks refused by source allow-list or rate limit",
    ["service", "reason"],
)

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


def unregister_scrape_hook(hook: ScrapeHook) -> None:
    """At shutdown: a stopped component's hook must not run (or report) any more."""
    while hook in SCRAPE_HOOKS:
        SCRAPE_HOOKS.remove(hook)


def dossier_finished(unit_code: str, timeliness: str | None) -> None:
    """Count one finished dossier; call after its transaction committed (see the docstring)."""
    if timeliness in TIMELINESS:
        DOSSIERS_FINISHED.labels(unit_code, timeliness).inc()


def queue_waited(office_id: str, seconds: float | None) -> None:
    """Observe a ticket's wait when it is called the first time (after the commit)."""
    if seconds is not None:
        QUEUE_WAIT.labels(office_id).observe(max(0.0, seconds))


def declare_office_series(offices: Iterable[tuple[str, str]]) -> None:
    """Create the finished-dossier and queue-wait series of known (office id, unit code) pairs at
    zero, so the first dossier or ticket of a unit shows in `increase()`/`rate()` (a series that
    appears with its first increment loses that increment to Prometheus)."""
    for office_id, unit_code in offices:
        for timeliness in TIMELINESS:
            DOSSIERS_FINISHED.labels(unit_code, timeliness)
        QUEUE_WAIT.labels(office_id)


def set_gauge(gauge: Gauge, values: dict[str, float]) -> None:
    """Replace every series of a one-label gauge at once (labels gone from `values` disappear).

    No await in here: a concurrent scrape never sees the gauge half cleared."""
    gauge.clear()
    for label, value in values.items():
        gauge.labels(label).set(value)


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
