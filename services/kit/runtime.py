"""The clients one service process holds, started and stopped with its FastAPI lifespan.

Each service's `app.py` creates a `ServiceRuntime`, registers its subscribers on
`runtime.broker`, and adds its own pieces; nothing connects at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from faststream.nats import NatsBroker
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.kit.bus import BrokerPublisher, ensure_commune_sources, ensure_streams, make_broker
from services.kit.idempotency import ensure_marker_index, purge_markers
from services.kit.metrics import register_scrape_hook, unregister_scrape_hook
from services.kit.mongo import Document, make_mongo_client, ping
from services.kit.outbox import OutboxRelay, ensure_outbox_indexes
from services.kit.s3 import ObjectStore
from services.kit.settings import KitSettings
from services.kit.telemetry import setup_tracing

log = logging.getLogger("motcua.runtime")

MARKER_PURGE_INTERVAL_S = 3600.0


async def every(interval_s: float, job: Callable[[], Awaitable[object]], what: str) -> None:
    """Run `job` now and then every `interval_s` until cancelled; a failed run is logged and the
    next one tries again (a housekeeping job must not die with one bad pass)."""
    while True:
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s: %s: %s", what, type(exc).__name__, exc)
        await asyncio.sleep(interval_s)


class ServiceRuntime:
    def __init__(self, settings: KitSettings, *, uses_s3: bool = False, relay: bool = True) -> None:
        self.settings = settings
        self.name = settings.service_name
        self.tracer_provider = setup_tracing(self.name)
        self.broker: NatsBroker = make_broker(
            settings.nats_url,
            service=self.name,
            tracer_provider=self.tracer_provider,
            max_deliver=settings.max_deliver,
            backoff_s=settings.retry_backoff_s,
        )
        self.uses_s3 = uses_s3
        self.with_relay = relay
        self.mongo: AsyncMongoClient[Document] | None = None
        self.relay: OutboxRelay | None = None
        self.store: ObjectStore | None = None
        self._marker_purge: asyncio.Task[None] | None = None

    @property
    def db(self) -> AsyncDatabase[Document]:
        assert self.mongo is not None, "runtime not started"
        return self.mongo[self.settings.mongo_db_name]

    async def start(self) -> None:
        await self.start_clients()
        await self.start_bus()

    async def start_clients(self) -> None:
        """MongoDB (and S3): before the service objects that use them are built."""
        self.mongo = make_mongo_client(self.settings.mongo_url, app_name=f"motcua-{self.name}")
        register_scrape_hook(self.refresh_metrics)
        await ensure_outbox_indexes(self.db)
        await ensure_marker_index(self.db)
        if self.uses_s3:
            self.store = ObjectStore(
                self.settings.s3_endpoint,
                self.settings.s3_access_key,
                self.settings.s3_secret_key.get_secret_value(),
                secure=self.settings.s3_secure,
                bucket=self.settings.s3_bucket,
            )
            await self.store.ensure_bucket()

    async def start_bus(self) -> None:
        """Streams, subscribers (already registered on the broker), then the outbox relay."""
        await self.broker.connect()
        js = self.broker.config.connection_state.stream
        await ensure_streams(js, self.settings.stream_replicas)
        if self.settings.commune_domains:
            await ensure_commune_sources(js, self.settings.commune_domains)
        await self.broker.start()
        if self.with_relay:
            self.relay = OutboxRelay(
                self.db,
                BrokerPublisher(self.broker),
                poll_s=self.settings.outbox_poll_s,
                idle_poll_max_s=self.settings.outbox_idle_poll_max_s,
            )
            self.relay.start()
        self._marker_purge = asyncio.create_task(
            every(MARKER_PURGE_INTERVAL_S, self.purge_old_markers, "idempotency marker purge"), name="marker-purge"
        )
        log.info("%s runtime started", self.name)

    async def purge_old_markers(self) -> int:
        """Idempotency markers older than `processed_marker_days` (kit.idempotency)."""
        before = datetime.now(UTC) - timedelta(days=self.settings.processed_marker_days)
        removed = await purge_markers(self.db, before)
        if removed:
            log.info("removed %d idempotency markers written before %s", removed, before.date())
        return removed


    async def stop(self) -> None:
        """SIGTERM path: stop taking messages and let in-flight handlers finish, flush the
        outbox while the connection is still up, then close everything."""
        unregister_scrape_hook(self.refresh_metrics)
        if self._marker_purge is not None:
            self._marker_purge.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._marker_purge
            self._marker_purge = None
        for subscriber in self.broker.subscribers:
            try:
                await asyncio.wait_for(subscriber.stop(), timeout=5)
            except Exception as exc:
                log.warning("subscriber stop: %s", exc)
        if self.relay:
            await self.relay.stop(flush_timeout_s=3)
        try:
            await asyncio.wait_for(self.broker.stop(), timeout=5)
        except Exception as exc:
            log.warning("broker stop: %s", exc)
        if self.mongo is not None:
            await self.mongo.close()

    async def nats_ready(self) -> bool:
        try:
            return bool(self.broker.connection.is_connected)
        except Exception:
            return False

    async def mongo_ready(self) -> bool:
        return self.mongo is not None and await ping(self.db)

    async def s3_ready(self) -> bool:
        return self.store is not None and await self.store.ping()

    async def refresh_metrics(self) -> None:
        """Scrape hook: outbox backlog, this service's consumer lag, dead letters."""
        from services.contracts.streams import DEAD_LETTER
        from services.kit.metrics import CONSUMER_PENDING, DEAD_LETTERS, OUTBOX_BACKLOG

        if self.mongo is not None:
            OUTBOX_BACKLOG.labels(self.name).set(await self.db["outbox"].count_documents({"published_at": None}))
        try:
            js = self.broker.config.connection_state.stream
        except Exception:
            return
        for sub in self.broker.subscribers:
            options = getattr(sub, "extra_options", None) or {}
            durable, stream = options.get("durable"), options.get("stream")
            if not durable or not stream:
                continue
            try:
                info = await js.consumer_info(stream, durable)
                CONSUMER_PENDING.labels(self.name, durable).set((info.num_pending or 0) + (info.num_ack_pending or 0))
            except Exception:
                continue
        with contextlib.suppress(Exception):
            DEAD_LETTERS.labels(DEAD_LETTER.name).set((await js.stream_info(DEAD_LETTER.name)).state.messages)

    def readiness_checks(self) -> dict[str, Any]:
        checks: dict[str, Any] = {"nats": self.nats_ready, "mongo": self.mongo_ready}
        if self.uses_s3:
            checks["s3"] = self.s3_ready
        return checks
