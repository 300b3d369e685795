"""Intake wiring: settings, runtime (MongoDB, NATS, outbox relay), repositories, routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.contracts.events import DossierReceived
from services.intake.api import router
from services.intake.model.reception import ReceptionError
from services.intake.queue.wiring import install_queue
from services.intake.reference_repository import ReferenceRepository
from services.intake.replica import install_replica
from services.intake.repository import DossierRepository, SlipRepository
from services.intake.routes import public
from services.intake.service import IntakeService
from services.intake.wiring import IntakeProcessing, ProcessingSettings
from services.kit.bus import document_publishers
from services.kit.http import (
    error_body,
    http_telemetry,
    install_auth,
    install_error_handlers,
    install_health,
    install_trace_header,
)
from services.kit.runtime import ServiceRuntime


class IntakeSettings(ProcessingSettings):
    service_name: str = "intake"
    port: int = 8001
    seed_sample_if_empty: bool = True


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    runtime = ServiceRuntime(settings)
    document_publishers(runtime.broker, [DossierReceived])
    processing = IntakeProcessing(runtime, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start_clients()
        assert runtime.mongo is not None
        dossiers = DossierRepository(runtime.mongo, runtime.db)
        await dossiers.ensure_indexes()
        reference_repo = ReferenceRepository(runtime.mongo, runtime.db)
        await reference_repo.ensure_indexes()
        service = IntakeService(
            dossiers,
            reference_repo,
            public_base_url=settings.public_base_url,
            on_commit=lambda: runtime.relay.wake() if runtime.relay else None,
        )
        if settings.seed_sample_if_empty:
            await service.seed_if_empty()
        else:
            await service.reload_reference()
        app.state.intake = service
        app.state.reference_repo = reference_repo
        app.state.slips = SlipRepository(runtime.db)
        await processing.start(app, service, dossiers)
        await runtime.start_bus()
        yield
        await processing.stop()
        await runtime.stop()

    app = FastAPI(
        telemetry=http_telemetry(),
        title="Một Cửa — intake",
        version="0.1.0",
        lifespan=lifespan,
        description="Reception of dossiers, procedure catalogue, units, working calendar, slips.",
    )
    install_error_handlers(app)

    @app.exception_handler(ReceptionError)
    async def _reception_error(_: Request, exc: ReceptionError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=422)

    install_health(app, "intake", runtime.readiness_checks())
    install_auth(app, settings)
    install_trace_header(app)
    # The citizens' endpoints first: they are the busiest, and FastAPI tries routes in order
    # (about 3.5 µs each; the lookup came after some forty: 0.12 ms of its 0.6 ms in the app).
    app.include_router(public.router)
    app.include_router(router)
    processing.install(app)
    install_queue(app, runtime, settings)
    app.state.runtime = runtime
    install_replica(app, runtime, settings.commune_domains, settings.max_deliver)
    return app
