"""What callers send to reception (counter, postal hand-over, online form) and the due-date preview."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from services.intake.model.dossier import Channel
from services.intake.model.reception import (
    ApplicantInput,
    Decision,
    ExtraMissingItem,
    NoWritingInput,
    SubmittedComponent,
)


class ReceptionRequest(BaseModel):
    """What the counter officer submits (or the postal hand-over, or an online form)."""

    office_id: str = Field(min_length=1, max_length=100)
    procedure_code: str = Field(min_length=1, max_length=50)
    channel: Channel = Channel.COUNTER
    applicant: ApplicantInput
    components: list[SubmittedComponent] = Field(default_factory=list, max_length=200)
    form_data: dict[str, Any] = Field(default_factory=dict)
    decision: Decision = Decision.RECEIVE
    extra_missing: list[ExtraMissingItem] = Field(default_factory=list, max_length=100)
    refusal_reason: str | None = Field(default=None, max_length=2000)
    no_writing: NoWritingInput | None = None
    return_channel: str = Field(default="counter", pattern="^(counter|postal)$")
    print_slip: bool = Field(default=False, description="No-appointment day: print the slip anyway")
    competent_unit_code: str | None = Field(
        default=None,
        max_length=8,
        description="Unit whose competent body resolves the dossier (commune-level procedures filed elsewhere)",
    )


class OnlineRegistration(BaseModel):
    """An online submission (cổng dịch vụ công): registered, received later by an officer."""

    office_id: str = Field(min_length=1, max_length=100)
    procedure_code: str = Field(min_length=1, max_length=50)
    applicant: ApplicantInput
    components: list[SubmittedComponent] = Field(default_factory=list, max_length=200)
    form_data: dict[str, Any] = Field(default_factory=dict)
    return_channel: str = Field(default="counter", pattern="^(counter|postal)$")
    competent_unit_code: str | None = Field(default=None, max_length=8)


class AcceptRegistered(BaseModel):
    decision: Decision = Decision.RECEIVE
    components: list[SubmittedComponent] | None = None
    extra_missing: list[ExtraMissingItem] = Field(default_factory=list)
    refusal_reason: str | None = None


class DuePreview(BaseModel):
    office_id: str
    procedure_code: str
    received_at: datetime
    counting_from: datetime
    due_at: datetime
    processing_time: dict[str, Any]
    no_appointment: bool
    no_writing_day: bool
    transfer_deadline: datetime
