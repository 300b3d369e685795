"""Adds the queue to intake's app with one call: `install_queue(app, runtime, settings)`.

It includes the router, renders the queue's errors, documents the `queue.*` events on the
broker (AsyncAPI), and wraps the app's lifespan so the queue service is built once intake's
own lifespan has started its clients, reference data and bus.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.contracts.queue import QUEUE_EVENTS
from services.intake.queue.api import router
from services.intake.queue.model import DEFAULT_ORDER, Lane, QueueError, QueueRules
from services.intake.queue.pagers import PagerDesk
from services.intake.queue.repository import QueueRepository
from services.intake.queue.service import QueueService
from services.kit.bus import document_publishers
from services.kit.http import error_body
from services.kit.metrics import register_scrape_hook, unregister_scrape_hook
from services.kit.ratelimit import TokenBucket
from services.kit.runtime import ServiceRuntime
from services.kit.settings import KitSettings


class QueueSettings(BaseSettings):
    """Queue knobs (prefix `MOTCUA_QUEUE_`)."""

    model_config = SettingsConfigDict(env_prefix="MOTCUA_QUEUE_", env_file=".env", extra="ignore")

    order: tuple[Lane, ...] = Field(DEFAULT_ORDER, description="Lane ranking: appointment, priority, transfer, regular")
    recalls_before_no_show: int = Field(2, ge=0, le=20, description="N: skipping after 1 + N calls is a no-show")
    number_digits: int = Field(3, ge=2, le=6)
    field_prefixes: dict[str, str] = Field(
        default_factory=dict, description='Ticket prefix per field, e.g. {"ho_tich": "A"}; others get free letters'
    )
    appointment_early_min: float = Field(60, ge=0, description="Check-in this early still counts as on time")
    appointment_late_min: float = Field(15, ge=0, description="Check-in this late still counts as on time")
    kiosk_rate_per_minute: float = Field(30.0, gt=0, description="Public requests per client address and minute")
    kiosk_burst: int = Field(20, ge=1)

    def rules(self) -> QueueRules:
        return QueueRules(
            order=self.order,
            recalls_before_no_show=self.recalls_before_no_show,
            number_digits=self.number_digits,
            appointment_early=timedelta(minutes=self.appointment_early_min),
            appointment_late=timedelta(minutes=self.appointment_late_min),
        )


def install_queue(app: FastAPI, runtime: ServiceRuntime, settings: KitSettings) -> None:
    """Call once in intake's `create_app`, after the FastAPI app exists.

    `app.state.queue_settings` may be replaced before the app starts (tests, embedding).
    """
    app.state.queue_settings = QueueSettings()
    document_publishers(runtime.broker, QUEUE_EVENTS)
    app.include_router(router)

    @app.exception_handler(QueueError)
    async def _queue_error(_: Request, exc: QueueError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status)

    original = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:
        async with original(a) as state:
            await _start(a, runtime)
            hook = a.state.queue.refresh_length_gauge
            register_scrape_hook(hook)
            try:
                yield state
            finally:
                unregister_scrape_hook(hook)

    app.router.lifespan_context = lifespan


async def _start(app: FastAPI, runtime: ServiceRuntime) -> None:
    qs: QueueSettings = app.state.queue_settings
    assert runtime.mongo is not None, "intake's lifespan starts the clients first"
    repo = QueueRepository(runtime.mongo, runtime.db)
    await repo.ensure_indexes()
    intake = app.state.intake  # IntakeService: reference data, clock, dossiers

    def clock() -> datetime:
        now: datetime = intake.clock.now()
        return now

    dossiers = getattr(intake, "dossiers", None)
    app.state.queue = queue = QueueService(
        repo,
        lambda: intake.reference,
        clock=clock,
        rules=qs.rules(),
        prefixes=qs.field_prefixes,
        dossier_lookup=dossiers.get if dossiers is not None else None,
        on_commit=lambda: runtime.relay.wake() if runtime.relay else None,
    )
    app.state.queue_pagers = PagerDesk(queue)
    app.state.queue_limiter = TokenBucket.per_minute(qs.kiosk_rate_per_minute, qs.kiosk_burst)
