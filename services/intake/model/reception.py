"""Reception at the counter, online or by post (tiếp nhận hồ sơ). Pure rules, no I/O.

The officer checks the components against the catalogue and decides: receive, request a
supplement (every missing item listed at once — DOMAIN §3), or refuse (reason required).
The counter models of the seeds (No-writing day, No-appointment day) are per-office data.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from services.intake.model.catalogue import Procedure, ServiceChannel
from services.intake.model.dossier import Channel
from services.intake.model.identity import (
    InvalidCitizenIdError,
    InvalidPhoneError,
    InvalidTaxCodeError,
    normalize_phone,
    validate_citizen_id,
    validate_tax_code,
)
from services.intake.model.units import AdminLevel, Office


class ReceptionError(ValueError):
    """A reception the rules refuse; `code` is stable for API clients."""

    def __init__(self, code: str, message: str, details: object = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


class Decision(StrEnum):
    RECEIVE = "receive"  # tiếp nhận
    SUPPLEMENT = "supplement"  # yêu cầu bổ sung, hoàn thiện
    REFUSE = "refuse"  # từ chối tiếp nhận


class ApplicantKind(StrEnum):
    INDIVIDUAL = "individual"  # cá nhân
    ORGANISATION = "organisation"  # tổ chức


class Organisation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=300)
    tax_code: str
    representative: str = Field(min_length=1, max_length=200, description="Người đại diện")

    @field_validator("tax_code")
    @classmethod
    def _tax(cls, value: str) -> str:
        try:
            return validate_tax_code(value)
        except InvalidTaxCodeError as exc:
            raise ValueError(str(exc)) from exc


class ApplicantInput(BaseModel):
    """Người nộp hồ sơ: an individual, or an organisation through its representative."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: ApplicantKind = ApplicantKind.INDIVIDUAL
    full_name: str = Field(min_length=1, max_length=200, description="Họ và tên")
    id_number: str | None = Field(default=None, description="CCCD 12 số hoặc CMND 9 số")
    birth_date: date | None = None
    phone: str | None = None
    email: EmailStr | None = None
    address: str = Field(default="", max_length=500)
    organisation: Organisation | None = None

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        try:
            return normalize_phone(value)
        except InvalidPhoneError as exc:
            raise ValueError(str(exc)) from exc

    @model_validator(mode="after")
    def _identity(self) -> ApplicantInput:
        if self.id_number:
            try:
                info = validate_citizen_id(self.id_number, self.birth_date)
            except InvalidCitizenIdError as exc:
                raise ValueError(f"id_number: {exc}") from exc
            self.id_number = info.number
        if self.kind is ApplicantKind.INDIVIDUAL and not self.id_number:
            raise ValueError("id_number is required for an individual (CCCD or old ID card)")
        if self.kind is ApplicantKind.ORGANISATION and self.organisation is None:
            raise ValueError("organisation (name, tax_code, representative) is required for an organisation")
        return self


class SubmittedComponent(BaseModel):
    """One checklist line as the officer ticked it."""

    model_config = ConfigDict(extra="forbid")

    component_id: str
    provided: bool = True
    count: int = Field(default=1, ge=1, le=100)
    document_id: str | None = Field(default=None, description="A digitised copy reused from the scan store")
    problem: str | None = Field(default=None, max_length=500, description="Provided but not valid: why")


class ExtraMissingItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=300)
    reason: str = Field(min_length=1, max_length=500)


class NoWritingInput(BaseModel):
    """Ngày không viết: the officer filled the forms, the applicant only signed or fingerprinted."""

    model_config = ConfigDict(extra="forbid")

    filled_by_officer: bool = True
    applicant_confirmation: Literal["signature", "fingerprint"] = "signature"


class ModelDays(BaseModel):
    """An office's counter models, effective from a date (data a unit administrator edits)."""

    model_config = ConfigDict(extra="forbid")

    office_id: str
    effective_from: date
    no_writing_weekdays: list[int] = Field(default_factory=list, description="0=Monday … 6=Sunday")
    no_appointment_weekdays: list[int] = Field(default_factory=list)
    no_writing_procedures: list[str] | None = Field(
        default=None, description="Eligible procedure codes; None = the catalogue's eligibility flags"
    )
    no_appointment_procedures: list[str] | None = None

    @field_validator("no_writing_weekdays", "no_appointment_weekdays")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if any(d < 0 or d > 6 for d in value):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return sorted(set(value))

    def no_writing_applies(self, procedure: Procedure, on: date) -> bool:
        if on < self.effective_from or on.weekday() not in self.no_writing_weekdays:
            return False
        if procedure.models.no_writing_forbidden_by_law:
            return False
        if self.no_writing_procedures is not None:
            return procedure.code in self.no_writing_procedures
        return procedure.models.eligible_no_writing

    def no_appointment_applies(self, procedure: Procedure, on: date) -> bool:
        if on < self.effective_from or on.weekday() not in self.no_appointment_weekdays:
            return False
        if self.no_appointment_procedures is not None:
            return procedure.code in self.no_appointment_procedures
        return procedure.models.eligible_no_appointment


def model_days_in_force(entries: list[ModelDays], on: date) -> ModelDays | None:
    """The latest entry already in force on `on`."""
    current = [e for e in entries if e.effective_from <= on]
    return max(current, key=lambda e: e.effective_from) if current else None


NO_APPOINTMENT_HOURS = 2.0  # seed 004: returned within 2 working hours

# Which procedure levels an office of each level receives. Decree 118: within the province
# dossiers are accepted regardless of boundary and routed to the competent body.
_LEVELS_RECEIVED: dict[AdminLevel, frozenset[AdminLevel]] = {
    AdminLevel.PROVINCE: frozenset({AdminLevel.CENTRAL, AdminLevel.PROVINCE, AdminLevel.DISTRICT}),
    AdminLevel.DISTRICT: frozenset({AdminLevel.DISTRICT, AdminLevel.COMMUNE}),
    AdminLevel.COMMUNE: frozenset({AdminLevel.COMMUNE}),
}

_CHANNEL_ALLOWED: dict[Channel, frozenset[ServiceChannel]] = {
    Channel.COUNTER: frozenset({ServiceChannel.COUNTER}),
    Channel.ONLINE: frozenset({ServiceChannel.ONLINE_FULL, ServiceChannel.ONLINE_PARTIAL}),
    Channel.POSTAL: frozenset({ServiceChannel.POSTAL}),
}


def check_office_serves(office: Office, procedure: Procedure, fields_served: set[str]) -> None:
    """Refuse a procedure this office does not receive (level and fields of its counters)."""
    if not office.active:
        raise ReceptionError("office_inactive", f"Office {office.id} is not receiving dossiers")
    if procedure.level not in _LEVELS_RECEIVED.get(office.level, frozenset()):
        raise ReceptionError(
            "procedure_not_served_here",
            f"Procedure {procedure.code} is a {procedure.level.value}-level procedure; "
            f"office {office.id} ({office.level.value} level) does not receive it",
        )
    if fields_served and procedure.field_code not in fields_served:
        raise ReceptionError(
            "procedure_not_served_here",
            f"No counter of office {office.id} serves the field {procedure.field_code!r} of procedure {procedure.code}",
        )


def check_channel(procedure: Procedure, channel: Channel) -> None:
    if not procedure.channels & _CHANNEL_ALLOWED[channel]:
        raise ReceptionError(
            "channel_not_allowed",
            f"Procedure {procedure.code} cannot be submitted via {channel.value}",
        )


class MissingItem(BaseModel):
    name: str
    reason: str


def missing_items(procedure: Procedure, submitted: list[SubmittedComponent]) -> list[MissingItem]:
    """Everything missing or invalid, listed at once and in full (Circular 01, form 02)."""
    known = {c.id: c for c in procedure.components}
    unknown = [s.component_id for s in submitted if s.component_id not in known]
    if unknown:
        raise ReceptionError(
            "unknown_component",
            f"Component(s) {', '.join(unknown)} are not part of procedure {procedure.code}",
        )
    given = {s.component_id: s for s in submitted}
    missing: list[MissingItem] = []
    for component in procedure.components:
        line = given.get(component.id)
        if line is not None and line.problem:
            missing.append(MissingItem(name=component.name, reason=line.problem))
        elif component.mandatory and (line is None or not line.provided):
            missing.append(MissingItem(name=component.name, reason="Chưa nộp (thành phần bắt buộc)"))
        elif component.mandatory and line is not None and line.count < component.count:
            missing.append(MissingItem(name=component.name, reason=f"Cần {component.count} bản, mới nộp {line.count}"))
    return missing


def check_form_fields(procedure: Procedure, form_data: dict[str, object]) -> None:
    """Required form fields of the procedure (assisted filling) must be present."""
    absent = [f.label for f in procedure.form_fields if f.required and (form_data.get(f.name) in (None, "", []))]
    if absent:
        raise ReceptionError(
            "missing_form_fields",
            f"Required form fields are empty: {', '.join(absent)}",
            details=[f.name for f in procedure.form_fields if f.label in absent],
        )


class ReceptionPlan(BaseModel):
    """What the rules decided, before anything is written."""

    decision: Decision
    missing: list[MissingItem] = Field(default_factory=list)
    no_writing: bool = False
    no_appointment: bool = False
    print_slip: bool = True


def plan_reception(
    *,
    procedure: Procedure,
    decision: Decision,
    submitted: list[SubmittedComponent],
    extra_missing: list[ExtraMissingItem],
    refusal_reason: str | None,
    model_days: ModelDays | None,
    received_on: date,
    no_writing: NoWritingInput | None,
    slip_requested: bool,
) -> ReceptionPlan:
    missing = missing_items(procedure, submitted) + [MissingItem(name=e.name, reason=e.reason) for e in extra_missing]
    if decision is Decision.REFUSE:
        if not refusal_reason or not refusal_reason.strip():
            raise ReceptionError("refusal_reason_required", "A refusal needs a reason (Circular 01, form 03)")
        return ReceptionPlan(decision=decision, missing=missing, print_slip=True)
    if decision is Decision.RECEIVE and missing:
        raise ReceptionError(
            "dossier_incomplete",
            f"The dossier is incomplete ({len(missing)} item(s)); request a supplement instead",
            details=[m.model_dump() for m in missing],
        )
    if decision is Decision.SUPPLEMENT and not missing:
        raise ReceptionError("nothing_missing", "A supplement request must list at least one missing or invalid item")
    nw = False
    if no_writing is not None and no_writing.filled_by_officer:
        if procedure.models.no_writing_forbidden_by_law:
            raise ReceptionError(
                "no_writing_forbidden", f"The law forbids filling the forms of {procedure.code} on behalf"
            )
        nw = True
    na = (
        decision is Decision.RECEIVE
        and model_days is not None
        and model_days.no_appointment_applies(procedure, received_on)
    )
    return ReceptionPlan(
        decision=decision,
        missing=missing,
        no_writing=nw,
        no_appointment=na,
        print_slip=(not na) or slip_requested,
    )


def status_after(decision: Decision) -> str:
    return "received" if decision is Decision.RECEIVE else "not_received"


def local_day(moment: datetime) -> str:
    """YYMMDD of the local reception day (dossier codes)."""
    return f"{moment:%y%m%d}"
