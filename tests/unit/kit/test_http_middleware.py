"""The shared HTTP middleware: the trace id header an officer quotes to support."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.kit.http import http_telemetry, install_trace_header
from services.kit.telemetry import QueryRedactor, setup_tracing

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _app() -> FastAPI:
    setup_tracing("test-http")
    app = FastAPI(telemetry=http_telemetry())

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    install_trace_header(app)
    return app


async def test_response_carries_the_callers_trace_id() -> None:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.get("/ping", headers={"traceparent": TRACEPARENT})
    assert r.status_code == 200
    assert r.json() == {"pong": "yes"}
    assert r.headers["x-trace-id"] == "4bf92f3577b34da6a3ce929d0e0e4736"


async def test_a_new_trace_id_without_traceparent() -> None:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        first = await client.get("/ping")
        second = await client.get("/ping")
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["x-trace-id"])
    assert first.headers["x-trace-id"] != second.headers["x-trace-id"]


async def test_one_server_span_per_request_named_after_the_route_and_none_for_probes() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = FastAPI(telemetry={**http_telemetry(), "tracer_provider": provider})

    @app.get("/dossiers/{code}")
    async def dossier(code: str) -> dict[str, str]:
        return {"code": code}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/dossiers/H01-1", headers={"traceparent": TRACEPARENT})).status_code == 200
        assert (await client.get("/healthz")).status_code == 200
    spans = exporter.get_finished_spans()
    assert [(s.name, s.kind) for s in spans] == [("GET /dossiers/{code}", SpanKind.SERVER)]
    span = spans[0]
    assert format(span.context.trace_id, "032x") == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert span.parent is not None and format(span.parent.span_id, "016x") == "00f067aa0ba902b7"
    assert span.attributes is not None and span.attributes["http.route"] == "/dossiers/{code}"


def _redacted_app() -> tuple[FastAPI, InMemorySpanExporter]:
    """An app traced as the services are, with the query redactor and an in-memory exporter."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(QueryRedactor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return FastAPI(telemetry={**http_telemetry(), "tracer_provider": provider}), exporter


async def test_query_string_values_never_reach_a_span() -> None:
    app, exporter = _redacted_app()

    @app.get("/public/lookup")
    async def lookup(code: str, last4: str) -> dict[str, str]:
        return {"code": code}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.get("/public/lookup", params={"code": "000.01.30.H01-261124-0001", "last4": "5678"})
    assert r.status_code == 200
    [span] = exporter.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["url.query"] == "code=REDACTED&last4=REDACTED"
    assert not any("5678" in str(v) or "H01" in str(v) for v in span.attributes.values())


async def test_every_query_value_is_redacted_whatever_its_form() -> None:
    """A percent-encoded value (a name searched for), a bare name and an empty value: the names
    stay as sent, no value reaches the span."""
    app, exporter = _redacted_app()

    @app.get("/dossiers")
    async def search(q: str = "", all: str | None = None, page: str = "") -> dict[str, str]:
        return {"q": q}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.get("/dossiers?q=Nguy%E1%BB%85n+V%C4%83n+A&all&page=&q=089203004567")
    assert r.status_code == 200
    [span] = exporter.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["url.query"] == "q=REDACTED&all=REDACTED&page=REDACTED&q=REDACTED"
    assert not any("Nguy" in str(v) or "089203004567" in str(v) for v in span.attributes.values())
