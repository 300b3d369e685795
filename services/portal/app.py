"""Portal wiring: the web UI; it calls the services' HTTP APIs and stores nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from services.kit.http import install_error_handlers, install_health, instrument
from services.kit.settings import KitSettings
from services.kit.telemetry import setup_tracing
from services.portal.clients import ServiceClients
from services.portal.pages import router


class PortalSettings(KitSettings):
    service_name: str = "portal"
    port: int = 8080


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

    app = FastAPI(title="Một Cửa — portal", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    install_health(app, "portal", {"self": always})
    app.state.clients = clients
    app.state.dev_mode = settings.dev_mode
    app.state.dev_secret = settings.auth_dev_secret.get_secret_value() if settings.dev_mode else ""
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    app.include_router(router)
    instrument(app)
    return app
