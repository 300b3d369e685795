"""The callback guard (kit.callbacks) through a tiny app: source allow-list, trusted proxies, rate
limit per source, the browser return page, refusals counted."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from pydantic import ValidationError

from services.kit.callbacks import BrowserReturn, CallbackGuard, ServerCallback, install_callback_guard
from services.kit.http import install_error_handlers
from services.kit.metrics import CALLBACKS_REFUSED
from services.kit.settings import KitSettings

PROVIDER = "203.0.113.5"
STRANGER = "198.51.100.7"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _app(guard: CallbackGuard | None = None, **settings: Any) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    if guard is None:
        install_callback_guard(app, KitSettings(_env_file=None, service_name="guarded", **settings))  # type: ignore[call-arg]
    else:
        app.state.callback_guard = guard
    callbacks = APIRouter(prefix="/callbacks", dependencies=[ServerCallback])
    returns = APIRouter(prefix="/callbacks", dependencies=[BrowserReturn])

    @callbacks.post("/provider")
    async def provider(request: Request) -> dict[str, str]:
        return {"source": request.state.callback_source}

    @returns.get("/return")
    async def back(request: Request) -> dict[str, str]:
        return {"source": request.state.callback_source}

    app.include_router(callbacks)
    app.include_router(returns)
    return app


def _client(app: FastAPI, peer: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(peer, 40000), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://t")


def _refused(reason: str) -> float:
    return CALLBACKS_REFUSED.labels("guarded", reason)._value.get()


async def test_without_an_allow_list_any_source_may_call_back() -> None:
    app = _app()
    async with _client(app, STRANGER) as client:
        r = await client.post("/callbacks/provider")
    assert r.status_code == 200 and r.json() == {"source": STRANGER}


async def test_only_allowed_sources_may_call_back(caplog: pytest.LogCaptureFixture) -> None:
    app = _app(callback_sources=["203.0.113.0/24", "192.0.2.1"])
    before = _refused("source_not_allowed")
    async with _client(app, PROVIDER) as client:
        assert (await client.post("/callbacks/provider")).status_code == 200
    async with _client(app, "192.0.2.1") as client:
        assert (await client.post("/callbacks/provider")).status_code == 200
    with caplog.at_level(logging.WARNING, logger="motcua.callbacks"):
        async with _client(app, STRANGER) as client:
            refused = await client.post("/callbacks/provider")
            # the browser return page admits any source
            back = await client.get("/callbacks/return")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "source_not_allowed"
    assert back.status_code == 200 and back.json() == {"source": STRANGER}
    assert _refused("source_not_allowed") == before + 1
    assert f"callback refused (source_not_allowed) from {STRANGER}" in caplog.text


async def test_the_address_forwarded_by_a_trusted_proxy_is_judged() -> None:
    app = _app(callback_sources=["203.0.113.0/24"], callback_trusted_proxies=["127.0.0.1", "10.0.0.0/8"])
    async with _client(app, "10.1.2.3") as client:  # the gateway, in a trusted network
        ok = await client.post("/callbacks/provider", headers={"X-Forwarded-For": f"1.2.3.4, {PROVIDER}"})
        spoofed = await client.post("/callbacks/provider", headers={"X-Forwarded-For": f"{PROVIDER}, {STRANGER}"})
    assert ok.status_code == 200 and ok.json() == {"source": PROVIDER}
    assert spoofed.status_code == 403  # the right-most untrusted address is the stranger
    async with _client(app, STRANGER) as client:  # not a trusted proxy: its header is ignored
        forged = await client.post("/callbacks/provider", headers={"X-Forwarded-For": PROVIDER})
    assert forged.status_code == 403


async def test_each_source_has_its_rate() -> None:
    clock = Clock()
    app = _app(CallbackGuard("guarded", rate_per_minute=6, burst=2, clock=clock))
    before = _refused("rate_limited")
    async with _client(app, PROVIDER) as client:
        codes = [(await client.post("/callbacks/provider")).status_code for _ in range(2)]
        limited = await client.post("/callbacks/provider")
        back = await client.get("/callbacks/return")  # the citizen's browser: a bucket of its own
        clock.now += 10
        again = await client.post("/callbacks/provider")
    async with _client(app, STRANGER) as client:
        other = await client.post("/callbacks/provider")
    assert codes == [200, 200]
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert limited.headers["Retry-After"] == "10"
    assert back.status_code == 200 and again.status_code == 200 and other.status_code == 200
    assert _refused("rate_limited") == before + 1


async def test_refusal_logs_are_rate_limited_too(caplog: pytest.LogCaptureFixture) -> None:
    app = _app(CallbackGuard("guarded", sources=["192.0.2.0/24"], clock=Clock()))
    with caplog.at_level(logging.WARNING, logger="motcua.callbacks"):
        async with _client(app, STRANGER) as client:
            codes = {(await client.post("/callbacks/provider")).status_code for _ in range(20)}
    assert codes == {403}
    assert caplog.text.count("callback refused") == 3  # the log budget's burst


async def test_a_router_guarded_without_an_installed_guard_fails_closed() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/callbacks/provider", dependencies=[ServerCallback])
    async def provider() -> dict[str, str]:
        return {"ok": "yes"}

    async with _client(app, PROVIDER) as client:
        r = await client.post("/callbacks/provider")
    assert r.status_code == 503


def test_settings_refuse_what_is_not_an_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTCUA_CALLBACK_SOURCES", '["203.0.113.0/24", "2001:db8::/32"]')
    settings = KitSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.callback_sources == ["203.0.113.0/24", "2001:db8::/32"]
    assert settings.callback_trusted_proxies == ["127.0.0.1", "::1"]
    assert settings.callback_rate_per_minute > 1000 and settings.callback_burst >= 100  # lenient defaults
    with pytest.raises(ValidationError, match=r"vnpay\.vn"):
        KitSettings(_env_file=None, callback_sources=["vnpay.vn"])  # type: ignore[call-arg]
