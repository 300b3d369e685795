"""Vocabulary shared by notify's rules: channels, purposes, statuses, contacts, formatting."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"  # brand-name SMS (tin nhắn thương hiệu)
    ZALO = "zalo"  # Zalo Notification Service (ZNS) template messages


class Purpose(StrEnum):
    """What a notice is for; the applicant's consent is recorded per channel and purpose."""

    DOSSIER = "dossier"  # progress of a dossier (tiến độ hồ sơ)
    PAYMENT = "payment"  # receipts (biên lai)
    SHIPMENT = "shipment"  # postal pickup and delivery (bưu chính)
    WORK = "work"  # staff notices: reminders, postal hand-over


class RecipientRole(StrEnum):
    APPLICANT = "applicant"  # người nộp hồ sơ
    POSTAL_WORKER = "postal_worker"  # nhân viên bưu điện
    OFFICER = "officer"  # cán bộ


class DeliveryStatus(StrEnum):
    """Where one delivery (event × channel × recipient) stands.

    `sent` means the provider accepted it; SMS and Zalo then move to `delivered` (or a failure)
    when the delivery receipt arrives. E-mail has no receipts: `sent` is its last good state.
    The two failure statuses with a `next_attempt_at` are retried; without one they are final.
    """

    SCHEDULED = "scheduled"  # waiting: quiet hours, rate limit, no provider available yet
    SENDING = "sending"  # handed to a provider (a lease: retried if the process died)
    SENT = "sent"
    DELIVERED = "delivered"
    TEMPORARY_FAILURE = "temporary_failure"  # the provider said "later" (busy, handset off)
    PERMANENT_FAILURE = "permanent_failure"  # never deliverable this way (bad number, no Zalo)
    TECHNICAL_FAILURE = "technical_failure"  # our call failed (timeout, 5xx, bad credentials)
    SKIPPED = "skipped"  # withdrawn before sending (opt-out recorded meanwhile)


#: Statuses the retry scheduler may pick up once `next_attempt_at` is reached.
RETRYABLE_STATUSES: frozenset[DeliveryStatus] = frozenset(
    {
        DeliveryStatus.SCHEDULED,
        DeliveryStatus.SENDING,
        DeliveryStatus.TEMPORARY_FAILURE,
        DeliveryStatus.TECHNICAL_FAILURE,
    }
)

_PHONE = re.compile(r"^(?:0|\+?84)([35789]\d{8})$")


def normalize_phone(raw: str | None) -> str | None:
    """A Vietnamese mobile number as the providers want it (`84xxxxxxxxx`), or None."""
    if not raw:
        return None
    digits = re.sub(r"[\s.\-()]", "", raw)
    match = _PHONE.match(digits)
    return f"84{match.group(1)}" if match else None


def normalize_email(raw: str | None) -> str | None:
    if not raw or "@" not in raw:
        return None
    return raw.strip().lower()


def contact_key(raw: str) -> str | None:
    """The key preferences are stored under: a normalised phone number or e-mail address."""
    return normalize_email(raw) if "@" in raw else normalize_phone(raw)


def mask_contact(contact: str) -> str:
    """For logs: `8498*****21`, `a***@example.vn`."""
    if "@" in contact:
        name, _, domain = contact.partition("@")
        return f"{name[:1]}***@{domain}"
    return f"{contact[:4]}*****{contact[-2:]}" if len(contact) > 6 else "***"


def delivery_key(event_id: str, channel: str, recipient: str) -> str:
    """One delivery per (event, channel, recipient): the idempotency key."""
    return f"{event_id}:{channel}:{recipient.lower()}"


def delivery_id(key: str) -> str:
    """A stable id derived from the key; also the request id providers deduplicate on."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def format_vn_moment(moment: datetime | None) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(VN_TZ)
    return f"{local:%H} giờ {local:%M} phút, ngày {local:%d/%m/%Y}"


def format_vn_date(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return f"{moment.astimezone(VN_TZ):%d/%m/%Y}"


def format_vnd(amount: int | float | None) -> str:
    """`1500000` → `1.500.000 đồng` (Vietnamese thousands separator)."""
    if amount is None:
        return ""
    return f"{int(amount):,}".replace(",", ".") + " đồng"


def vn_day(moment: datetime) -> str:
    """The calendar day in Vietnam, `YYYY-MM-DD` (reminders are once per dossier and day)."""
    return moment.astimezone(VN_TZ).date().isoformat()
