"""Postal wiring: settings, runtime (MongoDB, NATS, outbox relay), the operator adapter,
routers, the `dossier.*` subscribers and the sweeper that retries owed operator calls."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import Field, SecretStr
from pymongo.errors import DuplicateKeyError

from services.contracts.postal import POSTAL_EVENTS
from services.kit.bus import document_erasure_confirmations, document_publishers
from services.kit.callbacks import install_callback_guard
from services.kit.http import (
    error_body,
    http_telemetry,
    install_auth,
    install_error_handlers,
    install_health,
    install_trace_header,
)
from services.kit.runtime import ServiceRuntime
from services.kit.settings import KitSettings
from services.postal.adapters.base import OperatorAdapter
from services.postal.adapters.units import FileUnits, IntakeUnits, UnitSource
from services.postal.adapters.vnpost import VNPostAdapter, VNPostConfig
from services.postal.api import ROUTERS
from services.postal.model.common import PostalError
from services.postal.model.tariff import Tariff
from services.postal.repository import PostalRepository
from services.postal.service import PostalConfig, PostalService
from services.postal.subscribers import build_router


class PostalSettings(KitSettings):
    """`MOTCUA_*` settings. The operator URL defaults to the local simulator
    (`python -m services.postal.simulator`); secrets come only from the environment."""

    service_name: str = "postal"
    port: int = 8003
    postal_public_url: str = Field("", description="Base URL the operator calls back (webhooks); default postal_url")
    postal_operator_url: str = "http://127.0.0.1:8091"
    postal_customer_code: str = "MOTCUA-HCC"
    postal_operator_token: SecretStr = SecretStr("")
    postal_webhook_secret: SecretStr = SecretStr("")
    postal_webhook_tolerance_s: int = 300
    postal_sender_name: str = "Bộ phận Một cửa"
    postal_sender_phone: str = "02963000000"
    postal_sweep_interval_s: float = 30.0
    postal_durable_suffix: str = Field("", description="Tests: run several postal instances on one NATS")
    # tariff (VND) [check]: each province signs its own price list with the operator
    postal_carriage_in_province: int = 25_000
    postal_carriage_out_of_province: int = 35_000
    postal_redelivery_percent: int = 50
    postal_loss_compensation: int = 500_000
    postal_max_attempts: int = 3
    # administrative units and offices: intake's public reference data, or the same catalogue as a file
    postal_units_file: str = Field("", description="JSON unit catalogue (intake's import format) instead of intake")
    postal_units_ttl_s: float = 300.0

    @property
    def public_url(self) -> str:
        return (self.postal_public_url or self.postal_url).rstrip("/")

    def tariff(self) -> Tariff:
        return Tariff(
            carriage_in_province=self.postal_carriage_in_province,
            carriage_out_of_province=self.postal_carriage_out_of_province,
            redelivery_percent=self.postal_redelivery_percent,
            loss_compensation=self.postal_loss_compensation,
            max_attempts=self.postal_max_attempts,
        )


def build_adapters(settings: PostalSettings, http: httpx.AsyncClient) -> dict[str, OperatorAdapter]:
    vnpost = VNPostAdapter(
        VNPostConfig(
            api_url=settings.postal_operator_url,
            customer_code=settings.postal_customer_code,
            token=settings.postal_operator_token.get_secret_value(),
            webhook_secret=settings.postal_webhook_secret.get_secret_value(),
            tolerance_s=settings.postal_webhook_tolerance_s,
        ),
        http,
    )
    return {vnpost.name: vnpost}


def build_units(settings: PostalSettings, http: httpx.AsyncClient) -> UnitSource:
    if settings.postal_units_file:
        return FileUnits(settings.postal_units_file)
    return IntakeUnits(http, settings.intake_url, ttl_s=settings.postal_units_ttl_s)


def create_app(settings: PostalSettings | None = None) -> FastAPI:
    settings = settings or PostalSettings()
    runtime = ServiceRuntime(settings, uses_s3=False)
    holder: dict[str, PostalService] = {}
    runtime.broker.include_router(
        build_router(
            lambda: holder["service"], max_deliver=settings.max_deliver, durable_suffix=settings.postal_durable_suffix
        )
    )
    document_publishers(runtime.broker, list(POSTAL_EVENTS))
    document_erasure_confirmations(runtime.broker, "postal")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start_clients()
        assert runtime.mongo is not None
        repo = PostalRepository(runtime.mongo, runtime.db)
        await repo.ensure_indexes()
        http = httpx.AsyncClient(timeout=10)
        service = PostalService(
            repo,
            build_adapters(settings, http),
            PostalConfig(
                tariff=settings.tariff(),
                sender_name=settings.postal_sender_name,
                sender_phone=settings.postal_sender_phone,
            ),
            units=build_units(settings, http),
            wake=lambda: runtime.relay.wake() if runtime.relay else None,
        )
        holder["service"] = service
        app.state.postal = service
        await runtime.start_bus()
        sweeper = asyncio.create_task(service.run_sweeper(settings.postal_sweep_interval_s), name="postal-sweeper")
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await service.drain()
            await http.aclose()
            await runtime.stop()

    app = FastAPI(
        telemetry=http_telemetry(),
        title="Một Cửa — postal",
        version="0.1.0",
        lifespan=lifespan,
        description=(
            "Public postal service for administrative procedures (Decision 45/2016/QĐ-TTg): pickup orders, "
            "dispatch slips, hand-over records, result deliveries through a postal operator, postal staff at counters."
        ),
    )
    install_error_handlers(app)

    @app.exception_handler(PostalError)
    async def _postal_error(_: Request, exc: PostalError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message), status_code=409)

    @app.exception_handler(DuplicateKeyError)
    async def _duplicate(_: Request, exc: DuplicateKeyError) -> JSONResponse:
        # a unique number (slip, record, tracking) already taken, still so after the retries:
        # a conflict with existing data, not an outage
        return JSONResponse(
            error_body("duplicate", "A record with the same unique number already exists"), status_code=409
        )

    install_health(app, "postal", runtime.readiness_checks())
    install_auth(app, settings)
    install_trace_header(app)
    install_callback_guard(app, settings)
    for router in ROUTERS:
        app.include_router(router)
    app.state.runtime = runtime
    return app
