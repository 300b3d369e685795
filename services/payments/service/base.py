"""What every payments use case shares: dependencies, configuration, event shaping."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.contracts.events import ApplicantContact, Event
from services.contracts.payments import (
    PaymentItem,
    PaymentPaid,
    PaymentPayload,
)
from services.kit.auth import Principal
from services.kit.errors import AppError, Conflict, Invalid
from services.payments.adapters.base import (
    ChannelAdapter,
    ChannelUnavailable,
)
from services.payments.model.intent import (
    Actor,
    AmountMismatch,
    Channel,
    InvalidTransition,
    PaymentError,
    PaymentIntent,
)
from services.payments.model.signatures import sign_link, verify_link
from services.payments.repository import PaymentsRepository

log = logging.getLogger("motcua.payments")


@dataclass(frozen=True)
class PaymentsConfig:
    intent_ttl: timedelta = timedelta(minutes=15)
    status_query_after: timedelta = timedelta(minutes=5)
    public_url: str = "http://127.0.0.1:8004"
    receipt_link_secret: str = ""
    receipt_link_ttl: timedelta = timedelta(days=30)
    issuer_name: str = "Bộ phận Một cửa"


def actor_of(principal: Principal) -> Actor:
    return Actor(subject=principal.subject, name=principal.name)


def domain_error(exc: PaymentError) -> AppError:
    if isinstance(exc, InvalidTransition):
        return Conflict(exc.message, code=exc.code)
    if isinstance(exc, AmountMismatch):
        return Invalid(exc.message, code=exc.code)
    return Invalid(exc.message, code=exc.code)


class ServiceBase:
    """Dependencies and event shaping shared by every group of use cases."""

    def __init__(
        self,
        repo: PaymentsRepository,
        adapters: dict[Channel, ChannelAdapter],
        config: PaymentsConfig,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.repo = repo
        self.adapters = adapters
        self.config = config
        self.clock = clock
        self.wake = wake

    # ---- events -----------------------------------------------------------------------------
    def receipt_url(self, intent: PaymentIntent, now: datetime | None = None) -> str | None:
        if intent.receipt is None or not self.config.receipt_link_secret:
            return None
        expires = int(((now or self.clock()) + self.config.receipt_link_ttl).timestamp())
        sig = sign_link(self.config.receipt_link_secret, intent.id, expires)
        return f"{self.config.public_url}/receipts/{intent.id}.pdf?expires={expires}&sig={sig}"

    def verify_receipt_link(self, intent_id: str, expires: str | None, sig: str | None) -> bool:
        return verify_link(self.config.receipt_link_secret, intent_id, expires, sig, now=self.clock())

    def _payload(self, intent: PaymentIntent, **extra: Any) -> PaymentPayload:
        return PaymentPayload(
            intent_id=intent.id, intent_ref=intent.ref, dossier_id=intent.dossier_id,
            dossier_code=intent.dossier_code, status=intent.status.value, amount=intent.amount,
            currency=intent.currency, items=[PaymentItem(**i.model_dump()) for i in intent.items],
            channel=intent.channel.value if intent.channel else None, no_appointment=intent.no_appointment,
            expires_at=intent.expires_at, paid_at=intent.paid_at, provider_txn=intent.provider_txn,
            receipt_no=intent.receipt.code if intent.receipt else None, refunded_amount=intent.refunded_amount,
            **extra,
        )

    def _event(self, cls: type[Event], intent: PaymentIntent, **extra: Any) -> Event:
        return cls(unit_code=intent.unit_code, unit_path=intent.unit_path, payload=self._payload(intent, **extra))

    def _paid_event(self, intent: PaymentIntent) -> Event:
        payer = ApplicantContact(name=intent.payer.name, email=intent.payer.email, phone=intent.payer.phone)
        return self._event(PaymentPaid, intent, receipt_url=self.receipt_url(intent), payer=payer)


    def adapter(self, channel: Channel) -> ChannelAdapter:
        adapter = self.adapters.get(channel)
        if adapter is None:
            raise ChannelUnavailable(f"The {channel.value} channel is not available here")
        return adapter

