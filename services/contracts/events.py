"""Event envelope and the event models carried on the bus.

Every message carries `event_id`, `occurred_at`, `schema_version` and the originating
administrative unit; W3C trace context travels in the NATS headers, not in the body.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field


def new_event_id() -> str:
    return uuid.uuid4().hex


class Event(BaseModel):
    """Base of every bus message. Subclasses set `subject` and type `payload`."""

    model_config = ConfigDict(extra="ignore")

    subject: ClassVar[str] = ""
    event_id: str = Field(default_factory=new_event_id)
    type: str = ""
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    schema_version: int = 1
    unit_code: str = Field(description="Administrative unit where the event originated (mã đơn vị)")
    unit_path: list[str] = Field(
        default_factory=list,
        description="Codes of that unit and every unit above it; consumers authorise reads with it",
    )
    payload: Any = None

    def model_post_init(self, __context: Any) -> None:
        if not self.type:
            self.type = self.subject


class ApplicantContact(BaseModel):
    """How to reach the applicant (người nộp hồ sơ); personal data, never logged unmasked."""

    name: str
    email: str | None = None
    phone: str | None = None


class FeeDue(BaseModel):
    kind: str
    name: str
    amount: int = Field(ge=0, description="VND")


class DossierReceivedPayload(BaseModel):
    dossier_id: str
    dossier_code: str
    procedure_code: str
    procedure_name: str
    office_id: str
    channel: str = Field(description="counter | online | postal")
    applicant: ApplicantContact
    fees_due: list[FeeDue] = Field(default_factory=list)
    received_at: datetime
    due_at: datetime | None = None
    no_writing: bool = False
    no_appointment: bool = False
    lookup_url: str | None = None


class DossierReceived(Event):
    """A dossier was accepted at a counter, online or through the post (tiếp nhận hồ sơ)."""

    subject: ClassVar[str] = "dossier.received"
    payload: DossierReceivedPayload


class NotificationDeliveredPayload(BaseModel):
    delivery_id: str
    source_event_id: str
    channel: str
    status: str
    dossier_code: str | None = None


class NotificationDelivered(Event):
    subject: ClassVar[str] = "notify.delivered"
    payload: NotificationDeliveredPayload
