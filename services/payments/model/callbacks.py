"""What a provider's callback means for a payment intent — one rule for every channel. Pure.

Checks run in VNPay's documented order, which suits the bank and the POS terminal as well:
signature, then the order, then the amount, then whether the intent is still open, then
the result. A success on an intent that is no longer open, with a transaction we have not
seen, is real money on a closed intent: it raises an alert for a person to refund it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from services.payments.model.intent import PaymentIntent, PaymentStatus


class CallbackCode(StrEnum):
    CONFIRMED = "confirmed"  # VNPay 00
    NOT_FOUND = "not_found"  # 01
    ALREADY = "already_confirmed"  # 02
    INVALID_AMOUNT = "invalid_amount"  # 04
    BAD_SIGNATURE = "bad_signature"  # 97
    ERROR = "error"  # 99


class Outcome(StrEnum):
    PAID = "paid"
    FAILED = "failed"
    NONE = "none"


@dataclass(frozen=True)
class ProviderResult:
    """A provider's message, read and authenticated by its adapter."""

    authentic: bool
    ref: str | None = None
    amount: int | None = None
    success: bool = False
    provider_txn: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


@dataclass(frozen=True)
class Decision:
    code: CallbackCode
    outcome: Outcome = Outcome.NONE
    alert: str | None = None
    reason: str = ""


def decide(result: ProviderResult, intent: PaymentIntent | None) -> Decision:
    if not result.authentic:
        return Decision(CallbackCode.BAD_SIGNATURE, reason=result.reason or "bad signature")
    if intent is None or result.ref is None or intent.ref != result.ref:
        alert = "unmatched_payment" if result.success else None
        return Decision(CallbackCode.NOT_FOUND, alert=alert, reason=f"no payment intent {result.ref!r}")
    if result.amount is None or result.amount != intent.amount:
        alert = "amount_mismatch" if result.success or result.amount is not None else None
        return Decision(CallbackCode.INVALID_AMOUNT, alert=alert,
                        reason=f"amount {result.amount} VND, {intent.amount} VND due")
    if intent.status is not PaymentStatus.PENDING:
        alert = None
        if result.success and result.provider_txn and result.provider_txn != intent.provider_txn:
            alert = "payment_on_closed_intent"
        return Decision(CallbackCode.ALREADY, alert=alert, reason=f"intent is {intent.status.value}")
    if result.success:
        return Decision(CallbackCode.CONFIRMED, Outcome.PAID)
    return Decision(CallbackCode.CONFIRMED, Outcome.FAILED, reason=result.reason or "declined")
