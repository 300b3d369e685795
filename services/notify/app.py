"""Notify wiring: settings, runtime, channel adapters, schedulers, routers, subscribers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from services.kit.bus import document_erasure_confirmations
from services.kit.callbacks import install_callback_guard
from services.kit.http import http_telemetry, install_auth, install_error_handlers, install_health, install_trace_header
from services.kit.ratelimit import TokenBucket
from services.kit.runtime import ServiceRuntime, every
from services.notify.api import router
from services.notify.board.wiring import install_board
from services.notify.channels import BrandnameSmsAdapter, ChannelAdapter, SmtpAdapter, ZaloConfig, ZaloZnsAdapter
from services.notify.model.common import Channel
from services.notify.model.delivery import RetryPolicy
from services.notify.model.failover import BreakerPolicy
from services.notify.model.policy import QuietHours, parse_clock
from services.notify.repository import (
    ContactRepository,
    DeliveryRepository,
    DossierRepository,
    PreferenceRepository,
    ReminderRepository,
    TemplateRepository,
)
from services.notify.service import (
    DispatchConfig,
    Dispatcher,
    NotifyParts,
    NotifyService,
    Planner,
    ReceiptKeys,
    ReminderService,
    TemplateService,
    load_default_sources,
)
from services.notify.service.reminders import cancel
from services.notify.settings import NotifySettings
from services.notify.subscribers import build_router

__all__ = ["NotifySettings", "create_app"]

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def build_adapters(
    settings: NotifySettings, http: httpx.AsyncClient
) -> tuple[dict[Channel, Sequence[ChannelAdapter]], dict[str, TokenBucket]]:
    """The configured providers of each channel (best first) and their rate limits (one bucket per
    provider, keyed by its name; a rate ≤ 0 is unlimited)."""
    timeout = settings.send_timeout_s
    email = SmtpAdapter(settings.smtp_url, settings.smtp_from, timeout_s=timeout)
    adapters: dict[Channel, Sequence[ChannelAdapter]] = {Channel.EMAIL: [email]}
    limits = {email.provider: TokenBucket(settings.email_rate_per_s, burst=max(1, int(settings.email_rate_per_s)))}
    sms: list[ChannelAdapter] = []
    for gateway in settings.sms_providers:
        callback = f"{settings.callback_base}/callbacks/sms/{gateway.name}"
        sms.append(BrandnameSmsAdapter(gateway, http, callback_url=callback, timeout_s=timeout))
        limits[gateway.name] = TokenBucket(gateway.rate_per_s, burst=gateway.burst)
    if sms:
        adapters[Channel.SMS] = sms
    if settings.zalo_url:
        zalo = ZaloConfig(
            base_url=settings.zalo_url,
            access_token=settings.zalo_access_token,
            app_id=settings.zalo_app_id,
            oa_secret=settings.zalo_oa_secret,
            rate_per_s=settings.zalo_rate_per_s,
        )
        adapters[Channel.ZALO] = [ZaloZnsAdapter(zalo, http, timeout_s=timeout)]
        limits[zalo.name] = TokenBucket(zalo.rate_per_s, burst=max(1, int(zalo.rate_per_s)))
    return adapters, limits


def dispatch_config(settings: NotifySettings, quiet: QuietHours) -> DispatchConfig:
    backoff = settings.delivery_backoff_s
    return DispatchConfig(
        retry={
            Channel.EMAIL: RetryPolicy(backoff_s=backoff, max_attempts=settings.email_max_attempts),
            Channel.SMS: RetryPolicy(backoff_s=backoff, max_attempts=settings.sms_max_attempts),
            Channel.ZALO: RetryPolicy(backoff_s=backoff, max_attempts=settings.zalo_max_attempts),
        },
        breaker=BreakerPolicy(
            threshold=settings.failover_threshold,
            cooldown=timedelta(seconds=settings.failover_cooldown_s),
            slow_after_s=settings.slow_after_s,
        ),
        quiet_hours=quiet,
        send_timeout_s=settings.send_timeout_s,
        lease_s=settings.send_lease_s,
    )


def create_app(settings: NotifySettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """`clock` is for tests (quiet hours, reminders across days); the default is the real time."""
    settings = settings or NotifySettings()
    now = clock or _utc_now
    runtime = ServiceRuntime(settings, relay=True)
    holder: dict[str, NotifyService] = {}
    runtime.broker.include_router(
        build_router(
            lambda: holder["service"], max_deliver=settings.max_deliver, consumer_suffix=settings.bus_consumer_suffix
        )
    )
    document_erasure_confirmations(runtime.broker, "notify")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start_clients()
        db = runtime.db
        deliveries, templates_repo, preferences = (
            DeliveryRepository(db),
            TemplateRepository(db),
            PreferenceRepository(db),
        )
        contacts, dossiers, reminders = ContactRepository(db), DossierRepository(db), ReminderRepository(db)
        for repo in (deliveries, templates_repo, contacts, dossiers, reminders):
            await repo.ensure_indexes()
        quiet = QuietHours(
            start=parse_clock(settings.quiet_hours_start),
            end=parse_clock(settings.quiet_hours_end),
            timezone=settings.quiet_hours_timezone,
        )
        http = httpx.AsyncClient(timeout=settings.send_timeout_s)
        adapters, limits = build_adapters(settings, http)
        dispatcher = Dispatcher(deliveries, preferences, adapters, limits, dispatch_config(settings, quiet), now)
        templates = TemplateService(
            templates_repo, load_default_sources(), sms_strip_diacritics=settings.sms_strip_diacritics
        )
        planner = Planner(
            templates, preferences, contacts, channels=lambda: dispatcher.enabled_channels, quiet_hours=quiet, clock=now
        )
        reminder_service = ReminderService(
            dossiers, reminders, contacts, planner, dispatcher, quiet_hours=quiet, clock=now
        )
        service = NotifyService(
            planner,
            dispatcher,
            dossiers,
            reminder_service,
            clock=now,
            notify_statuses=frozenset(settings.notify_statuses),
            wake=lambda: runtime.relay.wake() if runtime.relay else None,
        )
        holder["service"] = service
        keys = ReceiptKeys(
            sms={g.name: g.callback_secret.get_secret_value() for g in settings.sms_providers},
            zalo_app_id=settings.zalo_app_id,
            zalo_oa_secret=settings.zalo_oa_secret.get_secret_value(),
        )
        app.state.notify = NotifyParts(service, templates, deliveries, preferences, contacts, keys)
        await runtime.start_bus()
        retention = timedelta(days=settings.notify_message_retention_days)
        tasks = [
            asyncio.create_task(dispatcher.run(settings.retry_poll_s), name="notify-retries"),
            asyncio.create_task(
                every(3600, lambda: service.erase_old_messages(retention), "message retention"), name="notify-retention"
            ),
        ]
        if settings.reminders_enabled:
            tasks.append(
                asyncio.create_task(reminder_service.run(settings.reminder_interval_s), name="notify-reminders")
            )
        try:
            yield
        finally:
            for task in tasks:
                await cancel(task)
            await runtime.stop()
            await dispatcher.close()
            for adapter in adapters[Channel.EMAIL]:
                if isinstance(adapter, SmtpAdapter):
                    await adapter.close()  # its kept connections
            await http.aclose()

    app = FastAPI(
        telemetry=http_telemetry(),
        title="Một Cửa — notify",
        version="0.1.0",
        lifespan=lifespan,
        description="Notifications by e-mail, SMS and Zalo: templates, consent, delivery tracking, reminders.",
    )
    install_error_handlers(app)
    install_health(app, "notify", runtime.readiness_checks())
    install_auth(app, settings)
    install_trace_header(app)
    install_callback_guard(app, settings)
    app.include_router(router)
    install_board(app, runtime, settings)
    app.state.runtime = runtime
    return app
