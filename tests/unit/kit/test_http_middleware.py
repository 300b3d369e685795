"""The shared HTTP middleware: the trace id header an officer quotes to support."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from services.kit.http import install_trace_header, instrument
from services.kit.telemetry import setup_tracing

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _app() -> FastAPI:
    setup_tracing("test-http")
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    install_trace_header(app)
    instrument(app)
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
