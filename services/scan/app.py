"""Scan wiring: settings, runtime (MongoDB, NATS, S3, outbox relay), routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.kit.http import install_error_handlers, install_health, instrument
from services.kit.runtime import ServiceRuntime
from services.kit.settings import KitSettings


class ScanSettings(KitSettings):
    service_name: str = "scan"
    port: int = 8002


def create_app(settings: ScanSettings | None = None) -> FastAPI:
    settings = settings or ScanSettings()
    runtime = ServiceRuntime(settings, uses_s3=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        yield
        await runtime.stop()

    app = FastAPI(title="Một Cửa — scan", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    install_health(app, "scan", runtime.readiness_checks())
    instrument(app)
    app.state.runtime = runtime
    return app
