"""Security headers on every service's responses and CORS limited to the portal's origin."""

from __future__ import annotations

import httpx
import pytest

from services.kit.auth import Role
from services.kit.security import API_CSP
from services.launcher.servers import Endpoints
from services.portal.app import PortalSettings
from services.portal.app import create_app as portal_app
from tests.security.apps import PORTAL_ORIGIN, Running
from tests.support import auth, running_app, settings_for

pytestmark = pytest.mark.integration

EVIL = "https://evil.example"


def _assert_base(r: httpx.Response, where: str) -> None:
    assert r.headers.get("x-content-type-options") == "nosniff", where
    assert r.headers.get("x-frame-options") == "DENY", where
    assert r.headers.get("referrer-policy"), where
    assert "frame-ancestors 'none'" in r.headers.get("content-security-policy", ""), where


async def test_every_api_sends_security_headers(security_apps: dict[str, Running]) -> None:
    for name, running in security_apps.items():
        c = running.client
        for r in (await c.get("/healthz"), await c.get("/no-such-path"),
                  await c.get("/openapi.json"), await c.post("/healthz")):
            _assert_base(r, f"{name} {r.request.url.path} {r.status_code}")
            assert r.headers["content-security-policy"] == API_CSP
        signed_in = await c.get("/healthz", headers=auth(Role.INSPECTOR, unit_code="91"))
        assert signed_in.headers.get("cache-control") == "no-store", name
        docs = await c.get("/docs")
        assert docs.status_code == 200 and "content-security-policy" not in docs.headers, "Swagger UI must load"
        assert docs.headers.get("x-frame-options") == "DENY" and docs.headers.get("x-content-type-options")


async def test_cors_admits_the_portal_origin_only(security_apps: dict[str, Running]) -> None:
    for name, running in security_apps.items():
        c = running.client
        preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
        ok = await c.options("/healthz", headers={"Origin": PORTAL_ORIGIN, **preflight})
        assert ok.status_code == 200 and ok.headers.get("access-control-allow-origin") == PORTAL_ORIGIN, name
        assert "access-control-allow-credentials" not in ok.headers, "bearer tokens only, never cookies"
        refused = await c.options("/healthz", headers={"Origin": EVIL, **preflight})
        assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers, name
        simple = await c.get("/healthz", headers={"Origin": EVIL})
        assert "access-control-allow-origin" not in simple.headers, name
        allowed = await c.get("/healthz", headers={"Origin": PORTAL_ORIGIN})
        assert allowed.headers.get("access-control-allow-origin") == PORTAL_ORIGIN, name


async def test_the_portal_keeps_its_own_page_policy(servers: Endpoints) -> None:
    async with running_app(portal_app(settings_for(servers, PortalSettings))) as client:
        page = await client.get("/tra-cuu")
        assert page.status_code == 200
        _assert_base(page, "portal /tra-cuu")
        assert "default-src 'self'" in page.headers["content-security-policy"], "the portal's CSP, not the API's"
        assert page.headers["referrer-policy"] == "same-origin", "no-referrer would blank the Origin of its forms"
        assert "access-control-allow-origin" not in (await client.get("/healthz", headers={"Origin": EVIL})).headers
