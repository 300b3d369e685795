"""Notify's use cases: turn events into deliveries, exactly once per key."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Protocol

from services.contracts.events import DossierReceived
from services.notify.model import DeliveryStatus, OutgoingEmail, delivery_key, dossier_received_email
from services.notify.repository import DeliveryRepository

log = logging.getLogger("motcua.notify")


class Mailer(Protocol):
    @property
    def sender_domain(self) -> str: ...

    async def send(self, mail: OutgoingEmail) -> None: ...


class NotifyService:
    def __init__(self, deliveries: DeliveryRepository, mailer: Mailer) -> None:
        self.deliveries = deliveries
        self.mailer = mailer

    async def on_dossier_received(self, event: DossierReceived, trace_id: str | None) -> str | None:
        """E-mail the applicant; returns the delivery key, or None when nothing was sent."""
        mail = dossier_received_email(event.event_id, event.payload, self.mailer.sender_domain)
        if mail is None:
            return None
        key = delivery_key(event.event_id, "email", mail.to)
        existing = await self.deliveries.claim(
            {
                "_id": uuid.uuid4().hex,
                "key": key,
                "event_id": event.event_id,
                "event_type": event.type,
                "channel": "email",
                "recipient": mail.to,
                "dossier_code": event.payload.dossier_code,
                "unit_code": event.unit_code,
                "unit_path": event.unit_path or [event.unit_code],
                "subject": mail.subject,
                "message_id": mail.message_id,
                "status": DeliveryStatus.SENDING.value,
                "trace_id": trace_id,
                "attempts": 0,
                "created_at": datetime.now(UTC),
            }
        )
        if existing is not None and existing.get("status") == DeliveryStatus.SENT.value:
            return key  # a redelivered event: already sent
        # New, or a previous attempt died between claim and send: (re)send. The Message-ID
        # is deterministic, so a rare resend is recognisable as the same mail.
        try:
            await self.mailer.send(mail)
        except Exception as exc:
            await self.deliveries.set_status(key, DeliveryStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
            raise
        await self.deliveries.set_status(key, DeliveryStatus.SENT, sent_at=datetime.now(UTC))
        log.info("e-mail sent for %s (%s)", event.payload.dossier_code, event.type)
        return key
