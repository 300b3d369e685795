"""Scan wiring: settings, runtime (MongoDB, NATS, S3, outbox relay), routers, retention job."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import FastAPI
from pydantic import Field, SecretStr

from services.contracts.scan import SCAN_EVENTS
from services.kit.bus import document_publishers
from services.kit.http import http_telemetry, install_auth, install_error_handlers, install_health, install_trace_header
from services.kit.runtime import ServiceRuntime
from services.kit.settings import KitSettings
from services.scan.api import ScanContext, install_scan_errors, public_router, router
from services.scan.model import MB, RetentionPolicy, ScanLimits
from services.scan.pdf import prepare_document
from services.scan.repository import ScanRepository
from services.scan.service import ScanConfig, ScanService
from services.scan.storage import DocumentStore
from services.scan.subscribers import build_router

log = logging.getLogger("motcua.scan")

_DEV_PEPPER = "dev-only-scan-owner-pepper-change-me"


class ScanSettings(KitSettings):
    service_name: str = "scan"
    port: int = 8002

    scan_max_file_mb: float = Field(20.0, description="Largest file of an upload")
    scan_max_pages: int = Field(100, description="Most pages (and files) of one component")
    scan_max_request_mb: float = Field(200.0, description="Largest upload request in total")
    scan_max_image_megapixels: float = Field(60.0, description="Largest page image (A4 at 600 dpi is 35)")
    scan_url_ttl_s: float = Field(300.0, description="Lifetime of signed download URLs")
    scan_owner_id_pepper: SecretStr = Field(SecretStr(""), description="Secret key of the owner-ID hashes")
    scan_s3_public_endpoint: str = Field("", description="S3 host the browsers reach, when not s3_endpoint")
    scan_s3_public_secure: bool | None = None
    scan_require_known_dossier: bool = Field(
        False, description="Refuse uploads for dossiers scan has not seen in a dossier.received event")
    scan_retention_days_default: float = Field(3650.0, description="Retention when the procedure has none; <0 keeps")
    scan_retention_days_by_procedure: dict[str, float] = Field(default_factory=dict)
    scan_result_retention_days: float | None = Field(None, description="Retention of result documents, if different")
    scan_retention_interval_s: float = Field(3600.0, description="Period of the retention job; 0 disables it")
    scan_delete_grace_s: float = Field(3600.0, description="An object used within this time is not deleted")
    scan_public_max_attempts: int = 5
    scan_public_lockout_s: float = 900.0
    scan_tmp_dir: Path | None = Field(None, description="Where uploads are spooled (default: system temp)")
    scan_use_pdftoppm: bool = Field(True, description="Render PDF thumbnails with pdftoppm when installed")

    def limits(self) -> ScanLimits:
        return ScanLimits(
            max_file_bytes=int(self.scan_max_file_mb * MB),
            max_pages=self.scan_max_pages,
            max_request_bytes=int(self.scan_max_request_mb * MB),
            max_image_pixels=int(self.scan_max_image_megapixels * 1_000_000),
        )

    def pepper(self) -> bytes:
        value = self.scan_owner_id_pepper.get_secret_value()
        if not value:
            if self.environment == "prod":
                raise RuntimeError("set MOTCUA_SCAN_OWNER_ID_PEPPER: owner IDs must be hashed with a secret key")
            value = _DEV_PEPPER
        return value.encode()

    def config(self) -> ScanConfig:
        return ScanConfig(
            limits=self.limits(),
            retention=RetentionPolicy(self.scan_retention_days_default, dict(self.scan_retention_days_by_procedure),
                                      self.scan_result_retention_days),
            pepper=self.pepper(),
            url_ttl=timedelta(seconds=self.scan_url_ttl_s),
            require_known_dossier=self.scan_require_known_dossier,
            public_max_attempts=self.scan_public_max_attempts,
            public_lockout=timedelta(seconds=self.scan_public_lockout_s),
            delete_grace=timedelta(seconds=self.scan_delete_grace_s),
        )


def _now() -> datetime:
    return datetime.now(UTC)


async def _retention_loop(service: ScanService, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            report = await service.run_retention()
            if report.documents_deleted or report.objects_deleted:
                log.info("retention: %d document(s), %d object(s) deleted", report.documents_deleted,
                         report.objects_deleted)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # keep the job alive through outages
            log.warning("retention run failed: %s: %s", type(exc).__name__, exc)


def create_app(settings: ScanSettings | None = None) -> FastAPI:
    settings = settings or ScanSettings()
    config = settings.config()
    runtime = ServiceRuntime(settings, uses_s3=True)
    holder: dict[str, ScanService] = {}
    stores: dict[str, DocumentStore] = {}
    runtime.broker.include_router(build_router(lambda: holder["service"], max_deliver=settings.max_deliver))
    document_publishers(runtime.broker, list(SCAN_EVENTS))  # AsyncAPI: what scan publishes (outbox)

    async def s3_ready() -> bool:
        return "store" in stores and await stores["store"].ping()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start_clients()  # creates the bucket when missing
        assert runtime.mongo is not None
        repo = ScanRepository(runtime.mongo, runtime.db)
        await repo.ensure_indexes()
        store = DocumentStore(
            settings.s3_endpoint, settings.s3_access_key, settings.s3_secret_key.get_secret_value(),
            secure=settings.s3_secure, bucket=settings.s3_bucket,
            public_endpoint=settings.scan_s3_public_endpoint, public_secure=settings.scan_s3_public_secure,
        )
        stores["store"] = store
        preparer = functools.partial(prepare_document, use_pdftoppm=settings.scan_use_pdftoppm)
        service = ScanService(repo, store, preparer, config, clock=_now,
                              wake=lambda: runtime.relay.wake() if runtime.relay else None)
        holder["service"] = service
        app.state.scan = ScanContext(service=service, limits=config.limits, tmp_dir=settings.scan_tmp_dir)
        await runtime.start_bus()
        job = (asyncio.create_task(_retention_loop(service, settings.scan_retention_interval_s), name="retention")
               if settings.scan_retention_interval_s > 0 else None)
        yield
        if job:
            job.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await job
        await runtime.stop()

    app = FastAPI(telemetry=http_telemetry(), title="Một Cửa — scan", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    install_scan_errors(app)
    install_auth(app, settings)
    install_trace_header(app)
    install_health(app, "scan", {**runtime.readiness_checks(), "s3": s3_ready})
    app.include_router(router)
    app.include_router(public_router)
    app.state.runtime = runtime
    return app
