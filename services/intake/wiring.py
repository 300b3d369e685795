"""Wiring of Intake II (processing, consumers, lookup, feedback, ratings, registry, reports,
national-portal sync) into intake's app: `app.py` creates one `IntakeProcessing`, calls
`install` when building the app and `start`/`stop` in its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from fastapi import FastAPI
from pydantic import Field, SecretStr

from services.intake.events_out import PUBLISHED_EVENTS
from services.intake.feedback import FeedbackService
from services.intake.inbound import InboundEvents
from services.intake.lookup import LookupService
from services.intake.model.privacy import RetentionRule
from services.intake.model.reception import ReceptionError
from services.intake.national_portal.sync import NationalPortalSync
from services.intake.privacy.repository import AuditRepository, PrivacyRepository
from services.intake.privacy.service import AuditTrail, PrivacyService
from services.intake.processing import ProcessingService
from services.intake.ratings import RatingService
from services.intake.registry import ApplicantRegistry
from services.intake.reports.service import ReportService
from services.intake.repository import DossierRepository
from services.intake.routes import feedback, insight, privacy, processing
from services.intake.service import IntakeService
from services.intake.subscribers import build_router
from services.kit.bus import document_publishers
from services.kit.metrics import declare_office_series, register_scrape_hook, unregister_scrape_hook
from services.kit.ratelimit import TokenBucket
from services.kit.runtime import ServiceRuntime
from services.kit.settings import KitSettings

log = logging.getLogger("motcua.intake.wiring")


class ProcessingSettings(KitSettings):
    """Intake II knobs (prefix `MOTCUA_`)."""

    late_scan_interval_s: float = Field(
        60.0,
        ge=0,
        description="How often dossiers past their due moment are flagged (the first scan 5 s after start); "
        "0 = no background scan, only POST /admin/late-scan",
    )
    lookup_rate_per_minute: float = Field(
        20.0, description="Public lookups per client address and minute; 0 = unlimited"
    )
    lookup_burst: int = 10
    lookup_trusted_proxies: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        description="Peers whose X-Forwarded-For names the client (the portal, a reverse proxy)",
    )
    feedback_response_days: int = Field(10, description="Working days to answer a feedback [check]")
    national_portal_url: str = Field("", description="National portal sync endpoint; empty = not synchronised")
    national_portal_token: SecretStr = SecretStr("")
    national_portal_poll_s: float = 2.0
    national_portal_backoff_s: tuple[float, ...] = Field((1, 5, 15, 60, 300, 900), description="Retry delays")
    national_portal_status_map: dict[str, str] = Field(default_factory=dict, description="Status string overrides")
    durable_suffix: str = Field("", description="Appended to intake's durable consumer names (tests)")
    dossier_retention_days: float = Field(
        3650.0,
        description="Days finished dossiers are kept before a deletion request may anonymise them "
        "[check: the province's archives schedule]; <0 keeps forever",
    )
    dossier_retention_days_by_procedure: dict[str, float] = Field(default_factory=dict)


class IntakeProcessing:
    def __init__(self, runtime: ServiceRuntime, settings: ProcessingSettings) -> None:
        self.runtime = runtime
        self.settings = settings
        self.inbound: InboundEvents | None = None
        self.sync: NationalPortalSync | None = None
        self._late_task: asyncio.Task[None] | None = None
        self.intake: IntakeService | None = None
        self.processing: ProcessingService | None = None
        self.privacy: PrivacyService | None = None
        runtime.broker.include_router(
            build_router(
                self._inbound,
                max_deliver=settings.max_deliver,
                durable_suffix=settings.durable_suffix,
                intake=self._intake,
                privacy=self._privacy,
            )
        )
        document_publishers(runtime.broker, PUBLISHED_EVENTS)

    def _intake(self) -> IntakeService:
        assert self.intake is not None, "intake processing not started"
        return self.intake

    def _privacy(self) -> PrivacyService:
        assert self.privacy is not None, "intake processing not started"
        return self.privacy

    def _inbound(self) -> InboundEvents:
        assert self.inbound is not None, "intake processing not started"
        return self.inbound

    def install(self, app: FastAPI) -> None:
        for module in (processing, feedback, insight, privacy):
            app.include_router(module.router)

    async def start(self, app: FastAPI, intake: IntakeService, dossiers: DossierRepository) -> None:
        """Build the services on the started clients (call before `runtime.start_bus()`)."""
        db = self.runtime.db
        s = self.settings
        self.intake = intake
        processing_service = ProcessingService(intake, dossiers)
        self.inbound = InboundEvents(processing_service)
        audit_repo = AuditRepository(db)
        privacy_repo = PrivacyRepository(db)
        audit = AuditTrail(audit_repo, intake)
        registry = ApplicantRegistry(db, audit)
        ratings = RatingService(db)
        feedback_service = FeedbackService(intake, db, response_days=s.feedback_response_days)
        self.sync = NationalPortalSync(
            db,
            s.national_portal_url,
            token=s.national_portal_token.get_secret_value(),
            poll_s=s.national_portal_poll_s,
            backoff_s=s.national_portal_backoff_s,
            status_overrides=s.national_portal_status_map,
        )
        dossiers.sync_enabled = privacy_repo.sync_enabled = self.sync.enabled
        for service in (registry, ratings, feedback_service, audit_repo, privacy_repo):
            await service.ensure_indexes()
        app.state.audit = audit
        app.state.privacy = self.privacy = PrivacyService(
            privacy_repo,
            audit,
            intake,
            RetentionRule(s.dossier_retention_days, dict(s.dossier_retention_days_by_procedure)),
        )
        app.state.processing = processing_service
        app.state.lookup = LookupService(
            intake,
            dossiers,
            TokenBucket.per_minute(s.lookup_rate_per_minute, s.lookup_burst),
            s.lookup_trusted_proxies,
        )
        app.state.feedback = feedback_service
        app.state.ratings = ratings
        app.state.registry = registry
        app.state.reports = ReportService(intake, db)
        app.state.national_sync = self.sync
        previous = intake.on_commit
        sync = self.sync

        def on_commit() -> None:
            previous()
            sync.wake()

        intake.on_commit = on_commit
        self.sync.start()
        self.processing = processing_service
        register_scrape_hook(processing_service.refresh_late_gauge)
        with contextlib.suppress(ReceptionError):  # no reference data yet: series appear as they come
            declare_office_series((o.id, o.unit_code) for o in intake.reference.units.offices)
        if self.settings.late_scan_interval_s > 0:
            self._late_task = asyncio.create_task(self._late_loop(processing_service), name="intake-late-flag")

    async def _late_loop(self, service: ProcessingService) -> None:
        await asyncio.sleep(min(5.0, self.settings.late_scan_interval_s))
        while True:
            try:
                await service.flag_late()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep flagging after a MongoDB outage
                log.warning("late flag: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(self.settings.late_scan_interval_s)

    async def stop(self) -> None:
        """Stop the late flag, the portal sync and — robustly — the outbox relay.

        The kit's relay waits with `asyncio.wait_for`, which on Python 3.11 can swallow the
        cancellation when it races with the poll timeout (the relay then never ends and the
        shutdown hangs); busy consumers at shutdown make that race likely. The relay task is
        therefore cancelled here until it is really done, before `runtime.stop()`.
        """
        await _cancel(self._late_task)
        self._late_task = None
        if self.processing is not None:
            unregister_scrape_hook(self.processing.refresh_late_gauge)
        if self.sync is not None:
            await self.sync.stop()
        relay = self.runtime.relay
        if relay is not None:
            await _cancel(getattr(relay, "_task", None))
            relay._task = None


async def _cancel(task: asyncio.Task[None] | None) -> None:
    while task is not None and not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.5)
    if task is not None and task.done() and not task.cancelled():
        with contextlib.suppress(Exception):
            task.result()


__all__: list[Any] = ["IntakeProcessing", "ProcessingSettings"]
