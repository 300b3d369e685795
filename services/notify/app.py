"""Notify wiring: settings, runtime, SMTP adapter, router, subscribers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.kit.http import install_auth, install_error_handlers, install_health, install_trace_header, instrument
from services.kit.runtime import ServiceRuntime
from services.kit.settings import KitSettings
from services.notify.api import router
from services.notify.email import SmtpMailer
from services.notify.repository import DeliveryRepository
from services.notify.service import NotifyService
from services.notify.subscribers import build_router


class NotifySettings(KitSettings):
    service_name: str = "notify"
    port: int = 8005


def create_app(settings: NotifySettings | None = None) -> FastAPI:
    settings = settings or NotifySettings()
    runtime = ServiceRuntime(settings, relay=True)
    holder: dict[str, NotifyService] = {}
    runtime.broker.include_router(build_router(lambda: holder["service"], max_deliver=settings.max_deliver))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start_clients()
        deliveries = DeliveryRepository(runtime.db)
        await deliveries.ensure_indexes()
        service = NotifyService(deliveries, SmtpMailer(settings.smtp_url, settings.smtp_from))
        holder["service"] = service
        app.state.deliveries = deliveries
        await runtime.start_bus()
        yield
        await runtime.stop()

    app = FastAPI(title="Một Cửa — notify", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    install_health(app, "notify", runtime.readiness_checks())
    install_auth(app, settings)
    install_trace_header(app)
    app.include_router(router)
    instrument(app)
    app.state.runtime = runtime
    return app
