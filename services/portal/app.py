"""Portal wiring: the web UI; it calls the services' HTTP APIs and stores nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.kit.http import http_telemetry, install_error_handlers, install_health
from services.kit.settings import KitSettings
from services.kit.telemetry import setup_tracing
from services.portal.clients import ServiceClients
from services.portal.i18n import Translator
from services.portal.pages import router
from services.portal.pages.common import render
from services.portal.security import CsrfError, SecurityMiddleware


class PortalSettings(KitSettings):
    service_name: str = "portal"
    port: int = 8080
    portal_language: str = Field("vi", description="UI language: a file services/portal/i18n/<lang>.json")


def create_app(settings: PortalSettings | None = None) -> FastAPI:
    settings = settings or PortalSettings()
    setup_tracing("portal")
    clients = ServiceClients(
        {
            "intake": settings.intake_url,
            "scan": settings.scan_url,
            "postal": settings.postal_url,
            "payments": settings.payments_url,
            "notify": settings.notify_url,
        },
        dev_mailbox_url=settings.dev_mailbox_url if settings.dev_mode else "",
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await clients.close()

    async def always() -> bool:
        return True

    app = FastAPI(
        telemetry=http_telemetry(),
        title="Một Cửa — portal",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    install_health(app, "portal", {"self": always})
    app.state.clients = clients
    app.state.dev_mode = settings.dev_mode
    app.state.dev_secret = settings.auth_dev_secret.get_secret_value() if settings.dev_mode else ""
    app.state.translator = Translator(settings.portal_language)
    app.state.public_base_url = settings.public_base_url.rstrip("/")

    @app.exception_handler(CsrfError)
    async def _csrf(request: Request, _: CsrfError) -> HTMLResponse:
        t = app.state.translator
        return render(request, "message.html", status_code=403, title=t("errors.csrf_title"), text=t("errors.csrf"))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/static/") or exc.status_code != 404:
            return Response(status_code=exc.status_code)
        return render(request, "not_found.html", status_code=404, what=request.url.path)

    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    app.include_router(router)
    app.add_middleware(SecurityMiddleware, secure_cookies=not settings.dev_mode, hsts=not settings.dev_mode)
    return app
