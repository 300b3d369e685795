"""Notifications (thông báo): what to send to whom for an event. Pure: no I/O."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from services.contracts.events import DossierReceivedPayload

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class DeliveryStatus(StrEnum):
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class OutgoingEmail(BaseModel):
    to: str
    subject: str
    body: str
    message_id: str


def delivery_key(event_id: str, channel: str, recipient: str) -> str:
    """One delivery per (event, channel, recipient): the idempotency key."""
    return f"{event_id}:{channel}:{recipient.lower()}"


def format_vn_moment(moment: datetime) -> str:
    local = moment.astimezone(VN_TZ)
    return f"{local:%H} giờ {local:%M} phút, ngày {local:%d/%m/%Y}"


def dossier_received_email(event_id: str, payload: DossierReceivedPayload, sender_domain: str) -> OutgoingEmail | None:
    """The receipt e-mail to the applicant, or None when there is no address."""
    email = payload.applicant.email
    if not email:
        return None
    lines = [
        f"Kính gửi Ông/Bà {payload.applicant.name},",
        "",
        f'Hồ sơ "{payload.procedure_name}" của Ông/Bà đã được tiếp nhận.',
        f"Mã hồ sơ: {payload.dossier_code}",
        f"Thời điểm tiếp nhận: {format_vn_moment(payload.received_at)}",
    ]
    if payload.due_at:
        lines.append(f"Ngày hẹn trả kết quả: {format_vn_moment(payload.due_at)}")
    if payload.lookup_url:
        lines.append(f"Tra cứu tình trạng hồ sơ: {payload.lookup_url}")
    lines += ["", "Trân trọng,", "Bộ phận Một cửa"]
    return OutgoingEmail(
        to=email,
        subject=f"[Một Cửa] Đã tiếp nhận hồ sơ {payload.dossier_code}",
        body="\n".join(lines),
        # Deterministic Message-ID: a resend after a crash is recognisable as the same mail.
        message_id=f"<{event_id}.received@{sender_domain}>",
    )
