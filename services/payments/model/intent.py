"""Payment intents (yêu cầu thanh toán) and their state machine. Pure: time comes in as an argument.

    pending ──► paid ──► partially_refunded ──► refunded
       │          └────────────────────────────► refunded
       ├──► failed      (the provider declined; a new intent may be opened)
       ├──► expired     (abandoned: nobody paid before `expires_at`)
       └──► cancelled   (an officer cancelled it)

Amounts are integers in VND. Every transition is appended to `history` with who and when.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from services.contracts.events import ANONYMISED_NAME


class PaymentStatus(StrEnum):
    PENDING = "pending"  # chờ thanh toán
    PAID = "paid"  # đã thanh toán
    FAILED = "failed"  # thanh toán không thành công
    EXPIRED = "expired"  # hết hạn
    CANCELLED = "cancelled"  # đã huỷ
    PARTIALLY_REFUNDED = "partially_refunded"  # đã hoàn một phần
    REFUNDED = "refunded"  # đã hoàn toàn bộ


class Channel(StrEnum):
    CASH = "cash"  # tiền mặt tại quầy
    POS = "pos"  # thẻ qua máy POS
    VIETQR = "vietqr"  # chuyển khoản VietQR
    VNPAY = "vnpay"  # cổng thanh toán (VNPay)


CHANNEL_LABELS: dict[Channel, str] = {
    Channel.CASH: "Tiền mặt",
    Channel.POS: "Thẻ ngân hàng (máy POS)",
    Channel.VIETQR: "Chuyển khoản (VietQR)",
    Channel.VNPAY: "Cổng thanh toán trực tuyến (VNPay)",
}

OPEN: frozenset[PaymentStatus] = frozenset({PaymentStatus.PENDING})
SETTLED: frozenset[PaymentStatus] = frozenset(
    {PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}
)

TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.PENDING: frozenset(
        {PaymentStatus.PAID, PaymentStatus.FAILED, PaymentStatus.EXPIRED, PaymentStatus.CANCELLED}
    ),
    PaymentStatus.PAID: frozenset({PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}),
    PaymentStatus.PARTIALLY_REFUNDED: frozenset({PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}),
    PaymentStatus.FAILED: frozenset(),
    PaymentStatus.EXPIRED: frozenset(),
    PaymentStatus.CANCELLED: frozenset(),
    PaymentStatus.REFUNDED: frozenset(),
}

# Crockford's base32 without I, L, O, U: readable over the phone and in a bank transfer note.
_REF_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class PaymentError(Exception):
    """A rule of the domain was broken; `code` is stable for callers."""

    code = "payment_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class InvalidTransition(PaymentError):
    code = "invalid_transition"


class AmountMismatch(PaymentError):
    code = "amount_mismatch"


class Item(BaseModel):
    kind: str = Field(description="fee | charge | postal (phí, lệ phí, cước)")
    name: str
    amount: int = Field(ge=0, le=1_000_000_000_000, description="VND")  # bounded: stored as a 64-bit int


class Payer(BaseModel):
    """Who pays (the applicant); personal data, never logged."""

    name: str
    email: str | None = None
    phone: str | None = None

    @classmethod
    def anonymised(cls) -> Payer:
        """What is left of the payer after a deletion request (dossier.anonymised)."""
        return cls(name=ANONYMISED_NAME)


class Actor(BaseModel):
    """The officer (or `system:<provider>`) behind a change."""

    subject: str
    name: str = ""


class Transition(BaseModel):
    at: datetime
    from_status: PaymentStatus | None
    to_status: PaymentStatus
    by: Actor
    note: str = ""


class Refund(BaseModel):
    id: str
    amount: int
    reason: str
    by: Actor
    at: datetime
    provider_ref: str | None = None


class Receipt(BaseModel):
    """Biên lai: number in a series per unit and year, never reused."""

    series: str
    number: int
    code: str
    issued_at: datetime


SYSTEM = Actor(subject="system", name="Hệ thống")


def new_ref() -> str:
    """A short payer-facing reference: `MC` + 10 base32 characters (50 random bits)."""
    return "MC" + "".join(secrets.choice(_REF_ALPHABET) for _ in range(10))


def total(items: list[Item]) -> int:
    return sum(item.amount for item in items)


class PaymentIntent(BaseModel):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    ref: str = Field(default_factory=new_ref)
    dossier_id: str
    dossier_code: str
    unit_code: str
    unit_path: list[str]
    office_id: str | None = None
    procedure_code: str | None = None
    procedure_name: str | None = None
    payer: Payer
    items: list[Item]
    amount: int = Field(ge=0, description="Total, VND")
    currency: str = "VND"
    no_appointment: bool = False
    status: PaymentStatus = PaymentStatus.PENDING
    channel: Channel | None = None
    created_at: datetime
    expires_at: datetime
    updated_at: datetime
    paid_at: datetime | None = None
    paid_amount: int | None = None
    provider_txn: str | None = None
    provider_data: dict[str, Any] = Field(default_factory=dict, description="Sanitised: never card data")
    collected_by: Actor | None = None
    receipt: Receipt | None = None
    refunds: list[Refund] = Field(default_factory=list)
    refunded_amount: int = 0
    failure_reason: str | None = None
    replaces: str | None = Field(None, description="The failed/expired intent this one reopens")
    source_event_id: str | None = None
    history: list[Transition] = Field(default_factory=list)
    anonymised_at: datetime | None = Field(None, description="When a deletion request erased the payer")
    version: int = 0

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        *,
        dossier_id: str,
        dossier_code: str,
        unit_code: str,
        unit_path: list[str],
        payer: Payer,
        items: list[Item],
        now: datetime,
        ttl: timedelta,
        by: Actor = SYSTEM,
        **extra: Any,
    ) -> PaymentIntent:
        if not items:
            raise PaymentError("A payment intent needs at least one fee item", code="no_items")
        amount = total(items)
        if amount <= 0:
            raise PaymentError("Nothing to pay: the total is 0 VND", code="nothing_due")
        path = list(unit_path) or [unit_code]
        intent = cls(
            dossier_id=dossier_id, dossier_code=dossier_code, unit_code=unit_code, unit_path=path,
            payer=payer, items=items, amount=amount, created_at=now, expires_at=now + ttl,
            updated_at=now, **extra,
        )
        intent.history.append(Transition(at=now, from_status=None, to_status=PaymentStatus.PENDING, by=by))
        return intent

    def reopen(self, *, now: datetime, ttl: timedelta, by: Actor) -> PaymentIntent:
        """A new pending intent for the same fees after this one failed, expired or was cancelled."""
        if self.status not in (PaymentStatus.FAILED, PaymentStatus.EXPIRED, PaymentStatus.CANCELLED):
            raise InvalidTransition(f"Only a failed, expired or cancelled intent can be reopened (is {self.status})")
        return PaymentIntent.open(
            dossier_id=self.dossier_id, dossier_code=self.dossier_code, unit_code=self.unit_code,
            unit_path=self.unit_path, payer=self.payer, items=self.items, now=now, ttl=ttl, by=by,
            office_id=self.office_id, procedure_code=self.procedure_code, procedure_name=self.procedure_name,
            no_appointment=self.no_appointment, replaces=self.id,
        )

    # ---- transitions --------------------------------------------------------------------
    def _move(self, to: PaymentStatus, *, now: datetime, by: Actor, note: str = "") -> None:
        if to not in TRANSITIONS[self.status]:
            raise InvalidTransition(f"A {self.status.value} payment cannot become {to.value}")
        self.history.append(Transition(at=now, from_status=self.status, to_status=to, by=by, note=note))
        self.status = to
        self.updated_at = now

    def can_become(self, to: PaymentStatus) -> bool:
        return to in TRANSITIONS[self.status]

    def pay(
        self,
        *,
        channel: Channel,
        amount: int,
        now: datetime,
        by: Actor,
        provider_txn: str | None = None,
        provider_data: dict[str, Any] | None = None,
    ) -> None:
        """Record a confirmed payment of exactly the amount due."""
        if self.status is not PaymentStatus.PENDING:
            raise InvalidTransition(f"A {self.status.value} payment cannot be paid", code="not_pending")
        if amount != self.amount:
            raise AmountMismatch(f"Paid {amount} VND but {self.amount} VND is due")
        self._move(PaymentStatus.PAID, now=now, by=by, note=channel.value)
        self.channel = channel
        self.paid_at = now
        self.paid_amount = amount
        self.provider_txn = provider_txn
        self.provider_data = dict(provider_data or {})
        self.collected_by = by

    def fail(self, *, channel: Channel, reason: str, now: datetime, by: Actor,
             provider_txn: str | None = None, provider_data: dict[str, Any] | None = None) -> None:
        if self.status is not PaymentStatus.PENDING:
            raise InvalidTransition(f"A {self.status.value} payment cannot fail", code="not_pending")
        self._move(PaymentStatus.FAILED, now=now, by=by, note=reason)
        self.channel = channel
        self.failure_reason = reason
        self.provider_txn = provider_txn
        self.provider_data = dict(provider_data or {})

    def is_due_to_expire(self, now: datetime) -> bool:
        return self.status is PaymentStatus.PENDING and now >= self.expires_at

    def expire(self, *, now: datetime) -> None:
        if self.status is PaymentStatus.PENDING and now < self.expires_at:
            raise InvalidTransition("This payment has not reached its expiry time", code="not_expired")
        self._move(PaymentStatus.EXPIRED, now=now, by=SYSTEM, note="expired")

    def cancel(self, *, reason: str, now: datetime, by: Actor) -> None:
        self._move(PaymentStatus.CANCELLED, now=now, by=by, note=reason)
        self.failure_reason = reason

    @property
    def refundable(self) -> int:
        if self.status not in (PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED):
            return 0
        return (self.paid_amount or 0) - self.refunded_amount

    def refund(self, *, amount: int, reason: str, now: datetime, by: Actor, refund_id: str | None = None,
               provider_ref: str | None = None) -> Refund:
        """Give back part or all of what was paid; partial refunds may follow each other."""
        if self.status not in (PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED):
            raise InvalidTransition(f"A {self.status.value} payment cannot be refunded")
        if amount <= 0:
            raise PaymentError("A refund must be a positive amount", code="invalid_amount")
        if amount > self.refundable:
            raise PaymentError(
                f"At most {self.refundable} VND can still be refunded", code="refund_exceeds_paid"
            )
        whole = amount == self.refundable
        target = PaymentStatus.REFUNDED if whole else PaymentStatus.PARTIALLY_REFUNDED
        self._move(target, now=now, by=by, note=f"{amount} VND: {reason}")
        refund = Refund(id=refund_id or uuid.uuid4().hex, amount=amount, reason=reason, by=by, at=now,
                        provider_ref=provider_ref)
        self.refunds.append(refund)
        self.refunded_amount += amount
        return refund

    def issue_receipt(self, receipt: Receipt) -> None:
        if self.status is not PaymentStatus.PAID:
            raise InvalidTransition("A receipt is issued only for a paid intent")
        if self.receipt is not None:
            raise InvalidTransition("This payment already has a receipt", code="receipt_exists")
        self.receipt = receipt
