"""Payments on the bus: the `payment.*` events and the consumers the payments service runs.

Every state change of a payment intent (phí, lệ phí) is published through the payments
outbox on the PAYMENT stream. The payload always names the dossier (`dossier_id`,
`dossier_code`) so intake can show the dossier's payment status and let a No-appointment
dossier proceed as soon as it is paid, and notify can send the receipt (biên lai).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, Field

from services.contracts.events import ApplicantContact, Event
from services.contracts.streams import DOSSIER, ConsumerSpec


class PaymentItem(BaseModel):
    """One fee line: `kind` is fee | charge | postal (phí, lệ phí, cước bưu chính)."""

    kind: str
    name: str
    amount: int = Field(ge=0, description="VND")


class PaymentPayload(BaseModel):
    intent_id: str
    intent_ref: str = Field(description="Short reference shown to payers, VNPay TxnRef, VietQR note")
    dossier_id: str
    dossier_code: str
    status: str = Field(description="pending | paid | failed | expired | cancelled | partially_refunded | refunded")
    amount: int = Field(ge=0, description="Total due, VND")
    currency: str = "VND"
    items: list[PaymentItem] = Field(default_factory=list)
    channel: str | None = Field(None, description="cash | pos | vietqr | vnpay once known")
    no_appointment: bool = Field(False, description="The dossier is a No-appointment one: proceed once paid")
    expires_at: datetime | None = None
    paid_at: datetime | None = None
    provider_txn: str | None = None
    receipt_no: str | None = Field(None, description="Biên lai number, series per unit and year")
    receipt_url: str | None = Field(None, description="Signed link to the receipt PDF")
    refunded_amount: int = 0
    refund_amount: int | None = Field(None, description="Amount of this refund (payment.refunded)")
    reason: str | None = None
    payer: ApplicantContact | None = Field(None, description="Only on payment.paid, to send the receipt")


class PaymentIntentCreated(Event):
    """Fees are due for a dossier; a payment intent waits for payment (chờ thanh toán)."""

    subject: ClassVar[str] = "payment.intent_created"
    payload: PaymentPayload


class PaymentPaid(Event):
    """The fees were paid and a receipt (biên lai) was issued; notify sends the receipt."""

    subject: ClassVar[str] = "payment.paid"
    payload: PaymentPayload


class PaymentFailed(Event):
    subject: ClassVar[str] = "payment.failed"
    payload: PaymentPayload


class PaymentExpired(Event):
    subject: ClassVar[str] = "payment.expired"
    payload: PaymentPayload


class PaymentCancelled(Event):
    subject: ClassVar[str] = "payment.cancelled"
    payload: PaymentPayload


class PaymentRefunded(Event):
    """Part or all of a paid amount was given back (partially_refunded or refunded)."""

    subject: ClassVar[str] = "payment.refunded"
    payload: PaymentPayload


class PaymentAlertPayload(BaseModel):
    kind: str = Field(description="amount_mismatch | late_payment | unmatched_transfer")
    channel: str
    message: str
    intent_id: str | None = None
    intent_ref: str | None = None
    dossier_code: str | None = None
    expected_amount: int | None = None
    received_amount: int | None = None


class PaymentAlert(Event):
    """Something about money needs a person: an amount mismatch, a payment on a closed intent."""

    subject: ClassVar[str] = "payment.alert"
    payload: PaymentAlertPayload


PAYMENT_EVENTS: tuple[type[Event], ...] = (
    PaymentIntentCreated,
    PaymentPaid,
    PaymentFailed,
    PaymentExpired,
    PaymentCancelled,
    PaymentRefunded,
    PaymentAlert,
)

PAYMENTS_DOSSIER_RECEIVED = ConsumerSpec(
    durable="payments-dossier-received",
    stream=DOSSIER.name,
    subjects=("dossier.received",),
    service="payments",
    description="payments opens a payment intent for a received dossier with fees due",
    workers=8,
)

PAYMENTS_DOSSIER_ANONYMISED = ConsumerSpec(
    durable="payments-dossier-anonymised",
    stream=DOSSIER.name,
    subjects=("dossier.anonymised",),
    service="payments",
    description="payments erases the payer's name and contacts from a dossier's payments after a deletion request",
)

PAYMENTS_CONSUMERS: tuple[ConsumerSpec, ...] = (PAYMENTS_DOSSIER_RECEIVED, PAYMENTS_DOSSIER_ANONYMISED)
