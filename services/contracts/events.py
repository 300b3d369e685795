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
    return_channel: str = Field(default="counter", description="counter | postal: where the result goes")
    applicant: ApplicantContact
    fees_due: list[FeeDue] = Field(default_factory=list)
    received_at: datetime
    due_at: datetime | None = None
    remind_at: datetime | None = Field(
        default=None, description="One working day before due_at (intake's calendar), for officer reminders"
    )
    no_writing: bool = False
    no_appointment: bool = False
    postal_reception_id: str | None = Field(
        default=None,
        description="Set when postal staff received the dossier (postal's pickup or agent's counter reception id)",
    )
    lookup_url: str | None = None
    field_code: str | None = None
    component_ids: list[str] = Field(
        default_factory=list, description="The procedure's components (thành phần hồ sơ), for scan's checks"
    )


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


# ---- dossier lifecycle (intake) ------------------------------------------------------------
class DossierRef(BaseModel):
    """What every dossier event carries so consumers need not call intake back."""

    dossier_id: str
    dossier_code: str
    procedure_code: str
    procedure_name: str
    office_id: str
    channel: str = Field(description="counter | online | postal")
    return_channel: str = Field(default="counter", description="counter | postal")
    applicant: ApplicantContact
    status: str
    due_at: datetime | None = None
    remind_at: datetime | None = Field(
        default=None, description="One working day before due_at (intake's calendar), for officer reminders"
    )
    lookup_url: str | None = None


class DossierStatusChangedPayload(DossierRef):
    from_status: str | None = None
    actor_role: str = ""
    note: str = ""


class DossierStatusChanged(Event):
    """Any lifecycle transition (one line of the process control slip, form 05)."""

    subject: ClassVar[str] = "dossier.status_changed"
    payload: DossierStatusChangedPayload


class MissingItemRef(BaseModel):
    name: str
    reason: str


class DossierSupplementRequestedPayload(DossierRef):
    missing: list[MissingItemRef] = Field(default_factory=list)


class DossierSupplementRequested(Event):
    """The competent body asks for a supplement; the clock is paused (form 02)."""

    subject: ClassVar[str] = "dossier.supplement_requested"
    payload: DossierSupplementRequestedPayload


class DossierLateApologyPayload(DossierRef):
    reason: str
    previous_due_at: datetime
    new_due_at: datetime


class DossierLateApology(Event):
    """Apology and new appointment (form 04) — an essential notice, always sent."""

    subject: ClassVar[str] = "dossier.late_apology"
    payload: DossierLateApologyPayload


class DossierResultReadyPayload(DossierRef):
    pickup_place: str = ""
    pager_number: str | None = Field(default=None, description="Vibrating pager / queue number to call")


class DossierResultReady(Event):
    """The result can be collected (or is handed to the post for delivery)."""

    subject: ClassVar[str] = "dossier.result_ready"
    payload: DossierResultReadyPayload


class DossierReturnedPayload(DossierRef):
    returned_via: str = Field(description="counter | postal")
    returned_at: datetime


class DossierReturned(Event):
    subject: ClassVar[str] = "dossier.returned"
    payload: DossierReturnedPayload


class DossierLatePayload(DossierRef):
    late_since: datetime


class DossierBecameLate(Event):
    """A dossier passed its due moment unfinished (flagged automatically)."""

    subject: ClassVar[str] = "dossier.late"
    payload: DossierLatePayload


class DossierTransferredPayload(DossierRef):
    kind: str = Field(description="transfer | forward (a misdirected dossier sent on to the right body)")
    from_unit: str
    to_unit: str
    to_body: str
    reason: str = ""
    on_time: bool = Field(True, description="Transferred within the transfer deadline (same day; after 15:00 → next)")


class DossierTransferred(Event):
    """A dossier was handed to the competent body, or forwarded after being misdirected."""

    subject: ClassVar[str] = "dossier.transferred"
    payload: DossierTransferredPayload


class DossierStepLatePayload(DossierRef):
    step_index: int
    step_body: str
    step_task: str = ""
    step_due_at: datetime


class DossierStepLate(Event):
    """An inter-agency step (liên thông) passed its own deadline (flagged once per step)."""

    subject: ClassVar[str] = "dossier.step_late"
    payload: DossierStepLatePayload


# ---- personal data (Decree 13/2023, art. 16) ------------------------------------------------
#: What every service writes in place of an erased person's name.
ANONYMISED_NAME = "[đã ẩn danh]"


class DossierAnonymisedPayload(BaseModel):
    """Which dossier lost its applicant's data; it carries none itself."""

    dossier_id: str
    dossier_code: str | None = Field(None, description="None for an online submission never received")
    deletion_request_id: str = Field(description="The deletion request that decided it (intake's record)")
    anonymised_at: datetime


class DossierAnonymised(Event):
    """A deletion request anonymised the dossier in intake (xoá dữ liệu cá nhân theo yêu cầu).

    Every service that keeps its own copy of the applicant's data for this dossier — notify's
    delivery records, payments' payer, postal's addresses and contacts — erases it on this event
    and keeps what is not personal (amounts, statuses, times) for statistics and accounts.
    """

    subject: ClassVar[str] = "dossier.anonymised"
    payload: DossierAnonymisedPayload


class DossierErasedPayload(BaseModel):
    """What one service erased for one anonymised dossier; no personal data."""

    dossier_id: str
    dossier_code: str | None = None
    deletion_request_id: str
    service: str = Field(description="notify | payments | postal")
    records: int = Field(ge=0, description="Records that lost personal data now (0 when done before)")


class DossierErased(Event):
    """A service's confirmation that it erased its copies of an anonymised dossier's personal
    data (on `dossier.anonymised`); intake shows them with the deletion request's decision.

    Published as `privacy.erased.<service>` (`for_service`): each service may publish its own
    subject only.
    """

    subject: ClassVar[str] = "privacy.erased"
    payload: DossierErasedPayload

    @classmethod
    def for_service(cls, service: str, told: DossierAnonymised, records: int) -> DossierErased:
        p = told.payload
        return cls(
            type=f"{cls.subject}.{service}",
            unit_code=told.unit_code,
            unit_path=list(told.unit_path),
            payload=DossierErasedPayload(
                dossier_id=p.dossier_id,
                dossier_code=p.dossier_code,
                deletion_request_id=p.deletion_request_id,
                service=service,
                records=records,
            ),
        )
