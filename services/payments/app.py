"""Payments wiring: settings, runtime (MongoDB, NATS, outbox relay), channel adapters, routers,
the `dossier.received` subscriber and the expiry/status sweeper."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import Field, SecretStr

from services.contracts.payments import PAYMENT_EVENTS
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
from services.payments.adapters.base import ChannelAdapter
from services.payments.adapters.cash import CashAdapter
from services.payments.adapters.pos import PosAdapter, PosConfig
from services.payments.adapters.vietqr import VietQRAdapter, VietQRConfig
from services.payments.adapters.vnpay import VNPayAdapter, VNPayConfig
from services.payments.api import callbacks, reports, returns, router
from services.payments.model.intent import Channel, PaymentError
from services.payments.repository import PaymentsRepository
from services.payments.service import PaymentsConfig, PaymentsService
from services.payments.subscribers import build_router


class PaymentsSettings(KitSettings):
    """`MOTCUA_*` settings. Provider URLs default to the local simulators
    (`python -m services.payments.simulators`); secrets come only from the environment."""

    service_name: str = "payments"
    port: int = 8004
    payments_public_url: str = Field("", description="Base URL providers call back (IPN); default payments_url")
    intent_ttl_minutes: float = Field(15.0, description="Abandoned intents expire after this")
    status_query_after_minutes: float = Field(5.0, description="Ask the gateway about intents pending this long")
    sweep_interval_s: float = 30.0
    receipt_issuer_name: str = "Bộ phận Một cửa"
    receipt_link_secret: SecretStr = SecretStr("")

    simulator_url: str = "http://127.0.0.1:8090"
    vnpay_pay_url: str = ""
    vnpay_api_url: str = ""
    vnpay_statement_url: str = ""
    vnpay_tmn_code: str = ""
    vnpay_hash_secret: SecretStr = SecretStr("")
    vietqr_bank_bin: str = ""
    vietqr_account: str = ""
    vietqr_account_name: str = ""
    bank_api_url: str = ""
    bank_webhook_secret: SecretStr = SecretStr("")
    pos_api_url: str = ""
    pos_secret: SecretStr = SecretStr("")
    pos_default_terminal: str = "POS-01"

    @property
    def public_url(self) -> str:
        return (self.payments_public_url or self.payments_url).rstrip("/")


def build_adapters(settings: PaymentsSettings, http: httpx.AsyncClient) -> dict[Channel, ChannelAdapter]:
    sim = settings.simulator_url.rstrip("/")
    return {
        Channel.CASH: CashAdapter(),
        Channel.VNPAY: VNPayAdapter(VNPayConfig(
            pay_url=settings.vnpay_pay_url or f"{sim}/vnpay/paymentv2/vpcpay.html",
            api_url=settings.vnpay_api_url or f"{sim}/vnpay/merchant_webapi/api/transaction",
            statement_url=settings.vnpay_statement_url or f"{sim}/vnpay/settlement",
            tmn_code=settings.vnpay_tmn_code, secret=settings.vnpay_hash_secret.get_secret_value(),
            return_url=f"{settings.public_url}/callbacks/vnpay/return",
        ), http),
        Channel.VIETQR: VietQRAdapter(VietQRConfig(
            bank_bin=settings.vietqr_bank_bin, account=settings.vietqr_account,
            account_name=settings.vietqr_account_name,
            webhook_secret=settings.bank_webhook_secret.get_secret_value(),
            api_url=(settings.bank_api_url or f"{sim}/bank").rstrip("/"),
        ), http),
        Channel.POS: PosAdapter(PosConfig(
            api_url=(settings.pos_api_url or f"{sim}/pos").rstrip("/"),
            secret=settings.pos_secret.get_secret_value(), default_terminal=settings.pos_default_terminal,
        ), http),
    }


def create_app(settings: PaymentsSettings | None = None) -> FastAPI:
    settings = settings or PaymentsSettings()
    runtime = ServiceRuntime(settings, uses_s3=False)
    holder: dict[str, PaymentsService] = {}
    runtime.broker.include_router(build_router(lambda: holder["service"], max_deliver=settings.max_deliver))
    document_publishers(runtime.broker, list(PAYMENT_EVENTS))
    document_erasure_confirmations(runtime.broker, "payments")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start_clients()
        assert runtime.mongo is not None
        repo = PaymentsRepository(runtime.mongo, runtime.db)
        await repo.ensure_indexes()
        http = httpx.AsyncClient(timeout=10)
        service = PaymentsService(
            repo,
            build_adapters(settings, http),
            PaymentsConfig(
                intent_ttl=timedelta(minutes=settings.intent_ttl_minutes),
                status_query_after=timedelta(minutes=settings.status_query_after_minutes),
                public_url=settings.public_url,
                receipt_link_secret=settings.receipt_link_secret.get_secret_value(),
                issuer_name=settings.receipt_issuer_name,
            ),
            wake=lambda: runtime.relay.wake() if runtime.relay else None,
        )
        holder["service"] = service
        app.state.payments = service
        await runtime.start_bus()
        sweeper = asyncio.create_task(service.run_sweeper(settings.sweep_interval_s), name="payments-sweeper")
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await http.aclose()
            await runtime.stop()

    app = FastAPI(
        telemetry=http_telemetry(),
        title="Một Cửa — payments",
        version="0.1.0",
        lifespan=lifespan,
        description="Fees due, payment intents, cash/POS/VietQR/VNPay channels, receipts, reconciliation.",
    )
    install_error_handlers(app)

    @app.exception_handler(PaymentError)
    async def _payment_error(_: Request, exc: PaymentError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message), status_code=409)

    install_health(app, "payments", runtime.readiness_checks())
    install_auth(app, settings)
    install_trace_header(app)
    app.include_router(router)
    install_callback_guard(app, settings)
    app.include_router(callbacks)
    app.include_router(returns)
    app.include_router(reports)
    app.state.runtime = runtime
    return app
