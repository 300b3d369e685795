"""Postal wiring: settings, runtime (MongoDB, NATS, outbox relay), routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.kit.http import install_error_handlers, install_health, instrument
from services.kit.runtime import ServiceRuntime
from services.kit.settings import KitSettings


class PostalSettings(KitSettings):
    service_name: str = "postal"
    port: int = 8003


def create_app(settings: PostalSettings | None = None) -> FastAPI:
    settings = settings or PostalSettings()
    runtime = ServiceRuntime(settings, uses_s3=False)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        yield
        await runtime.stop()

    app = FastAPI(title="Một Cửa — postal", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    install_health(app, "postal", runtime.readiness_checks())
    instrument(app)
    app.state.runtime = runtime
    return app
