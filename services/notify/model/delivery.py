"""One delivery's life: what a provider's answer means, when to retry, when to fall back."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from services.contracts.events import ANONYMISED_NAME
from services.notify.model.common import RETRYABLE_STATUSES, Channel, DeliveryStatus, RecipientRole


class OutcomeKind(StrEnum):
    ACCEPTED = "accepted"  # the provider took it; a receipt may follow
    DELIVERED = "delivered"
    TEMPORARY = "temporary"  # busy / rate-limited / handset unreachable: try later
    PERMANENT = "permanent"  # this recipient cannot be reached this way
    TECHNICAL = "technical"  # the call failed: timeout, 5xx, unreachable, bad credentials


class SendOutcome(BaseModel):
    kind: OutcomeKind
    provider_message_id: str | None = None
    detail: str = ""
    retry_after_s: float | None = None

    @property
    def provider_ok(self) -> bool:
        """Did the provider do its job? A wrong number is the recipient's problem, not its."""
        return self.kind in (OutcomeKind.ACCEPTED, OutcomeKind.DELIVERED, OutcomeKind.PERMANENT)


class OutboundMessage(BaseModel):
    """What an adapter sends; `delivery_id` doubles as the provider's request/tracking id."""

    delivery_id: str
    channel: Channel
    to: str
    subject: str = ""
    body: str
    zns_template_id: str = ""
    params: dict[str, str] = Field(default_factory=dict)
    message_id: str = ""  # e-mail Message-ID (deterministic: a resend is recognisable)


class RetryPolicy(BaseModel):
    """Back-off between attempts; `max_attempts` counts the first one."""

    backoff_s: tuple[float, ...] = (30.0, 120.0, 600.0, 1800.0, 3600.0)
    max_attempts: int = 5

    def delay(self, attempts_done: int) -> timedelta:
        index = max(0, min(attempts_done - 1, len(self.backoff_s) - 1))
        return timedelta(seconds=self.backoff_s[index] if self.backoff_s else 0.0)

    def next_attempt_at(self, now: datetime, attempts_done: int, retry_after_s: float | None = None) -> datetime | None:
        """When to try again after `attempts_done` attempts, or None when they are used up."""
        if attempts_done >= self.max_attempts:
            return None
        delay = self.delay(attempts_done)
        if retry_after_s is not None:
            delay = max(delay, timedelta(seconds=retry_after_s))
        return now + delay


class Transition(BaseModel):
    status: DeliveryStatus
    next_attempt_at: datetime | None = None
    fall_back: bool = False  # final failure: try the next channel of the route (Zalo → SMS)
    error: str | None = None


def after_attempt(outcome: SendOutcome, *, attempts_done: int, now: datetime, policy: RetryPolicy) -> Transition:
    """The delivery's status after a provider's answer."""
    if outcome.kind is OutcomeKind.ACCEPTED:
        return Transition(status=DeliveryStatus.SENT)
    if outcome.kind is OutcomeKind.DELIVERED:
        return Transition(status=DeliveryStatus.DELIVERED)
    if outcome.kind is OutcomeKind.PERMANENT:
        return Transition(status=DeliveryStatus.PERMANENT_FAILURE, fall_back=True, error=outcome.detail)
    status = (
        DeliveryStatus.TEMPORARY_FAILURE if outcome.kind is OutcomeKind.TEMPORARY else DeliveryStatus.TECHNICAL_FAILURE
    )
    retry_at = policy.next_attempt_at(now, attempts_done, outcome.retry_after_s)
    return Transition(status=status, next_attempt_at=retry_at, fall_back=retry_at is None, error=outcome.detail)


class ReceiptStatus(StrEnum):
    """Delivery-receipt (DLR) statuses, as both simulated providers report them."""

    DELIVERED = "DELIVERED"
    FAILED = "FAILED"  # undeliverable: wrong / deactivated number, blocked
    REJECTED = "REJECTED"  # refused by the operator (content, brand name)
    EXPIRED = "EXPIRED"  # handset unreachable for the validity period


#: Receipts only move a delivery that is waiting for one.
_AWAITING_RECEIPT = frozenset({DeliveryStatus.SENDING, DeliveryStatus.SENT})


def after_receipt(
    current: DeliveryStatus, receipt: ReceiptStatus, *, attempts_done: int, now: datetime, policy: RetryPolicy
) -> Transition | None:
    """The delivery's status after a receipt, or None when the receipt changes nothing."""
    if current not in _AWAITING_RECEIPT:
        return None  # a duplicate or late receipt: delivered stays delivered
    if receipt is ReceiptStatus.DELIVERED:
        return Transition(status=DeliveryStatus.DELIVERED)
    if receipt is ReceiptStatus.EXPIRED:
        retry_at = policy.next_attempt_at(now, attempts_done)
        return Transition(
            status=DeliveryStatus.TEMPORARY_FAILURE,
            next_attempt_at=retry_at,
            fall_back=retry_at is None,
            error="receipt: expired",
        )
    return Transition(
        status=DeliveryStatus.PERMANENT_FAILURE, fall_back=True, error=f"receipt: {receipt.value.lower()}"
    )


# ---- erasure (dossier.anonymised) ----------------------------------------------------------
ERASED_DETAIL = "withdrawn: the applicant's data was erased on a deletion request"


def erasure_of(record: dict[str, Any], now: datetime) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The fields that erase one delivery record of an anonymised dossier, and the history
    entry to add (None when the record's status stays).

    Every message loses its text (it may name the applicant, even one sent to an officer or a
    postal worker); a message to the applicant also loses the address and the name, and its
    key, which holds the address. What stays: channel, status, times, provider ids, history.
    A delivery still waiting is withdrawn: there is nobody left to send it to.
    """
    fields: dict[str, Any] = {
        "subject": None,
        "body": "",
        "params": {},
        "alternates": {},
        "anonymised_at": now,
        "updated_at": now,
    }
    if record.get("role") == RecipientRole.APPLICANT.value:
        fields |= {
            "recipient": ANONYMISED_NAME,
            "recipient_name": ANONYMISED_NAME,
            "key": f"{record.get('event_id')}:{record.get('channel')}:erased:{record['_id']}",
        }
    if record.get("status") not in RETRYABLE_STATUSES:
        return fields, None
    fields |= {"status": DeliveryStatus.SKIPPED.value, "next_attempt_at": None}
    return fields, {"at": now, "status": DeliveryStatus.SKIPPED.value, "detail": ERASED_DETAIL}
